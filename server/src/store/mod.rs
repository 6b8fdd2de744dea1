//! Everything the server persists, behind `Store`: accounts and devices, documents and
//! the change feed, photos, the ledger, sessions and the audit log, reports, and the
//! office's plans — one module per concern, each holding its statements (written once)
//! and the methods that run them.
//!
//! Two databases hold it: SQLite (one file, the embedded default) and PostgreSQL (several
//! replicas at once). `sql` is the one layer between the shared SQL and the two drivers;
//! `sql::sqlite` and `sql::postgres` keep only what truly differs: connections,
//! migrations, locks, feed positions, backups.

pub mod accounts;
pub mod blobs;
pub mod devices;
pub mod documents;
pub mod ledger;
pub mod office;
pub mod reports;
mod rows;
#[doc(hidden)]
pub mod scratch;
pub mod serials;
pub mod sessions;
#[doc(hidden)]
pub mod shape;
pub mod sql;

use std::path::Path;

use saferound_core::ids::InstitutionId;

pub use accounts::{Contact, Department, Site, User};
pub use devices::{DeviceAuth, DeviceInfo, NewDevice};
pub use documents::{DocCommit, FeedItem, FeedPage, NewChange, StoredDoc};
pub use ledger::{Counts, HazardDates, HazardDetail, HazardQuery};
pub use office::{Campaign, CampaignScope, DutySlot, Holiday, Phase, WeeklyDue};
pub use reports::{
    HazardFigure, InspectionFigure, InstitutionFiling, InstitutionReceipt, ReportOrder,
    ReportReceipt, WeekFigures, WeekRange,
};
pub use sessions::{Attempts, AuditEntry, AuditFilter, WebSession};
pub use sql::postgres::is_url;
pub use sql::sqlite::MAX_PAGE_COUNT_ENV;

use sql::Db;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage (PostgreSQL): {}", with_causes(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to PostgreSQL within the pool's timeouts.
    #[error("storage (PostgreSQL connection pool): {}", with_causes(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// What this backend does not do (a PostgreSQL backup is pg_dump's job).
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("storage task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The database is out of space: nothing was written, the device keeps its changes
    /// and tries later (HTTP 503, see `http::ApiError::StorageFull`).
    pub fn disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            StoreError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL)
            }
            StoreError::Pool(deadpool_postgres::PoolError::Backend(e)) => {
                e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL)
            }
            _ => false,
        }
    }

    /// A failure that passes by itself — the database restarting or unreachable for a
    /// moment, a lost connection, a busy pool, a transaction that lost a race — after
    /// which the same request can simply be made again (HTTP 503, not 500).
    pub fn transient(&self) -> bool {
        match self {
            StoreError::Postgres(e) => pg_transient(e),
            StoreError::Pool(deadpool_postgres::PoolError::Backend(e)) => pg_transient(e),
            // Timeouts, a closed pool: the database did not answer in time.
            StoreError::Pool(_) => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// The error and its causes: tokio-postgres says only "db error" or "error connecting
/// to server" and keeps the server's message (or the I/O error) as the source.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn pg_transient(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // 08: connection exceptions; 40001/40P01: lost a race; 53300: too many
        // connections; 57P01–57P03: the server is shutting down or starting up.
        Some(c) => {
            let c = c.code();
            c.starts_with("08")
                || matches!(c, "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03")
        }
        // No SQLSTATE: the connection itself failed (closed, I/O, connect).
        None => {
            e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What `Store::subscribe_changes` delivers after a commit: the institution whose
/// documents changed, or `None` when that is unknown (notifications may have been missed,
/// say while PostgreSQL's listening connection was down): anything may have changed.
pub type ChangeNotice = Option<InstitutionId>;

/// How many notices a slow subscriber may fall behind before it is told it lagged (and
/// then treats that as "anything may have changed").
pub(crate) const NOTICE_BUFFER: usize = 256;

/// What processes sharing the database take turns at (`Store::lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockFor {
    /// Seeding the database at start (the first administrator, the demo institution):
    /// replicas starting together seed one after the other, and the later ones find the
    /// work done.
    Startup,
    /// Calling the incident webhook: one replica sends, so each incident goes out once;
    /// when it stops, a waiting replica takes over from the shared cursor.
    IncidentWebhook,
}

/// What keeps a lock held: on PostgreSQL, the connection holding a session advisory lock.
pub(crate) trait LockGuard: Send + Sync {
    /// Whether the lock is still held (false once the holding connection is gone: the
    /// database has let go of the lock, and another process may have it).
    fn held(&self) -> bool;
}

/// A lock of `Store::lock`, released when dropped (on PostgreSQL the connection closes,
/// also if the process dies).
pub struct HeldLock(Option<Box<dyn LockGuard>>);

impl HeldLock {
    /// Nothing to hold: one process has the database (SQLite).
    pub fn none() -> Self {
        HeldLock(None)
    }

    pub(crate) fn holding(guard: Box<dyn LockGuard>) -> Self {
        HeldLock(Some(guard))
    }

    /// Whether this process still holds the lock.
    pub fn held(&self) -> bool {
        self.0.as_ref().is_none_or(|g| g.held())
    }
}

/// The server's storage, on SQLite or PostgreSQL. Its methods are defined by concern in
/// this module's files; what depends on the database is here.
pub struct Store {
    db: Db,
}

impl Store {
    /// Opens (or creates) the SQLite database at `path` and migrates it.
    pub fn open_sqlite(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Store {
            db: Db::Sqlite(sql::sqlite::SqliteDb::open(path)?),
        })
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`), applies the
    /// migrations this binary has and the database lacks, and reads the epoch.
    pub async fn connect_postgres(url: &str) -> Result<Self> {
        Ok(Store {
            db: Db::Postgres(Box::new(sql::postgres::PgDb::connect(url).await?)),
        })
    }

    /// `db`: a PostgreSQL URL (`is_url`), or else the path of a SQLite file.
    pub async fn open(db: &str) -> Result<Self> {
        if is_url(db) {
            Self::connect_postgres(db).await
        } else {
            Self::open_sqlite(db)
        }
    }

    /// The SQLite file, if the store is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.db {
            Db::Sqlite(d) => Some(d.path()),
            Db::Postgres(_) => None,
        }
    }

    /// Notices of committed documents, so waiters (the dashboard's incident stream) wake
    /// on a change instead of polling. SQLite: this process's commits (it is the only
    /// writer). PostgreSQL: every replica's, by NOTIFY/LISTEN. Best effort: a notice can
    /// be late or lost (a dropped listening connection), so waiters still poll, rarely.
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<ChangeNotice> {
        match &self.db {
            Db::Sqlite(d) => d.changes.subscribe(),
            Db::Postgres(d) => d.changes.subscribe(),
        }
    }

    /// Waits until this process holds the lock `which` among the processes sharing the
    /// database (see `LockFor`), and holds it until the returned guard is dropped.
    pub async fn lock(&self, which: LockFor) -> Result<HeldLock> {
        match &self.db {
            // One file, one serving process: nothing to coordinate with.
            Db::Sqlite(_) => Ok(HeldLock::none()),
            Db::Postgres(d) => d.lock(which).await,
        }
    }

    /// An id of this database's history: changes when the data is restored from a backup.
    pub async fn epoch(&self) -> Result<String> {
        Ok(match &self.db {
            Db::Sqlite(d) => d.epoch.clone(),
            Db::Postgres(d) => d.epoch.clone(),
        })
    }

    /// Whether this database was ever restored from a backup: changes it lost may come
    /// back relayed by devices other than their authors' (see `sync::merge_one`).
    pub async fn restored(&self) -> Result<bool> {
        Ok(match &self.db {
            Db::Sqlite(d) => d.restored,
            Db::Postgres(d) => d.restored,
        })
    }

    /// A consistent copy of everything, taken while the server runs, at `to` (a new file).
    /// The copy is marked as a backup, so it gets a new epoch when put back in place.
    pub async fn backup(&self, to: std::path::PathBuf) -> Result<()> {
        match &self.db {
            Db::Sqlite(d) => d.backup(to).await,
            Db::Postgres(_) => Err(StoreError::Unsupported(
                "the database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f saferound.dump <url>); \
                 after pg_restore, run `saferound-server --db <url> mark-restored`"
                    .into(),
            )),
        }
    }

    /// Puts the SQLite backup at `backup` in place of the database at `db` (the server
    /// must be stopped), giving it a new epoch; see `sql::sqlite::SqliteDb::restore`.
    pub fn restore_sqlite(backup: &Path, db: &Path) -> Result<String> {
        sql::sqlite::SqliteDb::restore(backup, db)
    }

    /// After a PostgreSQL database was put back from a dump (`pg_restore`, servers
    /// stopped): gives it a new epoch and records the restore, so every device pushes
    /// again what the dump lacks. Returns the new epoch.
    pub async fn mark_restored(&self) -> Result<String> {
        match &self.db {
            Db::Sqlite(_) => Err(StoreError::Unsupported(
                "mark-restored is for PostgreSQL; a SQLite backup is put back with `restore`"
                    .into(),
            )),
            Db::Postgres(d) => d.mark_restored().await,
        }
    }

    /// Prepares every named statement of every concern on this database, without running
    /// any: each is valid here, with its tables, columns and parameter types resolved.
    /// Returns how many were prepared.
    #[doc(hidden)]
    pub async fn prepare_statements(&self) -> Result<usize> {
        let all = [
            accounts::STATEMENTS,
            blobs::STATEMENTS,
            devices::STATEMENTS,
            documents::STATEMENTS,
            ledger::STATEMENTS,
            office::STATEMENTS,
            reports::STATEMENTS,
            serials::STATEMENTS,
            sessions::STATEMENTS,
        ];
        let mut n = 0;
        for (name, sql) in all.iter().flat_map(|s| s.iter()) {
            self.db
                .prepare(sql)
                .await
                .map_err(|e| StoreError::Corrupt(format!("statement {name}: {e}")))?;
            n += 1;
        }
        if let Db::Postgres(_) = &self.db {
            for (name, sql) in sql::postgres::STATEMENTS {
                self.db
                    .prepare(sql)
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("statement {name}: {e}")))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    /// Every named statement, of every concern and of the PostgreSQL backend.
    fn all() -> Vec<(&'static str, &'static str)> {
        [
            super::accounts::STATEMENTS,
            super::blobs::STATEMENTS,
            super::devices::STATEMENTS,
            super::documents::STATEMENTS,
            super::ledger::STATEMENTS,
            super::office::STATEMENTS,
            super::reports::STATEMENTS,
            super::serials::STATEMENTS,
            super::sessions::STATEMENTS,
            super::sql::postgres::STATEMENTS,
        ]
        .concat()
    }

    #[test]
    fn no_statement_is_written_twice() {
        let mut seen = std::collections::HashMap::new();
        for (name, sql) in all() {
            let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some(other) = seen.insert(text, name) {
                panic!("{name} and {other} are the same statement: name it once");
            }
        }
        assert!(seen.len() > 90);
    }
}
