//! Hostile sync input: each answered with a clear refusal — a 4xx when the whole request
//! is at fault, a per-document rejection otherwise — that changes nothing on the server
//! (its ledger, documents and stored changes are compared before and after), with the
//! server's memory measured (printed, and bounded with a generous margin). No timings are
//! asserted; every request here finishing at all is the time bound (a bomb that got
//! through would hang the test).

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT};
use saferound_core::demo;
use saferound_core::device::NewFinding;
use saferound_core::ids::DocId;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::sync::wire::{self, PushDoc, RejectCode, SyncResponse};
use saferound_core::{Device, doc};
use saferound_server::fuzz::op_bomb;
use saferound_tests::hostile::{post_sync, post_sync_bytes, request, server_state};
use saferound_tests::{DEMO_PASSWORD, Server, agent, enroll, sync, token};
use serde_bytes::ByteBuf;

/// Extra server memory a hostile request may cost, in MB (generous: it is noisy).
const MAX_GROWTH_MB: f64 = 64.0;

fn rss(server: &Server) -> f64 {
    server.peak_rss_mb().expect("the server's memory")
}

fn check_memory(name: &str, server: &Server, before: f64) {
    let after = rss(server);
    eprintln!("hostile {name}: server peak RSS {before:.1} MB → {after:.1} MB");
    assert!(
        after - before < MAX_GROWTH_MB,
        "{name}: the server grew by {:.1} MB",
        after - before
    );
}

fn hazard(d: &Device, text: &str) -> DocId {
    d.report_hazard(
        demo::site("第一教学楼"),
        None,
        &NewFinding {
            category: Some(HazardCategory::Buildings),
            risk: Some(RiskGrade::General),
            description: text.into(),
            ..Default::default()
        },
    )
    .expect("report a hazard")
}

fn heads_of(d: &Device, id: DocId) -> Vec<ChangeHash> {
    d.store().load(id).unwrap().unwrap().get_heads()
}

/// The changes `edit` makes to device `d`'s copy of `id` under `actor`, as a push (the
/// device's own store is left alone): what a tampered app could send.
fn push_of(d: &Device, id: DocId, actor: &ActorId, edit: impl FnOnce(&mut AutoCommit)) -> PushDoc {
    let mut doc = d
        .store()
        .load(id)
        .unwrap()
        .unwrap()
        .with_actor(actor.clone());
    let before = doc.get_heads();
    edit(&mut doc);
    doc.commit();
    PushDoc {
        id: id.0,
        heads: wire::heads_to_bytes(&doc.get_heads()),
        changes: doc
            .get_changes(&before)
            .into_iter()
            .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
            .collect(),
    }
}

fn raw_push(id: uuid::Uuid, changes: Vec<Vec<u8>>) -> PushDoc {
    PushDoc {
        id,
        heads: Vec::new(),
        changes: changes.into_iter().map(ByteBuf::from).collect(),
    }
}

/// The answer refused document `id` (and acknowledged nothing of it) with `code`.
fn refused(r: &SyncResponse, id: uuid::Uuid, code: RejectCode) -> String {
    assert!(
        r.acks.iter().all(|a| a.id != id),
        "{id} must not be acknowledged"
    );
    let rej = r
        .rejections
        .iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("{id} is refused: {r:?}"));
    assert_eq!(rej.code, code, "{}", rej.reason);
    rej.reason.clone()
}

fn push_refused(server: &Server, token: &str, push: PushDoc, code: RejectCode) -> String {
    let id = push.id;
    let (s, r) = post_sync(server, token, &request(vec![push]));
    assert_eq!(s, 200, "a per-document fault is not a request fault");
    refused(&r.expect("answer"), id, code)
}

#[test]
fn inflating_bombs_nested_and_oversized_input_is_refused_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let t = token(&a);
    let h = hazard(&a, "楼梯扶手松动");
    sync(&a);
    let before = server_state(&server);
    let rss0 = rss(&server);
    let actor = a.actor().to_bytes().to_vec();
    let heads = heads_of(&a, h);

    // An operation bomb: a 60-byte uncompressed change whose runs claim 2^40 operations,
    // on a new document and on top of the real hazard.
    let why = push_refused(
        &server,
        &t,
        raw_push(uuid::Uuid::now_v7(), vec![op_bomb(&actor, &[], 1, 1 << 40)]),
        RejectCode::InvalidChange,
    );
    assert!(why.contains("operations"), "{why}");
    let mut on_hazard = raw_push(h.0, vec![op_bomb(&actor, &heads, 2, 1 << 40)]);
    on_hazard.heads = wire::heads_to_bytes(&heads);
    push_refused(&server, &t, on_hazard, RejectCode::InvalidChange);
    check_memory("operation bomb", &server, rss0);

    // A compressed change (900 KB of text deflated to a few KB): never inflated.
    let big = push_of(&a, h, a.actor(), |d| {
        d.put(ROOT, "padding", "安".repeat(300_000)).unwrap();
    });
    let mut c = automerge::Change::from_bytes(big.changes[0].to_vec()).unwrap();
    let compressed = c.bytes().to_vec();
    assert_eq!(compressed[8], 2, "Automerge compressed it");
    assert!(compressed.len() * 20 < big.changes[0].len());
    let why = push_refused(
        &server,
        &t,
        PushDoc {
            changes: vec![ByteBuf::from(compressed)],
            ..big.clone()
        },
        RejectCode::InvalidChange,
    );
    assert!(why.contains("compressed"), "{why}");
    check_memory("compressed change", &server, rss0);

    // CBOR that claims more than it holds: an array of 2^40 documents, a byte string of
    // 2^40 bytes, and nesting 100,000 deep — whole-request faults.
    let empty = wire::encode(&request(Vec::new()));
    let at = empty
        .windows(5)
        .position(|w| w == b"docs\x80")
        .expect("the docs key")
        + 4;
    let mut claims = empty[..at].to_vec();
    claims.extend([0x9b, 0, 0, 1, 0, 0, 0, 0, 0]);
    let mut bytes_claim = empty[..at].to_vec();
    bytes_claim.extend([0x81, 0xa3, 0x62, b'i', b'd', 0x5b, 0, 0, 1, 0, 0, 0, 0, 0]);
    let mut nested = empty[..at].to_vec();
    nested.extend(std::iter::repeat_n(0x81, 100_000));
    let http = agent();
    for (what, body) in [
        ("2^40 documents", claims),
        ("2^40 bytes", bytes_claim),
        ("deep nesting", nested),
    ] {
        let (s, _) = post_sync_bytes(&http, &server, &t, &body);
        assert_eq!(s, 400, "{what}");
    }
    check_memory("CBOR claims", &server, rss0);

    // A document nested 5,000 objects deep inside the real hazard: refused, and the
    // server neither overflows its stack nor stops answering.
    let deep = push_of(&a, h, a.actor(), |d| {
        let mut o = d.put_object(ROOT, "nest", ObjType::Map).unwrap();
        for _ in 0..5_000 {
            o = d.put_object(&o, "n", ObjType::Map).unwrap();
        }
    });
    let why = push_refused(&server, &t, deep, RejectCode::SchemaViolation);
    eprintln!("deep nesting: {why}");
    check_memory("deep nesting", &server, rss0);

    // Past the size limits: one change over 1 MiB; changes summing past the document's
    // 8 MiB; more operations in one push than the limit.
    let huge = push_of(&a, h, a.actor(), |d| {
        d.put(
            ROOT,
            "padding",
            "x".repeat(saferound_core::codec::MAX_CHANGE_BYTES + 1),
        )
        .unwrap();
    });
    let why = push_refused(&server, &t, huge, RejectCode::InvalidChange);
    assert!(why.contains("exceeds"), "{why}");
    let mut many = Vec::new();
    let mut doc = a
        .store()
        .load(h)
        .unwrap()
        .unwrap()
        .with_actor(a.actor().clone());
    let start = doc.get_heads();
    for k in 0..9 {
        doc.put(ROOT, format!("padding{k}"), "y".repeat(950_000))
            .unwrap();
        doc.commit();
    }
    for c in doc.get_changes(&start) {
        many.push(ByteBuf::from(c.raw_bytes().to_vec()));
    }
    let why = push_refused(
        &server,
        &t,
        PushDoc {
            id: h.0,
            heads: wire::heads_to_bytes(&doc.get_heads()),
            changes: many,
        },
        RejectCode::TooLarge,
    );
    assert!(why.contains("bytes"), "{why}");
    let ops = saferound_core::codec::MAX_OPS_PER_CHANGE;
    let why = push_refused(
        &server,
        &t,
        raw_push(
            uuid::Uuid::now_v7(),
            vec![op_bomb(&actor, &[], 1, ops), op_bomb(&actor, &[], 2, ops)],
        ),
        RejectCode::TooLarge,
    );
    assert!(why.contains("operations"), "{why}");
    check_memory("size limits", &server, rss0);

    // Per request, before any change is parsed: documents each within their own budget
    // whose operations sum past the request's; and bodies of many tiny items, refused
    // while they are decoded.
    let within = |seq| raw_push(uuid::Uuid::now_v7(), vec![op_bomb(&actor, &[], seq, ops)]);
    let over = wire::MAX_OPS_PER_REQUEST / ops + 1;
    let (s, _) = post_sync(&server, &t, &request((1..=over).map(within).collect()));
    assert_eq!(s, 400, "operations past the request's budget");
    let tiny = |docs: usize, changes: usize, len: usize| {
        wire::encode(&request(
            (0..docs)
                .map(|_| raw_push(uuid::Uuid::now_v7(), vec![vec![1; len]; changes]))
                .collect(),
        ))
    };
    for (what, body) in [
        ("a million one-byte changes", tiny(1, 1_000_000, 1)),
        (
            "changes past the request's count",
            tiny(11, 10_000, wire::MIN_CHANGE_BYTES),
        ),
    ] {
        let (s, _) = post_sync_bytes(&http, &server, &t, &body);
        assert_eq!(s, 400, "{what}");
    }
    check_memory("request budgets", &server, rss0);

    assert_eq!(
        server_state(&server),
        before,
        "nothing changed on the server"
    );
    // And the device still syncs normally.
    a.regrade(h, RiskGrade::Significant, "复核调整").unwrap();
    assert!(sync(&a).rejected.is_empty());
}

#[test]
fn thousands_of_changes_whose_dependencies_never_arrive_are_refused_and_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let t = token(&a);
    let actor = a.actor().to_bytes().to_vec();
    let before = server_state(&server);
    let rss0 = rss(&server);
    for round in 0..3u8 {
        // 5,000 changes of one document, each on a change the server never saw.
        let missing = [ChangeHash([round + 1; 32])];
        let id = uuid::Uuid::now_v7();
        let changes = (1..=5_000)
            .map(|s| op_bomb(&actor, &missing, s, 1))
            .collect();
        let why = push_refused(
            &server,
            &t,
            raw_push(id, changes),
            RejectCode::MissingDependencies,
        );
        assert!(why.contains("resend"), "{why}");
        // And 500 documents of 10 such changes each.
        let docs: Vec<PushDoc> = (0..500)
            .map(|_| {
                raw_push(
                    uuid::Uuid::now_v7(),
                    (1..=10).map(|s| op_bomb(&actor, &missing, s, 1)).collect(),
                )
            })
            .collect();
        let ids: Vec<uuid::Uuid> = docs.iter().map(|d| d.id).collect();
        let (s, r) = post_sync(&server, &t, &request(docs));
        assert_eq!(s, 200);
        let r = r.unwrap();
        for id in ids {
            refused(&r, id, RejectCode::MissingDependencies);
        }
        check_memory(
            &format!("missing dependencies, round {round}"),
            &server,
            rss0,
        );
    }
    assert_eq!(
        server_state(&server),
        before,
        "nothing queued, nothing kept"
    );
}

#[test]
fn another_devices_actor_and_its_future_sequence_number_are_refused_and_it_syncs_later() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let b = enroll(&server, tmp.path(), "b", "inspector2", DEMO_PASSWORD);
    let h = hazard(&a, "消防通道被占用");
    sync(&a);
    sync(&b);
    let tb = token(&b);
    let before = server_state(&server);
    let rss0 = rss(&server);

    // B writes under A's actor, at the sequence number A's next change will have.
    let forged = push_of(&b, h, a.actor(), |d| {
        d.put(ROOT, "risk", "low").unwrap();
    });
    push_refused(&server, &tb, forged, RejectCode::ForgedActor);
    // A new document under A's actor.
    let fresh = DocId::new();
    let mut d = AutoCommit::new().with_actor(a.actor().clone());
    d.put(ROOT, "kind", "hazard").unwrap();
    d.commit();
    let c = d.get_changes(&[]).pop().unwrap().raw_bytes().to_vec();
    push_refused(
        &server,
        &tb,
        raw_push(fresh.0, vec![c]),
        RejectCode::ForgedActor,
    );
    // Under a weekly report's shared genesis actor, but not the genesis itself.
    let week = DocId::new();
    let mut d = AutoCommit::new().with_actor(doc::genesis_actor(week));
    d.put(ROOT, "kind", "weekly_report").unwrap();
    d.commit();
    let c = d.get_changes(&[]).pop().unwrap().raw_bytes().to_vec();
    push_refused(
        &server,
        &tb,
        raw_push(week.0, vec![c]),
        RejectCode::ForgedActor,
    );
    assert_eq!(server_state(&server), before, "nothing changed");
    check_memory("forged actors", &server, rss0);

    // A's real change with that sequence number is accepted, and reaches B.
    a.regrade(h, RiskGrade::Significant, "复核调整").unwrap();
    let r = sync(&a);
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert!(a.store().unsynced().unwrap().is_empty());
    sync(&b);
    assert_eq!(heads_of(&b, h), heads_of(&a, h));
    assert_eq!(b.hazard(h).unwrap().risk, RiskGrade::Significant);
}

#[test]
fn a_replayed_request_gets_the_same_acknowledgements_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let t = token(&a);
    let h = hazard(&a, "配电箱未上锁");
    let (heads, changes) = a.store().pending_push(h).unwrap().unwrap();
    let req = request(vec![PushDoc {
        id: h.0,
        heads: wire::heads_to_bytes(&heads),
        changes: changes.into_iter().map(ByteBuf::from).collect(),
    }]);
    let (s, first) = post_sync(&server, &t, &req);
    assert_eq!(s, 200);
    let first = first.unwrap();
    assert_eq!(first.acks.len(), 1, "{first:?}");
    let after_first = server_state(&server);
    let rss0 = rss(&server);
    for _ in 0..20 {
        let (s, again) = post_sync(&server, &t, &req);
        assert_eq!(s, 200);
        let again = again.unwrap();
        assert_eq!(again.acks, first.acks, "the same acknowledgements");
        assert!(again.rejections.is_empty());
    }
    assert_eq!(
        server_state(&server),
        after_first,
        "a replay changes nothing"
    );
    // Replayed after the document moved on: acknowledged with the server's newer heads,
    // and still nothing changes.
    a.regrade(h, RiskGrade::Significant, "复核调整").unwrap();
    sync(&a);
    let moved_on = server_state(&server);
    let (s, late) = post_sync(&server, &t, &req);
    assert_eq!(s, 200);
    let late = late.unwrap();
    assert_eq!(late.acks.len(), 1);
    assert_eq!(
        wire::heads_from_bytes(&late.acks[0].heads).unwrap(),
        heads_of(&a, h)
    );
    assert_eq!(server_state(&server), moved_on);
    check_memory("replays", &server, rss0);
}

#[test]
fn a_request_cut_at_every_byte_is_refused_whole_and_a_change_cut_anywhere_per_document() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let t = token(&a);
    let h = hazard(&a, "灭火器过期");
    let (heads, changes) = a.store().pending_push(h).unwrap().unwrap();
    let push = PushDoc {
        id: h.0,
        heads: wire::heads_to_bytes(&heads),
        changes: changes.iter().cloned().map(ByteBuf::from).collect(),
    };
    let body = wire::encode(&request(vec![push.clone()]));
    let before = server_state(&server);
    let rss0 = rss(&server);
    let http = agent();
    for cut in 0..body.len() {
        let (s, _) = post_sync_bytes(&http, &server, &t, &body[..cut]);
        assert_eq!(s, 400, "the body cut at byte {cut} of {}", body.len());
    }
    // A whole request whose change is cut: that document is refused, nothing else.
    let change = &changes[0];
    for cut in 0..change.len() {
        let mut p = push.clone();
        p.changes = vec![ByteBuf::from(change[..cut].to_vec())];
        let body = wire::encode(&request(vec![p]));
        let (s, r) = post_sync_bytes(&http, &server, &t, &body);
        assert_eq!(s, 200, "the change cut at byte {cut}");
        refused(&r.unwrap(), h.0, RejectCode::InvalidChange);
    }
    assert_eq!(server_state(&server), before, "nothing changed");
    check_memory(
        &format!("{} + {} cut requests", body.len(), change.len()),
        &server,
        rss0,
    );
    // The whole request is accepted.
    let (s, r) = post_sync_bytes(&http, &server, &t, &body);
    assert_eq!(s, 200);
    assert_eq!(r.unwrap().acks.len(), 1);
}

#[test]
fn another_institutions_document_is_neither_read_nor_written_by_raw_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let other = server.admin(&["admin", "create-institution", "南昌某中学"]);
    server.admin(&[
        "admin",
        "create-user",
        "--institution",
        &other,
        "--login",
        "zhang",
        "--name",
        "张三",
        "--roles",
        "inspector",
    ]);
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let z = enroll(&server, tmp.path(), "z", "zhang", "long-enough-pw");
    let tz = token(&z);
    let h = hazard(&a, "围墙破损");
    sync(&a);
    let before = server_state(&server);
    let rss0 = rss(&server);

    // Naming A's document with heads from before it existed: nothing of it comes back.
    let (s, r) = post_sync(
        &server,
        &tz,
        &request(vec![PushDoc {
            id: h.0,
            heads: Vec::new(),
            changes: Vec::new(),
        }]),
    );
    assert_eq!(s, 200);
    let r = r.unwrap();
    assert!(r.updates.iter().all(|u| u.id != h.0), "no updates of {h}");
    assert!(
        r.acks.iter().all(|x| x.id != h.0 || x.heads.is_empty()),
        "no heads of {h}: {r:?}"
    );
    // A's own changes replayed by Z: not Z's actor.
    let (_, changes) = (
        (),
        a.store()
            .load(h)
            .unwrap()
            .unwrap()
            .get_changes(&[])
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect::<Vec<_>>(),
    );
    push_refused(
        &server,
        &tz,
        raw_push(h.0, changes),
        RejectCode::ForgedActor,
    );
    // Z's own change on top of A's document: its history is not in Z's institution.
    let on_top = push_of(&a, h, z.actor(), |d| {
        d.put(ROOT, "risk", "low").unwrap();
    });
    push_refused(&server, &tz, on_top, RejectCode::MissingDependencies);
    assert_eq!(server_state(&server), before, "A's document is untouched");
    check_memory("other institution", &server, rss0);
}
