//! The phone library: the UniFFI facade over `saferound-core` for Android and iOS.
//!
//! A small, coarse API in the app's own terms. `enroll` (or `SafeRoundStore::open`) gives
//! a `SafeRoundStore`: the phone's records in one SQLite file. Inspect (`start_inspection`,
//! `answer`, `add_photo`, `add_finding`, `submit_inspection`), follow hazards (`hazards`,
//! `assigned_to_me`, `due_soon`, `assign`, `report_rectification`, `reinspect`), file
//! reports, and `sync` (async, with progress and cancellation). Every error is one
//! `SafeRoundError`; the device token lives in the app's `SecretStore`; the library's log
//! goes to the app's `Logger`. Kotlin, Swift and Python bindings are generated from the
//! built library by this crate's `uniffi-bindgen` (`scripts/bindings.sh`).

mod error;
mod logging;
mod store;
mod types;
mod work;

pub use error::{Result, SafeRoundError};
pub use logging::{LogLevel, Logger, clear_logger, set_logger};
pub use saferound_core as core;
pub use store::{
    SafeRoundStore, SecretStore, SyncProgressListener, enroll, hazard_category_label,
    hazard_status_label, max_photo_bytes, risk_grade_label, site_kind_label,
};
pub use types::*;
pub use work::CancelToken;

uniffi::setup_scaffolding!();
