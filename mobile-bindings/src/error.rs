//! The one error the phone sees. Each variant is something the app can act on; messages
//! name fields, ids and reasons, never people or file paths.

use saferound_core::Error as CoreError;

/// Everything that can go wrong, in terms the app can act on. Messages never contain
/// personal data (names, passwords, tokens, file paths).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SafeRoundError {
    /// No such record, template, site, person or photo on this phone (it may not have
    /// synced yet). `what` is the kind of thing, `id` the id asked for.
    #[error("{what} {id} not found")]
    NotFound { what: String, id: String },

    /// A value the user entered or the app passed is not acceptable; show `reason` next
    /// to the input named by `field` (e.g. `photo` for a photo past the size limit).
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },

    /// The signed-in user's role does not allow this action on this record; `who` says
    /// which roles or named people may.
    #[error("not allowed: {action} is for {who}")]
    NotAllowed { action: String, who: String },

    /// The record is not in a state where this can be done (submitted twice, verified
    /// before rectification, a sync already running, …); refresh and show `reason`.
    #[error("conflict: {reason}")]
    Conflict { reason: String },

    /// The phone's store could not be read or written (disk full, damaged file); the
    /// file was left as it was.
    #[error("storage: {reason}")]
    Storage { reason: String },

    /// The server could not be reached (no signal, timeout). Nothing is lost: retry later.
    #[error("network: {reason}")]
    Network { reason: String },

    /// The server did not accept the login or this device's token (wrong password, a
    /// revoked phone, no token in the secret store): ask the user to sign in again.
    #[error("not authenticated: {reason}")]
    NotAuthenticated { reason: String },

    /// The server refused the whole request (`status` is the HTTP status) for `reason`.
    #[error("the server refused the request ({status}): {reason}")]
    ServerRejected { status: u16, reason: String },

    /// The operation was cancelled by the app; nothing is lost, run it again later.
    #[error("cancelled")]
    Cancelled,
}

/// Results of the facade.
pub type Result<T, E = SafeRoundError> = std::result::Result<T, E>;

impl From<CoreError> for SafeRoundError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound { what, id } => SafeRoundError::NotFound {
                what: what.to_string(),
                id,
            },
            CoreError::Invalid { field, reason } => SafeRoundError::InvalidInput { field, reason },
            CoreError::NotAllowed { action, who } => SafeRoundError::NotAllowed { action, who },
            CoreError::State(reason) => SafeRoundError::Conflict { reason },
            CoreError::PhotoTooLarge { size, limit } => SafeRoundError::InvalidInput {
                field: "photo".into(),
                reason: format!("the photo is {size} bytes; the limit is {limit} bytes"),
            },
            // The path may hold the user's name (a home directory): leave it out.
            CoreError::Corrupt { reason, .. } => SafeRoundError::Storage {
                reason: format!("the store file is not usable: {reason}; it was left untouched"),
            },
            CoreError::NotInitialized => SafeRoundError::NotFound {
                what: "device identity".into(),
                id: "(enroll this phone first)".into(),
            },
            CoreError::Storage(e) => SafeRoundError::Storage {
                reason: e.to_string(),
            },
            CoreError::Document(reason) => SafeRoundError::Storage {
                reason: format!("a record could not be read: {reason}"),
            },
            CoreError::Network(reason) => SafeRoundError::Network { reason },
            CoreError::Server { status, message } => match status {
                401 => SafeRoundError::NotAuthenticated { reason: message },
                403 => SafeRoundError::NotAllowed {
                    action: "this request".into(),
                    who: message,
                },
                409 => SafeRoundError::Conflict { reason: message },
                _ => SafeRoundError::ServerRejected {
                    status,
                    reason: message,
                },
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SafeRoundError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SafeRoundError::Storage {
            reason: format!("the app's callback failed: {}", e.reason),
        }
    }
}

/// Parses an id the app passed, naming the field when it is not one.
pub(crate) fn parse_id<T: std::str::FromStr>(field: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| SafeRoundError::InvalidInput {
            field: field.to_string(),
            reason: "is not a valid id".into(),
        })
}
