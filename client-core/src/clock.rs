//! "What time is it" is asked through a clock the caller hands in, so tests can set it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, FixedOffset, Utc};

/// The time zone of an institution that has not set its own, and of pages spanning
/// institutions (the province's): Asia/Shanghai, UTC+8 without daylight saving since 1991.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";
pub const DEFAULT_UTC_OFFSET_MINUTES: i32 = 8 * 60;

// A constant offset, well within chrono's ±24 h.
#[allow(clippy::expect_used)]
pub fn default_tz() -> FixedOffset {
    FixedOffset::east_opt(DEFAULT_UTC_OFFSET_MINUTES * 60).expect("UTC+8 is a valid offset")
}

/// A source of the current UTC instant.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move; shared between clones.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
