//! The phone library: the UniFFI facade over `saferound-core` for Android and iOS.
//! Built with the bindings issue; until then the crate only links the core.

pub use saferound_core as core;
