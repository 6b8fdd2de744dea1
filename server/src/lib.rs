//! SafeRound server: merges every device's documents into the institution's hazard
//! ledger. `http` is the device API, `web` the dashboard, `app` and `state` join them;
//! beneath them `sync` merges device changes, `ledger` is the projection the safety office
//! reads, `store` everything persisted.

pub mod accounts;
pub mod app;
pub mod backup;
pub mod directory;
pub mod export;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod incidents;
pub mod ledger;
pub mod metrics;
pub mod people;
pub mod seed;
pub mod state;
pub mod store;
pub mod sync;
pub mod throttle;
pub mod time_zone;
pub mod web;

pub use directory::set_time_zone;
pub use seed::{DEMO_PASSWORD, bootstrap_admin, load_demo};
pub use state::AppState;
pub use time_zone::parse_offset;
