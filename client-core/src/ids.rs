//! Typed identifiers and instants. Inside documents they are plain strings (UUIDs,
//! RFC 3339 instants, hex hashes), so a document stays readable as JSON.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Implements Hydrate/Reconcile for a type that lives in a document as a string,
/// through its `Display` and `FromStr`.
macro_rules! string_in_document {
    ($ty:ty) => {
        impl ::autosurgeon::Hydrate for $ty {
            fn hydrate_string(s: &str) -> Result<Self, ::autosurgeon::HydrateError> {
                s.parse().map_err(|_| {
                    ::autosurgeon::HydrateError::unexpected(stringify!($ty), s.to_string())
                })
            }
        }

        impl ::autosurgeon::Reconcile for $ty {
            type Key<'a> = ::autosurgeon::reconcile::NoKey;
            fn reconcile<R: ::autosurgeon::Reconciler>(
                &self,
                mut reconciler: R,
            ) -> Result<(), R::Error> {
                reconciler.str(self.to_string())
            }
        }
    };
}
pub(crate) use string_in_document;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        string_in_document!($name);
    };
}

uuid_id!(
    /// A document: an inspection, hazard, report or directory.
    DocId
);
uuid_id!(
    /// A person's account.
    UserId
);
uuid_id!(
    /// An institution (school, college, university).
    InstitutionId
);
uuid_id!(
    /// A department of an institution.
    DepartmentId
);
uuid_id!(
    /// A site that is inspected (a dorm building, a lab, a kitchen, …).
    SiteId
);
uuid_id!(
    /// A campaign 专项行动.
    CampaignId
);

/// A UTC instant, RFC 3339 with milliseconds in documents and on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub DateTime<Utc>);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl FromStr for Timestamp {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s).map(|t| Self(t.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

string_in_document!(Timestamp);

/// A calendar date in the institution's time zone (deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalDate(pub chrono::NaiveDate);

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for LocalDate {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(Self)
    }
}

string_in_document!(LocalDate);

/// A photo or other blob, addressed by the SHA-256 of its bytes (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for BlobHash {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Self(out))
    }
}

impl TryFrom<String> for BlobHash {
    type Error = hex::FromHexError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BlobHash> for String {
    fn from(h: BlobHash) -> String {
        h.to_string()
    }
}

string_in_document!(BlobHash);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339_with_millis() {
        let t: Timestamp = "2026-11-28T06:01:02.345Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-28T06:01:02.345Z");
        let shanghai: Timestamp = "2026-11-28T14:01:02.345+08:00".parse().unwrap();
        assert_eq!(shanghai, t);
    }

    #[test]
    fn blob_hash_is_sha256_hex_and_rejects_bad_hex() {
        let h = BlobHash::of(b"abc");
        assert_eq!(
            h.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!("zz".parse::<BlobHash>().is_err());
        assert!("ab".parse::<BlobHash>().is_err());
    }
}
