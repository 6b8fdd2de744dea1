//! Why a dashboard action did not happen: shown on its page with the matching status.

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    State(String),
    #[error("not found")]
    NotFound,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for ActionError {
    fn from(e: crate::store::StoreError) -> Self {
        ActionError::Internal(e.to_string())
    }
}

impl From<saferound_core::Error> for ActionError {
    fn from(e: saferound_core::Error) -> Self {
        match e {
            saferound_core::Error::Invalid { .. } => ActionError::Invalid(e.to_string()),
            saferound_core::Error::State(m) => ActionError::State(m),
            other => ActionError::Internal(other.to_string()),
        }
    }
}
