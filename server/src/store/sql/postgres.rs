//! The PostgreSQL database, for several server processes sharing one database: a pool
//! of connections (deadpool). Text formats are SQLite's (ids and RFC 3339 times as text,
//! bytes as BYTEA, flags BOOLEAN), so rows and `ledger_dump` compare equal across the two.
//!
//! What only PostgreSQL does, because there is more than one writer, lives here:
//! - migrations run under an advisory lock, so replicas starting together do not race;
//!   `Store::lock` takes others (start-up seeding, the incident webhook);
//! - the change feed's positions come from a one-row counter taken at the very end of a
//!   commit (`assign_feed_positions`), so a cursor never skips a change committed late;
//! - a commit tells every replica about itself (`announce`): `NOTIFY saferound_changes,
//!   '<institution>'` inside the commit's transaction (delivered only if it commits),
//!   heard by one listening connection per process outside the pool (`listen`).

use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{IsolationLevel, NoTls};

use super::{Dialect, Row, Tx, TxFuture, Value, postgres_placeholders};
use crate::store::rows::now;
use crate::store::{
    ChangeNotice, HeldLock, LockFor, LockGuard, NOTICE_BUFFER, Result, StoreError, with_causes,
};

/// Schema versions, applied in order; version n is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("../pg_migrations/001_initial.sql"),
    include_str!("../pg_migrations/002_province.sql"),
    include_str!("../pg_migrations/003_throttle.sql"),
    include_str!("../pg_migrations/004_password_due.sql"),
    include_str!("../pg_migrations/005_photo_references.sql"),
    include_str!("../pg_migrations/006_audit_action.sql"),
    include_str!("../pg_migrations/007_ledger_photos_and_texts.sql"),
    include_str!("../pg_migrations/008_hazard_serials.sql"),
    include_str!("../pg_migrations/009_user_contacts.sql"),
];

/// The advisory lock key migrations hold (any constant; "SafeRound" in ASCII, cut to fit).
const MIGRATION_LOCK: i64 = 0x5361_6665_526f_756e;

/// The advisory lock start-up seeding holds (`LockFor::Startup`): the migration key plus one.
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

pub struct PgDb {
    pool: Pool,
    /// Read once at start, like SQLite's: it changes only by `mark_restored`, with the
    /// servers stopped.
    pub(crate) epoch: String,
    pub(crate) restored: bool,
    /// For connections of their own, outside the pool: listening, the start-up lock.
    config: tokio_postgres::Config,
    /// Notices heard by the listening connection (see `subscribe_changes`).
    pub(crate) changes: tokio::sync::broadcast::Sender<ChangeNotice>,
    /// The listening task, stopped with the storage.
    listener: tokio::task::AbortHandle,
}

impl Drop for PgDb {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgDb {
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
                if r.try_get::<_, &str>(0)? == key {
                    return Ok(Some(r.try_get(1)?));
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
        Ok(PgDb {
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

    pub(super) async fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let c = self.client().await?;
        query(&c, sql, args).await
    }

    pub(super) async fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        let c = self.client().await?;
        execute(&c, sql, args).await
    }

    pub(super) async fn prepare(&self, sql: &str) -> Result<()> {
        self.client()
            .await?
            .prepare(&postgres_placeholders(sql))
            .await?;
        Ok(())
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        let mut c = self.client().await?;
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let v = f(&mut PgTx { c: &tx }).await?;
        tx.commit().await?;
        Ok(v)
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Tx) -> TxFuture<'a, T> + Send + 'static,
    {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let v = f(&mut PgTx { c: &tx }).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// A session advisory lock on a connection of its own, held by the returned guard:
    /// dropping it closes the connection, which releases the lock (also if this process
    /// dies meanwhile).
    pub(crate) async fn lock(&self, which: LockFor) -> Result<HeldLock> {
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
            .keepalives_idle(Duration::from_secs(20))
            .keepalives_interval(Duration::from_secs(10))
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
}

/// How many times a commit that lost a serialization race or a deadlock is run again
/// (see `Store::commit`).
pub(crate) const RETRIES: u32 = COMMIT_ATTEMPTS - 1;

/// A transaction that lost to a concurrent one (serialization failure, deadlock): run
/// again, it may well pass.
pub(crate) fn is_race(e: &StoreError) -> bool {
    let StoreError::Postgres(e) = e else {
        return false;
    };
    e.code().is_some_and(|c| {
        *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A new change of a commit, waiting for its feed position.
pub(crate) struct NewChangeKey {
    pub institution: String,
    pub doc_id: String,
    pub hash: Vec<u8>,
}

/// Gives the changes a commit added their feed positions, as its last step, so the
/// counter's row lock is held only from here to the commit.
///
/// Why a counter row and not a sequence: every commit takes its numbers here and keeps
/// the row locked until it commits, so numbers are handed out in commit order. A reader
/// that sees seq n therefore sees every seq below n (their transactions committed before
/// this one could take its numbers), and a device's cursor can never pass a change that
/// becomes visible later. A sequence hands out numbers at insert; two transactions
/// committing in the other order would make seq 11 visible before seq 10, and a cursor
/// at 11 would skip 10 for good. The feed's `newest` bound and reports' `first_seq` rely
/// on this too.
pub(crate) async fn assign_feed_positions(tx: &mut dyn Tx, new: &[NewChangeKey]) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let n = new.len() as i64;
    let top: i64 = tx
        .query_one(TAKE_FEED_POSITIONS, &[Value::Int(n)])
        .await?
        .get(0)?;
    let seqs: Vec<i64> = (top - n + 1..=top).collect();
    // One statement for all of them (arrays: PostgreSQL only).
    let institutions = new.iter().map(|k| k.institution.clone()).collect();
    let docs = new.iter().map(|k| k.doc_id.clone()).collect();
    let hashes = new.iter().map(|k| k.hash.clone()).collect();
    tx.execute(
        SET_FEED_POSITIONS,
        &[
            Value::Ints(seqs),
            Value::Texts(institutions),
            Value::Texts(docs),
            Value::Blobs(hashes),
        ],
    )
    .await?;
    Ok(())
}

/// Tells every replica (this one included) which institutions changed. NOTIFY is
/// transactional: it is delivered at commit, and not at all on a rollback.
pub(crate) async fn announce(tx: &mut dyn Tx, institutions: &[String]) -> Result<()> {
    for i in institutions {
        tx.execute(NOTIFY, &[Value::from(CHANNEL), Value::from(i)])
            .await?;
    }
    Ok(())
}

super::statements! {
    /// The heads to compare and swap, the row locked to the commit
    /// (`documents::commit_in`).
    DOCUMENT_HEADS_FOR_UPDATE =
        "SELECT heads FROM documents WHERE institution = ?1 AND id = ?2 FOR UPDATE";
    /// Keeps commits out while the ledger is rebuilt (they update `documents`), as
    /// SQLite's immediate transaction does; self-exclusive, so rebuilds take turns.
    EXCLUDE_COMMITS = "LOCK TABLE documents IN SHARE ROW EXCLUSIVE MODE";
    TAKE_FEED_POSITIONS = "UPDATE feed_counter SET seq = seq + ?1 RETURNING seq";
    SET_FEED_POSITIONS = "UPDATE changes c SET seq = v.seq
         FROM unnest(?1::bigint[], ?2::text[], ?3::text[], ?4::bytea[])
            AS v(seq, institution, doc_id, hash)
         WHERE c.institution = v.institution AND c.doc_id = v.doc_id AND c.hash = v.hash";
    NOTIFY = "SELECT pg_notify(?1, ?2)";
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

struct PgTx<'t, C: GenericClient> {
    c: &'t C,
}

#[async_trait]
impl<C: GenericClient> Tx for PgTx<'_, C> {
    async fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        query(self.c, sql, args).await
    }

    async fn query_built(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        // An unnamed statement: prepared for this call only.
        let rows = self
            .c
            .query(postgres_placeholders(sql).as_str(), &params(args))
            .await?;
        rows.iter().map(row_of).collect()
    }

    async fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        execute(self.c, sql, args).await
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

async fn query(c: &impl GenericClient, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(&postgres_placeholders(sql)).await?;
    let rows = c.query(&stmt, &params(args)).await?;
    rows.iter().map(row_of).collect()
}

async fn execute(c: &impl GenericClient, sql: &str, args: &[Value]) -> Result<u64> {
    let stmt = c.prepare_cached(&postgres_placeholders(sql)).await?;
    Ok(c.execute(&stmt, &params(args)).await?)
}

/// A PostgreSQL row as the `Value`s SQLite would give for it.
fn row_of(r: &tokio_postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                r.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            ref ty => {
                return Err(StoreError::Corrupt(format!(
                    "column {} of type {ty}: cast it in the statement",
                    col.name()
                )));
            }
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

/// A value bound to the type PostgreSQL inferred for its parameter: an integer into a
/// BOOLEAN or INTEGER parameter, a flag into an integer one (SQLite has only integers);
/// anything else that does not fit is an error, never a silent reinterpretation.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || format!("{self:?} for a parameter of type {ty}").into();
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => (*b as i64).to_sql(ty, out),
                Type::INT4 => (*b as i32).to_sql(ty, out),
                Type::INT2 => (*b as i16).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(t) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    t.to_sql(ty, out)
                }
                _ => Err(mismatch()),
            },
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            Value::Ints(v) if *ty == Type::INT8_ARRAY => v.to_sql(ty, out),
            Value::Texts(v) if *ty == Type::TEXT_ARRAY => v.to_sql(ty, out),
            Value::Blobs(v) if *ty == Type::BYTEA_ARRAY => v.to_sql(ty, out),
            _ => Err(mismatch()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked in `to_sql`, where the value is known.
        true
    }

    to_sql_checked!();
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
