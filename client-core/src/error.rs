//! One error type for the core. Every misuse is a typed error with a clear message and
//! changes nothing. Messages name fields and ids, never personal data.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },

    #[error("not allowed: {action} is for {who}")]
    NotAllowed { action: String, who: String },

    /// The record is in a state where this cannot be done (submitted twice, verify before
    /// rectification, …).
    #[error("{0}")]
    State(String),

    #[error("photo is {size} bytes; the limit is {limit} bytes")]
    PhotoTooLarge { size: usize, limit: usize },

    #[error("the store at {path} is not usable: {reason}; the file was left untouched")]
    Corrupt { path: PathBuf, reason: String },

    #[error("the store has no device identity yet; run `saferound init` first")]
    NotInitialized,

    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),

    #[error("document error: {0}")]
    Document(String),

    /// The server could not be reached (no signal, timeout): retry later, nothing is lost.
    #[error("network: {0}")]
    Network(String),

    /// The server refused the whole request.
    #[error("server answered {status}: {message}")]
    Server { status: u16, message: String },
}

impl Error {
    /// A failure that may pass by itself (no network, a server error or a full disk on
    /// the server): nothing is lost, the same call can simply be made again later.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Network(_) => true,
            Error::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(e.to_string())
    }
}

impl From<autosurgeon::HydrateError> for Error {
    fn from(e: autosurgeon::HydrateError) -> Self {
        Error::Document(format!("unexpected document shape: {e}"))
    }
}

impl From<autosurgeon::ReconcileError> for Error {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        Error::Document(e.to_string())
    }
}
