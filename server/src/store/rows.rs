//! Reading stored text back into the server's types, the same for both databases.

use saferound_core::model::Role;

use super::{Result, StoreError};

pub(crate) fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad {what} '{s}'")))
}

pub(crate) fn roles_of(s: &str) -> Result<Vec<Role>> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|r| parse(r, "role"))
        .collect()
}

/// Timestamps are stored as RFC 3339 text (UTC), the same in both databases, so rows and
/// dumps compare equal and text order is time order.
pub(crate) fn now() -> String {
    saferound_core::ids::Timestamp(chrono::Utc::now()).to_string()
}
