//! SafeRound client core.
//!
//! Everything an inspector's phone does without a network: the domain model of
//! ../shared/DOMAIN.md (`model`), one Automerge document per record (`doc`), the local
//! SQLite store (`store`) and the API the phone facade and the `saferound` CLI call
//! (`device`). The server depends on this crate for the same model and documents, so the
//! two sides can never disagree on them.

pub mod clock;
pub mod codec;
pub mod demo;
pub mod device;
pub mod doc;
pub mod error;
pub mod ids;
pub mod model;
pub mod policy;
pub mod store;
pub mod sync;

pub use clock::{Clock, FixedClock, SystemClock};
pub use device::{Device, Identity};
pub use error::{Error, Result};
pub use ids::{BlobHash, DocId, Timestamp, UserId};
