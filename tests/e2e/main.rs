//! End-to-end tests: a real `saferound-server` process on a loopback port with a fresh
//! database, and devices that are real store files synced by the core's client.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod campaigns;
mod convergence;
mod crash_rounds;
mod credentials;
mod dashboard;
mod durability;
mod exhaustion;
mod extreme_dates;
mod faults;
mod hostile;
mod isolation;
mod network;
mod phone_roles;
mod photo_quotas;
mod province;
mod replicas;
mod upgrade;
mod web_guard;
mod write_policy;
