//! Passwords (argon2id) and device tokens (random, kept only as SHA-256).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::Digest;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Hashing with a fresh salt and default parameters does not fail.
        .unwrap_or_default()
}

/// The shortest password accepted anywhere (the dashboard, the admin API, the command
/// line).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest: argon2 hashes whatever it gets, a megabyte of it too.
pub const MAX_PASSWORD_BYTES: usize = 200;

/// The bundled list of commonly used passwords (`common_passwords.txt`, its sources in
/// its header), read once.
fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Why a password is refused, or `None` for one that may be used: one policy for every
/// place a password is set. At least ten characters, at most 200 bytes, not the login,
/// neither one of the commonly used passwords (`common_passwords.txt`) nor one of them
/// with digits or symbols after it, not one character repeated.
pub fn password_problem(password: &str, login: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("password: at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let lower = password.to_lowercase();
    // What makes "monkey2026!" as guessable as "monkey": trailing digits and symbols.
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    let common = common_passwords().contains(lower.as_str()) || common_passwords().contains(stem);
    let one_char = lower.chars().all(|c| lower.starts_with(c));
    if common || one_char || stem.is_empty() || lower == login.trim().to_lowercase() {
        return Some("password: too common or too easy to guess; choose another".into());
    }
    None
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// How many argon2 computations run at once, on threads of their own.
///
/// Each one takes argon2's 19 MiB of memory. On tokio's blocking threads that memory
/// stayed with whichever thread ran it (glibc keeps a freed block of that size in the
/// thread's arena): 20 logins one after another, even failed ones, took the server from
/// 56 MB to 407 MB. On two fixed threads it is reused, so logins cost at most 2 × 19 MiB
/// whatever their number, and a flood of logins queues here instead of taking every CPU.
const PASSWORD_THREADS: usize = 2;
/// Password checks waiting beyond this many are refused as busy (the caller answers 503).
const PASSWORD_QUEUE: usize = 64;

type PasswordJob = Box<dyn FnOnce() + Send>;

fn password_queue() -> &'static std::sync::mpsc::SyncSender<PasswordJob> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::SyncSender<PasswordJob>> =
        std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<PasswordJob>(PASSWORD_QUEUE);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..PASSWORD_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password thread: {e}");
            }
        }
        tx
    })
}

/// The password threads are all busy and their queue is full.
#[derive(Debug, thiserror::Error)]
#[error("too many password checks at once; try again shortly")]
pub struct PasswordBusy;

async fn on_password_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordBusy> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    password_queue()
        .try_send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .map_err(|_| PasswordBusy)?;
    rx.await.map_err(|_| PasswordBusy)
}

/// `verify_password` on the password threads.
pub async fn check_password(password: String, phc: String) -> Result<bool, PasswordBusy> {
    on_password_thread(move || verify_password(&password, &phc)).await
}

/// `hash_password` on the password threads.
pub async fn hash_password_async(password: String) -> Result<String, PasswordBusy> {
    on_password_thread(move || hash_password(&password)).await
}

/// A new random secret, URL-safe (hex), 256 bits.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Equality of two secrets (or their hashes) in time that does not depend on where they
/// differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn token_hash(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// A readable one-time password for a new administrator.
pub fn new_password() -> String {
    let mut b = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_password_policy_refuses_short_common_and_guessable_passwords() {
        for bad in [
            "nine-char",      // 9 characters
            "1234567890",     // the list
            "Password2026!",  // a common word, digits after it
            "WOAINI1314520",  // the same, in capitals
            "aaaaaaaaaaaa",   // one character
            "13912345678",    // digits only
            "saferound-demo", // the demo's shared password
            "q1w2e3r4t5",     // the bundled list, from zxcvbn's
            "1q2w3e4r5t",     // the same
            "Mustang1967!",   // one of its words, digits after it
        ] {
            assert!(password_problem(bad, "someone").is_some(), "{bad} accepted");
        }
        assert!(
            password_problem("zhanglei-2026", "zhanglei-2026").is_some(),
            "the login"
        );
        assert!(password_problem(&"x".repeat(201), "a").is_some());
        // At least the 3,000 most common passwords (OWASP ASVS 5.0, 6.2.4).
        assert!(
            common_passwords().len() >= 3000,
            "{}",
            common_passwords().len()
        );
        for good in ["long-enough-pw", "Zq8#kT2m!x", "灭火器每月检查一次吧"] {
            assert_eq!(password_problem(good, "someone"), None, "{good}");
        }
    }

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[tokio::test]
    async fn password_threads_check_and_hash() {
        let h = hash_password_async("correct horse".into()).await.unwrap();
        let checks = (0..6).map(|k| {
            let pw = if k % 2 == 0 { "correct horse" } else { "wrong" };
            check_password(pw.into(), h.clone())
        });
        let got: Vec<bool> = futures_util::future::join_all(checks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, [true, false, true, false, true, false]);
    }
}
