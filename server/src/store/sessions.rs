//! The dashboard's sign-ins: web sessions, the password-attempt throttle, and the audit
//! log of logins, exports and administrative actions.

use saferound_core::ids::{InstitutionId, UserId};
use serde::Serialize;

use super::accounts::{User, user_at, user_cols};
use super::rows::now;
use super::sql::{Row, args, statements};
use super::{Result, Store};

/// A web session: the user and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    pub csrf: String,
}

/// One throttle key's attempts in its current window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    pub attempts: i64,
    pub window_start: i64,
    pub not_before: Option<i64>,
}

fn attempts_of(r: &Row) -> Result<Attempts> {
    Ok(Attempts {
        attempts: r.get(0)?,
        window_start: r.get(1)?,
        not_before: r.get(2)?,
    })
}

/// Which audit entries to read (`Store::audit_log`): all, one action's, or one action's
/// about one thing (entries whose detail starts with the thing's id).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub detail_prefix: Option<String>,
}

/// One line of the audit log: logins, exports, administrative actions.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub institution: Option<String>,
    pub user_id: Option<String>,
    pub login: String,
    pub action: String,
    pub detail: String,
}

statements! {
    CREATE_SESSION = "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)";
    DELETE_EXPIRED_SESSIONS = "DELETE FROM web_sessions WHERE expires_at < ?1";
    SESSION = concat!(
        "SELECT s.csrf, ", user_cols!(),
        " FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active"
    );
    DELETE_SESSION = "DELETE FROM web_sessions WHERE token_hash = ?1";
    DELETE_EXPIRED_ATTEMPTS = "DELETE FROM password_attempts
         WHERE window_start < ?1 AND (not_before IS NULL OR not_before < ?2)";
    /// Counts one password attempt for a key (`?1`) at `?2`, its window starting again
    /// when it began before `?3`.
    COUNT_ATTEMPT = "INSERT INTO password_attempts (key, window_start, attempts, not_before)
         VALUES (?1, ?2, 1, NULL)
         ON CONFLICT (key) DO UPDATE SET
           attempts = CASE WHEN password_attempts.window_start < ?3 THEN 1 ELSE password_attempts.attempts + 1 END,
           not_before = CASE WHEN password_attempts.window_start < ?3 THEN NULL ELSE password_attempts.not_before END,
           window_start = CASE WHEN password_attempts.window_start < ?3 THEN ?2 ELSE password_attempts.window_start END
         RETURNING attempts, window_start, not_before";
    ATTEMPTS_OF = "SELECT attempts, window_start, not_before FROM password_attempts WHERE key = ?1";
    DELAY_ATTEMPTS = "UPDATE password_attempts SET not_before = ?2 WHERE key = ?1";
    CLEAR_ATTEMPTS = "DELETE FROM password_attempts WHERE key = ?1";
    AUDIT = "INSERT INTO audit_log (at, institution, user_id, login, action, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    /// `?1` institution, `?2` action, `?3` detail prefix, `?4` limit; NULL: any. The
    /// prefix is compared with `substr`, not `LIKE`, so ids need no escaping.
    AUDIT_LOG = "SELECT seq, at, institution, user_id, login, action, detail
         FROM audit_log
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1)
           AND (CAST(?2 AS TEXT) IS NULL OR action = ?2)
           AND (CAST(?3 AS TEXT) IS NULL OR substr(detail, 1, length(?3)) = ?3)
         ORDER BY seq DESC LIMIT ?4";
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: [u8; 32],
        user: UserId,
        csrf: &str,
        expires_at: &str,
    ) -> Result<()> {
        let session = args![token_hash, user, csrf, now(), expires_at];
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(CREATE_SESSION, &session).await?;
                    // Expired sessions go whenever someone logs in.
                    tx.execute(DELETE_EXPIRED_SESSIONS, &args![now()]).await?;
                    Ok(())
                })
            })
            .await
    }

    /// The session's user if the session exists, has not expired (`now`, RFC 3339 UTC)
    /// and the user is active.
    pub async fn session(&self, token_hash: [u8; 32], now: &str) -> Result<Option<WebSession>> {
        self.db
            .query_opt(SESSION, &args![token_hash, now])
            .await?
            .map(|r| {
                Ok(WebSession {
                    csrf: r.get(0)?,
                    user: user_at(&r, 1)?,
                })
            })
            .transpose()
    }

    pub async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()> {
        self.db.execute(DELETE_SESSION, &args![token_hash]).await?;
        Ok(())
    }

    /// Counts one password attempt for each key: a key's window starts again when it
    /// began before `window_from` (then its delay is gone too). Expired rows are removed.
    /// Every key's state after counting, in the order given.
    pub async fn count_attempts(
        &self,
        keys: &[String],
        now: i64,
        window_from: i64,
    ) -> Result<Vec<Attempts>> {
        let keys = keys.to_vec();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(DELETE_EXPIRED_ATTEMPTS, &args![window_from, now])
                        .await?;
                    let mut out = Vec::with_capacity(keys.len());
                    for k in &keys {
                        let r = tx
                            .query_one(COUNT_ATTEMPT, &args![k, now, window_from])
                            .await?;
                        out.push(attempts_of(&r)?);
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// The key's attempts in its window, without counting one.
    pub async fn attempts_of(&self, key: &str) -> Result<Option<Attempts>> {
        self.db
            .query_opt(ATTEMPTS_OF, &args![key])
            .await?
            .map(|r| attempts_of(&r))
            .transpose()
    }

    /// The key's next attempt waits until `not_before` (Unix seconds).
    pub async fn delay_attempts(&self, key: &str, not_before: i64) -> Result<()> {
        self.db
            .execute(DELAY_ATTEMPTS, &args![key, not_before])
            .await?;
        Ok(())
    }

    /// Forgets the key's attempts (a login that succeeded).
    pub async fn clear_attempts(&self, key: &str) -> Result<()> {
        self.db.execute(CLEAR_ATTEMPTS, &args![key]).await?;
        Ok(())
    }

    pub async fn audit(
        &self,
        institution: Option<InstitutionId>,
        user: Option<&User>,
        login: &str,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        self.db
            .execute(
                AUDIT,
                &args![
                    now(),
                    institution,
                    user.map(|u| u.id),
                    login,
                    action,
                    detail
                ],
            )
            .await?;
        Ok(())
    }

    /// Newest first; only entries of `about.action` whose detail starts with
    /// `about.detail_prefix`, where given.
    pub async fn audit_log(
        &self,
        institution: Option<InstitutionId>,
        about: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.db
            .query(
                AUDIT_LOG,
                &args![institution, &about.action, &about.detail_prefix, limit],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    institution: r.get(2)?,
                    user_id: r.get(3)?,
                    login: r.get(4)?,
                    action: r.get(5)?,
                    detail: r.get(6)?,
                })
            })
            .collect()
    }
}
