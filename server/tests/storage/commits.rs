//! Commits, their compare-and-swap and announcements, and the change feed.

use super::*;

// ---------------------------------------------------------------------------------------
// Commits and the compare-and-swap

/// The next notice naming an institution (a `None`, "anything may have changed", is
/// allowed in between: PostgreSQL's listener says it when it connects), within 5 s.
pub(crate) async fn next_named_notice(
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
/// The server's own positions (the webhook's cursor): unset, then only ever further, so a
/// process that lost its turn cannot put one back.
pub(crate) async fn positions_only_move_forward(s: Arc<Store>) {
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

pub(crate) async fn commits_are_announced_to_subscribers(s: Arc<Store>) {
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

pub(crate) async fn commit_is_atomic_with_ledger_and_reports_stale_documents(s: Arc<Store>) {
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
    assert!(detail.hazard.serial.is_some(), "numbered at receipt");
    let derived = a.ledger().hazard.unwrap();
    assert_eq!(
        detail.hazard,
        saferound_server::ledger::HazardRow {
            serial: detail.hazard.serial.clone(),
            ..derived
        }
    );
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

pub(crate) async fn compare_and_swap_refuses_wrong_expectations(s: Arc<Store>) {
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

pub(crate) async fn feed_pages_by_bytes_and_rows_and_skips_own_actor(s: Arc<Store>) {
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

pub(crate) async fn reapplying_the_same_changes_adds_no_feed_rows(s: Arc<Store>) {
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

pub(crate) async fn concurrent_writers_on_one_document(s: Arc<Store>) {
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

pub(crate) async fn feed_readers_never_skip_a_change(s: Arc<Store>) {
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
