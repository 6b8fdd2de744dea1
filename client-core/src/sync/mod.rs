//! Sync between a device and the server: the wire protocol both sides share (`wire`),
//! and the device's client (`client`, behind the `http` feature, which the server does
//! not enable).

#[cfg(feature = "http")]
pub mod client;
pub mod wire;
