//! Everything the server persists sits behind `Storage`: accounts and devices, documents
//! and the change feed, and the ledger. The SQLite implementation (`sqlite`) is the
//! embedded default; the PostgreSQL one (`postgres`) serves several replicas at once.

pub mod postgres;
mod rows;
#[doc(hidden)]
pub mod scratch;
pub mod sqlite;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use saferound_core::ids::{CampaignId, DepartmentId, DocId, InstitutionId, SiteId, UserId};
use saferound_core::model::{Role, SiteKind};
use serde::Serialize;

use crate::ledger::{ConflictRow, EventRow, HazardRow, LedgerRows};

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

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    /// `None` for provincial reviewers, who belong to the province.
    pub institution: Option<InstitutionId>,
    pub department: Option<DepartmentId>,
    pub login: String,
    pub name: String,
    pub roles: Vec<Role>,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub user: UserId,
    pub institution: InstitutionId,
    pub actor: Vec<u8>,
    pub token_hash: [u8; 32],
    pub name: String,
}

/// A device as the sync endpoint sees it: who it is, for whom, and its bound actor.
/// One throttle key's attempts in its current window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    pub attempts: i64,
    pub window_start: i64,
    pub not_before: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device_id: String,
    pub institution: InstitutionId,
    pub actor: Vec<u8>,
    pub user: User,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_sync_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub id: DepartmentId,
    pub institution: InstitutionId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: SiteId,
    pub institution: InstitutionId,
    pub department: DepartmentId,
    pub name: String,
    pub kind: SiteKind,
    pub building: String,
    pub floor_room: String,
}

/// A document as stored: its bytes (snapshot plus later changes, concatenated, as
/// Automerge loads them) and how many changes follow the snapshot.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub kind: String,
    pub bytes: Vec<u8>,
    pub heads: Vec<u8>,
    pub changes_after_snapshot: usize,
}

#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: [u8; 32],
    pub actor: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl From<&automerge::Change> for NewChange {
    fn from(c: &automerge::Change) -> Self {
        NewChange {
            hash: c.hash().0,
            actor: c.actor_id().to_bytes().to_vec(),
            // Uncompressed: stored and sent on as devices send them.
            bytes: c.raw_bytes().to_vec(),
        }
    }
}

/// One document's merge, committed only if the stored heads are still `expected_heads`
/// (compare-and-swap: a concurrent merge of the same document makes it stale, and the
/// caller merges again).
#[derive(Debug, Clone)]
pub struct DocCommit {
    pub institution: InstitutionId,
    pub id: DocId,
    pub kind: String,
    /// `None`: the document must not exist yet.
    pub expected_heads: Option<Vec<u8>>,
    pub new_heads: Vec<u8>,
    pub changes: Vec<NewChange>,
    /// A fresh compacted save, replacing the snapshot and the changes before it.
    pub snapshot: Option<Vec<u8>>,
    pub bytes: usize,
    pub ledger: LedgerRows,
}

#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: u64,
    pub doc_id: DocId,
    pub kind: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// The position to resume after: past every row examined, delivered or skipped.
    pub cursor: u64,
    pub more: bool,
}

/// Filters of the ledger's hazard list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct HazardQuery {
    pub institution: Option<InstitutionId>,
    pub site: Option<String>,
    pub category: Option<String>,
    pub min_risk_rank: Option<i64>,
    pub status: Option<String>,
    pub campaign: Option<String>,
    /// The campaign's records: tagged with it, or untagged and reported in its dates.
    pub in_campaign: Option<CampaignScope>,
    /// In rectification with a deadline in [due_from, due_until] (local dates): due soon.
    pub due_from: Option<String>,
    pub due_until: Option<String>,
    /// Deadline strictly before this local date, in rectification.
    pub overdue_before: Option<String>,
    pub reported_from: Option<String>,
    pub reported_before: Option<String>,
    /// Hazards at sites of this department.
    pub department: Option<String>,
    /// Exactly this risk grade (code).
    pub risk: Option<String>,
    /// Earliest deadline first (the overdue board), instead of newest report first.
    pub by_deadline: bool,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HazardDetail {
    pub hazard: HazardRow,
    pub events: Vec<EventRow>,
    pub conflicts: Vec<ConflictRow>,
    pub institution: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Counts {
    pub hazards: i64,
    pub open: i64,
    pub by_status: Vec<(String, i64)>,
    pub by_risk: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub inspections: i64,
    pub submitted_inspections: i64,
}

/// One line of the audit log: logins, exports, administrative actions.
/// Which audit entries to read (`Storage::audit_log`): all, one action's, or one
/// action's about one thing (entries whose detail starts with the thing's id).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub detail_prefix: Option<String>,
}

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

/// A web session: the user and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    pub csrf: String,
}

/// A report (weekly or incident) with the time the server first received it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportReceipt {
    /// Feed position of its first change: incidents newer than a cursor.
    pub first_seq: i64,
    pub institution: String,
    pub id: String,
    pub kind: String,
    pub department: Option<String>,
    pub week: Option<String>,
    pub all_clear: Option<bool>,
    pub title: String,
    /// The phone's time of the first filing.
    pub filed_at: Option<String>,
    /// When the server first received any of it (UTC, RFC 3339).
    pub received_at: String,
}

/// In which order `Storage::reports` lists reports: by their first feed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOrder {
    NewestFirst,
    OldestFirst,
}

impl ReportOrder {
    /// The SQL ordering keyword.
    pub fn sql(self) -> &'static str {
        match self {
            ReportOrder::NewestFirst => "DESC",
            ReportOrder::OldestFirst => "ASC",
        }
    }
}

/// A campaign 专项行动: local dates of the institution, both ends included.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub institution: InstitutionId,
    pub name: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
    /// When the summary 工作总结 is due, if the campaign says.
    pub summary_due: Option<NaiveDate>,
    pub phases: Vec<Phase>,
    /// Departments' weekly reports to the institution.
    pub dept_due: WeeklyDue,
    /// The institution's weekly report to the province.
    pub inst_due: WeeklyDue,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Phase {
    pub name_zh: String,
    pub name_en: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

/// A weekly deadline: weekday and local time of day.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WeeklyDue {
    /// 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Minutes after local midnight.
    pub minute: u16,
}

impl WeeklyDue {
    /// The notice's deadline for departments: Friday 12:00.
    pub const DEPARTMENT: WeeklyDue = WeeklyDue {
        day: 5,
        minute: 12 * 60,
    };
    /// The notice's deadline for institutions: Friday 15:00.
    pub const INSTITUTION: WeeklyDue = WeeklyDue {
        day: 5,
        minute: 15 * 60,
    };

    pub fn weekday(&self) -> chrono::Weekday {
        use chrono::Weekday::*;
        [Mon, Tue, Wed, Thu, Fri, Sat, Sun][(self.day.clamp(1, 7) - 1) as usize]
    }

    /// `"5 12:00"` style, for forms: the weekday number and HH:MM.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

/// Which records a campaign holds: those tagged with its id, and those without a
/// campaign tag whose instant lies in [from, before) (UTC, RFC 3339: the campaign's first
/// local midnight and the one after its last day).
#[derive(Debug, Clone)]
pub struct CampaignScope {
    pub id: String,
    pub from: String,
    pub before: String,
}

/// Hazards of a campaign, counted per (department, category, risk, grade, status, …).
#[derive(Debug, Clone, Serialize)]
pub struct HazardFigure {
    /// The department owning the site ('' when the site is unknown).
    pub department: String,
    pub category: String,
    pub risk: String,
    pub hazard_grade: String,
    pub status: String,
    /// In rectification past its deadline.
    pub overdue: bool,
    pub count: i64,
}

/// Inspections of a campaign, counted per (department, site kind).
#[derive(Debug, Clone, Serialize)]
pub struct InspectionFigure {
    pub department: String,
    pub site_kind: String,
    pub count: i64,
    pub submitted: i64,
}

/// One duty slot 值班: [starts, ends) as UTC instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DutySlot {
    pub id: String,
    pub institution: InstitutionId,
    pub starts: String,
    pub ends: String,
    pub officer: String,
    pub officer_phone: String,
    pub leader: String,
    pub leader_phone: String,
}

/// A holiday period that must be covered by duty slots: local dates, both ends included.
#[derive(Debug, Clone, Serialize)]
pub struct Holiday {
    pub id: String,
    pub institution: InstitutionId,
    pub name: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

/// What `Storage::subscribe_changes` delivers after a commit: the institution whose
/// documents changed, or `None` when that is unknown (notifications may have been missed,
/// say while PostgreSQL's listening connection was down): anything may have changed.
pub type ChangeNotice = Option<InstitutionId>;

/// How many notices a slow subscriber may fall behind before it is told it lagged (and
/// then treats that as "anything may have changed").
pub(crate) const NOTICE_BUFFER: usize = 256;

/// What processes sharing the database take turns at (`Storage::lock`).
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

/// A lock of `Storage::lock`, released when dropped (on PostgreSQL the connection closes,
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

/// One week of an institution for its weekly report: [from, before) are the week's first
/// local midnight and the next Monday's (UTC, RFC 3339, as `Timestamp` writes them, so
/// they compare with stored times as text); `overdue_before` is the local date overdue is
/// judged on (the week's end, or today while the week runs).
#[derive(Debug, Clone)]
pub struct WeekRange {
    pub week: String,
    pub from: String,
    pub before: String,
    pub overdue_before: String,
}

/// The ledger's figures of one week of an institution (`Storage::week_figures`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WeekFigures {
    /// Hazards reported in the week, grouped as a campaign's (status as of now, overdue
    /// judged on `overdue_before`).
    pub hazards: Vec<HazardFigure>,
    /// Inspections started in the week.
    pub inspections: Vec<InspectionFigure>,
    /// Rectification reported in the week (events not skipped), whenever the hazard was
    /// reported.
    pub rectified: i64,
    /// Verifications passed (written off 销号) in the week.
    pub verified: i64,
    /// Hazards of the institution (any week) in rectification past their deadline.
    pub overdue: i64,
    /// Incident reports the server first received in the week.
    pub incidents: i64,
}

/// One filing of an institution's weekly report to the province 报省厅. Every filing is
/// kept; the first one's receipt judges lateness.
#[derive(Debug, Clone, Serialize)]
pub struct InstitutionFiling {
    /// Order of filing (assigned by the database; ignored when adding).
    pub seq: i64,
    pub institution: String,
    pub week: String,
    /// When the server received this filing (UTC, RFC 3339).
    pub received_at: String,
    pub by_user: String,
    pub by_name: String,
    pub all_clear: bool,
    pub summary: String,
    /// What was sent, as JSON: the figures and the departments' statuses at filing time.
    pub snapshot: String,
}

/// An institution's week as the province's grid sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InstitutionReceipt {
    pub institution: String,
    pub week: String,
    /// The first filing's receipt time: lateness is judged on it.
    pub first_received_at: String,
    /// The latest filing's all-clear.
    pub all_clear: bool,
    pub filings: i64,
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Notices of committed documents, so waiters (the dashboard's incident stream) wake
    /// on a change instead of polling. SQLite: this process's commits (it is the only
    /// writer). PostgreSQL: every replica's, by NOTIFY/LISTEN. Best effort: a notice can
    /// be late or lost (a dropped listening connection), so waiters still poll, rarely.
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<ChangeNotice>;
    /// Waits until this process holds the lock `which` among the processes sharing the
    /// database (see `LockFor`), and holds it until the returned guard is dropped.
    async fn lock(&self, which: LockFor) -> Result<HeldLock>;
    /// A position the database keeps for the server's own bookkeeping (in `meta`), e.g.
    /// the webhook's cursor.
    async fn position(&self, key: &str) -> Result<Option<i64>>;
    /// Moves the position `key` to `value` if that is further (or sets it, if unset): a
    /// process that lost its turn cannot move it back.
    async fn advance_position(&self, key: &str, value: i64) -> Result<()>;
    /// An id of this database's history: changes when the data is restored from a backup.
    async fn epoch(&self) -> Result<String>;
    /// Whether this database was ever restored from a backup: changes it lost may come
    /// back relayed by devices other than their authors' (see `sync::merge_one`).
    async fn restored(&self) -> Result<bool>;
    /// A consistent copy of everything, taken while the server runs, at `to` (a new file).
    /// The copy is marked as a backup, so it gets a new epoch when put back in place.
    async fn backup(&self, to: std::path::PathBuf) -> Result<()>;
    /// The actors bound to the institution's devices (phones and dashboard users).
    async fn institution_actors(&self, institution: InstitutionId) -> Result<Vec<Vec<u8>>>;

    // accounts
    /// `created_at` (RFC 3339) is the server's clock at the setup: records claiming an
    /// earlier time are refused (`policy::MAX_BEFORE_SETUP`).
    async fn create_institution(
        &self,
        id: InstitutionId,
        name: &str,
        created_at: &str,
    ) -> Result<()>;
    /// When the institution was set up (RFC 3339), if it exists.
    async fn institution_created_at(&self, id: InstitutionId) -> Result<Option<String>>;
    async fn institutions(&self) -> Result<Vec<(InstitutionId, String)>>;
    async fn create_department(&self, d: &Department) -> Result<()>;
    async fn departments(&self, institution: InstitutionId) -> Result<Vec<Department>>;
    async fn create_site(&self, s: &Site) -> Result<()>;
    async fn sites(&self, institution: InstitutionId) -> Result<Vec<Site>>;
    async fn create_user(&self, u: &User) -> Result<()>;
    async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool>;
    async fn user_by_login(&self, login: &str) -> Result<Option<User>>;
    async fn users(&self, institution: InstitutionId) -> Result<Vec<User>>;
    async fn user_count(&self) -> Result<i64>;
    async fn enroll_device(&self, d: &NewDevice) -> Result<()>;
    async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>>;
    async fn devices(&self, institution: InstitutionId) -> Result<Vec<DeviceInfo>>;
    async fn revoke_device(&self, institution: Option<InstitutionId>, id: &str) -> Result<bool>;
    async fn touch_device(&self, id: &str) -> Result<()>;

    // documents and feed
    async fn load_documents(
        &self,
        institution: InstitutionId,
        ids: Vec<DocId>,
    ) -> Result<HashMap<DocId, StoredDoc>>;
    /// Commits every non-stale document in one transaction; returns the stale ones.
    async fn commit(&self, commits: Vec<DocCommit>) -> Result<Vec<DocId>>;
    async fn feed(
        &self,
        institution: InstitutionId,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> Result<FeedPage>;

    // photos (bytes in files; this records which institution holds which)
    /// A photo arrived whole from `uploaded_by` (a device or a user id); not referenced
    /// by any document yet.
    async fn record_blob(
        &self,
        institution: InstitutionId,
        hash: &str,
        size: u64,
        content_type: &str,
        uploaded_by: &str,
    ) -> Result<()>;
    /// The blob's size and type, if this institution holds it.
    async fn blob(&self, institution: InstitutionId, hash: &str) -> Result<Option<(u64, String)>>;
    /// A document of the institution references the photo: it is kept for good. False
    /// when the institution does not hold it.
    async fn reference_blob(&self, institution: InstitutionId, hash: &str) -> Result<bool>;
    /// Bytes of photos no document references yet: uploaded by `uploaded_by`, and in the
    /// whole institution.
    async fn unreferenced_blob_bytes(
        &self,
        institution: InstitutionId,
        uploaded_by: &str,
    ) -> Result<(u64, u64)>;
    /// Forgets the photos still unreferenced that arrived before `received_before` (RFC
    /// 3339); the hashes no institution holds any more, whose files may go.
    async fn expire_blobs(&self, received_before: &str) -> Result<Vec<String>>;

    // ledger
    async fn hazards(&self, q: &HazardQuery) -> Result<(Vec<HazardRow>, i64)>;
    async fn hazard(
        &self,
        institution: Option<InstitutionId>,
        id: DocId,
    ) -> Result<Option<HazardDetail>>;
    async fn counts(&self, institution: Option<InstitutionId>) -> Result<Counts>;
    /// Inspections, newest first: (rows, total).
    async fn inspections(
        &self,
        institution: Option<InstitutionId>,
        site: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<crate::ledger::InspectionRow>, i64)>;
    /// Rebuilds every ledger row from the documents; returns how many documents.
    async fn rebuild_ledger(&self) -> Result<usize>;
    /// Every ledger table, ordered, as text: equal dumps mean equal ledgers.
    async fn ledger_dump(&self) -> Result<String>;

    // web dashboard
    async fn create_session(
        &self,
        token_hash: [u8; 32],
        user: UserId,
        csrf: &str,
        expires_at: &str,
    ) -> Result<()>;
    /// The session's user if the session exists, has not expired (`now`, RFC 3339 UTC)
    /// and the user is active.
    async fn session(&self, token_hash: [u8; 32], now: &str) -> Result<Option<WebSession>>;
    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn set_user_active(
        &self,
        institution: InstitutionId,
        id: UserId,
        active: bool,
    ) -> Result<bool>;
    /// Sets a user's roles and department (an administrator's edit); false if no such
    /// user in `institution`. Their sessions and devices read the roles afresh.
    async fn set_user_roles(
        &self,
        institution: InstitutionId,
        id: UserId,
        roles: &[Role],
        department: Option<DepartmentId>,
    ) -> Result<bool>;
    /// The device the server writes this user's dashboard actions with, in `institution`.
    async fn web_device(
        &self,
        user: UserId,
        institution: InstitutionId,
    ) -> Result<Option<DeviceAuth>>;
    /// Registers `d` as the user's dashboard device in its institution (replacing a revoked one).
    async fn set_web_device(&self, d: &NewDevice) -> Result<()>;
    /// Counts one password attempt for each key: a key's window starts again when it
    /// began before `window_from` (then its delay is gone too). Expired rows are removed.
    /// Every key's state after counting, in the order given.
    async fn count_attempts(
        &self,
        keys: &[String],
        now: i64,
        window_from: i64,
    ) -> Result<Vec<Attempts>>;
    /// The user must choose a new password before anything else (cleared by
    /// `set_password`).
    async fn set_password_due(&self, user: UserId) -> Result<()>;
    async fn password_due(&self, user: UserId) -> Result<bool>;
    /// The key's attempts in its window, without counting one.
    async fn attempts_of(&self, key: &str) -> Result<Option<Attempts>>;
    /// The key's next attempt waits until `not_before` (Unix seconds).
    async fn delay_attempts(&self, key: &str, not_before: i64) -> Result<()>;
    /// Forgets the key's attempts (a login that succeeded).
    async fn clear_attempts(&self, key: &str) -> Result<()>;
    async fn audit(
        &self,
        institution: Option<InstitutionId>,
        user: Option<&User>,
        login: &str,
        action: &str,
        detail: &str,
    ) -> Result<()>;
    /// Newest first; only entries of `about.action` whose detail starts with
    /// `about.detail_prefix`, where given.
    async fn audit_log(
        &self,
        institution: Option<InstitutionId>,
        about: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Reports of `kind` (weekly_report | incident_report), with server receipt times;
    /// only those first received after feed position `after_seq`, in `order` of receipt.
    /// Followers of new reports (the incident stream, the webhook) page `OldestFirst`, so
    /// a burst longer than one page is taken in turn, not skipped.
    async fn reports(
        &self,
        institution: Option<InstitutionId>,
        kind: &str,
        after_seq: i64,
        limit: u32,
        order: ReportOrder,
    ) -> Result<Vec<ReportReceipt>>;

    // the safety office
    /// The institution's time zone: (UTC offset in minutes, IANA name).
    async fn institution_tz(&self, institution: InstitutionId) -> Result<Option<(i32, String)>>;
    async fn set_institution_tz(
        &self,
        institution: InstitutionId,
        offset_minutes: i32,
        name: &str,
    ) -> Result<bool>;
    /// Creates the campaign, or replaces it (same id, same institution).
    async fn save_campaign(&self, c: &Campaign) -> Result<()>;
    /// Oldest first.
    async fn campaigns(&self, institution: InstitutionId) -> Result<Vec<Campaign>>;
    /// The campaign's grouped counts; `today` (local date) judges overdue.
    async fn campaign_figures(
        &self,
        institution: InstitutionId,
        scope: &CampaignScope,
        today: &str,
    ) -> Result<(Vec<HazardFigure>, Vec<InspectionFigure>)>;
    async fn add_duty_slot(&self, s: &DutySlot) -> Result<()>;
    /// Slots overlapping [from, before), by start.
    async fn duty_slots(
        &self,
        institution: InstitutionId,
        from: &str,
        before: &str,
    ) -> Result<Vec<DutySlot>>;
    /// Replaces the times and people of the slot `s.id` of `s.institution`; false if that
    /// institution has no such slot.
    async fn update_duty_slot(&self, s: &DutySlot) -> Result<bool>;
    async fn delete_duty_slot(&self, institution: InstitutionId, id: &str) -> Result<bool>;
    async fn add_holiday(&self, h: &Holiday) -> Result<()>;
    async fn holidays(&self, institution: InstitutionId) -> Result<Vec<Holiday>>;
    async fn delete_holiday(&self, institution: InstitutionId, id: &str) -> Result<bool>;
    /// Publishes a template version; an existing (id, version) is a `Conflict`.
    async fn add_template(
        &self,
        institution: InstitutionId,
        t: &saferound_core::model::templates::Template,
        by: UserId,
    ) -> Result<()>;
    /// Every version of every template of the institution.
    async fn templates(
        &self,
        institution: InstitutionId,
    ) -> Result<Vec<saferound_core::model::templates::Template>>;

    // -----------------------------------------------------------------------------------
    // The institution's weekly report to the province (issue 5). Kept together at the
    // end of the trait.

    /// The ledger's figures of the week (grouped in SQL over indexed ranges).
    async fn week_figures(
        &self,
        institution: InstitutionId,
        range: &WeekRange,
    ) -> Result<WeekFigures>;
    /// The departments' weekly reports for `week` with their receipt times.
    async fn week_reports(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<ReportReceipt>>;
    /// Records a filing (its `seq` is assigned); returns the seq.
    async fn add_institution_filing(&self, f: &InstitutionFiling) -> Result<i64>;
    /// Every filing of the institution for `week`, oldest first.
    async fn institution_filings(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<InstitutionFiling>>;
    /// Every institution's filed weeks in [from_week, to_week] (`2026-W09` text order).
    async fn institution_receipts(
        &self,
        from_week: &str,
        to_week: &str,
    ) -> Result<Vec<InstitutionReceipt>>;
}
