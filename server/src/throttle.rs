//! One throttle for every password check (the dashboard's login, device enrolment),
//! counted in the database before the password is checked: parallel guesses count, every
//! replica sees the same counts, and a restart resets nothing.
//!
//! Two counts. Per client address: at most `ADDR_FAILURES` failed attempts in a window,
//! whatever the logins tried (a guesser trying many accounts from one place); failures
//! only, so a school behind one address signing in every morning is not stopped. Per
//! login, counted before the check: the first
//! `FREE_ATTEMPTS` of a window are free; after that each attempt must wait a delay that
//! doubles from a minute up to `MAX_DELAY`, and a success clears it. So a stranger can slow
//! a known user down for a while but never lock them out for good: no hard lockout, and
//! the window forgets.

use std::net::IpAddr;

use crate::store::{Store, StoreError};

/// The window both counts live in.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Attempts of one login per window before delays begin.
pub const FREE_ATTEMPTS: i64 = 5;
/// Failed attempts from one client address per window.
pub const ADDR_FAILURES: i64 = 100;
/// The longest wait between two attempts of one login.
pub const MAX_DELAY: i64 = 15 * 60;

/// Why an attempt is not checked now, and how long until one may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: i64,
}

fn login_key(login: &str) -> String {
    format!("login:{}", login.trim().to_lowercase())
}

/// The delay after the `n`-th attempt of a window (`n > FREE_ATTEMPTS`).
fn delay(n: i64) -> i64 {
    let doublings = (n - FREE_ATTEMPTS).clamp(0, 20) as u32;
    (60i64 << doublings).min(MAX_DELAY)
}

/// Counts this attempt: its number in the login's window, or `Throttled` when it must
/// not be checked now.
async fn attempt(
    storage: &Store,
    login: &str,
    addr: Option<IpAddr>,
    now: i64,
) -> Result<Result<i64, Throttled>, StoreError> {
    if let Some(a) = addr
        && let Some(c) = storage.attempts_of(&addr_key(a)).await?
        && c.window_start >= now - WINDOW_SECS
        && c.attempts >= ADDR_FAILURES
    {
        return Ok(Err(Throttled {
            retry_after_secs: (c.window_start + WINDOW_SECS - now).max(1),
        }));
    }
    let key = login_key(login);
    let counts = storage
        .count_attempts(std::slice::from_ref(&key), now, now - WINDOW_SECS)
        .await?;
    let Some(l) = counts.first() else {
        return Ok(Ok(0));
    };
    match l.not_before {
        Some(t) if t > now => Ok(Err(Throttled {
            retry_after_secs: t - now,
        })),
        // Past the free attempts with no delay set yet: attempts still being checked
        // in parallel spent them; this one waits.
        None if l.attempts > FREE_ATTEMPTS => {
            storage
                .delay_attempts(&key, now + delay(l.attempts))
                .await?;
            Ok(Err(Throttled {
                retry_after_secs: delay(l.attempts),
            }))
        }
        _ => Ok(Ok(l.attempts)),
    }
}

fn addr_key(a: IpAddr) -> String {
    format!("addr:{a}")
}

/// Records how checked attempt number `n` went: a success clears the login's count; a
/// failure counts against the address, and from the last free attempt on sets the wait
/// before the login's next one.
async fn outcome(
    storage: &Store,
    login: &str,
    addr: Option<IpAddr>,
    n: i64,
    succeeded: bool,
    now: i64,
) -> Result<(), StoreError> {
    let key = login_key(login);
    if succeeded {
        return storage.clear_attempts(&key).await;
    }
    if let Some(a) = addr {
        storage
            .count_attempts(&[addr_key(a)], now, now - WINDOW_SECS)
            .await?;
    }
    if n >= FREE_ATTEMPTS {
        storage.delay_attempts(&key, now + delay(n)).await?;
    }
    Ok(())
}

/// How a password check through the throttle went.
#[derive(Debug)]
pub enum Checked {
    Right,
    Wrong,
    Throttled(Throttled),
    /// Too many password checks waiting (argon2's queue): retry shortly.
    Busy(String),
}

/// The one way a password is checked: counted first (`attempt`), then argon2 against
/// `hash` (the dummy hash for an unknown login, so timing tells nothing), then recorded
/// (`outcome`).
pub async fn check(
    storage: &Store,
    login: &str,
    addr: Option<IpAddr>,
    password: &str,
    hash: String,
) -> Result<Checked, StoreError> {
    let now = chrono::Utc::now().timestamp();
    let n = match attempt(storage, login, addr, now).await? {
        Ok(n) => n,
        Err(t) => return Ok(Checked::Throttled(t)),
    };
    let ok = match crate::accounts::check_password(password.to_string(), hash).await {
        Ok(ok) => ok,
        Err(busy) => return Ok(Checked::Busy(busy.to_string())),
    };
    outcome(storage, login, addr, n, ok, now).await?;
    Ok(if ok { Checked::Right } else { Checked::Wrong })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_a_minute_and_stop_at_fifteen() {
        assert_eq!(delay(FREE_ATTEMPTS + 1), 120);
        assert_eq!(delay(FREE_ATTEMPTS), 60);
        assert_eq!(delay(FREE_ATTEMPTS + 10), MAX_DELAY);
        assert_eq!(delay(i64::MAX), MAX_DELAY);
    }
}
