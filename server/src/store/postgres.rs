//! The PostgreSQL storage: the same behaviour as `sqlite`, for several server processes
//! sharing one database. A pool of connections (deadpool); every method is one statement
//! or one transaction. Text formats are SQLite's (ids and RFC 3339 times as text, bytes
//! as BYTEA), so rows and `ledger_dump` compare equal across the two backends.
//!
//! Two things differ from SQLite because there is more than one writer:
//! - `commit` locks each document's row (`FOR UPDATE`) for the compare-and-swap, and the
//!   change feed's positions come from a one-row counter taken at the very end of the
//!   transaction (see `commit`), so a cursor never skips a change committed late.
//! - Migrations run under an advisory lock, so replicas starting together do not race;
//!   start-up seeding (`startup_lock`) under another.
//! - A commit tells every replica about itself: `NOTIFY saferound_changes, '<institution>'`
//!   inside the commit's transaction (delivered only if it commits), heard by one
//!   listening connection per process outside the pool (`listen`), which wakes the
//!   subscribers of `subscribe_changes` (the dashboard's incident stream).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use saferound_core::ids::{DepartmentId, DocId, InstitutionId, SiteId, UserId};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::rows::*;
use super::*;
use crate::ledger::{ConflictRow, EventRow, HazardRow, LedgerRows};

/// Schema versions, applied in order; version n is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("pg_migrations/001_initial.sql"),
    include_str!("pg_migrations/002_province.sql"),
    include_str!("pg_migrations/003_throttle.sql"),
    include_str!("pg_migrations/004_password_due.sql"),
    include_str!("pg_migrations/005_photo_references.sql"),
    include_str!("pg_migrations/006_audit_action.sql"),
];

/// The advisory lock key migrations hold (any constant; "SafeRound" in ASCII, cut to fit).
const MIGRATION_LOCK: i64 = 0x5361_6665_526f_756e;

/// The advisory lock start-up seeding holds (`startup_lock`): the migration key plus one.
const STARTUP_LOCK: i64 = MIGRATION_LOCK + 1;

/// The advisory lock the replica calling the incident webhook holds: the startup key plus one.
const WEBHOOK_LOCK: i64 = STARTUP_LOCK + 1;

/// The connection holding a session advisory lock, and the task driving it.
struct LockConnection {
    client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<()>,
}

impl LockGuard for LockConnection {
    fn held(&self) -> bool {
        !self.client.is_closed()
    }
}

impl Drop for LockConnection {
    fn drop(&mut self) {
        // The client goes with the struct; the driver ends once the connection closes.
        // Aborting it closes the socket at once, releasing the lock in the database.
        self.driver.abort();
    }
}

/// The NOTIFY channel commits are announced on; the payload is the institution's id.
const CHANNEL: &str = "saferound_changes";

/// How often the listening connection proves it is alive with an empty query: a
/// connection lost without a word (a dead peer) is noticed within this.
const LISTEN_PING: Duration = Duration::from_secs(30);

/// Connections per process. PostgreSQL's default limit is 100 for all replicas together.
const POOL_SIZE: usize = 16;

/// A commit that loses a serialization race or a deadlock is run again this many times.
const COMMIT_ATTEMPTS: u32 = 5;

pub struct PostgresStorage {
    pool: Pool,
    /// Read once at start, like SQLite's: it changes only by `mark_restored`, with the
    /// servers stopped.
    epoch: String,
    restored: bool,
    /// For connections of their own, outside the pool: listening, the start-up lock.
    config: tokio_postgres::Config,
    /// Notices heard by the listening connection (see `subscribe_changes`).
    changes: tokio::sync::broadcast::Sender<ChangeNotice>,
    /// The listening task, stopped with the storage.
    listener: tokio::task::AbortHandle,
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The backend's column getter for the shared row macros (`rows::hazard_row!` …): a
/// wrong type is an error, never a panic.
fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, tokio_postgres::Error> {
    r.try_get(i)
}

fn user_at(r: &Row, at: usize) -> Result<UserTuple> {
    Ok(user_tuple!(col, r, at))
}

fn device_auth_at(r: &Row) -> Result<DeviceAuth> {
    let inst: String = col(r, 1)?;
    Ok(DeviceAuth {
        device_id: col(r, 0)?,
        institution: parse(&inst, "institution")?,
        actor: col(r, 2)?,
        user: user_of(user_at(r, 3)?)?,
    })
}

fn hazard_at(r: &Row, o: usize) -> Result<HazardRow> {
    Ok(hazard_row!(col, r, o))
}

/// A count or size read from the database as a non-negative integer.
fn unsigned(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad {what} {v}")))
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user:password@host:port/database`), applies the
    /// migrations this binary has and the database lacks, and reads the epoch.
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // Checks a pooled connection with a round trip only when it reports an
                // error; a connection the server dropped fails its next query, which the
                // caller sees as a retryable error (503).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            // A busy pool or an unreachable database is a 503 after this, not a hang.
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Task(format!("connection pool: {e}")))?;
        let mut c = pool.get().await?;
        let tx = c.transaction().await?;
        // Held to the end of the transaction: a second replica starting now waits here,
        // then finds the migrations applied.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        // (No "already exists, skipping" notice in the log at every start.)
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning;
             CREATE TABLE IF NOT EXISTS schema_migrations (
                version     BIGINT PRIMARY KEY,
                applied_at  TEXT NOT NULL
             )",
        )
        .await?;
        let version: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Corrupt(format!(
                "database schema {version} is newer than this server ({known})"
            )));
        }
        for v in version..known {
            tx.batch_execute(MIGRATIONS[v as usize]).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&(v + 1), &now()],
            )
            .await?;
            tracing::info!(to = v + 1, "migrated server database (PostgreSQL)");
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING",
            &[&uuid::Uuid::new_v4().to_string()],
        )
        .await?;
        let rows = tx
            .query(
                "SELECT key, value FROM meta WHERE key IN ('epoch', 'restored_at')",
                &[],
            )
            .await?;
        let meta = |key: &str| -> Result<Option<String>> {
            for r in &rows {
                if col::<&str>(r, 0)? == key {
                    return Ok(Some(col(r, 1)?));
                }
            }
            Ok(None)
        };
        let epoch = meta("epoch")?
            .ok_or_else(|| StoreError::Corrupt("the database has no epoch".into()))?;
        let restored = meta("restored_at")?.is_some();
        tx.commit().await?;
        drop(c);
        // Listen before serving, so the first commits are heard; a database that will
        // not let us listen only delays the dashboard (it polls too), so that is no error.
        let (changes, _) = tokio::sync::broadcast::channel(NOTICE_BUFFER);
        let (ready, listening) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(config.clone(), changes.clone(), ready));
        if tokio::time::timeout(Duration::from_secs(10), listening)
            .await
            .is_err()
        {
            tracing::warn!("not yet listening for other replicas' commits; trying on");
        }
        Ok(PostgresStorage {
            pool,
            epoch,
            restored,
            config,
            changes,
            listener: listener.abort_handle(),
        })
    }

    /// After the database was put back from a dump (`pg_restore`, servers stopped): gives
    /// it a new epoch and records the restore, so every device pushes again what the dump
    /// lacks (the SQLite `restore` does the same). Returns the new epoch.
    pub async fn mark_restored(&self) -> Result<String> {
        let epoch = uuid::Uuid::new_v4().to_string();
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let put = "INSERT INTO meta (key, value) VALUES ($1, $2)
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
        tx.execute(put, &[&"epoch", &epoch]).await?;
        tx.execute(put, &[&"restored_at", &now()]).await?;
        tx.commit().await?;
        Ok(epoch)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// One try of `commit` (see there).
    async fn commit_once(&self, commits: &[DocCommit]) -> Result<Vec<DocId>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let received = now();
        // Documents are locked in one order (institution, id) whatever the request's, so
        // two commits of the same documents wait for each other instead of deadlocking.
        let keys: Vec<(String, String)> = commits
            .iter()
            .map(|d| (d.institution.to_string(), d.id.to_string()))
            .collect();
        let mut order: Vec<usize> = (0..commits.len()).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut stale = Vec::new();
        // Changes this transaction added (not already held), in commit order.
        let (mut new_inst, mut new_doc, mut new_hash) = (Vec::new(), Vec::new(), Vec::new());
        let (mut snap_inst, mut snap_doc) = (Vec::new(), Vec::new());
        let select = tx
            .prepare_cached(
                "SELECT heads FROM documents WHERE institution = $1 AND id = $2 FOR UPDATE",
            )
            .await?;
        let insert_doc = tx
            .prepare_cached(
                "INSERT INTO documents (institution, id, kind, snapshot, snapshot_seq, heads, bytes, updated_at)
                 VALUES ($1, $2, $3, ''::bytea, 0, $4, $5, $6) ON CONFLICT (institution, id) DO NOTHING",
            )
            .await?;
        let update_doc = tx
            .prepare_cached(
                "UPDATE documents SET heads = $3, bytes = $4, updated_at = $5
                 WHERE institution = $1 AND id = $2",
            )
            .await?;
        let insert_change = tx
            .prepare_cached(
                "INSERT INTO changes (seq, institution, doc_id, hash, actor, bytes, received_at)
                 VALUES (NULL, $1, $2, $3, $4, $5, $6)
                 ON CONFLICT (institution, doc_id, hash) DO NOTHING",
            )
            .await?;
        let update_snapshot = tx
            .prepare_cached("UPDATE documents SET snapshot = $3 WHERE institution = $1 AND id = $2")
            .await?;
        for i in order {
            let d = &commits[i];
            let (inst, id) = &keys[i];
            let current: Option<Vec<u8>> = match tx.query_opt(&select, &[inst, id]).await? {
                Some(r) => Some(col(&r, 0)?),
                None => None,
            };
            if current != d.expected_heads {
                stale.push(i);
                continue;
            }
            let bytes = d.bytes as i64;
            if current.is_none() {
                // A concurrent commit creating the same document: its insert makes ours
                // wait, then do nothing once it commits. That is the stale case.
                let n = tx
                    .execute(
                        &insert_doc,
                        &[inst, id, &d.kind, &d.new_heads, &bytes, &received],
                    )
                    .await?;
                if n == 0 {
                    stale.push(i);
                    continue;
                }
            } else {
                tx.execute(&update_doc, &[inst, id, &d.new_heads, &bytes, &received])
                    .await?;
            }
            for ch in &d.changes {
                let hash = ch.hash.to_vec();
                let n = tx
                    .execute(
                        &insert_change,
                        &[inst, id, &hash, &ch.actor, &ch.bytes, &received],
                    )
                    .await?;
                if n == 1 {
                    new_inst.push(inst.clone());
                    new_doc.push(id.clone());
                    new_hash.push(hash);
                }
            }
            if let Some(snapshot) = &d.snapshot {
                tx.execute(&update_snapshot, &[inst, id, snapshot]).await?;
                snap_inst.push(inst.clone());
                snap_doc.push(id.clone());
            }
            write_ledger(&tx, inst, id, &d.ledger, current.is_some()).await?;
        }
        // The feed positions, last, so the counter's row lock is held only from here to
        // the commit. Why a counter row and not a sequence: every commit takes its
        // numbers here and keeps the row locked until it commits, so numbers are handed
        // out in commit order. A reader that sees seq n therefore sees every seq below
        // n (their transactions committed before this one could take its numbers), and a
        // device's cursor can never pass a change that becomes visible later. A sequence
        // hands out numbers at insert; two transactions committing in the other order
        // would make seq 11 visible before seq 10, and a cursor at 11 would skip 10 for
        // good. `feed`'s `newest` bound and `reports`' `first_seq` rely on this too.
        if !new_hash.is_empty() {
            let n = new_hash.len() as i64;
            let top: i64 = tx
                .query_one(
                    "UPDATE feed_counter SET seq = seq + $1 RETURNING seq",
                    &[&n],
                )
                .await?
                .try_get(0)?;
            let seqs: Vec<i64> = (top - n + 1..=top).collect();
            tx.execute(
                "UPDATE changes c SET seq = v.seq
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[])
                    AS v(seq, institution, doc_id, hash)
                 WHERE c.institution = v.institution AND c.doc_id = v.doc_id AND c.hash = v.hash",
                &[&seqs, &new_inst, &new_doc, &new_hash],
            )
            .await?;
        }
        // As SQLite: the snapshot covers every change of the document held now, so its
        // position is the highest of them (known only once the seqs above are set).
        if !snap_doc.is_empty() {
            tx.execute(
                "UPDATE documents d SET snapshot_seq = (
                    SELECT COALESCE(MAX(c.seq), 0) FROM changes c
                    WHERE c.institution = d.institution AND c.doc_id = d.id)
                 FROM unnest($1::text[], $2::text[]) AS v(institution, id)
                 WHERE d.institution = v.institution AND d.id = v.id",
                &[&snap_inst, &snap_doc],
            )
            .await?;
        }
        // Tell every replica (this one included) which institutions changed. NOTIFY is
        // transactional: it is delivered at commit, and not at all on a rollback; the
        // same payload twice in one transaction is delivered once.
        if !new_inst.is_empty() {
            let mut changed: Vec<&String> = new_inst.iter().collect();
            changed.sort_unstable();
            changed.dedup();
            tx.execute(
                "SELECT pg_notify($1, i) FROM unnest($2::text[]) AS i",
                &[&CHANNEL, &changed],
            )
            .await?;
        }
        tx.commit().await?;
        // In the order of the request, as SQLite answers.
        stale.sort_unstable();
        Ok(stale.into_iter().map(|i| commits[i].id).collect())
    }
}

/// Hears the commits of every replica: a connection of its own (a pooled one would be
/// handed to queries), `LISTEN saferound_changes`, and each notification's payload (an
/// institution) passed to `tx`. A lost connection is made again, after a growing pause;
/// what was committed meanwhile is unknown, so each (re)connection sends `None` (anything
/// may have changed). `ready` is told once listening first works.
async fn listen(
    config: tokio_postgres::Config,
    tx: tokio::sync::broadcast::Sender<ChangeNotice>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut pause = Duration::from_millis(200);
    loop {
        let mut listened = false;
        match listen_once(&config, &tx, &mut ready, &mut listened).await {
            Ok(()) => tracing::warn!("the listening connection closed; listening again"),
            Err(e) => tracing::warn!(
                "listening for commits: {}; trying again in {pause:?}",
                with_causes(&e)
            ),
        }
        if listened {
            pause = Duration::from_millis(200);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// One listening connection, until it fails (`Err`) or closes (`Ok`).
async fn listen_once(
    config: &tokio_postgres::Config,
    tx: &tokio::sync::broadcast::Sender<ChangeNotice>,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
    listened: &mut bool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection is driven here with `poll_message`, which hands out what the server
    // sends unasked (notifications); awaiting the `Connection` would drop them. It also
    // carries the client's own queries (LISTEN, the pings), so it runs beside them.
    let messages = async {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                    // A payload that is no institution id: say "anything" rather than drop it.
                    let _ = tx.send(n.payload().parse().ok());
                }
                Some(Ok(_)) => {} // a notice: nothing to do
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    };
    let work = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        *listened = true;
        // Commits while nobody listened (before a reconnection) are unknown.
        let _ = tx.send(None);
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        loop {
            tokio::time::sleep(LISTEN_PING).await;
            client.simple_query("").await?;
        }
    };
    tokio::select! {
        r = messages => r,
        r = work => r,
    }
}

/// Writes a document's ledger rows; `replace`: remove its earlier rows first (a new
/// document, or a ledger just emptied for a rebuild, has none: six round trips saved per
/// document of a big first sync).
async fn write_ledger(
    tx: &deadpool_postgres::Transaction<'_>,
    inst: &str,
    id: &str,
    rows: &LedgerRows,
    replace: bool,
) -> Result<()> {
    let replaced: &[LedgerTable] = if replace { &LEDGER_TABLES } else { &[] };
    for t in replaced {
        let s = tx
            .prepare_cached(&format!(
                "DELETE FROM {} WHERE institution = $1 AND {} = $2",
                t.name, t.document
            ))
            .await?;
        tx.execute(&s, &[&inst, &id]).await?;
    }
    if let Some(h) = &rows.hazard {
        let s = tx
            .prepare_cached(
                "INSERT INTO ledger_hazards VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,
                 $16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30)",
            )
            .await?;
        tx.execute(
            &s,
            &[
                &inst,
                &h.id,
                &h.campaign,
                &h.inspection,
                &h.site_id,
                &h.site_name,
                &h.site_kind,
                &h.category,
                &h.risk,
                &h.risk_rank,
                &h.hazard_grade,
                &h.status,
                &h.supervised,
                &h.location,
                &h.description,
                &h.reported_by,
                &h.reported_by_name,
                &h.reported_at,
                &h.measure,
                &h.funds,
                &h.responsible,
                &h.responsible_name,
                &h.deadline,
                &h.contingency,
                &h.reinspector,
                &h.reinspector_name,
                &h.rectified_at,
                &h.verified_at,
                &h.verification_note,
                &h.conflicts,
            ],
        )
        .await?;
    }
    if !rows.events.is_empty() {
        let s = tx
            .prepare_cached("INSERT INTO ledger_events VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
            .await?;
        for e in &rows.events {
            tx.execute(
                &s,
                &[
                    &inst, &id, &e.idx, &e.kind, &e.by_user, &e.by_name, &e.at, &e.note, &e.skipped,
                ],
            )
            .await?;
        }
    }
    if let Some(i) = &rows.inspection {
        let s = tx
            .prepare_cached(
                "INSERT INTO ledger_inspections VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
            )
            .await?;
        tx.execute(
            &s,
            &[
                &inst,
                &i.id,
                &i.campaign,
                &i.site_id,
                &i.site_name,
                &i.site_kind,
                &i.template,
                &i.template_version,
                &i.inspectors,
                &i.started_at,
                &i.submitted_at,
                &i.answers,
                &i.failed,
                &i.findings,
            ],
        )
        .await?;
    }
    if !rows.answers.is_empty() {
        let s = tx
            .prepare_cached("INSERT INTO ledger_answers VALUES ($1,$2,$3,$4,$5,$6,$7)")
            .await?;
        for a in &rows.answers {
            tx.execute(
                &s,
                &[&inst, &id, &a.item, &a.result, &a.note, &a.by_user, &a.at],
            )
            .await?;
        }
    }
    if !rows.conflicts.is_empty() {
        let s = tx
            .prepare_cached("INSERT INTO ledger_conflicts VALUES ($1,$2,$3,$4,$5)")
            .await?;
        for c in &rows.conflicts {
            tx.execute(&s, &[&inst, &id, &c.field, &c.competing, &c.resolution])
                .await?;
        }
    }
    if let Some(r) = &rows.report {
        let s = tx
            .prepare_cached("INSERT INTO ledger_reports VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
            .await?;
        tx.execute(
            &s,
            &[
                &inst,
                &r.id,
                &r.kind,
                &r.department,
                &r.week,
                &r.all_clear,
                &r.title,
                &r.filed_at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// A document as stored. Call inside a repeatable-read transaction (or with the
/// document locked), so the row and its changes are of one moment.
async fn load_doc(c: &impl GenericClient, inst: &str, id: &str) -> Result<Option<StoredDoc>> {
    let s = c
        .prepare_cached(
            "SELECT kind, snapshot, snapshot_seq, heads FROM documents WHERE institution = $1 AND id = $2",
        )
        .await?;
    let Some(r) = c.query_opt(&s, &[&inst, &id]).await? else {
        return Ok(None);
    };
    let (kind, mut bytes, snapshot_seq, heads): (String, Vec<u8>, i64, Vec<u8>) =
        (col(&r, 0)?, col(&r, 1)?, col(&r, 2)?, col(&r, 3)?);
    let s = c
        .prepare_cached(
            "SELECT bytes FROM changes WHERE institution = $1 AND doc_id = $2 AND seq > $3 ORDER BY seq",
        )
        .await?;
    let rows = c.query(&s, &[&inst, &id, &snapshot_seq]).await?;
    for r in &rows {
        let b: &[u8] = col(r, 0)?;
        bytes.extend_from_slice(b);
    }
    Ok(Some(StoredDoc {
        kind,
        bytes,
        heads,
        changes_after_snapshot: rows.len(),
    }))
}

/// One cell of `ledger_dump`, rendered as the SQLite dump renders it.
fn dump_cell(r: &Row, i: usize, ty: &Type) -> Result<String> {
    let null = || "NULL".to_string();
    Ok(match *ty {
        Type::TEXT | Type::VARCHAR => col::<Option<&str>>(r, i)?.map_or_else(null, dump_text),
        Type::INT8 => col::<Option<i64>>(r, i)?.map_or_else(null, |v| v.to_string()),
        Type::INT4 => col::<Option<i32>>(r, i)?.map_or_else(null, |v| v.to_string()),
        Type::BOOL => col::<Option<bool>>(r, i)?.map_or_else(null, |v| (v as i64).to_string()),
        Type::BYTEA => col::<Option<&[u8]>>(r, i)?.map_or_else(null, hex::encode),
        _ => return Err(StoreError::Corrupt(format!("ledger column of type {ty}"))),
    })
}

/// A report receipt from `SELECT f.seq, r.institution, r.id, r.kind, r.department,
/// r.week, r.all_clear, r.title, r.filed_at, f.received_at` (both report queries).
fn receipt(r: &tokio_postgres::Row) -> Result<ReportReceipt> {
    Ok(ReportReceipt {
        first_seq: col(r, 0)?,
        institution: col(r, 1)?,
        id: col(r, 2)?,
        kind: col(r, 3)?,
        department: col(r, 4)?,
        week: col(r, 5)?,
        all_clear: col(r, 6)?,
        title: col(r, 7)?,
        filed_at: col(r, 8)?,
        received_at: col(r, 9)?,
    })
}

#[async_trait]
impl Storage for PostgresStorage {
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<ChangeNotice> {
        self.changes.subscribe()
    }

    /// A session advisory lock on a connection of its own, held by the returned guard:
    /// dropping it closes the connection, which releases the lock (also if this process
    /// dies meanwhile).
    async fn lock(&self, which: LockFor) -> Result<HeldLock> {
        let key = match which {
            LockFor::Startup => STARTUP_LOCK,
            LockFor::IncidentWebhook => WEBHOOK_LOCK,
        };
        // Keepalives, so a holder whose host vanished (no FIN ever comes) loses the lock
        // within a minute or so, not after the system's two-hour default; and the holder
        // notices a silently cut connection (`held`) as soon.
        let mut config = self.config.clone();
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(20))
            .keepalives_interval(std::time::Duration::from_secs(10))
            .keepalives_retries(3);
        let (client, connection) = config.connect(NoTls).await?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("lock connection: {e}");
            }
        });
        client
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .await?;
        Ok(HeldLock::holding(Box::new(LockConnection {
            client,
            driver,
        })))
    }

    async fn position(&self, key: &str) -> Result<Option<i64>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let v: String = col(&row, 0)?;
        v.parse()
            .map(Some)
            .map_err(|_| StoreError::Conflict(format!("{key} is not a number: {v}")))
    }

    async fn advance_position(&self, key: &str, value: i64) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
                 WHERE meta.value::bigint < EXCLUDED.value::bigint",
                &[&key, &value.to_string()],
            )
            .await?;
        Ok(())
    }

    async fn epoch(&self) -> Result<String> {
        Ok(self.epoch.clone())
    }

    async fn restored(&self) -> Result<bool> {
        Ok(self.restored)
    }

    async fn backup(&self, _to: std::path::PathBuf) -> Result<()> {
        Err(StoreError::Unsupported(
            "the database is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f saferound.dump <url>); \
             after pg_restore, run `saferound-server --db <url> mark-restored`"
                .into(),
        ))
    }

    async fn institution_actors(&self, institution: InstitutionId) -> Result<Vec<Vec<u8>>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT actor FROM devices WHERE institution = $1")
            .await?;
        c.query(&s, &[&institution.to_string()])
            .await?
            .iter()
            .map(|r| Ok(col(r, 0)?))
            .collect()
    }

    async fn create_institution(
        &self,
        id: InstitutionId,
        name: &str,
        created_at: &str,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO institutions (id, name, created_at) VALUES ($1, $2, $3)",
                &[&id.to_string(), &name, &created_at],
            )
            .await?;
        Ok(())
    }

    async fn institution_created_at(&self, id: InstitutionId) -> Result<Option<String>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT created_at FROM institutions WHERE id = $1",
                &[&id.to_string()],
            )
            .await?;
        Ok(row.map(|r| col(&r, 0)).transpose()?)
    }

    async fn institutions(&self) -> Result<Vec<(InstitutionId, String)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT id, name FROM institutions ORDER BY name", &[])
            .await?;
        rows.iter()
            .map(|r| Ok((parse(col(r, 0)?, "institution")?, col(r, 1)?)))
            .collect()
    }

    async fn create_department(&self, d: &Department) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO departments (id, institution, name) VALUES ($1, $2, $3)",
                &[&d.id.to_string(), &d.institution.to_string(), &d.name],
            )
            .await?;
        Ok(())
    }

    async fn departments(&self, institution: InstitutionId) -> Result<Vec<Department>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name FROM departments WHERE institution = $1 ORDER BY name",
                &[&institution.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    id: parse::<DepartmentId>(col(r, 0)?, "department")?,
                    institution,
                    name: col(r, 1)?,
                })
            })
            .collect()
    }

    async fn create_site(&self, s: &Site) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sites (id, institution, department, name, kind, building, floor_room)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &s.id.to_string(),
                    &s.institution.to_string(),
                    &s.department.to_string(),
                    &s.name,
                    &s.kind.code(),
                    &s.building,
                    &s.floor_room,
                ],
            )
            .await?;
        Ok(())
    }

    async fn sites(&self, institution: InstitutionId) -> Result<Vec<Site>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, department, name, kind, building, floor_room FROM sites
                 WHERE institution = $1 ORDER BY name",
                &[&institution.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Site {
                    id: parse::<SiteId>(col(r, 0)?, "site")?,
                    institution,
                    department: parse(col(r, 1)?, "department")?,
                    name: col(r, 2)?,
                    kind: parse(col(r, 3)?, "site kind")?,
                    building: col(r, 4)?,
                    floor_room: col(r, 5)?,
                })
            })
            .collect()
    }

    async fn create_user(&self, u: &User) -> Result<()> {
        let roles: Vec<&str> = u.roles.iter().map(|r| r.code()).collect();
        // As SQLite's INSERT OR IGNORE: a taken login (or id) is a conflict.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO users (id, institution, department, login, name, roles, password_hash, active, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                &[
                    &u.id.to_string(),
                    &u.institution.map(|i| i.to_string()),
                    &u.department.map(|d| d.to_string()),
                    &u.login,
                    &u.name,
                    &roles.join(","),
                    &u.password_hash,
                    &u.active,
                    &now(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "login '{}' is taken",
                u.login
            )));
        }
        Ok(())
    }

    async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $2 WHERE login = $1",
                &[&login, &password_hash],
            )
            .await?;
        // A new password ends every way in the old one opened.
        tx.execute(
            "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE login = $1)",
            &[&login],
        )
        .await?;
        tx.execute(&PASSWORD_SET_CLEARS_DUE.replace("?1", "$1"), &[&login])
            .await?;
        tx.execute(
            "UPDATE devices SET revoked_at = $2
             WHERE user_id IN (SELECT id FROM users WHERE login = $1) AND revoked_at IS NULL",
            &[&login, &now()],
        )
        .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {USER_COLS} FROM users u WHERE u.login = $1"
            ))
            .await?;
        match c.query_opt(&s, &[&login]).await? {
            Some(r) => Ok(Some(user_of(user_at(&r, 0)?)?)),
            None => Ok(None),
        }
    }

    async fn users(&self, institution: InstitutionId) -> Result<Vec<User>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {USER_COLS} FROM users u WHERE u.institution = $1 ORDER BY u.login"
                ),
                &[&institution.to_string()],
            )
            .await?;
        rows.iter().map(|r| user_of(user_at(r, 0)?)).collect()
    }

    async fn user_count(&self) -> Result<i64> {
        Ok(self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await?
            .try_get(0)?)
    }

    async fn enroll_device(&self, d: &NewDevice) -> Result<()> {
        // The actor's uniqueness decides (atomically, unlike a check before the insert).
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO devices (id, user_id, institution, actor, token_hash, name, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (actor) DO NOTHING",
                &[
                    &d.id,
                    &d.user.to_string(),
                    &d.institution.to_string(),
                    &d.actor,
                    &&d.token_hash[..],
                    &d.name,
                    &now(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "this Automerge actor is already bound to a device".into(),
            ));
        }
        Ok(())
    }

    async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT d.id, d.institution, d.actor, {USER_COLS} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.token_hash = $1 AND d.revoked_at IS NULL AND u.active"
            ))
            .await?;
        match c.query_opt(&s, &[&&token_hash[..]]).await? {
            Some(r) => Ok(Some(device_auth_at(&r)?)),
            None => Ok(None),
        }
    }

    async fn devices(&self, institution: InstitutionId) -> Result<Vec<DeviceInfo>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, user_id, name, created_at, revoked_at, last_sync_at FROM devices
                 WHERE institution = $1 ORDER BY created_at",
                &[&institution.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviceInfo {
                    id: col(r, 0)?,
                    user_id: parse::<UserId>(col(r, 1)?, "user")?,
                    name: col(r, 2)?,
                    created_at: col(r, 3)?,
                    revoked_at: col(r, 4)?,
                    last_sync_at: col(r, 5)?,
                })
            })
            .collect()
    }

    async fn revoke_device(&self, institution: Option<InstitutionId>, id: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE devices SET revoked_at = $3
                 WHERE id = $1 AND ($2::text IS NULL OR institution = $2) AND revoked_at IS NULL",
                &[&id, &institution.map(|i| i.to_string()), &now()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn touch_device(&self, id: &str) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE devices SET last_sync_at = $2 WHERE id = $1",
                &[&id, &now()],
            )
            .await?;
        Ok(())
    }

    async fn load_documents(
        &self,
        institution: InstitutionId,
        ids: Vec<DocId>,
    ) -> Result<HashMap<DocId, StoredDoc>> {
        let mut c = self.client().await?;
        // One snapshot for every document: each row with its changes, as of one moment.
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let inst = institution.to_string();
        let mut out = HashMap::new();
        for id in ids {
            if let Some(d) = load_doc(&tx, &inst, &id.to_string()).await? {
                out.insert(id, d);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Commits every non-stale document in one transaction; returns the stale ones. A
    /// transaction that loses a serialization race or a deadlock is run again whole (it
    /// left nothing behind); other errors are the caller's.
    async fn commit(&self, commits: Vec<DocCommit>) -> Result<Vec<DocId>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.commit_once(&commits).await {
                Err(StoreError::Postgres(e)) if attempt < COMMIT_ATTEMPTS && is_race(&e) => {
                    tracing::debug!(attempt, "commit lost a race, running it again: {e}");
                    // A short, growing pause with jitter, so two losers do not meet again.
                    let ms = 5 * u64::from(attempt) + rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                other => return other,
            }
        }
    }

    async fn feed(
        &self,
        institution: InstitutionId,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> Result<FeedPage> {
        let mut c = self.client().await?;
        // One snapshot for `newest` and the rows. Seqs become visible in order (see
        // `commit`), so every change up to `newest` is in this snapshot.
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let inst = institution.to_string();
        let newest: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE institution = $1",
                &[&inst],
            )
            .await?
            .try_get(0)?;
        let after_i = i64::try_from(after)
            .map_err(|_| StoreError::Corrupt(format!("feed cursor {after}")))?;
        // First the sizes only, to cut the page at its byte budget without fetching the
        // bytes of rows beyond it; the device's own changes are skipped in the query, as
        // in SQLite (not page after empty page).
        let sizes = tx
            .query(
                "SELECT seq, octet_length(bytes) FROM changes
                 WHERE institution = $1 AND seq > $2 AND seq <= $3 AND actor <> $4
                 ORDER BY seq LIMIT $5",
                &[
                    &inst,
                    &after_i,
                    &newest,
                    &skip_actor,
                    &(FEED_PAGE_ROWS as i64),
                ],
            )
            .await?;
        let mut page = FeedPage {
            items: Vec::new(),
            cursor: after,
            more: false,
        };
        let (mut bytes, mut take, mut last) = (0usize, 0usize, after_i);
        for r in &sizes {
            let len = usize::try_from(col::<i32>(r, 1)?)
                .map_err(|_| StoreError::Corrupt("change length".into()))?;
            if bytes + len > max_bytes && take > 0 {
                page.more = true;
                break;
            }
            bytes += len;
            take += 1;
            last = col(r, 0)?;
        }
        if take > 0 {
            let rows = tx
                .query(
                    "SELECT c.seq, c.doc_id, d.kind, c.bytes FROM changes c
                     JOIN documents d ON d.institution = c.institution AND d.id = c.doc_id
                     WHERE c.institution = $1 AND c.seq > $2 AND c.seq <= $3 AND c.actor <> $4
                     ORDER BY c.seq",
                    &[&inst, &after_i, &last, &skip_actor],
                )
                .await?;
            for r in &rows {
                let seq = unsigned(col(r, 0)?, "seq")?;
                page.items.push(FeedItem {
                    seq,
                    doc_id: parse(col(r, 1)?, "document id")?,
                    kind: col(r, 2)?,
                    bytes: col(r, 3)?,
                });
                page.cursor = seq;
            }
        }
        tx.commit().await?;
        if page.more {
            return Ok(page);
        }
        if page.items.len() == FEED_PAGE_ROWS {
            page.more = true;
        } else {
            // Everything up to `newest` was seen: the rest is the device's own.
            page.cursor = page.cursor.max(unsigned(newest, "seq")?);
        }
        Ok(page)
    }

    async fn record_blob(
        &self,
        institution: InstitutionId,
        hash: &str,
        size: u64,
        content_type: &str,
        uploaded_by: &str,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO blobs (institution, hash, size, content_type, received_at, uploaded_by, referenced)
                 VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT DO NOTHING",
                &[
                    &institution.to_string(),
                    &hash,
                    &(size as i64),
                    &content_type,
                    &now(),
                    &uploaded_by,
                ],
            )
            .await?;
        Ok(())
    }

    async fn reference_blob(&self, institution: InstitutionId, hash: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE blobs SET referenced = 1 WHERE institution = $1 AND hash = $2",
                &[&institution.to_string(), &hash],
            )
            .await?;
        Ok(n > 0)
    }

    async fn unreferenced_blob_bytes(
        &self,
        institution: InstitutionId,
        uploaded_by: &str,
    ) -> Result<(u64, u64)> {
        let sql = super::rows::UNREFERENCED_BYTES_SQL
            .replace("?1", "$1")
            .replace("?2", "$2");
        let r = self
            .client()
            .await?
            .query_one(&sql, &[&institution.to_string(), &uploaded_by])
            .await?;
        Ok((
            unsigned(col(&r, 0)?, "bytes")?,
            unsigned(col(&r, 1)?, "bytes")?,
        ))
    }

    async fn expire_blobs(&self, received_before: &str) -> Result<Vec<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let gone = tx
            .query(
                "DELETE FROM blobs WHERE referenced = 0 AND received_at < $1 RETURNING hash",
                &[&received_before],
            )
            .await?;
        let mut orphans: Vec<String> = Vec::new();
        for r in gone {
            let h: String = col(&r, 0)?;
            let held = tx
                .query_opt("SELECT 1 FROM blobs WHERE hash = $1 LIMIT 1", &[&h])
                .await?
                .is_some();
            if !held && !orphans.contains(&h) {
                orphans.push(h);
            }
        }
        tx.commit().await?;
        Ok(orphans)
    }

    async fn blob(&self, institution: InstitutionId, hash: &str) -> Result<Option<(u64, String)>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT size, content_type FROM blobs WHERE institution = $1 AND hash = $2",
                &[&institution.to_string(), &hash],
            )
            .await?;
        match row {
            Some(r) => Ok(Some((unsigned(col(&r, 0)?, "size")?, col(&r, 1)?))),
            None => Ok(None),
        }
    }

    async fn hazards(&self, q: &HazardQuery) -> Result<(Vec<HazardRow>, i64)> {
        let q = q.clone();
        let (filter, args) = super::rows::hazard_filter(&q, |n| format!("${n}"));
        let args: Vec<Box<dyn ToSql + Sync + Send>> = args
            .into_iter()
            .map(|a| -> Box<dyn ToSql + Sync + Send> {
                match a {
                    super::rows::FilterArg::Text(t) => Box::new(t),
                    super::rows::FilterArg::Int(i) => Box::new(i),
                }
            })
            .collect();
        // SQLite sorts NULL first in ascending order; PostgreSQL last unless told.
        let order = if q.by_deadline {
            "deadline ASC NULLS FIRST, reported_at DESC, id DESC"
        } else {
            "reported_at DESC, id DESC"
        };
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let c = self.client().await?;
        let total: i64 = c
            .query_one(
                &format!("SELECT COUNT(*) FROM ledger_hazards WHERE {filter}"),
                &params,
            )
            .await?
            .try_get(0)?;
        let rows = c
            .query(
                &format!(
                    "SELECT {HAZARD_COLS} FROM ledger_hazards WHERE {filter}
                     ORDER BY {order} LIMIT {} OFFSET {}",
                    q.limit, q.offset
                ),
                &params,
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| hazard_at(r, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    async fn hazard(
        &self,
        institution: Option<InstitutionId>,
        id: DocId,
    ) -> Result<Option<HazardDetail>> {
        let c = self.client().await?;
        let id = id.to_string();
        let row = c
            .query_opt(
                &format!(
                    "SELECT institution, {HAZARD_COLS} FROM ledger_hazards
                     WHERE id = $1 AND ($2::text IS NULL OR institution = $2)"
                ),
                &[&id, &institution.map(|i| i.to_string())],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let inst: String = col(&row, 0)?;
        let hazard = hazard_at(&row, 1)?;
        let events = c
            .query(
                "SELECT idx, kind, by_user, by_name, at, note, skipped FROM ledger_events
                 WHERE institution = $1 AND hazard_id = $2 ORDER BY idx",
                &[&inst, &id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(EventRow {
                    idx: col(r, 0)?,
                    kind: col(r, 1)?,
                    by_user: col(r, 2)?,
                    by_name: col(r, 3)?,
                    at: col(r, 4)?,
                    note: col(r, 5)?,
                    skipped: col(r, 6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let conflicts = c
            .query(
                "SELECT field, competing, resolution FROM ledger_conflicts
                 WHERE institution = $1 AND doc_id = $2 ORDER BY field",
                &[&inst, &id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(ConflictRow {
                    field: col(r, 0)?,
                    competing: col(r, 1)?,
                    resolution: col(r, 2)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(HazardDetail {
            hazard,
            events,
            conflicts,
            institution: inst,
        }))
    }

    async fn counts(&self, institution: Option<InstitutionId>) -> Result<Counts> {
        let c = self.client().await?;
        let inst = institution.map(|i| i.to_string());
        let mut groups = Vec::new();
        for column in ["status", "risk", "category"] {
            let rows = c
                .query(
                    &format!(
                        "SELECT COALESCE({column}, ''), COUNT(*) FROM ledger_hazards
                         WHERE ($1::text IS NULL OR institution = $1) GROUP BY 1 ORDER BY 1"
                    ),
                    &[&inst],
                )
                .await?;
            groups.push(
                rows.iter()
                    .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
                    .collect::<Result<Vec<(String, i64)>>>()?,
            );
        }
        let r = c
            .query_one(
                "SELECT COUNT(*), COUNT(submitted_at) FROM ledger_inspections
                 WHERE ($1::text IS NULL OR institution = $1)",
                &[&inst],
            )
            .await?;
        let (inspections, submitted): (i64, i64) = (col(&r, 0)?, col(&r, 1)?);
        let by_category = groups.pop().unwrap_or_default();
        let by_risk = groups.pop().unwrap_or_default();
        let by_status = groups.pop().unwrap_or_default();
        Ok(Counts {
            hazards: by_status.iter().map(|x| x.1).sum(),
            open: by_status
                .iter()
                .filter(|x| x.0 != "closed")
                .map(|x| x.1)
                .sum(),
            by_status,
            by_risk,
            by_category,
            inspections,
            submitted_inspections: submitted,
        })
    }

    async fn inspections(
        &self,
        institution: Option<InstitutionId>,
        site: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<crate::ledger::InspectionRow>, i64)> {
        let c = self.client().await?;
        let inst = institution.map(|i| i.to_string());
        let filter =
            "($1::text IS NULL OR institution = $1) AND ($2::text IS NULL OR site_id = $2)";
        let total: i64 = c
            .query_one(
                &format!("SELECT COUNT(*) FROM ledger_inspections WHERE {filter}"),
                &[&inst, &site],
            )
            .await?
            .try_get(0)?;
        let rows = c
            .query(
                &format!(
                    "SELECT {INSPECTION_COLS} FROM ledger_inspections WHERE {filter}
                     ORDER BY started_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
                ),
                &[&inst, &site],
            )
            .await?
            .iter()
            .map(|r| Ok(inspection_row!(col, r)))
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    async fn rebuild_ledger(&self) -> Result<usize> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Keeps commits out while the ledger is rebuilt (they update `documents`), as
        // SQLite's immediate transaction does; self-exclusive, so rebuilds take turns.
        tx.batch_execute("LOCK TABLE documents IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        let docs = tx
            .query(
                "SELECT institution, id FROM documents ORDER BY institution, id",
                &[],
            )
            .await?;
        for t in &LEDGER_TABLES {
            tx.batch_execute(&format!("DELETE FROM {}", t.name)).await?;
        }
        for r in &docs {
            let (inst, id): (&str, &str) = (col(r, 0)?, col(r, 1)?);
            let Some(stored) = load_doc(&tx, inst, id).await? else {
                continue;
            };
            let rows = derive_ledger(id, &stored.bytes)?;
            write_ledger(&tx, inst, id, &rows, false).await?;
        }
        tx.commit().await?;
        Ok(docs.len())
    }

    async fn ledger_dump(&self) -> Result<String> {
        let mut c = self.client().await?;
        // Every table as of one moment.
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let mut out = String::new();
        for t in &LEDGER_TABLES {
            out.push_str(&format!("## {}\n", t.name));
            let rows = tx
                .query(
                    &format!("SELECT * FROM {} ORDER BY {}", t.name, t.order),
                    &[],
                )
                .await?;
            for r in &rows {
                let cells = r
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| dump_cell(r, i, c.type_()))
                    .collect::<Result<Vec<_>>>()?;
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn create_session(
        &self,
        token_hash: [u8; 32],
        user: UserId,
        csrf: &str,
        expires_at: &str,
    ) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &&token_hash[..],
                &user.to_string(),
                &csrf,
                &now(),
                &expires_at,
            ],
        )
        .await?;
        // Expired sessions go whenever someone logs in.
        c.execute("DELETE FROM web_sessions WHERE expires_at < $1", &[&now()])
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: [u8; 32], at: &str) -> Result<Option<WebSession>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT s.csrf, {USER_COLS} FROM web_sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active"
            ))
            .await?;
        match c.query_opt(&s, &[&&token_hash[..], &at]).await? {
            Some(r) => Ok(Some(WebSession {
                csrf: col(&r, 0)?,
                user: user_of(user_at(&r, 1)?)?,
            })),
            None => Ok(None),
        }
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()> {
        self.client()
            .await?
            .execute(
                "DELETE FROM web_sessions WHERE token_hash = $1",
                &[&&token_hash[..]],
            )
            .await?;
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
            .await?;
        match c.query_opt(&s, &[&id.to_string()]).await? {
            Some(r) => Ok(Some(user_of(user_at(&r, 0)?)?)),
            None => Ok(None),
        }
    }

    async fn set_user_active(
        &self,
        institution: InstitutionId,
        id: UserId,
        active: bool,
    ) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET active = $3 WHERE id = $1 AND institution = $2",
                &[&id.to_string(), &institution.to_string(), &active],
            )
            .await?;
        if !active {
            // Deactivation ends the sessions and revokes the devices; activating the
            // user again brings neither back.
            tx.execute(
                "DELETE FROM web_sessions WHERE user_id = $1",
                &[&id.to_string()],
            )
            .await?;
            tx.execute(
                "UPDATE devices SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&id.to_string(), &now()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn set_user_roles(
        &self,
        institution: InstitutionId,
        id: UserId,
        roles: &[Role],
        department: Option<DepartmentId>,
    ) -> Result<bool> {
        let roles = roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",");
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE users SET roles = $3, department = $4 WHERE id = $1 AND institution = $2",
                &[
                    &id.to_string(),
                    &institution.to_string(),
                    &roles,
                    &department.map(|d| d.to_string()),
                ],
            )
            .await?;
        Ok(n > 0)
    }

    async fn web_device(
        &self,
        user: UserId,
        institution: InstitutionId,
    ) -> Result<Option<DeviceAuth>> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT d.id, d.institution, d.actor, {USER_COLS} FROM web_devices w
                 JOIN devices d ON d.id = w.device_id JOIN users u ON u.id = w.user_id
                 WHERE w.user_id = $1 AND w.institution = $2 AND d.revoked_at IS NULL AND u.active"
            ))
            .await?;
        match c
            .query_opt(&s, &[&user.to_string(), &institution.to_string()])
            .await?
        {
            Some(r) => Ok(Some(device_auth_at(&r)?)),
            None => Ok(None),
        }
    }

    async fn set_web_device(&self, d: &NewDevice) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "INSERT INTO devices (id, user_id, institution, actor, token_hash, name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &d.id,
                &d.user.to_string(),
                &d.institution.to_string(),
                &d.actor,
                &&d.token_hash[..],
                &d.name,
                &now(),
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO web_devices (user_id, institution, device_id) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, institution) DO UPDATE SET device_id = EXCLUDED.device_id",
            &[&d.user.to_string(), &d.institution.to_string(), &d.id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn count_attempts(
        &self,
        keys: &[String],
        now: i64,
        window_from: i64,
    ) -> Result<Vec<Attempts>> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM password_attempts WHERE window_start < $1 AND (not_before IS NULL OR not_before < $2)",
            &[&window_from, &now],
        )
        .await?;
        let sql = ATTEMPT_UPSERT
            .replace("?1", "$1")
            .replace("?2", "$2")
            .replace("?3", "$3");
        let s = c.prepare_cached(&sql).await?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let r = c.query_one(&s, &[k, &now, &window_from]).await?;
            out.push(Attempts {
                attempts: r.try_get(0)?,
                window_start: r.try_get(1)?,
                not_before: r.try_get(2)?,
            });
        }
        Ok(out)
    }

    async fn set_password_due(&self, user: UserId) -> Result<()> {
        self.client()
            .await?
            .execute(&PASSWORD_DUE_SET.replace("?1", "$1"), &[&user.to_string()])
            .await?;
        Ok(())
    }

    async fn password_due(&self, user: UserId) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .query_opt(&PASSWORD_DUE_GET.replace("?1", "$1"), &[&user.to_string()])
            .await?
            .is_some())
    }

    async fn attempts_of(&self, key: &str) -> Result<Option<Attempts>> {
        let sql = ATTEMPTS_OF.replace("?1", "$1");
        match self.client().await?.query_opt(&sql, &[&key]).await? {
            Some(r) => Ok(Some(Attempts {
                attempts: r.try_get(0)?,
                window_start: r.try_get(1)?,
                not_before: r.try_get(2)?,
            })),
            None => Ok(None),
        }
    }

    async fn delay_attempts(&self, key: &str, not_before: i64) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE password_attempts SET not_before = $2 WHERE key = $1",
                &[&key, &not_before],
            )
            .await?;
        Ok(())
    }

    async fn clear_attempts(&self, key: &str) -> Result<()> {
        self.client()
            .await?
            .execute("DELETE FROM password_attempts WHERE key = $1", &[&key])
            .await?;
        Ok(())
    }

    async fn audit(
        &self,
        institution: Option<InstitutionId>,
        user: Option<&User>,
        login: &str,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO audit_log (at, institution, user_id, login, action, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &now(),
                    &institution.map(|i| i.to_string()),
                    &user.map(|u| u.id.to_string()),
                    &login,
                    &action,
                    &detail,
                ],
            )
            .await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        institution: Option<InstitutionId>,
        about: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let sql = super::rows::AUDIT_LOG_SQL
            .replace("?1", "$1::text")
            .replace("?2", "$2::text")
            .replace("?3", "$3::text")
            .replace("?4", "$4");
        self.client()
            .await?
            .query(
                &sql,
                &[
                    &institution.map(|i| i.to_string()),
                    &about.action,
                    &about.detail_prefix,
                    &i64::from(limit),
                ],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: col(r, 0)?,
                    at: col(r, 1)?,
                    institution: col(r, 2)?,
                    user_id: col(r, 3)?,
                    login: col(r, 4)?,
                    action: col(r, 5)?,
                    detail: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn reports(
        &self,
        institution: Option<InstitutionId>,
        kind: &str,
        after_seq: i64,
        limit: u32,
        order: ReportOrder,
    ) -> Result<Vec<ReportReceipt>> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT f.seq, r.institution, r.id, r.kind, r.department, r.week, r.all_clear, r.title, r.filed_at, f.received_at
                 FROM ledger_reports r
                 JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x WHERE x.institution = r.institution AND x.doc_id = r.id)
                 WHERE ($1::text IS NULL OR r.institution = $1) AND r.kind = $2 AND f.seq > $3
                 ORDER BY f.seq {} LIMIT $4",
                    order.sql()
                ),
                &[&institution.map(|i| i.to_string()), &kind, &after_seq, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(receipt)
            .collect()
    }

    async fn institution_tz(&self, institution: InstitutionId) -> Result<Option<(i32, String)>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT utc_offset_minutes, time_zone FROM institutions WHERE id = $1",
                &[&institution.to_string()],
            )
            .await?;
        match row {
            Some(r) => Ok(Some((col(&r, 0)?, col(&r, 1)?))),
            None => Ok(None),
        }
    }

    async fn set_institution_tz(
        &self,
        institution: InstitutionId,
        offset_minutes: i32,
        name: &str,
    ) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE institutions SET utc_offset_minutes = $2, time_zone = $3 WHERE id = $1",
                &[&institution.to_string(), &offset_minutes, &name],
            )
            .await?
            == 1)
    }

    async fn save_campaign(&self, k: &Campaign) -> Result<()> {
        let phases = serde_json::to_string(&k.phases)
            .map_err(|e| StoreError::Corrupt(format!("phases: {e}")))?;
        // The same id in another institution is not this campaign: the update's WHERE
        // refuses to move it (nothing written: a conflict), atomically.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO campaigns (id, institution, name, starts, ends, summary_due, phases,
                    dept_due_day, dept_due_minute, inst_due_day, inst_due_minute, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, starts = EXCLUDED.starts,
                    ends = EXCLUDED.ends, summary_due = EXCLUDED.summary_due,
                    phases = EXCLUDED.phases, dept_due_day = EXCLUDED.dept_due_day,
                    dept_due_minute = EXCLUDED.dept_due_minute,
                    inst_due_day = EXCLUDED.inst_due_day, inst_due_minute = EXCLUDED.inst_due_minute
                 WHERE campaigns.institution = EXCLUDED.institution",
                &[
                    &k.id.to_string(),
                    &k.institution.to_string(),
                    &k.name,
                    &k.starts.to_string(),
                    &k.ends.to_string(),
                    &k.summary_due.map(|d| d.to_string()),
                    &phases,
                    &i64::from(k.dept_due.day),
                    &i64::from(k.dept_due.minute),
                    &i64::from(k.inst_due.day),
                    &i64::from(k.inst_due.minute),
                    &now(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "campaign belongs to another institution".into(),
            ));
        }
        Ok(())
    }

    async fn campaigns(&self, institution: InstitutionId) -> Result<Vec<Campaign>> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE institution = $1 ORDER BY starts, created_at"
                ),
                &[&institution.to_string()],
            )
            .await?
            .iter()
            .map(|r| {
                let t: CampaignTuple = (
                    col(r, 0)?,
                    col(r, 1)?,
                    col(r, 2)?,
                    col(r, 3)?,
                    col(r, 4)?,
                    col(r, 5)?,
                    col(r, 6)?,
                    col(r, 7)?,
                    col(r, 8)?,
                    col(r, 9)?,
                );
                campaign_of(institution, t)
            })
            .collect()
    }

    async fn campaign_figures(
        &self,
        institution: InstitutionId,
        scope: &CampaignScope,
        today: &str,
    ) -> Result<(Vec<HazardFigure>, Vec<InspectionFigure>)> {
        let c = self.client().await?;
        let inst = institution.to_string();
        let hazards = c
            .query(
                "SELECT COALESCE(s.department, ''), h.category, h.risk, h.hazard_grade,
                        COALESCE(h.status, ''),
                        COALESCE(h.status = 'in_rectification' AND h.deadline < $5, FALSE),
                        COUNT(*)
                 FROM ledger_hazards h LEFT JOIN sites s ON s.id = h.site_id
                 WHERE h.institution = $1 AND (h.campaign = $2
                    OR (h.campaign IS NULL AND h.reported_at >= $3 AND h.reported_at < $4))
                 GROUP BY 1, 2, 3, 4, 5, 6",
                &[&inst, &scope.id, &scope.from, &scope.before, &today],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(HazardFigure {
                    department: col(r, 0)?,
                    category: col(r, 1)?,
                    risk: col(r, 2)?,
                    hazard_grade: col(r, 3)?,
                    status: col(r, 4)?,
                    overdue: col(r, 5)?,
                    count: col(r, 6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let inspections = c
            .query(
                "SELECT COALESCE(s.department, ''), i.site_kind, COUNT(*), COUNT(i.submitted_at)
                 FROM ledger_inspections i LEFT JOIN sites s ON s.id = i.site_id
                 WHERE i.institution = $1 AND (i.campaign = $2
                    OR (i.campaign IS NULL AND i.started_at >= $3 AND i.started_at < $4))
                 GROUP BY 1, 2",
                &[&inst, &scope.id, &scope.from, &scope.before],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(InspectionFigure {
                    department: col(r, 0)?,
                    site_kind: col(r, 1)?,
                    count: col(r, 2)?,
                    submitted: col(r, 3)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((hazards, inspections))
    }

    async fn add_duty_slot(&self, d: &DutySlot) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO duty_slots (id, institution, starts, ends, officer, officer_phone,
                    leader, leader_phone, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &d.id,
                    &d.institution.to_string(),
                    &d.starts,
                    &d.ends,
                    &d.officer,
                    &d.officer_phone,
                    &d.leader,
                    &d.leader_phone,
                    &now(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn duty_slots(
        &self,
        institution: InstitutionId,
        from: &str,
        before: &str,
    ) -> Result<Vec<DutySlot>> {
        self.client()
            .await?
            .query(
                "SELECT id, starts, ends, officer, officer_phone, leader, leader_phone
                 FROM duty_slots WHERE institution = $1 AND starts < $3 AND ends > $2
                 ORDER BY starts, id LIMIT 5000",
                &[&institution.to_string(), &from, &before],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DutySlot {
                    id: col(r, 0)?,
                    institution,
                    starts: col(r, 1)?,
                    ends: col(r, 2)?,
                    officer: col(r, 3)?,
                    officer_phone: col(r, 4)?,
                    leader: col(r, 5)?,
                    leader_phone: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn update_duty_slot(&self, d: &DutySlot) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE duty_slots SET starts = $3, ends = $4, officer = $5, officer_phone = $6,
                    leader = $7, leader_phone = $8
                 WHERE institution = $1 AND id = $2",
                &[
                    &d.institution.to_string(),
                    &d.id,
                    &d.starts,
                    &d.ends,
                    &d.officer,
                    &d.officer_phone,
                    &d.leader,
                    &d.leader_phone,
                ],
            )
            .await?
            == 1)
    }

    async fn delete_duty_slot(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM duty_slots WHERE institution = $1 AND id = $2",
                &[&institution.to_string(), &id],
            )
            .await?
            == 1)
    }

    async fn add_holiday(&self, h: &Holiday) -> Result<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO holidays (id, institution, name, starts, ends, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &h.id,
                    &h.institution.to_string(),
                    &h.name,
                    &h.starts.to_string(),
                    &h.ends.to_string(),
                    &now(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn holidays(&self, institution: InstitutionId) -> Result<Vec<Holiday>> {
        self.client()
            .await?
            .query(
                "SELECT id, name, starts, ends FROM holidays WHERE institution = $1
                 ORDER BY starts, id LIMIT 1000",
                &[&institution.to_string()],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Holiday {
                    id: col(r, 0)?,
                    institution,
                    name: col(r, 1)?,
                    starts: parse(col(r, 2)?, "date")?,
                    ends: parse(col(r, 3)?, "date")?,
                })
            })
            .collect()
    }

    async fn delete_holiday(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM holidays WHERE institution = $1 AND id = $2",
                &[&institution.to_string(), &id],
            )
            .await?
            == 1)
    }

    async fn add_template(
        &self,
        institution: InstitutionId,
        t: &saferound_core::model::templates::Template,
        by: UserId,
    ) -> Result<()> {
        let body =
            serde_json::to_string(t).map_err(|e| StoreError::Corrupt(format!("template: {e}")))?;
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO institution_templates
                    (institution, id, version, body, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &institution.to_string(),
                    &t.id,
                    &i64::from(t.version),
                    &body,
                    &by.to_string(),
                    &now(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "template {}@{} already exists",
                t.id, t.version
            )));
        }
        Ok(())
    }

    async fn templates(
        &self,
        institution: InstitutionId,
    ) -> Result<Vec<saferound_core::model::templates::Template>> {
        self.client()
            .await?
            .query(
                "SELECT body FROM institution_templates WHERE institution = $1
                 ORDER BY id, version",
                &[&institution.to_string()],
            )
            .await?
            .iter()
            .map(|r| {
                serde_json::from_str(col(r, 0)?)
                    .map_err(|e| StoreError::Corrupt(format!("template: {e}")))
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------
    // The institution's weekly report to the province (the same queries as SQLite's).

    async fn week_figures(
        &self,
        institution: InstitutionId,
        range: &WeekRange,
    ) -> Result<WeekFigures> {
        let c = self.client().await?;
        let inst = institution.to_string();
        let r = range;
        let hazards = c
            .query(
                "SELECT COALESCE(s.department, ''), h.category, h.risk, h.hazard_grade,
                        COALESCE(h.status, ''),
                        COALESCE(h.status = 'in_rectification' AND h.deadline < $4, FALSE),
                        COUNT(*)
                 FROM ledger_hazards h LEFT JOIN sites s ON s.id = h.site_id
                 WHERE h.institution = $1 AND h.reported_at >= $2 AND h.reported_at < $3
                 GROUP BY 1, 2, 3, 4, 5, 6",
                &[&inst, &r.from, &r.before, &r.overdue_before],
            )
            .await?
            .iter()
            .map(|x| {
                Ok(HazardFigure {
                    department: col(x, 0)?,
                    category: col(x, 1)?,
                    risk: col(x, 2)?,
                    hazard_grade: col(x, 3)?,
                    status: col(x, 4)?,
                    overdue: col(x, 5)?,
                    count: col(x, 6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let inspections = c
            .query(
                "SELECT COALESCE(s.department, ''), i.site_kind, COUNT(*), COUNT(i.submitted_at)
                 FROM ledger_inspections i LEFT JOIN sites s ON s.id = i.site_id
                 WHERE i.institution = $1 AND i.started_at >= $2 AND i.started_at < $3
                 GROUP BY 1, 2",
                &[&inst, &r.from, &r.before],
            )
            .await?
            .iter()
            .map(|x| {
                Ok(InspectionFigure {
                    department: col(x, 0)?,
                    site_kind: col(x, 1)?,
                    count: col(x, 2)?,
                    submitted: col(x, 3)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let events = "SELECT COUNT(*) FROM ledger_events
             WHERE institution = $1 AND kind = $2 AND at >= $3 AND at < $4 AND NOT skipped";
        let rectified: i64 = col(
            &c.query_one(
                events,
                &[&inst, &"rectification_reported", &r.from, &r.before],
            )
            .await?,
            0,
        )?;
        let verified: i64 = col(
            &c.query_one(events, &[&inst, &"verified", &r.from, &r.before])
                .await?,
            0,
        )?;
        let overdue: i64 = col(
            &c.query_one(
                "SELECT COUNT(*) FROM ledger_hazards
                 WHERE institution = $1 AND status = 'in_rectification' AND deadline < $2",
                &[&inst, &r.overdue_before],
            )
            .await?,
            0,
        )?;
        let incidents: i64 = col(
            &c.query_one(
                "SELECT COUNT(*) FROM ledger_reports r
                 JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x
                                            WHERE x.institution = r.institution AND x.doc_id = r.id)
                 WHERE r.institution = $1 AND r.kind = 'incident_report'
                   AND f.received_at >= $2 AND f.received_at < $3",
                &[&inst, &r.from, &r.before],
            )
            .await?,
            0,
        )?;
        Ok(WeekFigures {
            hazards,
            inspections,
            rectified,
            verified,
            overdue,
            incidents,
        })
    }

    async fn week_reports(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<ReportReceipt>> {
        self.client()
            .await?
            .query(
                "SELECT f.seq, r.institution, r.id, r.kind, r.department, r.week, r.all_clear, r.title, r.filed_at, f.received_at
                 FROM ledger_reports r
                 JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x WHERE x.institution = r.institution AND x.doc_id = r.id)
                 WHERE r.institution = $1 AND r.kind = 'weekly_report' AND r.week = $2
                 ORDER BY f.seq",
                &[&institution.to_string(), &week],
            )
            .await?
            .iter()
            .map(receipt)
            .collect()
    }

    async fn add_institution_filing(&self, f: &InstitutionFiling) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO institution_reports (institution, week, received_at, by_user, by_name,
                    all_clear, summary, snapshot)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                &[
                    &f.institution,
                    &f.week,
                    &f.received_at,
                    &f.by_user,
                    &f.by_name,
                    &f.all_clear,
                    &f.summary,
                    &f.snapshot,
                ],
            )
            .await?;
        Ok(col(&row, 0)?)
    }

    async fn institution_filings(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<InstitutionFiling>> {
        self.client()
            .await?
            .query(
                "SELECT seq, institution, week, received_at, by_user, by_name, all_clear, summary, snapshot
                 FROM institution_reports WHERE institution = $1 AND week = $2 ORDER BY seq",
                &[&institution.to_string(), &week],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(InstitutionFiling {
                    seq: col(r, 0)?,
                    institution: col(r, 1)?,
                    week: col(r, 2)?,
                    received_at: col(r, 3)?,
                    by_user: col(r, 4)?,
                    by_name: col(r, 5)?,
                    all_clear: col(r, 6)?,
                    summary: col(r, 7)?,
                    snapshot: col(r, 8)?,
                })
            })
            .collect()
    }

    async fn institution_receipts(
        &self,
        from_week: &str,
        to_week: &str,
    ) -> Result<Vec<InstitutionReceipt>> {
        self.client()
            .await?
            .query(
                "SELECT a.institution, a.week, a.received_at, b.all_clear, g.n
                 FROM (SELECT institution, week, MIN(seq) AS first, MAX(seq) AS last, COUNT(*) AS n
                       FROM institution_reports WHERE week >= $1 AND week <= $2
                       GROUP BY institution, week) g
                 JOIN institution_reports a ON a.seq = g.first
                 JOIN institution_reports b ON b.seq = g.last
                 ORDER BY a.institution, a.week",
                &[&from_week, &to_week],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(InstitutionReceipt {
                    institution: col(r, 0)?,
                    week: col(r, 1)?,
                    first_received_at: col(r, 2)?,
                    all_clear: col(r, 3)?,
                    filings: col(r, 4)?,
                })
            })
            .collect()
    }
}

/// A transaction that lost to a concurrent one (serialization failure, deadlock): run
/// again, it may well pass.
fn is_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
    })
}
