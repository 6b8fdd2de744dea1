//! The client core's integration tests: the inspector's day through the public API,
//! several devices exchanging documents, every misuse refused without a trace, the store
//! surviving kills and refusing damaged files, migrations, and merge laws as properties.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[cfg(feature = "cli")]
mod cli;
mod crash;
mod devices;
mod merge_laws;
mod store_files;
