//! One storage test suite, run against every backend: each test is an async fn taking
//! an `Arc<Store>`, and `storage_tests!` instantiates it for SQLite (a temporary
//! file) and for PostgreSQL (a fresh database per test, so tests run in parallel).
//!
//! PostgreSQL comes from `SAFEROUND_TEST_PG` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`; `scripts/with-postgres.sh` starts a
//! throwaway server and sets it). Unset, the PostgreSQL tests print a skip notice and
//! pass — unless `SAFEROUND_REQUIRE_PG=1` (CI), when they fail.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::{ActorId, AutoCommit, ChangeHash, ROOT, ReadDoc, transaction::Transactable};
use saferound_core::doc::hazard::{self, NewHazard};
use saferound_core::doc::{PersonRef, SiteRef};
use saferound_core::ids::{
    CampaignId, DepartmentId, DocId, InstitutionId, SiteId, Timestamp, UserId,
};
use saferound_core::model::{HazardCategory, RiskGrade, Role, SiteKind};
use saferound_core::sync::wire::heads_to_bytes;
use saferound_server::ledger::{EventRow, HazardRow, LedgerRows, ReportRow};
use saferound_server::store::scratch;
use saferound_server::store::*;

mod accounts;
mod commits;
mod ledger;
mod postgres;
mod schema;

// ---------------------------------------------------------------------------------------
// Backends

struct Backend {
    storage: Arc<Store>,
    /// (admin URL, database name) to drop at the end.
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    async fn finish(self) {
        let Backend { storage, pg, _dir } = self;
        drop(storage);
        if let Some((admin, db)) = pg {
            scratch::drop_database(&admin, &db)
                .await
                .expect("drop the test database");
        }
    }
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_sqlite(dir.path().join("server.db")).unwrap();
    Backend {
        storage: Arc::new(s),
        pg: None,
        _dir: Some(dir),
    }
}

/// The admin URL, or `None` (skip) when unset and not required.
fn pg_admin_url() -> Option<String> {
    let url = scratch::admin_url_from_env().unwrap_or_else(|e| panic!("{e}"));
    if url.is_none() {
        eprintln!("skipped: {} unset", scratch::TEST_PG_ENV);
    }
    url
}

async fn postgres() -> Option<Backend> {
    let admin = pg_admin_url()?;
    let db = scratch::create_database(&admin, "sr_test")
        .await
        .expect("create a test database");
    let s = Store::connect_postgres(&scratch::with_database(&admin, &db))
        .await
        .expect("connect and migrate");
    Some(Backend {
        storage: Arc::new(s),
        pg: Some((admin, db)),
        _dir: None,
    })
}

macro_rules! storage_tests {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let b = super::sqlite();
                    super::$module::$name(b.storage.clone()).await;
                    b.finish().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(b) = super::postgres().await else { return };
                    super::$module::$name(b.storage.clone()).await;
                    b.finish().await;
                }
            )*
        }
    };
}

storage_tests!(
    commits::commit_is_atomic_with_ledger_and_reports_stale_documents,
    commits::compare_and_swap_refuses_wrong_expectations,
    commits::feed_pages_by_bytes_and_rows_and_skips_own_actor,
    commits::reapplying_the_same_changes_adds_no_feed_rows,
    commits::concurrent_writers_on_one_document,
    commits::feed_readers_never_skip_a_change,
    accounts::accounts_devices_sessions_audit_round_trip,
    accounts::office_campaigns_duty_templates_round_trip,
    ledger::hazard_queries_filter_and_page,
    ledger::ledger_dump_is_equal_after_rebuild,
    ledger::hazards_are_numbered_in_order_of_receipt,
    commits::commits_are_announced_to_subscribers,
    ledger::institution_weekly_report_figures_and_filings,
    commits::positions_only_move_forward,
    accounts::password_attempts_count_in_windows_and_clear,
    schema::every_named_statement_prepares,
);

// ---------------------------------------------------------------------------------------
// Documents and commits

/// A document as a device would hold it, with the heads the server last stored.
struct TestDoc {
    inst: InstitutionId,
    id: DocId,
    kind: String,
    doc: AutoCommit,
    /// The server's heads (`None`: not stored yet) and the same as hashes.
    stored: Option<Vec<u8>>,
    stored_at: Vec<ChangeHash>,
}

impl TestDoc {
    /// A plain document (no ledger rows) with one change by `actor`.
    fn plain(inst: InstitutionId, actor: &ActorId) -> Self {
        let mut doc = AutoCommit::new().with_actor(actor.clone());
        doc.put(ROOT, "n", -1i64).unwrap();
        doc.commit();
        TestDoc {
            inst,
            id: DocId::new(),
            kind: "test".into(),
            doc,
            stored: None,
            stored_at: Vec::new(),
        }
    }

    /// A real hazard document, reported by `actor`.
    fn hazard(inst: InstitutionId, actor: &ActorId, site: &str, risk: RiskGrade) -> Self {
        let id = DocId::new();
        let mut doc = AutoCommit::new().with_actor(actor.clone());
        hazard::create(
            &mut doc,
            &NewHazard {
                id,
                institution: inst,
                campaign: None,
                inspection: None,
                site: SiteRef {
                    id: saferound_core::demo::site(site),
                    name: site.into(),
                    kind: SiteKind::Dorm,
                },
                category: HazardCategory::FireSafety,
                risk,
                location: "3楼走廊".into(),
                description: format!("{site}: 疏散通道堵塞\tand a tab"),
                photos: Vec::new(),
            },
            &PersonRef {
                user_id: saferound_core::demo::user("inspector"),
                name: "王磊".into(),
            },
            Timestamp("2026-03-02T09:00:00Z".parse().unwrap()),
        )
        .unwrap();
        doc.commit();
        TestDoc {
            inst,
            id,
            kind: "hazard".into(),
            doc,
            stored: None,
            stored_at: Vec::new(),
        }
    }

    /// One more change by this document's actor.
    fn edit(&mut self, n: i64) {
        self.doc.put(ROOT, "n", n).unwrap();
        self.doc.commit();
    }

    fn ledger(&mut self) -> LedgerRows {
        if self.kind == "hazard" {
            saferound_server::ledger::derive(&mut self.doc, None).unwrap()
        } else {
            LedgerRows::default()
        }
    }

    /// The commit of everything since the stored heads (not yet accepted).
    fn commit(&mut self, snapshot: bool) -> DocCommit {
        let changes: Vec<NewChange> = self
            .doc
            .get_changes(&self.stored_at)
            .iter()
            .map(NewChange::from)
            .collect();
        let save = self.doc.save();
        DocCommit {
            institution: self.inst,
            id: self.id,
            kind: self.kind.clone(),
            expected_heads: self.stored.clone(),
            new_heads: heads_to_bytes(&self.doc.get_heads()),
            changes,
            bytes: save.len(),
            snapshot: snapshot.then_some(save),
            ledger: self.ledger(),
        }
    }

    /// The server took the last commit.
    fn accepted(&mut self) {
        self.stored_at = self.doc.get_heads();
        self.stored = Some(heads_to_bytes(&self.stored_at));
    }

    /// A copy under another actor (another device editing the same document).
    fn fork(&mut self, actor: &ActorId) -> TestDoc {
        TestDoc {
            inst: self.inst,
            id: self.id,
            kind: self.kind.clone(),
            doc: self.doc.fork().with_actor(actor.clone()),
            stored: self.stored.clone(),
            stored_at: self.stored_at.clone(),
        }
    }
}

/// A department 后勤 of `inst` with one site 食堂 of `kind`.
async fn department_with_site(
    s: &Store,
    inst: InstitutionId,
    kind: SiteKind,
) -> (DepartmentId, SiteId) {
    let dept = DepartmentId::new();
    s.create_department(&Department {
        id: dept,
        institution: inst,
        name: "后勤".into(),
    })
    .await
    .unwrap();
    let site = SiteId::new();
    s.create_site(&Site {
        id: site,
        institution: inst,
        department: dept,
        name: "食堂".into(),
        kind,
        building: String::new(),
        floor_room: String::new(),
    })
    .await
    .unwrap();
    (dept, site)
}

async fn commit_ok(s: &Store, commits: Vec<DocCommit>) {
    let stale = s.commit(commits).await.unwrap();
    assert!(stale.is_empty(), "stale: {stale:?}");
}

/// Every feed item of the institution after `after` (nobody's changes skipped).
async fn whole_feed(s: &Store, inst: InstitutionId, after: u64) -> Vec<FeedItem> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = s.feed(inst, cursor, vec![0xEE; 16], 1 << 30).await.unwrap();
        out.extend(page.items);
        cursor = page.cursor;
        if !page.more {
            return out;
        }
    }
}

async fn stored_heads(s: &Store, inst: InstitutionId, id: DocId) -> Option<Vec<u8>> {
    s.load_documents(inst, vec![id])
        .await
        .unwrap()
        .remove(&id)
        .map(|d| d.heads)
}

fn hazard_row(id: DocId) -> HazardRow {
    HazardRow {
        id: id.to_string(),
        campaign: None,
        inspection: None,
        site_id: "site-a".into(),
        site_name: "1号学生公寓".into(),
        site_kind: "dorm".into(),
        category: "fire_safety".into(),
        risk: "general".into(),
        risk_rank: 1,
        hazard_grade: "general".into(),
        status: Some("reported".into()),
        supervised: false,
        location: "2楼".into(),
        description: "灭火器压力不足".into(),
        reported_by: "u1".into(),
        reported_by_name: "王磊".into(),
        reported_at: "2026-03-02T01:00:00.000Z".into(),
        measure: String::new(),
        funds: String::new(),
        responsible: None,
        responsible_name: None,
        deadline: None,
        contingency: String::new(),
        reinspector: None,
        reinspector_name: None,
        rectified_at: None,
        verified_at: None,
        verification_note: None,
        conflicts: 0,
        serial: None,
        department_name: None,
    }
}

/// Commits a plain document carrying the given ledger rows (the storage does not derive
/// them, so queries can be tested on rows chosen field by field).
async fn commit_rows(s: &Store, inst: InstitutionId, id: DocId, ledger: LedgerRows) {
    let mut d = TestDoc::plain(inst, &ActorId::random());
    d.id = id;
    let mut c = d.commit(false);
    c.ledger = ledger;
    commit_ok(s, vec![c]).await;
}
