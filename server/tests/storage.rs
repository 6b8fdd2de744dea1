//! One storage test suite, run against every backend: each test is an async fn taking
//! an `Arc<Store>`, and `storage_tests!` instantiates it for SQLite (a temporary
//! file) and for PostgreSQL (a fresh database per test, so tests run in parallel).
//!
//! PostgreSQL comes from `SAFEROUND_TEST_PG` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`; `scripts/with-postgres.sh` starts a
//! throwaway server and sets it). Unset, the PostgreSQL tests print a skip notice and
//! pass — unless `SAFEROUND_REQUIRE_PG=1` (CI), when they fail.

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
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let b = super::sqlite();
                    super::$name(b.storage.clone()).await;
                    b.finish().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(b) = super::postgres().await else { return };
                    super::$name(b.storage.clone()).await;
                    b.finish().await;
                }
            )*
        }
    };
}

storage_tests!(
    commit_is_atomic_with_ledger_and_reports_stale_documents,
    compare_and_swap_refuses_wrong_expectations,
    feed_pages_by_bytes_and_rows_and_skips_own_actor,
    reapplying_the_same_changes_adds_no_feed_rows,
    concurrent_writers_on_one_document,
    feed_readers_never_skip_a_change,
    accounts_devices_sessions_audit_round_trip,
    office_campaigns_duty_templates_round_trip,
    hazard_queries_filter_and_page,
    ledger_dump_is_equal_after_rebuild,
    commits_are_announced_to_subscribers,
    institution_weekly_report_figures_and_filings,
    positions_only_move_forward,
    password_attempts_count_in_windows_and_clear,
    every_named_statement_prepares,
);

/// Each statement is written once for both databases: every one of them is valid on
/// this one, its tables, columns and (on PostgreSQL) parameter types resolved. What the
/// statements do is the business of the other tests here, which run on both.
async fn every_named_statement_prepares(s: Arc<Store>) {
    let n = s.prepare_statements().await.unwrap();
    assert!(n > 90, "only {n} statements were prepared");
}

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

// ---------------------------------------------------------------------------------------
// Commits and the compare-and-swap

/// The next notice naming an institution (a `None`, "anything may have changed", is
/// allowed in between: PostgreSQL's listener says it when it connects), within 5 s.
async fn next_named_notice(
    rx: &mut tokio::sync::broadcast::Receiver<ChangeNotice>,
) -> InstitutionId {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Some(i))) => return i,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => panic!("notices: {e}"),
            Err(_) => panic!("no notice within 5 s of a commit"),
        }
    }
}

/// A commit is announced to subscribers (PostgreSQL: through NOTIFY and this process's
/// listening connection) with its institution; a stale commit changes nothing and is
/// not announced.
/// The password throttle's counts: one more per attempt within a window, a fresh window
/// (and no delay) once it is over, a delay kept until cleared, expired rows removed.
async fn password_attempts_count_in_windows_and_clear(s: Arc<Store>) {
    let s = s.as_ref();
    let k = vec!["login:owner".to_string(), "addr:127.0.0.1".to_string()];
    let first = s.count_attempts(&k, 1_000, 100).await.unwrap();
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[1].window_start, 1_000);
    let again = s.count_attempts(&k[..1], 1_010, 110).await.unwrap();
    assert_eq!((again[0].attempts, again[0].window_start), (2, 1_000));
    s.delay_attempts(&k[0], 2_000).await.unwrap();
    let seen = s.attempts_of(&k[0]).await.unwrap().unwrap();
    assert_eq!((seen.attempts, seen.not_before), (2, Some(2_000)));
    // Past the window: counted afresh, the delay gone.
    let later = s.count_attempts(&k[..1], 5_000, 4_000).await.unwrap();
    assert_eq!(
        (
            later[0].attempts,
            later[0].window_start,
            later[0].not_before
        ),
        (1, 5_000, None)
    );
    // The address's row, expired, is removed by the next count.
    assert!(s.attempts_of(&k[1]).await.unwrap().is_none());
    s.clear_attempts(&k[0]).await.unwrap();
    assert!(s.attempts_of(&k[0]).await.unwrap().is_none());
}

/// The server's own positions (the webhook's cursor): unset, then only ever further, so a
/// process that lost its turn cannot put one back.
async fn positions_only_move_forward(s: Arc<Store>) {
    let s = s.as_ref();
    assert_eq!(s.position("test_cursor").await.unwrap(), None);
    s.advance_position("test_cursor", 5).await.unwrap();
    assert_eq!(s.position("test_cursor").await.unwrap(), Some(5));
    s.advance_position("test_cursor", 3).await.unwrap();
    assert_eq!(
        s.position("test_cursor").await.unwrap(),
        Some(5),
        "never back"
    );
    s.advance_position("test_cursor", 12).await.unwrap();
    assert_eq!(s.position("test_cursor").await.unwrap(), Some(12));
    assert_eq!(s.position("other").await.unwrap(), None);
}

async fn commits_are_announced_to_subscribers(s: Arc<Store>) {
    let s = s.as_ref();
    let mut rx = s.subscribe_changes();
    let (x, y) = (InstitutionId::new(), InstitutionId::new());
    let device = ActorId::random();
    let mut a = TestDoc::hazard(x, &device, "1号学生公寓", RiskGrade::General);
    commit_ok(s, vec![a.commit(false)]).await;
    a.accepted();
    assert_eq!(next_named_notice(&mut rx).await, x);
    // Stale (expects heads the document no longer has): nothing committed, no notice;
    // the next notice is y's.
    let mut stale = a.fork(&ActorId::random());
    stale.stored = Some(heads_to_bytes(&[]));
    stale.edit(7);
    assert_eq!(
        s.commit(vec![stale.commit(false)]).await.unwrap(),
        vec![a.id]
    );
    let mut b = TestDoc::plain(y, &device);
    commit_ok(s, vec![b.commit(false)]).await;
    assert_eq!(next_named_notice(&mut rx).await, y);
}

async fn commit_is_atomic_with_ledger_and_reports_stale_documents(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let device = ActorId::random();
    let mut a = TestDoc::hazard(inst, &device, "1号学生公寓", RiskGrade::General);
    let mut b = TestDoc::hazard(inst, &device, "2号学生公寓", RiskGrade::Low);
    commit_ok(s, vec![a.commit(false), b.commit(true)]).await;
    a.accepted();
    b.accepted();
    let (rows, total) = s
        .hazards(&HazardQuery {
            institution: Some(inst),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows.len(), 2);
    let detail = s.hazard(Some(inst), a.id).await.unwrap().unwrap();
    assert_eq!(detail.hazard, a.ledger().hazard.unwrap());
    assert_eq!(detail.events.len(), 1, "the reported event");
    // The stored document loads to the same heads.
    let stored = s.load_documents(inst, vec![a.id, b.id]).await.unwrap();
    for d in [&mut a, &mut b] {
        let got = &stored[&d.id];
        assert_eq!(Some(&got.heads), d.stored.as_ref());
        let mut loaded = AutoCommit::load(&got.bytes).unwrap();
        assert_eq!(loaded.get_heads(), d.doc.get_heads());
        assert_eq!(got.kind, "hazard");
    }

    // Another device changes b first: this device's change to b is now stale, while its
    // change to a and its new document c go through in the same commit.
    let mut b2 = b.fork(&ActorId::random());
    hazard::set_risk(&mut b2.doc, RiskGrade::Significant).unwrap();
    b2.doc.commit();
    commit_ok(s, vec![b2.commit(false)]).await;
    b2.accepted();
    hazard::set_risk(&mut a.doc, RiskGrade::Major).unwrap();
    a.doc.commit();
    hazard::set_risk(&mut b.doc, RiskGrade::Major).unwrap();
    b.doc.commit();
    let mut c = TestDoc::hazard(inst, &device, "3号学生公寓", RiskGrade::General);
    let before = whole_feed(s, inst, 0).await.len();
    let stale = s
        .commit(vec![a.commit(true), b.commit(false), c.commit(false)])
        .await
        .unwrap();
    assert_eq!(stale, vec![b.id]);
    a.accepted();
    c.accepted();
    let risk = |id| async move {
        s.hazard(Some(inst), id)
            .await
            .unwrap()
            .map(|d| d.hazard.risk)
    };
    assert_eq!(risk(a.id).await.as_deref(), Some("major"));
    assert_eq!(risk(b.id).await.as_deref(), Some("significant"), "b2's");
    assert_eq!(risk(c.id).await.as_deref(), Some("general"));
    assert_eq!(stored_heads(s, inst, b.id).await, b2.stored);
    // a: one new change, c: its first; nothing of the stale b.
    let feed = whole_feed(s, inst, 0).await;
    assert_eq!(feed.len(), before + 2);
    assert!(feed[before..].iter().all(|f| f.doc_id != b.id));
    // A snapshot and the changes after it still load as the whole document.
    let stored = s.load_documents(inst, vec![a.id]).await.unwrap();
    let mut loaded = AutoCommit::load(&stored[&a.id].bytes).unwrap();
    assert_eq!(loaded.get_heads(), a.doc.get_heads());
    assert_eq!(
        stored[&a.id].changes_after_snapshot, 0,
        "snapshot covers all"
    );
}

async fn compare_and_swap_refuses_wrong_expectations(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let actor = ActorId::random();
    let mut d = TestDoc::plain(inst, &actor);
    commit_ok(s, vec![d.commit(false)]).await;
    d.accepted();
    // "Must not exist yet", but it does.
    let mut again = TestDoc::plain(inst, &actor);
    again.id = d.id;
    assert_eq!(
        s.commit(vec![again.commit(false)]).await.unwrap(),
        vec![d.id]
    );
    // Expected heads for a document that does not exist.
    let mut ghost = TestDoc::plain(inst, &actor);
    ghost.stored = Some(vec![1; 32]);
    assert_eq!(
        s.commit(vec![ghost.commit(false)]).await.unwrap(),
        vec![ghost.id]
    );
    assert!(stored_heads(s, inst, ghost.id).await.is_none());
    // Wrong heads; then the right ones.
    d.edit(1);
    let mut wrong = d.commit(false);
    wrong.expected_heads = Some(vec![9; 32]);
    assert_eq!(s.commit(vec![wrong]).await.unwrap(), vec![d.id]);
    commit_ok(s, vec![d.commit(false)]).await;
    d.accepted();
    assert_eq!(stored_heads(s, inst, d.id).await, d.stored);
    // The same id in another institution is another document.
    let mut other = TestDoc::plain(InstitutionId::new(), &actor);
    other.id = d.id;
    commit_ok(s, vec![other.commit(false)]).await;
    assert_eq!(whole_feed(s, inst, 0).await.len(), 2);
}

// ---------------------------------------------------------------------------------------
// The change feed

/// `FEED_PAGE_ROWS` of the storage.
const PAGE_ROWS: usize = 2000;

async fn feed_pages_by_bytes_and_rows_and_skips_own_actor(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let (mine, theirs) = (ActorId::random(), ActorId::random());
    let mut x = TestDoc::plain(inst, &theirs);
    let mut y = TestDoc::plain(inst, &mine);
    // x: 30 changes of theirs, y: 10 of mine, interleaved; mine last.
    let step = |d: &mut TestDoc, n: i64| {
        for i in 0..n {
            d.edit(i);
        }
        let c = d.commit(false);
        d.accepted();
        c
    };
    commit_ok(s, vec![step(&mut x, 9)]).await;
    commit_ok(s, vec![step(&mut y, 4)]).await;
    commit_ok(s, vec![step(&mut x, 20)]).await;
    commit_ok(s, vec![step(&mut y, 5)]).await;
    let all = whole_feed(s, inst, 0).await;
    assert_eq!(all.len(), 40);
    let newest = all.last().unwrap().seq;
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

    // Theirs only, and the cursor past my own changes at the end.
    let page = s
        .feed(inst, 0, mine.to_bytes().to_vec(), 1 << 30)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 30);
    assert!(
        page.items
            .iter()
            .all(|i| i.doc_id == x.id && i.kind == "test")
    );
    assert!(!page.more);
    assert_eq!(page.cursor, newest);
    // Nothing after the end; the cursor stays.
    let page = s.feed(inst, newest, Vec::new(), 1 << 30).await.unwrap();
    assert!(page.items.is_empty() && !page.more);
    assert_eq!(page.cursor, newest);
    // Only my changes after x's last one: skipped in the query, cursor moves past them.
    let last_x = all.iter().rfind(|i| i.doc_id == x.id).unwrap().seq;
    let page = s
        .feed(inst, last_x, mine.to_bytes().to_vec(), 1 << 30)
        .await
        .unwrap();
    assert!(page.items.is_empty() && !page.more);
    assert_eq!(page.cursor, newest);

    // The byte budget: pages of whole changes within it (at least one change a page).
    let size = all[0].bytes.len();
    let budget = size * 3 + size / 2;
    let (mut cursor, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = s
            .feed(inst, cursor, mine.to_bytes().to_vec(), budget)
            .await
            .unwrap();
        pages += 1;
        assert!(
            page.items.len() == 1
                || page.items.iter().map(|i| i.bytes.len()).sum::<usize>() <= budget
        );
        seen.extend(page.items.iter().map(|i| i.seq));
        assert!(page.cursor > cursor || !page.more);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    let theirs_seqs: Vec<u64> = all
        .iter()
        .filter(|i| i.doc_id == x.id)
        .map(|i| i.seq)
        .collect();
    assert_eq!(seen, theirs_seqs);
    assert!(pages >= 30 / 3, "{pages} pages");
    assert_eq!(cursor, newest);
    let page = s.feed(inst, 0, Vec::new(), 1).await.unwrap();
    assert_eq!(page.items.len(), 1, "one change even over the budget");
    assert!(page.more);

    // The row limit.
    let mut z = TestDoc::plain(inst, &theirs);
    commit_ok(s, vec![step(&mut z, PAGE_ROWS as i64 + 99)]).await;
    let page = s
        .feed(inst, newest, mine.to_bytes().to_vec(), 1 << 30)
        .await
        .unwrap();
    assert_eq!(page.items.len(), PAGE_ROWS);
    assert!(page.more);
    assert_eq!(page.cursor, page.items.last().unwrap().seq);
    let rest = s
        .feed(inst, page.cursor, mine.to_bytes().to_vec(), 1 << 30)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 100);
    assert!(!rest.more);
    // Another institution's feed is its own.
    assert!(whole_feed(s, InstitutionId::new(), 0).await.is_empty());
}

async fn reapplying_the_same_changes_adds_no_feed_rows(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let mut d = TestDoc::plain(inst, &ActorId::random());
    d.edit(1);
    let first = d.commit(false);
    commit_ok(s, vec![first.clone()]).await;
    d.accepted();
    let n = whole_feed(s, inst, 0).await.len();
    assert_eq!(n, 2);
    // The same changes again (a retried request), on the heads they produced.
    let mut again = first.clone();
    again.expected_heads = d.stored.clone();
    commit_ok(s, vec![again.clone()]).await;
    commit_ok(s, vec![again]).await;
    assert_eq!(whole_feed(s, inst, 0).await.len(), n);
    // Old and new changes together: only the new one is added.
    let base = d.stored.clone();
    d.edit(2);
    let mut c = d.commit(true);
    c.changes.extend(first.changes);
    c.expected_heads = base;
    commit_ok(s, vec![c]).await;
    d.accepted();
    let feed = whole_feed(s, inst, 0).await;
    assert_eq!(feed.len(), n + 1);
    let seqs: HashSet<u64> = feed.iter().map(|f| f.seq).collect();
    assert_eq!(seqs.len(), feed.len());
    let mut loaded =
        AutoCommit::load(&s.load_documents(inst, vec![d.id]).await.unwrap()[&d.id].bytes).unwrap();
    assert_eq!(loaded.get_heads(), d.doc.get_heads());
}

async fn concurrent_writers_on_one_document(s: Arc<Store>) {
    const WRITERS: usize = 6;
    const ROUNDS: usize = 6;
    const EACH: usize = 4;
    let inst = InstitutionId::new();
    let mut genesis = TestDoc::plain(inst, &ActorId::random());
    commit_ok(s.as_ref(), vec![genesis.commit(false)]).await;
    let id = genesis.id;
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let wins = Arc::new(std::sync::Mutex::new(vec![0usize; ROUNDS]));
    // One writer's step: loads the document, changes it under its own actor, and makes
    // the commit on the heads it loaded.
    async fn prepare(
        s: &Store,
        inst: InstitutionId,
        id: DocId,
        actor: &ActorId,
        n: i64,
        snapshot: bool,
    ) -> DocCommit {
        let stored = s
            .load_documents(inst, vec![id])
            .await
            .unwrap()
            .remove(&id)
            .unwrap();
        let mut doc = AutoCommit::load(&stored.bytes)
            .unwrap()
            .with_actor(actor.clone());
        let before = doc.get_heads();
        assert_eq!(
            heads_to_bytes(&before),
            stored.heads,
            "a loaded document is of one moment"
        );
        doc.put(ROOT, format!("k{n}"), n).unwrap();
        doc.commit();
        let changes = doc
            .get_changes(&before)
            .iter()
            .map(NewChange::from)
            .collect();
        let save = doc.save();
        DocCommit {
            institution: inst,
            id,
            kind: "test".into(),
            expected_heads: Some(stored.heads),
            new_heads: heads_to_bytes(&doc.get_heads()),
            changes,
            bytes: save.len(),
            snapshot: snapshot.then_some(save),
            ledger: LedgerRows::default(),
        }
    }
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (s, barrier, wins) = (s.clone(), barrier.clone(), wins.clone());
            tokio::spawn(async move {
                let actor = ActorId::random();
                // Rounds: everyone loads the same heads, then everyone commits on them.
                for r in 0..ROUNDS {
                    barrier.wait().await;
                    let n = (r * 100 + w) as i64;
                    let c = prepare(s.as_ref(), inst, id, &actor, n, r % 2 == 1).await;
                    barrier.wait().await;
                    if s.commit(vec![c]).await.unwrap().is_empty() {
                        wins.lock().unwrap()[r] += 1;
                    }
                }
                barrier.wait().await;
                // Then each keeps trying until its changes are in: none may be lost.
                for k in 0..EACH {
                    let mut tries = 0;
                    loop {
                        let n = (10_000 + w * 100 + k) as i64;
                        let c = prepare(s.as_ref(), inst, id, &actor, n, k == 2).await;
                        if s.commit(vec![c]).await.unwrap().is_empty() {
                            break;
                        }
                        tries += 1;
                        assert!(tries < 500, "writer {w} never got through");
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Exactly one winner per round: everyone committed on the same heads.
    let wins = wins.lock().unwrap().clone();
    assert_eq!(wins, vec![1; ROUNDS]);
    let won = ROUNDS;
    let expected = 1 + won + WRITERS * EACH;
    let feed = whole_feed(s.as_ref(), inst, 0).await;
    assert_eq!(feed.len(), expected);
    assert!(
        feed.windows(2).all(|w| w[0].seq < w[1].seq),
        "strictly increasing"
    );
    let stored = s
        .load_documents(inst, vec![id])
        .await
        .unwrap()
        .remove(&id)
        .unwrap();
    let mut doc = AutoCommit::load(&stored.bytes).unwrap();
    assert_eq!(doc.get_changes(&[]).len(), expected, "nothing lost");
    for w in 0..WRITERS {
        for k in 0..EACH {
            let key = format!("k{}", 10_000 + w * 100 + k);
            assert!(doc.get(ROOT, &key).unwrap().is_some(), "{key} lost");
        }
    }
}

async fn feed_readers_never_skip_a_change(s: Arc<Store>) {
    const WRITERS: usize = 4;
    const COMMITS: usize = 20;
    const READERS: usize = 3;
    let inst = InstitutionId::new();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (s, done) = (s.clone(), done.clone());
            tokio::spawn(async move {
                let (mut cursor, mut seen) = (0u64, Vec::<u64>::new());
                loop {
                    // Read whether the writers were done before this poll: a poll that
                    // starts after they finished and finds nothing more is the end.
                    let finished = done.load(Ordering::SeqCst);
                    let page = s.feed(inst, cursor, vec![0xEE; 16], 600).await.unwrap();
                    for i in &page.items {
                        assert!(i.seq > cursor, "a change at or before the cursor");
                        seen.push(i.seq);
                    }
                    assert!(page.cursor >= cursor);
                    cursor = page.cursor;
                    if finished && !page.more {
                        return seen;
                    }
                    if !page.more {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let actor = ActorId::random();
                for _ in 0..COMMITS {
                    // Two new documents a commit, several changes each: transactions of
                    // different lengths, committing in any order.
                    let mut a = TestDoc::plain(inst, &actor);
                    let mut b = TestDoc::plain(inst, &actor);
                    a.edit(1);
                    b.edit(1);
                    b.edit(2);
                    commit_ok(s.as_ref(), vec![a.commit(false), b.commit(true)]).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let all: Vec<u64> = whole_feed(s.as_ref(), inst, 0)
        .await
        .iter()
        .map(|i| i.seq)
        .collect();
    assert_eq!(all.len(), WRITERS * COMMITS * 5);
    for r in readers {
        let seen = r.await.unwrap();
        assert_eq!(
            seen, all,
            "a reader saw every change exactly once, in order"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Accounts, the dashboard, the office

async fn accounts_devices_sessions_audit_round_trip(s: Arc<Store>) {
    let s = s.as_ref();
    assert!(!s.epoch().await.unwrap().is_empty());
    assert_eq!(s.epoch().await.unwrap(), s.epoch().await.unwrap());
    assert!(!s.restored().await.unwrap());
    let inst = InstitutionId::new();
    s.create_institution(inst, "第一中学", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        s.institution_created_at(inst).await.unwrap().as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert!(
        s.institution_created_at(InstitutionId::new())
            .await
            .unwrap()
            .is_none()
    );
    let other = InstitutionId::new();
    s.create_institution(other, "A 第二中学", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let names: Vec<String> = s
        .institutions()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.1)
        .collect();
    assert_eq!(
        names,
        vec!["A 第二中学", "第一中学"],
        "ordered by name, bytewise"
    );
    let dept = DepartmentId::new();
    s.create_department(&Department {
        id: dept,
        institution: inst,
        name: "后勤处".into(),
    })
    .await
    .unwrap();
    assert_eq!(s.departments(inst).await.unwrap()[0].id, dept);
    let site = Site {
        id: SiteId::new(),
        institution: inst,
        department: dept,
        name: "1号学生公寓".into(),
        kind: SiteKind::Dorm,
        building: "1".into(),
        floor_room: "101".into(),
    };
    s.create_site(&site).await.unwrap();
    let sites = s.sites(inst).await.unwrap();
    assert_eq!(
        (sites[0].id, sites[0].kind, sites[0].floor_room.as_str()),
        (site.id, SiteKind::Dorm, "101")
    );

    let user = User {
        id: UserId::new(),
        institution: Some(inst),
        department: Some(dept),
        login: "wang".into(),
        name: "王磊".into(),
        roles: vec![Role::Inspector, Role::SafetyOffice],
        password_hash: "h1".into(),
        active: true,
    };
    s.create_user(&user).await.unwrap();
    // A password due to change stays so until a password is set.
    assert!(!s.password_due(user.id).await.unwrap());
    s.set_password_due(user.id).await.unwrap();
    s.set_password_due(user.id).await.unwrap();
    assert!(s.password_due(user.id).await.unwrap());
    assert!(s.set_password("wang", "h1").await.unwrap());
    assert!(!s.password_due(user.id).await.unwrap());
    let dup = User {
        id: UserId::new(),
        ..user.clone()
    };
    assert!(matches!(
        s.create_user(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    let reviewer = User {
        id: UserId::new(),
        institution: None,
        department: None,
        login: "province".into(),
        name: "省厅".into(),
        roles: vec![Role::Inspector],
        password_hash: "h".into(),
        active: true,
    };
    s.create_user(&reviewer).await.unwrap();
    assert_eq!(s.user_count().await.unwrap(), 2);
    assert!(s.set_password("wang", "h2").await.unwrap());
    assert!(!s.set_password("nobody", "h2").await.unwrap());
    let got = s.user_by_login("wang").await.unwrap().unwrap();
    assert_eq!(
        (got.id, got.password_hash.as_str(), got.roles.clone()),
        (user.id, "h2", user.roles.clone())
    );
    assert_eq!(got.department, Some(dept));
    assert!(
        s.user_by_login("province")
            .await
            .unwrap()
            .unwrap()
            .institution
            .is_none()
    );
    assert_eq!(s.users(inst).await.unwrap().len(), 1);
    assert_eq!(s.user_by_id(user.id).await.unwrap().unwrap().login, "wang");
    assert!(s.user_by_id(UserId::new()).await.unwrap().is_none());

    // Devices.
    let phone = NewDevice {
        id: "dev-1".into(),
        user: user.id,
        institution: inst,
        actor: vec![1; 16],
        token_hash: [7; 32],
        name: "phone".into(),
    };
    s.enroll_device(&phone).await.unwrap();
    let same_actor = NewDevice {
        id: "dev-2".into(),
        token_hash: [8; 32],
        ..phone.clone()
    };
    assert!(matches!(
        s.enroll_device(&same_actor).await,
        Err(StoreError::Conflict(_))
    ));
    let auth = s.device_by_token([7; 32]).await.unwrap().unwrap();
    assert_eq!(
        (
            auth.device_id.as_str(),
            auth.institution,
            auth.actor.clone(),
            auth.user.id
        ),
        ("dev-1", inst, vec![1; 16], user.id)
    );
    assert!(s.device_by_token([9; 32]).await.unwrap().is_none());
    s.touch_device("dev-1").await.unwrap();
    let devices = s.devices(inst).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].last_sync_at.is_some() && devices[0].revoked_at.is_none());
    assert_eq!(
        s.institution_actors(inst).await.unwrap(),
        vec![vec![1u8; 16]]
    );
    assert!(
        !s.revoke_device(Some(other), "dev-1").await.unwrap(),
        "another institution's"
    );
    assert!(s.revoke_device(Some(inst), "dev-1").await.unwrap());
    assert!(
        !s.revoke_device(None, "dev-1").await.unwrap(),
        "already revoked"
    );
    assert!(s.device_by_token([7; 32]).await.unwrap().is_none());

    // The dashboard's device, replaced when revoked.
    assert!(s.web_device(user.id, inst).await.unwrap().is_none());
    let web = NewDevice {
        id: "web-1".into(),
        actor: vec![2; 16],
        token_hash: [2; 32],
        ..phone.clone()
    };
    s.set_web_device(&web).await.unwrap();
    assert_eq!(
        s.web_device(user.id, inst)
            .await
            .unwrap()
            .unwrap()
            .device_id,
        "web-1"
    );
    assert!(s.revoke_device(None, "web-1").await.unwrap());
    assert!(s.web_device(user.id, inst).await.unwrap().is_none());
    let web2 = NewDevice {
        id: "web-2".into(),
        actor: vec![3; 16],
        token_hash: [3; 32],
        ..phone.clone()
    };
    s.set_web_device(&web2).await.unwrap();
    assert_eq!(
        s.web_device(user.id, inst).await.unwrap().unwrap().actor,
        vec![3; 16]
    );

    // Sessions.
    s.create_session([5; 32], user.id, "csrf-1", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    let sess = s
        .session([5; 32], "2026-01-01T00:00:00Z")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sess.csrf.as_str(), sess.user.id), ("csrf-1", user.id));
    assert!(
        s.session([5; 32], "2999-06-01T00:00:00Z")
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    s.delete_session([5; 32]).await.unwrap();
    assert!(
        s.session([5; 32], "2026-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_none()
    );
    s.create_session([6; 32], user.id, "csrf-2", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    assert!(s.set_user_active(inst, user.id, false).await.unwrap());
    assert!(!s.set_user_active(other, user.id, false).await.unwrap());
    assert!(
        s.session([6; 32], "2026-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.web_device(user.id, inst).await.unwrap().is_none(),
        "inactive user"
    );
    assert!(!s.user_by_id(user.id).await.unwrap().unwrap().active);

    // The audit log, newest first, per institution.
    s.audit(Some(inst), Some(&user), "wang", "login", "ok")
        .await
        .unwrap();
    s.audit(None, None, "ghost", "login_failed", "")
        .await
        .unwrap();
    s.audit(Some(inst), Some(&user), "wang", "export", "ledger.csv")
        .await
        .unwrap();
    let log = s
        .audit_log(Some(inst), &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["export", "login"]
    );
    assert_eq!(
        log[0].user_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    let all = s.audit_log(None, &Default::default(), 2).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq > all[1].seq);
    // One action's entries about one thing: the detail starts with its id.
    s.audit(Some(inst), None, "phone", "clock_ahead", "h1: ahead 6 min")
        .await
        .unwrap();
    s.audit(Some(inst), None, "phone", "clock_ahead", "h10: ahead 9 min")
        .await
        .unwrap();
    let about = |action: &str, prefix: &str| saferound_server::store::AuditFilter {
        action: Some(action.into()),
        detail_prefix: Some(prefix.into()),
    };
    let h1 = s
        .audit_log(Some(inst), &about("clock_ahead", "h1:"), 10)
        .await
        .unwrap();
    assert_eq!(h1.len(), 1);
    assert_eq!(h1[0].detail, "h1: ahead 6 min");
    assert!(
        s.audit_log(Some(inst), &about("export", "h1:"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.audit_log(Some(other), &about("clock_ahead", "h1:"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Blobs.
    s.record_blob(inst, "abc", 12, "image/jpeg", "phone")
        .await
        .unwrap();
    s.record_blob(inst, "abc", 12, "image/jpeg", "phone")
        .await
        .unwrap();
    assert_eq!(
        s.blob(inst, "abc").await.unwrap(),
        Some((12, "image/jpeg".into()))
    );
    assert!(s.blob(other, "abc").await.unwrap().is_none());

    // Photos no document references: counted per uploader and per institution, kept once
    // referenced, forgotten once expired; a file goes only when no institution holds it.
    s.record_blob(inst, "def", 30, "image/png", "tablet")
        .await
        .unwrap();
    assert_eq!(
        s.unreferenced_blob_bytes(inst, "phone").await.unwrap(),
        (12, 42)
    );
    assert!(s.reference_blob(inst, "abc").await.unwrap());
    assert!(!s.reference_blob(other, "abc").await.unwrap());
    assert_eq!(
        s.unreferenced_blob_bytes(inst, "phone").await.unwrap(),
        (0, 30)
    );
    assert_eq!(
        s.unreferenced_blob_bytes(other, "phone").await.unwrap(),
        (0, 0)
    );
    s.record_blob(other, "def", 30, "image/png", "x")
        .await
        .unwrap();
    assert!(s.reference_blob(other, "def").await.unwrap());
    assert!(
        s.expire_blobs("2000-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.blob(inst, "def").await.unwrap().is_some(),
        "not old enough"
    );
    assert!(
        s.expire_blobs("9999-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.blob(inst, "def").await.unwrap().is_none(), "expired");
    assert!(s.blob(other, "def").await.unwrap().is_some(), "referenced");
    assert!(s.blob(inst, "abc").await.unwrap().is_some(), "referenced");
    s.record_blob(inst, "ghi", 5, "image/png", "phone")
        .await
        .unwrap();
    assert_eq!(
        s.expire_blobs("9999-01-01T00:00:00Z").await.unwrap(),
        vec!["ghi".to_string()]
    );
}

async fn office_campaigns_duty_templates_round_trip(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let other = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    s.create_institution(other, "二中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        s.institution_tz(inst).await.unwrap(),
        Some((480, "Asia/Shanghai".into()))
    );
    assert!(s.set_institution_tz(inst, -330, "UTC-05:30").await.unwrap());
    assert!(
        !s.set_institution_tz(InstitutionId::new(), 0, "UTC")
            .await
            .unwrap()
    );
    assert_eq!(
        s.institution_tz(inst).await.unwrap(),
        Some((-330, "UTC-05:30".into()))
    );

    let date = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let mut k = Campaign {
        id: CampaignId::new(),
        institution: inst,
        name: "消防安全专项行动".into(),
        starts: date("2026-03-01"),
        ends: date("2026-04-30"),
        summary_due: Some(date("2026-05-10")),
        phases: vec![Phase {
            name_zh: "自查".into(),
            name_en: "Self-check".into(),
            starts: date("2026-03-01"),
            ends: date("2026-03-15"),
        }],
        dept_due: WeeklyDue::DEPARTMENT,
        inst_due: WeeklyDue {
            day: 7,
            minute: 23 * 60 + 59,
        },
    };
    s.save_campaign(&k).await.unwrap();
    k.name = "改名".into();
    k.summary_due = None;
    s.save_campaign(&k).await.unwrap();
    let early = Campaign {
        id: CampaignId::new(),
        starts: date("2026-01-01"),
        ..k.clone()
    };
    s.save_campaign(&early).await.unwrap();
    assert_eq!(
        s.campaigns(inst).await.unwrap(),
        vec![early.clone(), k.clone()]
    );
    let stolen = Campaign {
        institution: other,
        ..k.clone()
    };
    assert!(matches!(
        s.save_campaign(&stolen).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.campaigns(other).await.unwrap().is_empty());

    let slot = |id: &str, a: &str, b: &str| DutySlot {
        id: id.into(),
        institution: inst,
        starts: a.into(),
        ends: b.into(),
        officer: "李".into(),
        officer_phone: "139".into(),
        leader: "张".into(),
        leader_phone: "138".into(),
    };
    s.add_duty_slot(&slot("s2", "2026-05-01T12:00:00Z", "2026-05-02T00:00:00Z"))
        .await
        .unwrap();
    s.add_duty_slot(&slot("s1", "2026-05-01T00:00:00Z", "2026-05-01T12:00:00Z"))
        .await
        .unwrap();
    s.add_duty_slot(&slot("s3", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"))
        .await
        .unwrap();
    let ids = |v: Vec<DutySlot>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .duty_slots(inst, "2026-05-01T06:00:00Z", "2026-05-03T00:00:00Z")
            .await
            .unwrap()),
        vec!["s1", "s2"]
    );
    // Editing: s3 moves into May and changes hands; another institution cannot touch it.
    let mut moved = slot("s3", "2026-05-02T00:00:00Z", "2026-05-02T12:00:00Z");
    moved.officer = "王".into();
    assert!(s.update_duty_slot(&moved).await.unwrap());
    assert!(
        !s.update_duty_slot(&DutySlot {
            institution: other,
            ..moved.clone()
        })
        .await
        .unwrap()
    );
    assert!(
        !s.update_duty_slot(&slot(
            "nope",
            "2026-05-02T00:00:00Z",
            "2026-05-02T12:00:00Z"
        ))
        .await
        .unwrap()
    );
    let may = s
        .duty_slots(inst, "2026-05-01T06:00:00Z", "2026-05-03T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(ids(may.clone()), vec!["s1", "s2", "s3"]);
    assert_eq!(may[2], moved);
    moved.starts = "2026-06-01T00:00:00Z".into();
    moved.ends = "2026-06-02T00:00:00Z".into();
    assert!(s.update_duty_slot(&moved).await.unwrap());
    assert!(s.delete_duty_slot(inst, "s1").await.unwrap());
    assert!(!s.delete_duty_slot(other, "s2").await.unwrap());
    assert_eq!(
        ids(s
            .duty_slots(inst, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
            .await
            .unwrap()),
        vec!["s2", "s3"]
    );

    let h = Holiday {
        id: "h1".into(),
        institution: inst,
        name: "劳动节".into(),
        starts: date("2026-05-01"),
        ends: date("2026-05-05"),
    };
    s.add_holiday(&h).await.unwrap();
    let got = s.holidays(inst).await.unwrap();
    assert_eq!(
        (got[0].name.as_str(), got[0].ends),
        ("劳动节", date("2026-05-05"))
    );
    assert!(s.delete_holiday(inst, "h1").await.unwrap());
    assert!(s.holidays(inst).await.unwrap().is_empty());

    let t = saferound_core::model::templates::Template {
        id: "lab-check".into(),
        version: 1,
        site_kind: SiteKind::Dorm,
        title_zh: "检查".into(),
        title_en: "Check".into(),
        items: vec![saferound_core::model::templates::TemplateItem {
            code: "A1".into(),
            text_zh: "通道畅通".into(),
            text_en: "Exits clear".into(),
            category: HazardCategory::FireSafety,
            suggested_risk: RiskGrade::Significant,
        }],
        builtin: false,
    };
    let by = UserId::new();
    s.add_template(inst, &t, by).await.unwrap();
    assert!(matches!(
        s.add_template(inst, &t, by).await,
        Err(StoreError::Conflict(_))
    ));
    let t2 = saferound_core::model::templates::Template {
        version: 2,
        ..t.clone()
    };
    s.add_template(inst, &t2, by).await.unwrap();
    assert_eq!(s.templates(inst).await.unwrap(), vec![t, t2]);
    assert!(s.templates(other).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// The ledger

async fn hazard_queries_filter_and_page(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let (dept, site) = department_with_site(s, inst, SiteKind::Dorm).await;
    let campaign = CampaignId::new().to_string();
    let mut ids = Vec::new();
    // 12 hazards: reported one a day; every third at `site`; statuses and deadlines vary.
    for i in 0..12u32 {
        let id = DocId::new();
        let mut h = hazard_row(id);
        h.reported_at = format!("2026-03-{:02}T01:00:00.000Z", i + 1);
        h.risk_rank = i64::from(i % 4);
        h.risk = ["low", "general", "significant", "major"][(i % 4) as usize].into();
        if i % 3 == 0 {
            h.site_id = site.to_string();
        }
        if i % 2 == 0 {
            h.status = Some("in_rectification".into());
            h.deadline = Some(format!("2026-04-{:02}", 12 - i));
        }
        if i >= 10 {
            h.campaign = Some(campaign.clone());
            h.category = "electrical".into();
        }
        if i == 11 {
            h.status = Some("closed".into());
        }
        commit_rows(
            s,
            inst,
            id,
            LedgerRows {
                hazard: Some(h),
                ..Default::default()
            },
        )
        .await;
        ids.push(id.to_string());
    }
    // Another institution's hazard is never in this one's lists.
    let foreign = DocId::new();
    commit_rows(
        s,
        InstitutionId::new(),
        foreign,
        LedgerRows {
            hazard: Some(hazard_row(foreign)),
            ..Default::default()
        },
    )
    .await;

    let q = |f: &dyn Fn(&mut HazardQuery)| {
        let mut q = HazardQuery {
            institution: Some(inst),
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let run = |q: HazardQuery| async move {
        let (rows, total) = s.hazards(&q).await.unwrap();
        (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    let idx = |v: &[usize]| v.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    // Newest report first, paged.
    let (page, total) = run(q(&|q| {
        q.limit = 5;
        q.offset = 5;
    }))
    .await;
    assert_eq!(total, 12);
    assert_eq!(page, idx(&[6, 5, 4, 3, 2]));
    assert_eq!(
        run(q(&|q| q.site = Some(site.to_string()))).await.0,
        idx(&[9, 6, 3, 0])
    );
    assert_eq!(
        run(q(&|q| q.category = Some("electrical".into()))).await.0,
        idx(&[11, 10])
    );
    assert_eq!(
        run(q(&|q| q.min_risk_rank = Some(3))).await.0,
        idx(&[11, 7, 3])
    );
    assert_eq!(
        run(q(&|q| q.risk = Some("significant".into()))).await.0,
        idx(&[10, 6, 2])
    );
    assert_eq!(
        run(q(&|q| q.status = Some("closed".into()))).await.0,
        idx(&[11])
    );
    assert_eq!(
        run(q(&|q| q.campaign = Some(campaign.clone()))).await.0,
        idx(&[11, 10])
    );
    assert_eq!(
        run(q(&|q| q.department = Some(dept.to_string()))).await.0,
        idx(&[9, 6, 3, 0])
    );
    assert_eq!(
        run(q(&|q| {
            q.reported_from = Some("2026-03-03".into());
            q.reported_before = Some("2026-03-05".into());
        }))
        .await
        .0,
        idx(&[3, 2])
    );
    // Deadlines 2026-04-12 − i for even i < 11 in rectification: 0→12, 2→10, 4→08, 6→06, 8→04, 10→02.
    assert_eq!(
        run(q(&|q| q.overdue_before = Some("2026-04-06".into())))
            .await
            .0,
        idx(&[10, 8])
    );
    assert_eq!(
        run(q(&|q| {
            q.due_from = Some("2026-04-06".into());
            q.due_until = Some("2026-04-10".into());
        }))
        .await
        .0,
        idx(&[6, 4, 2])
    );
    // Earliest deadline first; hazards without one first, as SQLite sorts NULL.
    let (by_deadline, _) = run(q(&|q| q.by_deadline = true)).await;
    assert_eq!(by_deadline, idx(&[11, 9, 7, 5, 3, 1, 10, 8, 6, 4, 2, 0]));
    let scope = CampaignScope {
        id: campaign.clone(),
        from: "2026-03-08T00:00:00Z".into(),
        before: "2026-03-10T00:00:00Z".into(),
    };
    assert_eq!(
        run(q(&|q| q.in_campaign = Some(scope.clone()))).await.0,
        idx(&[11, 10, 8, 7])
    );
    let (figures, _) = s
        .campaign_figures(inst, &scope, "2026-04-05")
        .await
        .unwrap();
    let count: i64 = figures.iter().map(|f| f.count).sum();
    assert_eq!(count, 4);
    assert!(
        figures
            .iter()
            .any(|f| f.overdue && f.category == "electrical"),
        "{figures:?}"
    );

    let c = s.counts(Some(inst)).await.unwrap();
    assert_eq!((c.hazards, c.open), (12, 11));
    assert_eq!(
        c.by_status,
        vec![
            ("closed".into(), 1),
            ("in_rectification".into(), 6),
            ("reported".into(), 5)
        ]
    );
    assert_eq!(s.counts(None).await.unwrap().hazards, 13);

    let detail = s
        .hazard(None, ids[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.institution, inst.to_string());
    assert!(
        s.hazard(Some(InstitutionId::new()), ids[0].parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Reports: receipt from the first change's feed position.
    let r1 = DocId::new();
    let report = |id: DocId| ReportRow {
        id: id.to_string(),
        kind: "incident_report".into(),
        department: None,
        week: None,
        all_clear: Some(false),
        title: "厨房起火".into(),
        filed_at: Some("2026-03-02T01:00:00Z".into()),
    };
    commit_rows(
        s,
        inst,
        r1,
        LedgerRows {
            report: Some(report(r1)),
            ..Default::default()
        },
    )
    .await;
    let got = s
        .reports(
            Some(inst),
            "incident_report",
            0,
            10,
            ReportOrder::NewestFirst,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let first = got[0].first_seq;
    assert_eq!(got[0].all_clear, Some(false));
    let feed = whole_feed(s, inst, 0).await;
    assert_eq!(
        feed.iter().find(|f| f.doc_id == r1).unwrap().seq as i64,
        first
    );
    let r2 = DocId::new();
    commit_rows(
        s,
        inst,
        r2,
        LedgerRows {
            report: Some(report(r2)),
            ..Default::default()
        },
    )
    .await;
    let newer = s
        .reports(
            Some(inst),
            "incident_report",
            first,
            10,
            ReportOrder::OldestFirst,
        )
        .await
        .unwrap();
    assert_eq!(
        newer.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![r2.to_string()]
    );
    // One report per page, in either order: followers page oldest first.
    let page = |order| async move {
        s.reports(Some(inst), "incident_report", 0, 1, order)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(page(ReportOrder::OldestFirst).await, vec![r1.to_string()]);
    assert_eq!(page(ReportOrder::NewestFirst).await, vec![r2.to_string()]);
    assert!(
        s.reports(Some(inst), "weekly_report", 0, 10, ReportOrder::NewestFirst)
            .await
            .unwrap()
            .is_empty()
    );

    // Inspections, newest first.
    for (i, submitted) in [(1, true), (2, false), (3, true)] {
        let id = DocId::new();
        let row = saferound_server::ledger::InspectionRow {
            id: id.to_string(),
            campaign: None,
            site_id: if i == 2 { site.to_string() } else { "x".into() },
            site_name: "食堂".into(),
            site_kind: "dorm".into(),
            template: "dorm".into(),
            template_version: 1,
            inspectors: "王磊".into(),
            started_at: format!("2026-03-0{i}T01:00:00Z"),
            submitted_at: submitted.then(|| format!("2026-03-0{i}T02:00:00Z")),
            answers: 10,
            failed: 1,
            findings: 1,
        };
        commit_rows(
            s,
            inst,
            id,
            LedgerRows {
                inspection: Some(row),
                ..Default::default()
            },
        )
        .await;
    }
    let (rows, total) = s.inspections(Some(inst), None, 2, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter()
            .map(|r| r.started_at.as_str())
            .collect::<Vec<_>>(),
        vec!["2026-03-03T01:00:00Z", "2026-03-02T01:00:00Z"]
    );
    assert_eq!(
        s.inspections(Some(inst), Some(site.to_string()), 10, 0)
            .await
            .unwrap()
            .1,
        1
    );
    let c = s.counts(Some(inst)).await.unwrap();
    assert_eq!((c.inspections, c.submitted_inspections), (3, 2));
}

/// Real hazard documents (with a concurrent edit, so a conflict row) and their ledger.
fn real_hazards(inst: InstitutionId) -> Vec<DocCommit> {
    let device = ActorId::from(vec![0x11; 16]);
    let other = ActorId::from(vec![0x22; 16]);
    let mut out = Vec::new();
    for (i, site) in ["1号学生公寓", "2号学生公寓", "食堂"].iter().enumerate() {
        let mut d = TestDoc::hazard(inst, &device, site, RiskGrade::General);
        out.push(d.commit(i == 1));
        d.accepted();
        // Two devices regrade at once: the highest grade stands, the conflict is listed.
        let mut f = d.fork(&other);
        hazard::set_risk(&mut d.doc, RiskGrade::Major).unwrap();
        d.doc.commit();
        hazard::set_risk(&mut f.doc, RiskGrade::Low).unwrap();
        f.doc.commit();
        d.doc.merge(&mut f.doc).unwrap();
        out.push(d.commit(i == 2));
    }
    out
}

async fn ledger_dump_is_equal_after_rebuild(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    for c in real_hazards(inst) {
        commit_ok(s, vec![c]).await;
    }
    let dump = s.ledger_dump().await.unwrap();
    assert!(
        dump.contains("## ledger_conflicts\n") && dump.lines().count() > 10,
        "{dump}"
    );
    assert_eq!(s.rebuild_ledger().await.unwrap(), 3);
    assert_eq!(s.ledger_dump().await.unwrap(), dump);
    let (rows, _) = s
        .hazards(&HazardQuery {
            institution: Some(inst),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.risk == "major" && r.conflicts > 0),
        "{rows:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The institution's weekly report to the province

async fn institution_weekly_report_figures_and_filings(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let other_inst = InstitutionId::new();
    s.create_institution(other_inst, "二中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let (dept, site) = department_with_site(s, inst, SiteKind::Kitchen).await;
    // Incidents are dated by the server's receipt (the real clock), so the "week" is the
    // two hours around now; everything else is dated in the rows.
    let now = chrono::Utc::now();
    let ts = |d: chrono::DateTime<chrono::Utc>| Timestamp(d).to_string();
    let range = WeekRange {
        week: "2026-W10".into(),
        from: ts(now - chrono::Duration::hours(1)),
        before: ts(now + chrono::Duration::hours(1)),
        overdue_before: "2026-03-10".into(),
    };
    let at = ts(now);
    let event = |idx: i64, kind: &str, at: &str, skipped: bool| EventRow {
        idx,
        kind: kind.into(),
        by_user: "u1".into(),
        by_name: "王磊".into(),
        at: at.into(),
        note: String::new(),
        skipped,
    };
    // In the week: a major fire hazard at the kitchen, rectified and verified in the
    // week (plus a skipped verification, which does not count); an overdue one.
    let a = DocId::new();
    let mut h = hazard_row(a);
    h.site_id = site.to_string();
    h.reported_at = at.clone();
    h.hazard_grade = "major".into();
    h.risk = "major".into();
    h.status = Some("closed".into());
    commit_rows(
        s,
        inst,
        a,
        LedgerRows {
            hazard: Some(h),
            events: vec![
                event(0, "reported", &at, false),
                event(1, "rectification_reported", &at, false),
                event(2, "verified", &at, false),
                event(3, "verified", &at, true),
            ],
            ..Default::default()
        },
    )
    .await;
    let b = DocId::new();
    let mut h = hazard_row(b);
    h.reported_at = at.clone();
    h.category = "electrical".into();
    h.status = Some("in_rectification".into());
    h.deadline = Some("2026-03-05".into());
    commit_rows(
        s,
        inst,
        b,
        LedgerRows {
            hazard: Some(h),
            events: vec![event(
                0,
                "rectification_reported",
                "2020-01-01T00:00:00.000Z",
                false,
            )],
            ..Default::default()
        },
    )
    .await;
    // Before the week: not among its hazards, but overdue all the same (institution-wide).
    let c = DocId::new();
    let mut h = hazard_row(c);
    h.reported_at = "2020-01-01T00:00:00.000Z".into();
    h.status = Some("in_rectification".into());
    h.deadline = Some("2026-03-01".into());
    commit_rows(
        s,
        inst,
        c,
        LedgerRows {
            hazard: Some(h),
            ..Default::default()
        },
    )
    .await;
    // Another institution's hazard and incident never count.
    let f = DocId::new();
    let mut h = hazard_row(f);
    h.reported_at = at.clone();
    commit_rows(
        s,
        other_inst,
        f,
        LedgerRows {
            hazard: Some(h),
            ..Default::default()
        },
    )
    .await;
    let report = |kind: &str, week: Option<&str>| ReportRow {
        id: String::new(),
        kind: kind.into(),
        department: week.map(|_| dept.to_string()),
        week: week.map(str::to_string),
        all_clear: week.map(|_| true),
        title: "r".into(),
        filed_at: Some("2026-03-06T01:00:00.000Z".into()),
    };
    for (i, kind, week) in [
        (inst, "incident_report", None),
        (other_inst, "incident_report", None),
        (inst, "weekly_report", Some("2026-W10")),
        (inst, "weekly_report", Some("2026-W09")),
    ] {
        let id = DocId::new();
        commit_rows(
            s,
            i,
            id,
            LedgerRows {
                report: Some(ReportRow {
                    id: id.to_string(),
                    ..report(kind, week)
                }),
                ..Default::default()
            },
        )
        .await;
    }

    let w = s.week_figures(inst, &range).await.unwrap();
    let hazards: i64 = w.hazards.iter().map(|f| f.count).sum();
    assert_eq!(hazards, 2, "{:?}", w.hazards);
    assert!(
        w.hazards.iter().any(|f| f.department == dept.to_string()
            && f.hazard_grade == "major"
            && f.status == "closed"),
        "{:?}",
        w.hazards
    );
    assert!(
        w.hazards
            .iter()
            .any(|f| f.category == "electrical" && f.overdue && f.department.is_empty()),
        "the hazard at an unknown site is overdue on 03-10: {:?}",
        w.hazards
    );
    assert_eq!(
        (w.rectified, w.verified),
        (1, 1),
        "events in the week, not skipped"
    );
    assert_eq!(
        w.overdue, 2,
        "every hazard of the institution past its deadline"
    );
    assert_eq!(w.incidents, 1);
    assert!(w.inspections.is_empty());
    // A week when nothing happened: all zero.
    let empty = s
        .week_figures(
            inst,
            &WeekRange {
                week: "2019-W01".into(),
                from: "2019-01-01T00:00:00.000Z".into(),
                before: "2019-01-08T00:00:00.000Z".into(),
                overdue_before: "2019-01-08".into(),
            },
        )
        .await
        .unwrap();
    assert!(empty.hazards.is_empty());
    assert_eq!((empty.rectified, empty.overdue, empty.incidents), (0, 0, 0));

    let reports = s.week_reports(inst, "2026-W10").await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].department, Some(dept.to_string()));
    assert_eq!(reports[0].all_clear, Some(true));
    assert!(
        s.week_reports(other_inst, "2026-W10")
            .await
            .unwrap()
            .is_empty()
    );

    // Filings: every one kept, oldest first; the grid sees the first receipt, the
    // latest all-clear and how many.
    let filing = |i: InstitutionId, week: &str, at: &str, all_clear: bool| InstitutionFiling {
        seq: 0,
        institution: i.to_string(),
        week: week.into(),
        received_at: at.into(),
        by_user: "u1".into(),
        by_name: "王磊".into(),
        all_clear,
        summary: if all_clear {
            String::new()
        } else {
            "本周开展消防检查".into()
        },
        snapshot: r#"{"figures":{}}"#.into(),
    };
    let first = s
        .add_institution_filing(&filing(inst, "2026-W10", "2026-03-06T06:00:00.000Z", false))
        .await
        .unwrap();
    let second = s
        .add_institution_filing(&filing(inst, "2026-W10", "2026-03-06T09:00:00.000Z", true))
        .await
        .unwrap();
    assert!(second > first);
    s.add_institution_filing(&filing(inst, "2026-W11", "2026-03-13T08:30:00.000Z", false))
        .await
        .unwrap();
    s.add_institution_filing(&filing(
        other_inst,
        "2026-W10",
        "2026-03-06T05:00:00.000Z",
        true,
    ))
    .await
    .unwrap();
    s.add_institution_filing(&filing(inst, "2026-W20", "2026-05-15T05:00:00.000Z", true))
        .await
        .unwrap();
    let history = s.institution_filings(inst, "2026-W10").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].seq, history[1].seq), (first, second));
    assert_eq!(history[0].summary, "本周开展消防检查");
    assert!(history[1].all_clear && !history[0].all_clear);
    assert_eq!(history[0].snapshot, r#"{"figures":{}}"#);
    assert_eq!(history[0].institution, inst.to_string());
    assert!(
        s.institution_filings(inst, "2026-W09")
            .await
            .unwrap()
            .is_empty()
    );

    let grid = s
        .institution_receipts("2026-W09", "2026-W11")
        .await
        .unwrap();
    let mine: Vec<_> = grid
        .iter()
        .filter(|r| r.institution == inst.to_string())
        .collect();
    assert_eq!(mine.len(), 2, "W20 is outside the range: {grid:?}");
    assert_eq!(mine[0].week, "2026-W10");
    assert_eq!(mine[0].first_received_at, "2026-03-06T06:00:00.000Z");
    assert!(mine[0].all_clear, "the latest filing's");
    assert_eq!(mine[0].filings, 2);
    assert_eq!((mine[1].week.as_str(), mine[1].filings), ("2026-W11", 1));
    assert!(
        grid.iter()
            .any(|r| r.institution == other_inst.to_string() && r.week == "2026-W10")
    );
}

/// The same commits give byte-identical ledger dumps on SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_and_postgres_ledger_dumps_are_equal() {
    let Some(pg) = postgres().await else { return };
    let lite = sqlite();
    let inst = InstitutionId::new();
    let mut commits = real_hazards(inst);
    // Rows with every kind of value: NULLs, booleans, tabs and newlines in text.
    let id = DocId::new();
    let mut d = TestDoc::plain(inst, &ActorId::random());
    d.id = id;
    let mut c = d.commit(false);
    let mut h = hazard_row(id);
    h.supervised = true;
    h.verification_note = Some("line\nbreak\tand tab".into());
    c.ledger = LedgerRows {
        hazard: Some(h),
        report: Some(ReportRow {
            id: id.to_string(),
            kind: "weekly_report".into(),
            department: None,
            week: Some("2026-W10".into()),
            all_clear: Some(true),
            title: "周报".into(),
            filed_at: None,
        }),
        ..Default::default()
    };
    commits.push(c);
    for c in commits {
        commit_ok(lite.storage.as_ref(), vec![c.clone()]).await;
        commit_ok(pg.storage.as_ref(), vec![c]).await;
    }
    let (a, b) = (
        lite.storage.ledger_dump().await.unwrap(),
        pg.storage.ledger_dump().await.unwrap(),
    );
    assert!(a.contains("\t1\t") && a.contains("NULL"), "{a}");
    assert_eq!(a, b);
    lite.finish().await;
    pg.finish().await;
}

// ---------------------------------------------------------------------------------------
// PostgreSQL only: start-up and errors

/// Two replicas starting together on an empty database: one migrates, the other waits
/// on the advisory lock and finds it done; both agree on the epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_migrate_together_and_refuse_a_newer_schema() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let fresh = format!("{db}_b");
    let c = scratch::admin_client(&admin).await.unwrap();
    c.batch_execute(&format!("CREATE DATABASE {fresh}"))
        .await
        .unwrap();
    let url = scratch::with_database(&admin, &fresh);
    let (a, b) = tokio::join!(Store::connect_postgres(&url), Store::connect_postgres(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.epoch().await.unwrap(), b.epoch().await.unwrap());
    // A schema from a newer server is refused, as SQLite refuses one.
    let db_b = scratch::admin_client(&url).await.unwrap();
    db_b.batch_execute("INSERT INTO schema_migrations VALUES (999, 'future')")
        .await
        .unwrap();
    match Store::connect_postgres(&url).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("a newer schema was accepted: {:?}", other.err()),
    }
    // Backups are pg_dump's; the refusal says so.
    let err = a.backup("/tmp/never".into()).await.unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
    // After pg_restore: a new epoch, and the database knows it was restored.
    let before = a.epoch().await.unwrap();
    let epoch = a.mark_restored().await.unwrap();
    assert_ne!(epoch, before);
    db_b.batch_execute("DELETE FROM schema_migrations WHERE version = 999")
        .await
        .unwrap();
    let again = Store::connect_postgres(&url).await.unwrap();
    assert!(again.restored().await.unwrap());
    assert_eq!(again.epoch().await.unwrap(), epoch);
    drop((a, b, again, db_b));
    c.batch_execute(&format!("DROP DATABASE {fresh} WITH (FORCE)"))
        .await
        .unwrap();
    pg.finish().await;
}

/// Two replicas on one database: a commit through one wakes the other's subscribers
/// (NOTIFY in the commit, LISTEN on the other's own connection), and the start-up lock
/// admits one process at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_hear_each_others_commits_and_seed_one_at_a_time() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let b = Store::connect_postgres(&scratch::with_database(&admin, &db))
        .await
        .unwrap();
    let mut heard_by_b = b.subscribe_changes();
    let inst = InstitutionId::new();
    let mut doc = TestDoc::plain(inst, &ActorId::random());
    commit_ok(pg.storage.as_ref(), vec![doc.commit(false)]).await;
    assert_eq!(next_named_notice(&mut heard_by_b).await, inst);

    // The listening connections lost (PostgreSQL restarting, a proxy cutting them): each
    // process listens again, says "anything may have changed", and hears commits again.
    let admin_c = scratch::admin_client(&admin).await.unwrap();
    let cut = admin_c
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND query = 'LISTEN saferound_changes'",
            &[&db],
        )
        .await
        .unwrap();
    assert_eq!(cut, 2, "one listening connection per storage");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    match tokio::time::timeout_at(deadline, heard_by_b.recv()).await {
        Ok(Ok(None)) => {}
        Ok(other) => panic!("expected the reconnection notice, got {other:?}"),
        Err(_) => panic!("B did not listen again within 10 s"),
    }
    doc.accepted();
    doc.edit(2);
    commit_ok(pg.storage.as_ref(), vec![doc.commit(false)]).await;
    assert_eq!(next_named_notice(&mut heard_by_b).await, inst);

    // While A holds the start-up lock, B waits for it; once A lets go, B has it.
    let held = pg.storage.lock(LockFor::Startup).await.unwrap();
    let waiting = tokio::spawn(async move {
        let lock = b.lock(LockFor::Startup).await.unwrap();
        drop(lock);
        b
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "B took the lock A holds");
    drop(held);
    let b = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("B gets the lock once A lets go")
        .unwrap();
    drop(b);
    pg.finish().await;
}

/// An unreachable database is a retryable 503, never a 500.
#[tokio::test]
async fn postgres_unreachable_is_transient_and_a_503() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let err = Store::connect_postgres("postgres://postgres@127.0.0.1:1/none")
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(err.transient(), "{err:?}");
    let response =
        axum::response::IntoResponse::into_response(saferound_server::http::ApiError::from(err));
    assert_eq!(
        response.status(),
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(response.headers().contains_key("retry-after"));
}

// ---------------------------------------------------------------------------------------
// One schema, two dialects

/// A table's shape, backend-neutral: columns (name, kind, not null), primary key, and
/// indexes (their columns and uniqueness; names may differ).
type Shape = std::collections::BTreeMap<String, TableShape>;

#[derive(Debug, PartialEq, Eq, Default)]
struct TableShape {
    columns: std::collections::BTreeSet<(String, &'static str, bool)>,
    primary_key: Vec<String>,
    indexes: std::collections::BTreeSet<(Vec<String>, bool)>,
}

/// A column type as both dialects mean it.
fn kind(t: &str) -> &'static str {
    let t = t.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else if t.contains("blob") || t == "bytea" {
        "bytes"
    } else if t.contains("real") || t.contains("double") || t.contains("float") {
        "real"
    } else if t.contains("bool") {
        // SQLite has no boolean type: its booleans are integers 0 and 1.
        "integer"
    } else {
        "other"
    }
}

/// Bookkeeping each backend keeps its own way, not part of the data's schema; and
/// `feed_counter`, which hands out feed positions on PostgreSQL, where SQLite uses the
/// `changes` table's rowid.
const OWN_BOOKKEEPING: &[&str] = &["schema_migrations", "sqlite_sequence", "feed_counter"];

/// Feed positions are one of the few things the backends do differently: on SQLite a
/// change's `seq` is its rowid (the primary key), on PostgreSQL a unique column set at
/// commit, with `(institution, doc_id, hash)` the key. Everything else of `changes` is
/// compared.
fn without_feed_positions(t: &str, s: &TableShape) -> TableShape {
    if t != "changes" {
        return TableShape {
            columns: s.columns.clone(),
            primary_key: s.primary_key.clone(),
            indexes: s.indexes.clone(),
        };
    }
    let key = vec!["institution".to_string(), "doc_id".into(), "hash".into()];
    TableShape {
        columns: s.columns.iter().filter(|c| c.0 != "seq").cloned().collect(),
        primary_key: Vec::new(),
        indexes: s
            .indexes
            .iter()
            .filter(|(cols, _)| *cols != key && *cols != ["seq"])
            .cloned()
            .collect(),
    }
}

fn sqlite_shape(db: &std::path::Path) -> Shape {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| !OWN_BOOKKEEPING.contains(&t.as_str()))
        .collect();
    let mut shape = Shape::new();
    for t in tables {
        let mut s = TableShape::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut cols = c.prepare(&format!("PRAGMA table_info(\"{t}\")")).unwrap();
        let rows = cols
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, ty, notnull, pk_pos) = row.unwrap();
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            s.columns.insert((name, kind(&ty), notnull || pk_pos > 0));
        }
        pk.sort();
        s.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let indexes: Vec<(String, bool, String)> = c
            .prepare(&format!("PRAGMA index_list(\"{t}\")"))
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (name, unique, origin) in indexes {
            if origin == "pk" {
                continue; // the primary key, compared above
            }
            let cols: Vec<String> = c
                .prepare(&format!("PRAGMA index_info(\"{name}\")"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            s.indexes.insert((cols, unique));
        }
        shape.insert(t, s);
    }
    shape
}

async fn postgres_shape(c: &tokio_postgres::Client) -> Shape {
    let mut shape = Shape::new();
    for r in c
        .query(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap()
    {
        let t: String = r.get(0);
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (name, ty, nullable): (String, String, String) = (r.get(1), r.get(2), r.get(3));
        shape
            .entry(t)
            .or_default()
            .columns
            .insert((name, kind(&ty), nullable == "NO"));
    }
    // Indexes by their columns in order; the primary key's is the one `indisprimary`.
    for r in c
        .query(
            "SELECT t.relname, ix.indisprimary, ix.indisunique,
                    array_agg(a.attname::text ORDER BY k.n)
             FROM pg_index ix
             JOIN pg_class t ON t.oid = ix.indrelid
             JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = 'public'
             JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) ON true
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             GROUP BY t.relname, ix.indexrelid, ix.indisprimary, ix.indisunique",
            &[],
        )
        .await
        .unwrap()
    {
        let t: String = r.get(0);
        if OWN_BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let (primary, unique, cols): (bool, bool, Vec<String>) = (r.get(1), r.get(2), r.get(3));
        let s = shape.entry(t).or_default();
        if primary {
            s.primary_key = cols;
        } else {
            s.indexes.insert((cols, unique));
        }
    }
    shape
}

/// A freshly migrated SQLite database and a freshly migrated PostgreSQL one have the same
/// tables, columns (types by kind, nullability), primary keys and indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(pg) = postgres().await else { return };
    let (admin, db) = pg.pg.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.db");
    drop(Store::open_sqlite(&file).unwrap());
    let lite = sqlite_shape(&file);
    let client = scratch::admin_client(&scratch::with_database(&admin, &db))
        .await
        .unwrap();
    let post = postgres_shape(&client).await;
    let mut differences = Vec::new();
    for t in lite
        .keys()
        .chain(post.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (lite_t, post_t) = (
            lite.get(t).map(|s| without_feed_positions(t, s)),
            post.get(t).map(|s| without_feed_positions(t, s)),
        );
        match (lite_t.as_ref(), post_t.as_ref()) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                for c in a.columns.symmetric_difference(&b.columns) {
                    let side = if a.columns.contains(c) {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    };
                    differences.push(format!("{t}: column {c:?} only on {side}"));
                }
                if a.primary_key != b.primary_key {
                    differences.push(format!(
                        "{t}: primary key {:?} on SQLite, {:?} on PostgreSQL",
                        a.primary_key, b.primary_key
                    ));
                }
                for i in a.indexes.symmetric_difference(&b.indexes) {
                    let side = if a.indexes.contains(i) {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    };
                    differences.push(format!("{t}: index {i:?} only on {side}"));
                }
            }
            (Some(_), None) => differences.push(format!("{t}: table only on SQLite")),
            (None, _) => differences.push(format!("{t}: table only on PostgreSQL")),
        }
    }
    drop(client);
    pg.finish().await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
