//! The SQLite storage: one file in WAL mode, one writer connection and a few readers.
//! Blocking work runs on Tokio's blocking pool, never on the async threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use saferound_core::ids::{DepartmentId, DocId, InstitutionId, SiteId, UserId};

use super::rows::*;
use super::*;
use crate::ledger::{ConflictRow, EventRow, HazardRow, LedgerRows};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_ledger.sql"),
    include_str!("migrations/003_blobs.sql"),
    include_str!("migrations/004_web.sql"),
    include_str!("migrations/005_office.sql"),
    include_str!("migrations/006_province.sql"),
    include_str!("migrations/007_throttle.sql"),
    include_str!("migrations/008_password_due.sql"),
    include_str!("migrations/009_photo_references.sql"),
    include_str!("migrations/010_audit_action.sql"),
    include_str!("migrations/011_indexes_as_postgres.sql"),
];

/// Readers for concurrent queries; SQLite in WAL mode lets them run beside the writer.
const READERS: usize = 4;

pub struct SqliteStorage {
    inner: Arc<Inner>,
    /// The database's epoch does not change while this process has it open, so it is
    /// read once at open rather than on every sync.
    epoch: String,
    /// This database was restored from a backup at some point (see `restored`).
    restored: bool,
    /// Fired after each commit (`subscribe_changes`): this process is the only writer,
    /// so an in-process channel is all it takes.
    changes: tokio::sync::broadcast::Sender<ChangeNotice>,
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
    if let Some(n) = std::env::var(MAX_PAGE_COUNT_ENV)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        c.pragma_update(None, "max_page_count", n)?;
    }
    Ok(c)
}

/// Gives the database a new epoch and records that it was restored (one transaction).
fn rotate_epoch(c: &Connection) -> rusqlite::Result<String> {
    let epoch = uuid::Uuid::new_v4().to_string();
    let tx = c.unchecked_transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?1)",
        [&epoch],
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('restored_at', ?1)",
        [now()],
    )?;
    tx.execute("DELETE FROM meta WHERE key = ?1", [BACKUP_MARK])?;
    tx.commit()?;
    Ok(epoch)
}

impl SqliteStorage {
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
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)",
            [uuid::Uuid::new_v4().to_string()],
        )?;
        let meta = |key: &str| -> rusqlite::Result<Option<String>> {
            writer
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
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
        Ok(SqliteStorage {
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

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let i = inner
                .next_reader
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % inner.readers.len();
            let c = inner.readers[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&c)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn write<T: Send + 'static>(
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

/// The backend's column getter for the shared row macros (`rows::hazard_row!` …).
fn col<T: rusqlite::types::FromSql>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    r.get(i)
}

fn user_from(r: &Row<'_>) -> rusqlite::Result<UserTuple> {
    user_at(r, 0)
}

/// A device as `SELECT d.id, d.institution, d.actor, {USER_COLS}` reads it.
type DeviceAuthRow = (String, String, Vec<u8>, UserTuple);

fn device_auth_row(r: &Row<'_>) -> rusqlite::Result<DeviceAuthRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, user_at(r, 3)?))
}

/// The `USER_COLS` of a row, starting at column `at`.
fn user_at(r: &Row<'_>, at: usize) -> rusqlite::Result<UserTuple> {
    Ok(user_tuple!(col, r, at))
}

fn device_auth_of((id, inst, actor, u): DeviceAuthRow) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        device_id: id,
        institution: parse(&inst, "institution")?,
        actor,
        user: user_of(u)?,
    })
}

/// Writes a document's ledger rows; `replace`: remove its earlier rows first (a new
/// document, or a ledger just emptied for a rebuild, has none: six deletes saved per
/// document of a big first sync).
fn write_ledger(
    tx: &rusqlite::Transaction<'_>,
    inst: &str,
    id: &str,
    rows: &LedgerRows,
    replace: bool,
) -> rusqlite::Result<()> {
    if replace {
        for t in &LEDGER_TABLES {
            let sql = format!(
                "DELETE FROM {} WHERE institution = ?1 AND {} = ?2",
                t.name, t.document
            );
            tx.prepare_cached(&sql)?.execute(params![inst, id])?;
        }
    }
    if let Some(h) = &rows.hazard {
        tx.prepare_cached(
            "INSERT INTO ledger_hazards VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,
              ?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30)",
        )?
        .execute(params![
            inst, h.id, h.campaign, h.inspection, h.site_id, h.site_name, h.site_kind, h.category, h.risk,
            h.risk_rank, h.hazard_grade, h.status, h.supervised, h.location, h.description, h.reported_by,
            h.reported_by_name, h.reported_at, h.measure, h.funds, h.responsible, h.responsible_name,
            h.deadline, h.contingency, h.reinspector, h.reinspector_name, h.rectified_at, h.verified_at,
            h.verification_note, h.conflicts
        ])?;
    }
    for e in &rows.events {
        tx.prepare_cached("INSERT INTO ledger_events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")?
            .execute(params![
                inst, id, e.idx, e.kind, e.by_user, e.by_name, e.at, e.note, e.skipped
            ])?;
    }
    if let Some(i) = &rows.inspection {
        tx.prepare_cached("INSERT INTO ledger_inspections VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)")?
            .execute(params![
                inst, i.id, i.campaign, i.site_id, i.site_name, i.site_kind, i.template, i.template_version,
                i.inspectors, i.started_at, i.submitted_at, i.answers, i.failed, i.findings
            ])?;
    }
    for a in &rows.answers {
        tx.prepare_cached("INSERT INTO ledger_answers VALUES (?1,?2,?3,?4,?5,?6,?7)")?
            .execute(params![inst, id, a.item, a.result, a.note, a.by_user, a.at])?;
    }
    for c in &rows.conflicts {
        tx.prepare_cached("INSERT INTO ledger_conflicts VALUES (?1,?2,?3,?4,?5)")?
            .execute(params![inst, id, c.field, c.competing, c.resolution])?;
    }
    if let Some(r) = &rows.report {
        tx.prepare_cached("INSERT INTO ledger_reports VALUES (?1,?2,?3,?4,?5,?6,?7,?8)")?
            .execute(params![
                inst,
                r.id,
                r.kind,
                r.department,
                r.week,
                r.all_clear,
                r.title,
                r.filed_at
            ])?;
    }
    Ok(())
}

fn hazard_from(r: &Row<'_>) -> rusqlite::Result<HazardRow> {
    hazard_at(r, 0)
}

/// Reads the hazard columns starting at column `o`.
fn hazard_at(r: &Row<'_>, o: usize) -> rusqlite::Result<HazardRow> {
    Ok(hazard_row!(col, r, o))
}

fn load_doc(c: &Connection, inst: &str, id: &str) -> Result<Option<StoredDoc>> {
    let row: Option<(String, Vec<u8>, i64, Vec<u8>)> = c
        .prepare_cached("SELECT kind, snapshot, snapshot_seq, heads FROM documents WHERE institution = ?1 AND id = ?2")?
        .query_row(params![inst, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((kind, mut bytes, snapshot_seq, heads)) = row else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT bytes FROM changes WHERE institution = ?1 AND doc_id = ?2 AND seq > ?3 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![inst, id, snapshot_seq])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let b: Vec<u8> = r.get(0)?;
        bytes.extend_from_slice(&b);
        n += 1;
    }
    Ok(Some(StoredDoc {
        kind,
        bytes,
        heads,
        changes_after_snapshot: n,
    }))
}

/// A report receipt from `SELECT f.seq, r.institution, r.id, r.kind, r.department,
/// r.week, r.all_clear, r.title, r.filed_at, f.received_at` (both report queries).
fn receipt_from(r: &Row<'_>) -> rusqlite::Result<ReportReceipt> {
    Ok(ReportReceipt {
        first_seq: r.get(0)?,
        institution: r.get(1)?,
        id: r.get(2)?,
        kind: r.get(3)?,
        department: r.get(4)?,
        week: r.get(5)?,
        all_clear: r.get(6)?,
        title: r.get(7)?,
        filed_at: r.get(8)?,
        received_at: r.get(9)?,
    })
}

#[async_trait]
impl Storage for SqliteStorage {
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<ChangeNotice> {
        self.changes.subscribe()
    }

    async fn lock(&self, _which: LockFor) -> Result<HeldLock> {
        // One file, one serving process: nothing to coordinate with.
        Ok(HeldLock::none())
    }

    async fn position(&self, key: &str) -> Result<Option<i64>> {
        let key = key.to_string();
        self.read(move |c| {
            let v: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?;
            v.map(|v| {
                v.parse()
                    .map_err(|_| StoreError::Conflict(format!("{key} is not a number: {v}")))
            })
            .transpose()
        })
        .await
    }

    async fn advance_position(&self, key: &str, value: i64) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                params![key, value.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn epoch(&self) -> Result<String> {
        Ok(self.epoch.clone())
    }

    async fn restored(&self) -> Result<bool> {
        Ok(self.restored)
    }

    async fn backup(&self, to: PathBuf) -> Result<()> {
        let epoch = self.epoch.clone();
        self.read(move |c| {
            // One read transaction: the copy is the database as of one commit, taken
            // while writers go on (WAL).
            c.execute("VACUUM INTO ?1", [to.to_string_lossy()])?;
            // The copy knows it is a backup: whenever it is put back in place, it gets an
            // epoch of its own (see `open`), never this database's.
            let b = Connection::open(&to)?;
            b.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![BACKUP_MARK, epoch],
            )?;
            drop(b);
            std::fs::File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::Task(format!("backup: {e}")))?;
            Ok(())
        })
        .await
    }

    async fn institution_actors(&self, institution: InstitutionId) -> Result<Vec<Vec<u8>>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT actor FROM devices WHERE institution = ?1")?
                    .query_map([institution.to_string()], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?,
            )
        })
        .await
    }

    async fn create_institution(
        &self,
        id: InstitutionId,
        name: &str,
        created_at: &str,
    ) -> Result<()> {
        let (name, at) = (name.to_string(), created_at.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO institutions (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![id.to_string(), name, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn institution_created_at(&self, id: InstitutionId) -> Result<Option<String>> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT created_at FROM institutions WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn institutions(&self) -> Result<Vec<(InstitutionId, String)>> {
        self.read(|c| {
            let rows: Vec<(String, String)> = c
                .prepare("SELECT id, name FROM institutions ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(i, n)| Ok((parse(&i, "institution")?, n)))
                .collect()
        })
        .await
    }

    async fn create_department(&self, d: &Department) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO departments (id, institution, name) VALUES (?1, ?2, ?3)",
                params![d.id.to_string(), d.institution.to_string(), d.name],
            )?;
            Ok(())
        })
        .await
    }

    async fn departments(&self, institution: InstitutionId) -> Result<Vec<Department>> {
        self.read(move |c| {
            let rows: Vec<(String, String)> = c
                .prepare("SELECT id, name FROM departments WHERE institution = ?1 ORDER BY name")?
                .query_map([institution.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, name)| {
                    Ok(Department {
                        id: parse::<DepartmentId>(&id, "department")?,
                        institution,
                        name,
                    })
                })
                .collect()
        })
        .await
    }

    async fn create_site(&self, s: &Site) -> Result<()> {
        let s = s.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sites (id, institution, department, name, kind, building, floor_room)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.id.to_string(),
                    s.institution.to_string(),
                    s.department.to_string(),
                    s.name,
                    s.kind.code(),
                    s.building,
                    s.floor_room
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn sites(&self, institution: InstitutionId) -> Result<Vec<Site>> {
        self.read(move |c| {
            let rows: Vec<(String, String, String, String, String, String)> = c
                .prepare(
                    "SELECT id, department, name, kind, building, floor_room FROM sites
                     WHERE institution = ?1 ORDER BY name",
                )?
                .query_map([institution.to_string()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, dept, name, kind, building, floor_room)| {
                    Ok(Site {
                        id: parse::<SiteId>(&id, "site")?,
                        institution,
                        department: parse(&dept, "department")?,
                        name,
                        kind: parse(&kind, "site kind")?,
                        building,
                        floor_room,
                    })
                })
                .collect()
        })
        .await
    }

    async fn create_user(&self, u: &User) -> Result<()> {
        let u = u.clone();
        self.write(move |c| {
            let roles: Vec<&str> = u.roles.iter().map(|r| r.code()).collect();
            let n = c.execute(
                "INSERT OR IGNORE INTO users (id, institution, department, login, name, roles, password_hash, active, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    u.id.to_string(),
                    u.institution.map(|i| i.to_string()),
                    u.department.map(|d| d.to_string()),
                    u.login,
                    u.name,
                    roles.join(","),
                    u.password_hash,
                    u.active,
                    now()
                ],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("login '{}' is taken", u.login)));
            }
            Ok(())
        })
        .await
    }

    async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool> {
        let (login, hash) = (login.to_string(), password_hash.to_string());
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET password_hash = ?2 WHERE login = ?1",
                params![login, hash],
            )?;
            // A new password ends every way in the old one opened.
            c.execute(
                "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE login = ?1)",
                [&login],
            )?;
            c.execute(PASSWORD_SET_CLEARS_DUE, [&login])?;
            c.execute(
                "UPDATE devices SET revoked_at = ?2
                 WHERE user_id IN (SELECT id FROM users WHERE login = ?1) AND revoked_at IS NULL",
                params![login, now()],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        let login = login.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLS} FROM users u WHERE u.login = ?1"
            ))?
            .query_row([login], user_from)
            .optional()?
            .map(user_of)
            .transpose()
        })
        .await
    }

    async fn users(&self, institution: InstitutionId) -> Result<Vec<User>> {
        self.read(move |c| {
            let rows: Vec<UserTuple> = c
                .prepare(&format!(
                    "SELECT {USER_COLS} FROM users u WHERE u.institution = ?1 ORDER BY u.login"
                ))?
                .query_map([institution.to_string()], user_from)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(user_of).collect()
        })
        .await
    }

    async fn user_count(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .await
    }

    async fn enroll_device(&self, d: &NewDevice) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            let taken: bool = c
                .query_row("SELECT 1 FROM devices WHERE actor = ?1", [&d.actor], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::Conflict("this Automerge actor is already bound to a device".into()));
            }
            c.execute(
                "INSERT INTO devices (id, user_id, institution, actor, token_hash, name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![d.id, d.user.to_string(), d.institution.to_string(), d.actor, d.token_hash.to_vec(), d.name, now()],
            )?;
            Ok(())
        })
        .await
    }

    async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT d.id, d.institution, d.actor, {USER_COLS} FROM devices d JOIN users u ON u.id = d.user_id
                     WHERE d.token_hash = ?1 AND d.revoked_at IS NULL AND u.active = 1"
                ))?
                .query_row([token_hash.to_vec()], device_auth_row)
                .optional()?;
            row.map(device_auth_of).transpose()
        })
        .await
    }

    async fn devices(&self, institution: InstitutionId) -> Result<Vec<DeviceInfo>> {
        self.read(move |c| {
            let rows: Vec<(
                String,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
            )> = c
                .prepare(
                    "SELECT id, user_id, name, created_at, revoked_at, last_sync_at FROM devices
                     WHERE institution = ?1 ORDER BY created_at",
                )?
                .query_map([institution.to_string()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, user, name, created_at, revoked_at, last_sync_at)| {
                    Ok(DeviceInfo {
                        id,
                        user_id: parse::<UserId>(&user, "user")?,
                        name,
                        created_at,
                        revoked_at,
                        last_sync_at,
                    })
                })
                .collect()
        })
        .await
    }

    async fn revoke_device(&self, institution: Option<InstitutionId>, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let n = match institution {
                Some(i) => c.execute(
                    "UPDATE devices SET revoked_at = ?3 WHERE id = ?1 AND institution = ?2 AND revoked_at IS NULL",
                    params![id, i.to_string(), now()],
                )?,
                None => c.execute(
                    "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now()],
                )?,
            };
            Ok(n > 0)
        })
        .await
    }

    async fn touch_device(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE devices SET last_sync_at = ?2 WHERE id = ?1",
                params![id, now()],
            )?;
            Ok(())
        })
        .await
    }

    async fn load_documents(
        &self,
        institution: InstitutionId,
        ids: Vec<DocId>,
    ) -> Result<HashMap<DocId, StoredDoc>> {
        self.read(move |c| {
            // One read transaction, so a document's heads and its bytes (two statements)
            // are of one moment: heads newer than the bytes would let a merge built on
            // the older bytes pass the compare-and-swap and commit heads that drop a
            // concurrent change (caught by the storage suite's concurrent writers).
            let tx = c.unchecked_transaction()?;
            let inst = institution.to_string();
            let mut out = HashMap::new();
            for id in ids {
                if let Some(d) = load_doc(&tx, &inst, &id.to_string())? {
                    out.insert(id, d);
                }
            }
            tx.finish()?;
            Ok(out)
        })
        .await
    }

    async fn commit(&self, commits: Vec<DocCommit>) -> Result<Vec<DocId>> {
        // Which institutions to notify once committed: those of the documents that were
        // not stale (a stale one changed nothing).
        let institutions: Vec<(DocId, InstitutionId)> =
            commits.iter().map(|d| (d.id, d.institution)).collect();
        let stale = self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut stale = Vec::new();
            let received = now();
            for d in &commits {
                let inst = d.institution.to_string();
                let id = d.id.to_string();
                let current: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT heads FROM documents WHERE institution = ?1 AND id = ?2")?
                    .query_row(params![inst, id], |r| r.get(0))
                    .optional()?;
                if current != d.expected_heads {
                    stale.push(d.id);
                    continue;
                }
                if current.is_none() {
                    tx.prepare_cached(
                        "INSERT INTO documents (institution, id, kind, snapshot, snapshot_seq, heads, bytes, updated_at)
                         VALUES (?1, ?2, ?3, x'', 0, ?4, ?5, ?6)",
                    )?
                    .execute(params![inst, id, d.kind, d.new_heads, d.bytes as i64, received])?;
                } else {
                    tx.prepare_cached(
                        "UPDATE documents SET heads = ?3, bytes = ?4, updated_at = ?5 WHERE institution = ?1 AND id = ?2",
                    )?
                    .execute(params![inst, id, d.new_heads, d.bytes as i64, received])?;
                }
                for ch in &d.changes {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO changes (institution, doc_id, hash, actor, bytes, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![inst, id, ch.hash.to_vec(), ch.actor, ch.bytes, received])?;
                }
                if let Some(snapshot) = &d.snapshot {
                    tx.prepare_cached(
                        "UPDATE documents SET snapshot = ?3,
                            snapshot_seq = (SELECT COALESCE(MAX(seq), 0) FROM changes WHERE institution = ?1 AND doc_id = ?2)
                         WHERE institution = ?1 AND id = ?2",
                    )?
                    .execute(params![inst, id, snapshot])?;
                }
                write_ledger(&tx, &inst, &id, &d.ledger, current.is_some())?;
            }
            tx.commit()?;
            Ok(stale)
        })
        .await?;
        let mut changed: Vec<InstitutionId> = institutions
            .into_iter()
            .filter(|(id, _)| !stale.contains(id))
            .map(|(_, i)| i)
            .collect();
        changed.sort_unstable();
        changed.dedup();
        for i in changed {
            // No subscriber is not an error.
            let _ = self.changes.send(Some(i));
        }
        Ok(stale)
    }

    async fn feed(
        &self,
        institution: InstitutionId,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> Result<FeedPage> {
        self.read(move |c| {
            // The newest change now: the page covers changes up to it, so a change
            // committed while this page is read waits for the next sync (seq grows in
            // commit order: one writer).
            let newest: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE institution = ?1")?
                .query_row(params![institution.to_string()], |r| r.get(0))?;
            // The device's own changes are skipped in the query, not in pages: after a
            // big push they would otherwise fill page after empty page, one round trip
            // each, before the device heard it is up to date.
            let mut stmt = c.prepare_cached(
                "SELECT c.seq, c.doc_id, d.kind, c.bytes FROM changes c
                 JOIN documents d ON d.institution = c.institution AND d.id = c.doc_id
                 WHERE c.institution = ?1 AND c.seq > ?2 AND c.seq <= ?3 AND c.actor != ?4
                 ORDER BY c.seq LIMIT ?5",
            )?;
            let mut rows = stmt.query(params![
                institution.to_string(),
                after as i64,
                newest,
                skip_actor,
                FEED_PAGE_ROWS as i64
            ])?;
            let mut page = FeedPage {
                items: Vec::new(),
                cursor: after,
                more: false,
            };
            let mut bytes = 0usize;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let b: Vec<u8> = r.get(3)?;
                if bytes + b.len() > max_bytes && !page.items.is_empty() {
                    page.more = true;
                    return Ok(page);
                }
                bytes += b.len();
                let doc: String = r.get(1)?;
                page.items.push(FeedItem {
                    seq: seq as u64,
                    doc_id: parse(&doc, "document id")?,
                    kind: r.get(2)?,
                    bytes: b,
                });
                page.cursor = seq as u64;
            }
            if page.items.len() == FEED_PAGE_ROWS {
                page.more = true;
            } else {
                // Everything up to `newest` was seen: the rest is the device's own.
                page.cursor = page.cursor.max(newest as u64);
            }
            Ok(page)
        })
        .await
    }

    async fn record_blob(
        &self,
        institution: InstitutionId,
        hash: &str,
        size: u64,
        content_type: &str,
        uploaded_by: &str,
    ) -> Result<()> {
        let (hash, ct, by) = (
            hash.to_string(),
            content_type.to_string(),
            uploaded_by.to_string(),
        );
        self.write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO blobs (institution, hash, size, content_type, received_at, uploaded_by, referenced)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                params![institution.to_string(), hash, size as i64, ct, now(), by],
            )?;
            Ok(())
        })
        .await
    }

    async fn reference_blob(&self, institution: InstitutionId, hash: &str) -> Result<bool> {
        let hash = hash.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE blobs SET referenced = 1 WHERE institution = ?1 AND hash = ?2",
                params![institution.to_string(), hash],
            )? > 0)
        })
        .await
    }

    async fn unreferenced_blob_bytes(
        &self,
        institution: InstitutionId,
        uploaded_by: &str,
    ) -> Result<(u64, u64)> {
        let by = uploaded_by.to_string();
        self.read(move |c| {
            let (mine, all): (i64, i64) = c.query_row(
                super::rows::UNREFERENCED_BYTES_SQL,
                params![institution.to_string(), by],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((mine.max(0) as u64, all.max(0) as u64))
        })
        .await
    }

    async fn expire_blobs(&self, received_before: &str) -> Result<Vec<String>> {
        let before = received_before.to_string();
        self.write(move |c| {
            let tx = c.transaction()?;
            let gone: Vec<String> = tx
                .prepare(
                    "DELETE FROM blobs WHERE referenced = 0 AND received_at < ?1 RETURNING hash",
                )?
                .query_map(params![before], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            let mut orphans = Vec::new();
            for h in gone {
                let held: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)",
                    params![h],
                    |r| r.get(0),
                )?;
                if !held && !orphans.contains(&h) {
                    orphans.push(h);
                }
            }
            tx.commit()?;
            Ok(orphans)
        })
        .await
    }

    async fn blob(&self, institution: InstitutionId, hash: &str) -> Result<Option<(u64, String)>> {
        let hash = hash.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT size, content_type FROM blobs WHERE institution = ?1 AND hash = ?2",
                params![institution.to_string(), hash],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
        })
        .await
    }

    async fn hazards(&self, q: &HazardQuery) -> Result<(Vec<HazardRow>, i64)> {
        let q = q.clone();
        self.read(move |c| {
            let (filter, args) = super::rows::hazard_filter(&q, |n| format!("?{n}"));
            let args: Vec<rusqlite::types::Value> = args
                .into_iter()
                .map(|a| match a {
                    super::rows::FilterArg::Text(t) => rusqlite::types::Value::Text(t),
                    super::rows::FilterArg::Int(i) => rusqlite::types::Value::Integer(i),
                })
                .collect();
            let order = if q.by_deadline {
                "deadline ASC, reported_at DESC, id DESC"
            } else {
                "reported_at DESC, id DESC"
            };
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM ledger_hazards WHERE {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let params = rusqlite::params_from_iter(args.iter());
            let rows = c
                .prepare(&format!(
                    "SELECT {HAZARD_COLS} FROM ledger_hazards WHERE {filter}
                     ORDER BY {order} LIMIT {} OFFSET {}",
                    q.limit, q.offset
                ))?
                .query_map(params, hazard_from)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
        })
        .await
    }

    async fn hazard(
        &self,
        institution: Option<InstitutionId>,
        id: DocId,
    ) -> Result<Option<HazardDetail>> {
        self.read(move |c| {
            let row: Option<(String, HazardRow)> = c
                .prepare(&format!(
                    "SELECT institution, {HAZARD_COLS} FROM ledger_hazards WHERE id = ?1 AND (?2 IS NULL OR institution = ?2)"
                ))?
                .query_row(params![id.to_string(), institution.map(|i| i.to_string())], |r| {
                    Ok((r.get(0)?, hazard_at(r, 1)?))
                })
                .optional()?;
            let Some((inst, hazard)) = row else {
                return Ok(None);
            };
            let events = c
                .prepare(
                    "SELECT idx, kind, by_user, by_name, at, note, skipped FROM ledger_events
                     WHERE institution = ?1 AND hazard_id = ?2 ORDER BY idx",
                )?
                .query_map(params![inst, id.to_string()], |r| {
                    Ok(EventRow {
                        idx: r.get(0)?,
                        kind: r.get(1)?,
                        by_user: r.get(2)?,
                        by_name: r.get(3)?,
                        at: r.get(4)?,
                        note: r.get(5)?,
                        skipped: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let conflicts = c
                .prepare("SELECT field, competing, resolution FROM ledger_conflicts WHERE institution = ?1 AND doc_id = ?2 ORDER BY field")?
                .query_map(params![inst, id.to_string()], |r| {
                    Ok(ConflictRow {
                        field: r.get(0)?,
                        competing: r.get(1)?,
                        resolution: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(HazardDetail {
                hazard,
                events,
                conflicts,
                institution: inst,
            }))
        })
        .await
    }

    async fn counts(&self, institution: Option<InstitutionId>) -> Result<Counts> {
        self.read(move |c| {
            let inst = institution.map(|i| i.to_string());
            let group = |col: &str| -> rusqlite::Result<Vec<(String, i64)>> {
                c.prepare(&format!(
                    "SELECT COALESCE({col}, ''), COUNT(*) FROM ledger_hazards WHERE (?1 IS NULL OR institution = ?1)
                     GROUP BY 1 ORDER BY 1"
                ))?
                .query_map([&inst], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
            };
            let by_status = group("status")?;
            let hazards = by_status.iter().map(|x| x.1).sum();
            let open = by_status.iter().filter(|x| x.0 != "closed").map(|x| x.1).sum();
            let (inspections, submitted): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COUNT(submitted_at) FROM ledger_inspections WHERE (?1 IS NULL OR institution = ?1)",
                [&inst],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Counts {
                hazards,
                open,
                by_risk: group("risk")?,
                by_category: group("category")?,
                by_status,
                inspections,
                submitted_inspections: submitted,
            })
        })
        .await
    }

    async fn inspections(
        &self,
        institution: Option<InstitutionId>,
        site: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<crate::ledger::InspectionRow>, i64)> {
        self.read(move |c| {
            let inst = institution.map(|i| i.to_string());
            let filter = "(?1 IS NULL OR institution = ?1) AND (?2 IS NULL OR site_id = ?2)";
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM ledger_inspections WHERE {filter}"),
                params![inst, site],
                |r| r.get(0),
            )?;
            let rows = c
                .prepare(&format!(
                    "SELECT {INSPECTION_COLS}
                     FROM ledger_inspections WHERE {filter}
                     ORDER BY started_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
                ))?
                .query_map(params![inst, site], |r| Ok(inspection_row!(col, r)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
        })
        .await
    }

    async fn rebuild_ledger(&self) -> Result<usize> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let docs: Vec<(String, String)> = tx
                .prepare("SELECT institution, id FROM documents ORDER BY institution, id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for t in &LEDGER_TABLES {
                tx.execute(&format!("DELETE FROM {}", t.name), [])?;
            }
            for (inst, id) in &docs {
                let Some(stored) = load_doc(&tx, inst, id)? else {
                    continue;
                };
                let rows = derive_ledger(id, &stored.bytes)?;
                write_ledger(&tx, inst, id, &rows, false)?;
            }
            tx.commit()?;
            Ok(docs.len())
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: [u8; 32],
        user: UserId,
        csrf: &str,
        expires_at: &str,
    ) -> Result<()> {
        let (csrf, expires_at) = (csrf.to_string(), expires_at.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash.to_vec(), user.to_string(), csrf, now(), expires_at],
            )?;
            // Expired sessions go whenever someone logs in.
            c.execute("DELETE FROM web_sessions WHERE expires_at < ?1", [now()])?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: [u8; 32], at: &str) -> Result<Option<WebSession>> {
        let at = at.to_string();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT s.csrf, {USER_COLS} FROM web_sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1"
                ))?
                .query_row(params![token_hash.to_vec(), at], |r| {
                    Ok((r.get::<_, String>(0)?, user_at(r, 1)?))
                })
                .optional()?;
            match row {
                None => Ok(None),
                Some((csrf, u)) => Ok(Some(WebSession {
                    user: user_of(u)?,
                    csrf,
                })),
            }
        })
        .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM web_sessions WHERE token_hash = ?1",
                [token_hash.to_vec()],
            )?;
            Ok(())
        })
        .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1"))?
                .query_row([id.to_string()], user_from)
                .optional()?;
            row.map(user_of).transpose()
        })
        .await
    }

    async fn set_user_active(
        &self,
        institution: InstitutionId,
        id: UserId,
        active: bool,
    ) -> Result<bool> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET active = ?3 WHERE id = ?1 AND institution = ?2",
                params![id.to_string(), institution.to_string(), active],
            )?;
            if !active {
                // Deactivation ends the sessions and revokes the devices; activating the
                // user again brings neither back.
                c.execute(
                    "DELETE FROM web_sessions WHERE user_id = ?1",
                    [id.to_string()],
                )?;
                c.execute(
                    "UPDATE devices SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                    params![id.to_string(), now()],
                )?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn set_user_roles(
        &self,
        institution: InstitutionId,
        id: UserId,
        roles: &[Role],
        department: Option<DepartmentId>,
    ) -> Result<bool> {
        let roles = roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",");
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET roles = ?3, department = ?4 WHERE id = ?1 AND institution = ?2",
                params![
                    id.to_string(),
                    institution.to_string(),
                    roles,
                    department.map(|d| d.to_string())
                ],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn web_device(
        &self,
        user: UserId,
        institution: InstitutionId,
    ) -> Result<Option<DeviceAuth>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT d.id, d.institution, d.actor, {USER_COLS} FROM web_devices w
                     JOIN devices d ON d.id = w.device_id JOIN users u ON u.id = w.user_id
                     WHERE w.user_id = ?1 AND w.institution = ?2 AND d.revoked_at IS NULL AND u.active = 1"
                ))?
                .query_row(params![user.to_string(), institution.to_string()], device_auth_row)
                .optional()?;
            row.map(device_auth_of).transpose()
        })
        .await
    }

    async fn set_web_device(&self, d: &NewDevice) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO devices (id, user_id, institution, actor, token_hash, name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![d.id, d.user.to_string(), d.institution.to_string(), d.actor, d.token_hash.to_vec(), d.name, now()],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO web_devices (user_id, institution, device_id) VALUES (?1, ?2, ?3)",
                params![d.user.to_string(), d.institution.to_string(), d.id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn count_attempts(
        &self,
        keys: &[String],
        now: i64,
        window_from: i64,
    ) -> Result<Vec<Attempts>> {
        let keys = keys.to_vec();
        self.write(move |c| {
            c.execute(
                "DELETE FROM password_attempts WHERE window_start < ?1 AND (not_before IS NULL OR not_before < ?2)",
                params![window_from, now],
            )?;
            let mut out = Vec::with_capacity(keys.len());
            for k in &keys {
                out.push(c.query_row(ATTEMPT_UPSERT, params![k, now, window_from], |r| {
                    Ok(Attempts {
                        attempts: r.get(0)?,
                        window_start: r.get(1)?,
                        not_before: r.get(2)?,
                    })
                })?);
            }
            Ok(out)
        })
        .await
    }

    async fn set_password_due(&self, user: UserId) -> Result<()> {
        self.write(move |c| {
            c.execute(PASSWORD_DUE_SET, [user.to_string()])?;
            Ok(())
        })
        .await
    }

    async fn password_due(&self, user: UserId) -> Result<bool> {
        self.read(move |c| {
            Ok(
                c.query_row(PASSWORD_DUE_GET, [user.to_string()], |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
        .await
    }

    async fn attempts_of(&self, key: &str) -> Result<Option<Attempts>> {
        let key = key.to_string();
        self.read(move |c| {
            Ok(c.query_row(ATTEMPTS_OF, [key], |r| {
                Ok(Attempts {
                    attempts: r.get(0)?,
                    window_start: r.get(1)?,
                    not_before: r.get(2)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn delay_attempts(&self, key: &str, not_before: i64) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE password_attempts SET not_before = ?2 WHERE key = ?1",
                params![key, not_before],
            )?;
            Ok(())
        })
        .await
    }

    async fn clear_attempts(&self, key: &str) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute("DELETE FROM password_attempts WHERE key = ?1", [key])?;
            Ok(())
        })
        .await
    }

    async fn audit(
        &self,
        institution: Option<InstitutionId>,
        user: Option<&User>,
        login: &str,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        let (inst, uid) = (
            institution.map(|i| i.to_string()),
            user.map(|u| u.id.to_string()),
        );
        let (login, action, detail) = (login.to_string(), action.to_string(), detail.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO audit_log (at, institution, user_id, login, action, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![now(), inst, uid, login, action, detail],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_log(
        &self,
        institution: Option<InstitutionId>,
        about: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let about = about.clone();
        self.read(move |c| {
            c.prepare(super::rows::AUDIT_LOG_SQL)?
                .query_map(
                    params![
                        institution.map(|i| i.to_string()),
                        about.action,
                        about.detail_prefix,
                        limit
                    ],
                    |r| {
                        Ok(AuditEntry {
                            seq: r.get(0)?,
                            at: r.get(1)?,
                            institution: r.get(2)?,
                            user_id: r.get(3)?,
                            login: r.get(4)?,
                            action: r.get(5)?,
                            detail: r.get(6)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(Into::into)
        })
        .await
    }

    async fn reports(
        &self,
        institution: Option<InstitutionId>,
        kind: &str,
        after_seq: i64,
        limit: u32,
        order: ReportOrder,
    ) -> Result<Vec<ReportReceipt>> {
        let kind = kind.to_string();
        self.read(move |c| {
            let rows = c
                .prepare(
                    &format!(
                    "SELECT f.seq, r.institution, r.id, r.kind, r.department, r.week, r.all_clear, r.title, r.filed_at, f.received_at
                     FROM ledger_reports r
                     JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x WHERE x.institution = r.institution AND x.doc_id = r.id)
                     WHERE (?1 IS NULL OR r.institution = ?1) AND r.kind = ?2 AND f.seq > ?3
                     ORDER BY f.seq {} LIMIT ?4",
                    order.sql()
                ),
                )?
                .query_map(params![institution.map(|i| i.to_string()), kind, after_seq, limit], receipt_from)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn institution_tz(&self, institution: InstitutionId) -> Result<Option<(i32, String)>> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT utc_offset_minutes, time_zone FROM institutions WHERE id = ?1",
                [institution.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
    }

    async fn set_institution_tz(
        &self,
        institution: InstitutionId,
        offset_minutes: i32,
        name: &str,
    ) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE institutions SET utc_offset_minutes = ?2, time_zone = ?3 WHERE id = ?1",
                params![institution.to_string(), offset_minutes, name],
            )? == 1)
        })
        .await
    }

    async fn save_campaign(&self, k: &Campaign) -> Result<()> {
        let k = k.clone();
        let phases = serde_json::to_string(&k.phases)
            .map_err(|e| StoreError::Corrupt(format!("phases: {e}")))?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The same id in another institution is not this campaign: refuse rather
            // than move it.
            let owner: Option<String> = tx
                .query_row(
                    "SELECT institution FROM campaigns WHERE id = ?1",
                    [k.id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.is_some_and(|o| o != k.institution.to_string()) {
                return Err(StoreError::Conflict(
                    "campaign belongs to another institution".into(),
                ));
            }
            tx.execute(
                "INSERT INTO campaigns (id, institution, name, starts, ends, summary_due, phases,
                    dept_due_day, dept_due_minute, inst_due_day, inst_due_minute, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET name = ?3, starts = ?4, ends = ?5,
                    summary_due = ?6, phases = ?7, dept_due_day = ?8, dept_due_minute = ?9,
                    inst_due_day = ?10, inst_due_minute = ?11",
                params![
                    k.id.to_string(),
                    k.institution.to_string(),
                    k.name,
                    k.starts.to_string(),
                    k.ends.to_string(),
                    k.summary_due.map(|d| d.to_string()),
                    phases,
                    k.dept_due.day,
                    k.dept_due.minute,
                    k.inst_due.day,
                    k.inst_due.minute,
                    now()
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn campaigns(&self, institution: InstitutionId) -> Result<Vec<Campaign>> {
        self.read(move |c| {
            let rows: Vec<CampaignTuple> = c
                .prepare(&format!(
                    "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE institution = ?1 ORDER BY starts, created_at"
                ))?
                .query_map([institution.to_string()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|r| campaign_of(institution, r))
                .collect()
        })
        .await
    }

    async fn campaign_figures(
        &self,
        institution: InstitutionId,
        scope: &CampaignScope,
        today: &str,
    ) -> Result<(Vec<HazardFigure>, Vec<InspectionFigure>)> {
        let (scope, today) = (scope.clone(), today.to_string());
        self.read(move |c| {
            let inst = institution.to_string();
            let hazards = c
                .prepare(
                    "SELECT COALESCE(s.department, ''), h.category, h.risk, h.hazard_grade,
                            COALESCE(h.status, ''),
                            COALESCE(h.status = 'in_rectification' AND h.deadline < ?5, 0),
                            COUNT(*)
                     FROM ledger_hazards h LEFT JOIN sites s ON s.id = h.site_id
                     WHERE h.institution = ?1 AND (h.campaign = ?2
                        OR (h.campaign IS NULL AND h.reported_at >= ?3 AND h.reported_at < ?4))
                     GROUP BY 1, 2, 3, 4, 5, 6",
                )?
                .query_map(
                    params![inst, scope.id, scope.from, scope.before, today],
                    |r| {
                        Ok(HazardFigure {
                            department: r.get(0)?,
                            category: r.get(1)?,
                            risk: r.get(2)?,
                            hazard_grade: r.get(3)?,
                            status: r.get(4)?,
                            overdue: r.get(5)?,
                            count: r.get(6)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let inspections = c
                .prepare(
                    "SELECT COALESCE(s.department, ''), i.site_kind, COUNT(*), COUNT(i.submitted_at)
                     FROM ledger_inspections i LEFT JOIN sites s ON s.id = i.site_id
                     WHERE i.institution = ?1 AND (i.campaign = ?2
                        OR (i.campaign IS NULL AND i.started_at >= ?3 AND i.started_at < ?4))
                     GROUP BY 1, 2",
                )?
                .query_map(params![inst, scope.id, scope.from, scope.before], |r| {
                    Ok(InspectionFigure {
                        department: r.get(0)?,
                        site_kind: r.get(1)?,
                        count: r.get(2)?,
                        submitted: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((hazards, inspections))
        })
        .await
    }

    async fn add_duty_slot(&self, d: &DutySlot) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO duty_slots (id, institution, starts, ends, officer, officer_phone,
                    leader, leader_phone, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.id,
                    d.institution.to_string(),
                    d.starts,
                    d.ends,
                    d.officer,
                    d.officer_phone,
                    d.leader,
                    d.leader_phone,
                    now()
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn duty_slots(
        &self,
        institution: InstitutionId,
        from: &str,
        before: &str,
    ) -> Result<Vec<DutySlot>> {
        let (from, before) = (from.to_string(), before.to_string());
        self.read(move |c| {
            Ok(c.prepare(
                "SELECT id, starts, ends, officer, officer_phone, leader, leader_phone
                 FROM duty_slots WHERE institution = ?1 AND starts < ?3 AND ends > ?2
                 ORDER BY starts, id LIMIT 5000",
            )?
            .query_map(params![institution.to_string(), from, before], |r| {
                Ok(DutySlot {
                    id: r.get(0)?,
                    institution,
                    starts: r.get(1)?,
                    ends: r.get(2)?,
                    officer: r.get(3)?,
                    officer_phone: r.get(4)?,
                    leader: r.get(5)?,
                    leader_phone: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn update_duty_slot(&self, d: &DutySlot) -> Result<bool> {
        let d = d.clone();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE duty_slots SET starts = ?3, ends = ?4, officer = ?5, officer_phone = ?6,
                    leader = ?7, leader_phone = ?8
                 WHERE institution = ?1 AND id = ?2",
                params![
                    d.institution.to_string(),
                    d.id,
                    d.starts,
                    d.ends,
                    d.officer,
                    d.officer_phone,
                    d.leader,
                    d.leader_phone,
                ],
            )? == 1)
        })
        .await
    }

    async fn delete_duty_slot(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM duty_slots WHERE institution = ?1 AND id = ?2",
                params![institution.to_string(), id],
            )? == 1)
        })
        .await
    }

    async fn add_holiday(&self, h: &Holiday) -> Result<()> {
        let h = h.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO holidays (id, institution, name, starts, ends, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    h.id,
                    h.institution.to_string(),
                    h.name,
                    h.starts.to_string(),
                    h.ends.to_string(),
                    now()
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn holidays(&self, institution: InstitutionId) -> Result<Vec<Holiday>> {
        self.read(move |c| {
            let rows: Vec<(String, String, String, String)> = c
                .prepare(
                    "SELECT id, name, starts, ends FROM holidays WHERE institution = ?1
                     ORDER BY starts, id LIMIT 1000",
                )?
                .query_map([institution.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, name, a, b)| {
                    Ok(Holiday {
                        id,
                        institution,
                        name,
                        starts: parse(&a, "date")?,
                        ends: parse(&b, "date")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn delete_holiday(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM holidays WHERE institution = ?1 AND id = ?2",
                params![institution.to_string(), id],
            )? == 1)
        })
        .await
    }

    async fn add_template(
        &self,
        institution: InstitutionId,
        t: &saferound_core::model::templates::Template,
        by: UserId,
    ) -> Result<()> {
        let body =
            serde_json::to_string(t).map_err(|e| StoreError::Corrupt(format!("template: {e}")))?;
        let (id, version) = (t.id.clone(), t.version);
        self.write(move |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO institution_templates
                    (institution, id, version, body, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    institution.to_string(),
                    id,
                    version,
                    body,
                    by.to_string(),
                    now()
                ],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "template {id}@{version} already exists"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn templates(
        &self,
        institution: InstitutionId,
    ) -> Result<Vec<saferound_core::model::templates::Template>> {
        self.read(move |c| {
            let bodies: Vec<String> = c
                .prepare(
                    "SELECT body FROM institution_templates WHERE institution = ?1
                     ORDER BY id, version",
                )?
                .query_map([institution.to_string()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            bodies
                .iter()
                .map(|b| {
                    serde_json::from_str(b)
                        .map_err(|e| StoreError::Corrupt(format!("template: {e}")))
                })
                .collect()
        })
        .await
    }

    async fn ledger_dump(&self) -> Result<String> {
        self.read(|c| {
            let mut out = String::new();
            for t in &LEDGER_TABLES {
                out.push_str(&format!("## {}\n", t.name));
                let mut stmt =
                    c.prepare(&format!("SELECT * FROM {} ORDER BY {}", t.name, t.order))?;
                let n = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let cells: Vec<String> = (0..n)
                        .map(|i| match r.get_ref(i) {
                            Ok(rusqlite::types::ValueRef::Null) => "NULL".into(),
                            Ok(rusqlite::types::ValueRef::Integer(n)) => n.to_string(),
                            Ok(rusqlite::types::ValueRef::Real(f)) => f.to_string(),
                            Ok(rusqlite::types::ValueRef::Text(t)) => {
                                dump_text(&String::from_utf8_lossy(t))
                            }
                            Ok(rusqlite::types::ValueRef::Blob(b)) => hex::encode(b),
                            Err(_) => "?".into(),
                        })
                        .collect();
                    out.push_str(&cells.join("\t"));
                    out.push('\n');
                }
            }
            Ok(out)
        })
        .await
    }

    // -----------------------------------------------------------------------------------
    // The institution's weekly report to the province.

    async fn week_figures(
        &self,
        institution: InstitutionId,
        range: &WeekRange,
    ) -> Result<WeekFigures> {
        let r = range.clone();
        self.read(move |c| {
            let inst = institution.to_string();
            // `ledger_hazards_reported` (institution, reported_at).
            let hazards = c
                .prepare_cached(
                    "SELECT COALESCE(s.department, ''), h.category, h.risk, h.hazard_grade,
                            COALESCE(h.status, ''),
                            COALESCE(h.status = 'in_rectification' AND h.deadline < ?4, 0),
                            COUNT(*)
                     FROM ledger_hazards h LEFT JOIN sites s ON s.id = h.site_id
                     WHERE h.institution = ?1 AND h.reported_at >= ?2 AND h.reported_at < ?3
                     GROUP BY 1, 2, 3, 4, 5, 6",
                )?
                .query_map(params![inst, r.from, r.before, r.overdue_before], |x| {
                    Ok(HazardFigure {
                        department: x.get(0)?,
                        category: x.get(1)?,
                        risk: x.get(2)?,
                        hazard_grade: x.get(3)?,
                        status: x.get(4)?,
                        overdue: x.get(5)?,
                        count: x.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // `ledger_inspections_started` (institution, started_at).
            let inspections = c
                .prepare_cached(
                    "SELECT COALESCE(s.department, ''), i.site_kind, COUNT(*), COUNT(i.submitted_at)
                     FROM ledger_inspections i LEFT JOIN sites s ON s.id = i.site_id
                     WHERE i.institution = ?1 AND i.started_at >= ?2 AND i.started_at < ?3
                     GROUP BY 1, 2",
                )?
                .query_map(params![inst, r.from, r.before], |x| {
                    Ok(InspectionFigure {
                        department: x.get(0)?,
                        site_kind: x.get(1)?,
                        count: x.get(2)?,
                        submitted: x.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // `ledger_events_kind` (institution, kind, at), one range per kind.
            let events = |kind: &str| -> rusqlite::Result<i64> {
                c.prepare_cached(
                    "SELECT COUNT(*) FROM ledger_events
                     WHERE institution = ?1 AND kind = ?2 AND at >= ?3 AND at < ?4 AND skipped = 0",
                )?
                .query_row(params![inst, kind, r.from, r.before], |x| x.get(0))
            };
            let rectified = events("rectification_reported")?;
            let verified = events("verified")?;
            // `ledger_hazards_status` (institution, status, deadline).
            let overdue: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM ledger_hazards
                     WHERE institution = ?1 AND status = 'in_rectification' AND deadline < ?2",
                )?
                .query_row(params![inst, r.overdue_before], |x| x.get(0))?;
            // `ledger_reports_kind`, then each report's first change (`changes_doc`).
            let incidents: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM ledger_reports r
                     JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x
                                                WHERE x.institution = r.institution AND x.doc_id = r.id)
                     WHERE r.institution = ?1 AND r.kind = 'incident_report'
                       AND f.received_at >= ?2 AND f.received_at < ?3",
                )?
                .query_row(params![inst, r.from, r.before], |x| x.get(0))?;
            Ok(WeekFigures {
                hazards,
                inspections,
                rectified,
                verified,
                overdue,
                incidents,
            })
        })
        .await
    }

    async fn week_reports(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<ReportReceipt>> {
        let week = week.to_string();
        self.read(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT f.seq, r.institution, r.id, r.kind, r.department, r.week, r.all_clear, r.title, r.filed_at, f.received_at
                     FROM ledger_reports r
                     JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x WHERE x.institution = r.institution AND x.doc_id = r.id)
                     WHERE r.institution = ?1 AND r.kind = 'weekly_report' AND r.week = ?2
                     ORDER BY f.seq",
                )?
                .query_map(params![institution.to_string(), week], receipt_from)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn add_institution_filing(&self, f: &InstitutionFiling) -> Result<i64> {
        let f = f.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO institution_reports (institution, week, received_at, by_user, by_name,
                    all_clear, summary, snapshot)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    f.institution,
                    f.week,
                    f.received_at,
                    f.by_user,
                    f.by_name,
                    f.all_clear,
                    f.summary,
                    f.snapshot
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn institution_filings(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<InstitutionFiling>> {
        let week = week.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT seq, institution, week, received_at, by_user, by_name, all_clear, summary, snapshot
                 FROM institution_reports WHERE institution = ?1 AND week = ?2 ORDER BY seq",
            )?
            .query_map(params![institution.to_string(), week], |r| {
                Ok(InstitutionFiling {
                    seq: r.get(0)?,
                    institution: r.get(1)?,
                    week: r.get(2)?,
                    received_at: r.get(3)?,
                    by_user: r.get(4)?,
                    by_name: r.get(5)?,
                    all_clear: r.get(6)?,
                    summary: r.get(7)?,
                    snapshot: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(Into::into)
        })
        .await
    }

    async fn institution_receipts(
        &self,
        from_week: &str,
        to_week: &str,
    ) -> Result<Vec<InstitutionReceipt>> {
        let (from, to) = (from_week.to_string(), to_week.to_string());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT a.institution, a.week, a.received_at, b.all_clear, g.n
                 FROM (SELECT institution, week, MIN(seq) AS first, MAX(seq) AS last, COUNT(*) AS n
                       FROM institution_reports WHERE week >= ?1 AND week <= ?2
                       GROUP BY institution, week) g
                 JOIN institution_reports a ON a.seq = g.first
                 JOIN institution_reports b ON b.seq = g.last
                 ORDER BY a.institution, a.week",
            )?
            .query_map(params![from, to], |r| {
                Ok(InstitutionReceipt {
                    institution: r.get(0)?,
                    week: r.get(1)?,
                    first_received_at: r.get(2)?,
                    all_clear: r.get(3)?,
                    filings: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(Into::into)
        })
        .await
    }
}
