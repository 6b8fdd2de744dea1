//! The SQLite database: one file in WAL mode, one writer connection and a few readers.
//! Blocking work runs on Tokio's blocking pool, never on the async threads. What only
//! SQLite does lives here: opening and migrating the file, its epoch, hot backups
//! (`VACUUM INTO`) and restoring one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension};

use super::{Dialect, Row, Tx, TxFuture, Value};
use crate::store::rows::now;
use crate::store::{ChangeNotice, NOTICE_BUFFER, Result, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_ledger.sql"),
    include_str!("../migrations/003_blobs.sql"),
    include_str!("../migrations/004_web.sql"),
    include_str!("../migrations/005_office.sql"),
    include_str!("../migrations/006_province.sql"),
    include_str!("../migrations/007_throttle.sql"),
    include_str!("../migrations/008_password_due.sql"),
    include_str!("../migrations/009_photo_references.sql"),
    include_str!("../migrations/010_audit_action.sql"),
    include_str!("../migrations/011_indexes_as_postgres.sql"),
    include_str!("../migrations/012_ledger_photos_and_texts.sql"),
    include_str!("../migrations/013_hazard_serials.sql"),
    include_str!("../migrations/014_user_contacts.sql"),
];

/// Prepared statements each connection keeps (least recently used go first).
const STATEMENT_CACHE: usize = 192;

/// Readers for concurrent queries; SQLite in WAL mode lets them run beside the writer.
const READERS: usize = 4;

pub struct SqliteDb {
    inner: Arc<Inner>,
    /// The database's epoch does not change while this process has it open, so it is
    /// read once at open rather than on every sync.
    pub(crate) epoch: String,
    /// This database was restored from a backup at some point.
    pub(crate) restored: bool,
    /// Fired after each commit: this process is the only writer, so an in-process
    /// channel is all it takes.
    pub(crate) changes: tokio::sync::broadcast::Sender<ChangeNotice>,
}

/// Meta key a backup file carries (the epoch of the database it was taken from): a
/// database that has it was copied from a backup, so opening it rotates the epoch.
const BACKUP_MARK: &str = "backup_of_epoch";

/// `SAFEROUND_MAX_PAGE_COUNT`: a test aid that caps the database at this many pages
/// (`PRAGMA max_page_count` on every connection), so a full disk — SQLite's real
/// "database or disk is full" — can be provoked without filling a file system.
pub const MAX_PAGE_COUNT_ENV: &str = "SAFEROUND_MAX_PAGE_COUNT";

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    path: PathBuf,
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: an acknowledged change survives power loss, not only a crash.
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every named statement: a commit alone uses about 25, more than rusqlite's
    // default of 16, which would prepare some again for every document.
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if let Some(n) = std::env::var(MAX_PAGE_COUNT_ENV)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        c.pragma_update(None, "max_page_count", n)?;
    }
    Ok(c)
}

const PUT_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Gives the database a new epoch and records that it was restored (one transaction).
fn rotate_epoch(c: &Connection) -> rusqlite::Result<String> {
    let epoch = uuid::Uuid::new_v4().to_string();
    let tx = c.unchecked_transaction()?;
    tx.execute(PUT_META, ["epoch", &epoch])?;
    tx.execute(PUT_META, ["restored_at", &now()])?;
    tx.execute("DELETE FROM meta WHERE key = ?1", [BACKUP_MARK])?;
    tx.commit()?;
    Ok(epoch)
}

impl SqliteDb {
    /// Opens (or creates) the database file and applies the migrations it lacks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let writer = open_conn(&path)?;
        let version: i64 = writer.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::Corrupt(format!(
                "database schema {version} is newer than this server ({})",
                MIGRATIONS.len()
            )));
        }
        for v in version..MIGRATIONS.len() as i64 {
            let tx = writer.unchecked_transaction()?;
            tx.execute_batch(MIGRATIONS[v as usize])?;
            tx.pragma_update(None, "user_version", v + 1)?;
            tx.commit()?;
            tracing::info!(to = v + 1, "migrated server database");
        }
        writer.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1) ON CONFLICT (key) DO NOTHING",
            [uuid::Uuid::new_v4().to_string()],
        )?;
        let meta = |key: &str| -> rusqlite::Result<Option<String>> {
            writer
                .query_row(super::META_VALUE, [key], |r| r.get(0))
                .optional()
        };
        // A backup copied into place by hand (not through `restore`) still gets a new
        // epoch the first time it is opened, so devices notice what it lacks.
        let epoch = if meta(BACKUP_MARK)?.is_some() {
            tracing::warn!("this database is a restored backup; giving it a new epoch");
            rotate_epoch(&writer)?
        } else {
            meta("epoch")?.unwrap_or_default()
        };
        let restored = meta("restored_at")?.is_some();
        let readers = (0..READERS)
            .map(|_| open_conn(&path).map(Mutex::new))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(SqliteDb {
            epoch,
            restored,
            changes: tokio::sync::broadcast::channel(NOTICE_BUFFER).0,
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: Default::default(),
                path,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn on_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let i = inner
                .next_reader
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % inner.readers.len();
            let mut c = inner.readers[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn on_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    pub(super) async fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let (sql, args) = (sql.to_string(), args.to_vec());
        self.on_reader(move |c| query(c, &sql, &args)).await
    }

    pub(super) async fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        let (sql, args) = (sql.to_string(), args.to_vec());
        self.on_writer(move |c| execute(c, &sql, &args)).await
    }

    pub(super) async fn prepare(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.on_reader(move |c| {
            c.prepare(&sql)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        // A deferred transaction: its snapshot is taken at the first read.
        self.on_reader(move |c| in_transaction(c, "BEGIN", f)).await
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        self.on_writer(move |c| in_transaction(c, "BEGIN IMMEDIATE", f))
            .await
    }

    /// A consistent copy of everything at `to` (a new file), taken while the server runs;
    /// the copy is marked as a backup, so it gets a new epoch when put back in place.
    pub async fn backup(&self, to: PathBuf) -> Result<()> {
        let epoch = self.epoch.clone();
        self.on_reader(move |c| {
            // One read transaction: the copy is the database as of one commit, taken
            // while writers go on (WAL).
            c.execute("VACUUM INTO ?1", [to.to_string_lossy()])?;
            // The copy knows it is a backup: whenever it is put back in place, it gets an
            // epoch of its own (see `open`), never this database's.
            let b = Connection::open(&to)?;
            b.execute(PUT_META, [BACKUP_MARK, &epoch])?;
            drop(b);
            std::fs::File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::Task(format!("backup: {e}")))?;
            Ok(())
        })
        .await
    }

    /// Puts the backup at `backup` in place of the database at `db` (the server must be
    /// stopped): checks the backup, keeps the current database beside it as
    /// `<db>.before-restore-<time>`, copies the backup in and gives it a new epoch, so
    /// every device pushes again what the backup lacks. Returns the new epoch.
    pub fn restore(backup: &Path, db: &Path) -> Result<String> {
        {
            let c =
                Connection::open_with_flags(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Corrupt(format!(
                    "the backup fails the integrity check: {check}"
                )));
            }
            let has_meta: bool = c
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                    [],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !has_meta {
                return Err(StoreError::Corrupt(
                    "not a SafeRound server database".into(),
                ));
            }
        }
        let io = |e: std::io::Error| StoreError::Task(format!("restore: {e}"));
        let tmp = db.with_extension("restoring");
        std::fs::copy(backup, &tmp).map_err(io)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        if db.exists() {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let mut aside = db.as_os_str().to_owned();
            aside.push(format!(".before-restore-{stamp}"));
            std::fs::rename(db, &aside).map_err(io)?;
            // The old database's WAL belongs to it, never to the restored file.
            for suffix in ["-wal", "-shm"] {
                let mut side = db.as_os_str().to_owned();
                side.push(suffix);
                let mut side_aside = aside.clone();
                side_aside.push(suffix);
                let _ = std::fs::rename(&side, &side_aside);
            }
        }
        std::fs::rename(&tmp, db).map_err(io)?;
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
        }
        let c = open_conn(db)?;
        Ok(rotate_epoch(&c)?)
    }
}

/// Runs `f` between `begin` and COMMIT (ROLLBACK if it fails) on `c`.
fn in_transaction<T, F>(c: &mut Connection, begin: &str, f: F) -> Result<T>
where
    F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T>,
{
    c.execute_batch(begin)?;
    let result = {
        let mut tx = SqliteTx { c };
        run_ready(f(&mut tx))
    };
    let result = result.and_then(|v| {
        c.execute_batch("COMMIT")?;
        Ok(v)
    });
    if result.is_err() && !c.is_autocommit() {
        // A statement or the COMMIT failed (a full disk, say) and the transaction is
        // still open: roll it back, so the connection is clean for the next caller. (An
        // error that ended the transaction itself leaves nothing to roll back.)
        let _ = c.execute_batch("ROLLBACK");
    }
    result
}

/// Polls a transaction's future once: its statements ran synchronously on this thread,
/// so it is done. A future still pending awaited something else, which a transaction
/// on SQLite's blocking thread must not do.
fn run_ready<T>(mut f: TxFuture<'_, T>) -> Result<T> {
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        Poll::Pending => Err(StoreError::Task(
            "a SQLite transaction awaited something other than its statements".into(),
        )),
    }
}

struct SqliteTx<'c> {
    c: &'c mut Connection,
}

#[async_trait]
impl Tx for SqliteTx<'_> {
    async fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        query(self.c, sql, args)
    }

    async fn query_built(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        rows(&mut self.c.prepare(sql)?, args)
    }

    async fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        execute(self.c, sql, args)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Ints(_) | Value::Texts(_) | Value::Blobs(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite has no array parameters".into(),
                ));
            }
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(*b as i64)),
        })
    }
}

fn value_of(v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| StoreError::Corrupt("text that is not UTF-8".into()))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn query(c: &Connection, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
    rows(&mut *c.prepare_cached(sql)?, args)
}

/// Every row of `stmt` run with `args`, as `Value`s.
fn rows(stmt: &mut rusqlite::Statement<'_>, args: &[Value]) -> Result<Vec<Row>> {
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Row((0..n)
            .map(|i| value_of(r.get_ref(i)?))
            .collect::<Result<_>>()?));
    }
    Ok(out)
}

fn execute(c: &Connection, sql: &str, args: &[Value]) -> Result<u64> {
    let n = c
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(args.iter()))?;
    Ok(n as u64)
}
