//! The store file: a damaged or foreign file gives a clear error and is never changed;
//! an old schema migrates forward with its documents; identity survives reopening.

use std::sync::Arc;

use saferound_core::device::NewFinding;
use saferound_core::doc::DocKind;
use saferound_core::error::Error;
use saferound_core::store::{ListFilter, Store, schema};
use saferound_core::{Device, FixedClock, demo};
use sha2::Digest;

use crate::support::{at, device};

fn digest(path: &std::path::Path) -> Vec<u8> {
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

fn filled_store(dir: &std::path::Path) -> std::path::PathBuf {
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(dir, "inspector", &clock);
    for n in 0..30 {
        d.report_hazard(
            demo::site("图书馆"),
            None,
            &NewFinding {
                category: Some(saferound_core::model::HazardCategory::Theft),
                risk: Some(saferound_core::model::RiskGrade::Low),
                description: format!("图书馆隐患 {n} {}", "描述".repeat(200)),
                ..Default::default()
            },
        )
        .unwrap();
    }
    dir.join("inspector.db")
}

#[test]
fn a_truncated_store_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = filled_store(tmp.path());
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let before = digest(&path);
    let clock = Arc::new(FixedClock::new(at("2026-12-28T01:00:00Z")));
    match Device::open(&path, clock) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("truncated"), "{reason}"),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a truncated store opened"),
    }
    assert_eq!(digest(&path), before, "the file was changed");
    assert!(path.exists());
}

#[test]
fn garbage_and_foreign_files_are_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5Au8; 8192]).unwrap();
    let foreign = tmp.path().join("foreign.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("PRAGMA application_id = 42; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let tiny = tmp.path().join("tiny.db");
    std::fs::write(&tiny, b"SQLite format").unwrap();
    for path in [&garbage, &foreign, &tiny] {
        let before = digest(path);
        let e = Store::open(path).err().expect("must be refused");
        assert!(
            matches!(e, Error::Corrupt { .. }),
            "{}: {e}",
            path.display()
        );
        assert!(e.to_string().contains("left untouched"));
        assert_eq!(digest(path), before);
    }
}

#[test]
fn flipped_bytes_inside_a_document_give_a_clear_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let path = filled_store(tmp.path());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        // A document's bytes are its snapshot (if compacted) and its appended changes.
        c.execute(
            "UPDATE documents SET snapshot = CAST(substr(snapshot, 1, 40) || x'00ff00ff' || substr(snapshot, 45) AS BLOB)
             WHERE kind = 'hazard' AND length(snapshot) > 0",
            [],
        )
        .unwrap();
        c.execute(
            "UPDATE changes SET bytes = CAST(substr(bytes, 1, 40) || x'00ff00ff' || substr(bytes, 45) AS BLOB)
             WHERE doc_id IN (SELECT id FROM documents WHERE kind = 'hazard')",
            [],
        )
        .unwrap();
    }
    let clock = Arc::new(FixedClock::new(at("2026-12-28T01:00:00Z")));
    let d = Device::open(&path, clock).unwrap();
    let any = d
        .store()
        .list(DocKind::Hazard, &ListFilter::default())
        .unwrap();
    let id = any[0].id.parse().unwrap();
    let e = d.hazard(id).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
}

#[test]
fn an_old_schema_store_migrates_forward_with_its_documents() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixture: a store at schema 1 (no index, no acknowledged heads), holding the
    // documents of a real device.
    let source = filled_store(&tmp.path().join("src").tap_mkdir());
    let old = tmp.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&old).unwrap();
        schema::migrate(&c, &old, 1).unwrap();
        c.execute("ATTACH DATABASE ?1 AS src", [source.to_str().unwrap()])
            .unwrap();
        c.execute_batch(
            "INSERT INTO device SELECT id, device_id, actor, institution, user_id, user_name, roles,
                department, server_url, sync_cursor, created_at FROM src.device;
             INSERT INTO documents SELECT * FROM src.documents;
             INSERT INTO changes SELECT * FROM src.changes;
             INSERT INTO blobs SELECT * FROM src.blobs;",
        )
        .unwrap();
        c.execute("DETACH DATABASE src", []).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
    }
    let clock = Arc::new(FixedClock::new(at("2026-12-28T01:00:00Z")));
    let migrated = Device::open(&old, clock.clone()).unwrap();
    let fresh = Device::open(&source, clock).unwrap();
    let list = |d: &Device| {
        d.store()
            .list(DocKind::Hazard, &ListFilter::default())
            .unwrap()
    };
    assert_eq!(list(&migrated).len(), 30);
    assert_eq!(list(&migrated), list(&fresh));
    assert_eq!(migrated.actor_hex(), fresh.actor_hex());
    // Same schema as a store created new.
    let schema_of = |p: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(p).unwrap();
        let mut s = c
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(schema_of(&old), schema_of(&source));
}

#[test]
fn identity_and_actor_survive_reopening_and_a_store_is_initialised_once() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let actor = device(tmp.path(), "office", &clock).actor_hex();
    let path = tmp.path().join("office.db");
    let d = Device::open(&path, Arc::new(clock.clone())).unwrap();
    assert_eq!(d.actor_hex(), actor);
    assert_eq!(d.identity().user.name, "陈静");
    let again = Device::init(
        &path,
        demo::identity("inspector").unwrap(),
        Arc::new(clock.clone()),
    );
    assert!(matches!(again.err(), Some(Error::State(_))));
    let other = device(&tmp.path().join("x").tap_mkdir(), "office", &clock);
    assert_ne!(
        other.actor_hex(),
        actor,
        "every installation has its own actor"
    );
    let e = Device::open(tmp.path().join("new.db"), Arc::new(clock))
        .err()
        .unwrap();
    assert!(matches!(e, Error::NotInitialized));
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn stored_change_chunks_split_into_single_changes_and_damage_is_an_error() {
    use automerge::{AutoCommit, ROOT, transaction::Transactable};
    let mut d = AutoCommit::new();
    for i in 0..5i64 {
        d.put(ROOT, "k", i).unwrap();
        d.commit();
    }
    let bytes = d.save_after(&[]);
    let expected: Vec<Vec<u8>> = d
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let parts = saferound_core::codec::split_change_chunks(&bytes).unwrap();
    assert_eq!(
        parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>(),
        expected
    );
    // Cut anywhere but between two changes: an error, never a shorter list.
    let mut boundaries = vec![0];
    for c in &expected {
        boundaries.push(boundaries.last().unwrap() + c.len());
    }
    for cut in 1..bytes.len() {
        let r = saferound_core::codec::split_change_chunks(&bytes[..cut]);
        assert_eq!(r.is_ok(), boundaries.contains(&cut), "cut at {cut}");
    }
    let mut garbage = bytes.clone();
    garbage[0] ^= 0xff;
    assert!(saferound_core::codec::split_change_chunks(&garbage).is_err());
}

#[test]
fn a_new_documents_pending_changes_are_its_whole_history() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(tmp.path(), "inspector", &clock);
    let i = d
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    let code = d.templates().unwrap()[0].items[0].code.clone();
    for n in 0..5 {
        d.answer(
            i,
            &code,
            saferound_core::doc::inspection::AnswerResult::Pass,
            &format!("第 {n} 次"),
            &[],
            None,
        )
        .unwrap();
    }
    // Read without loading the document (stored chunks), and by loading it.
    let (heads, changes) = d.store().pending_push(i).unwrap().unwrap();
    let mut doc = d.store().load(i).unwrap().unwrap();
    assert_eq!(heads, doc.get_heads());
    let all: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(changes, all);
    assert_eq!(changes.len(), 6);
}

/// Changes from the network pass the bounded framing check before Automerge parses them:
/// a compressed chunk, a wrong checksum or a truncated change is refused, and the
/// document is left as it was; the same change intact applies.
#[test]
fn received_changes_are_checked_before_automerge_sees_them() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let a = device(tmp.path(), "inspector", &clock);
    let b = device(tmp.path(), "office", &clock);
    let id = a
        .report_hazard(
            demo::site("图书馆"),
            None,
            &NewFinding {
                category: Some(saferound_core::model::HazardCategory::Theft),
                risk: Some(saferound_core::model::RiskGrade::Low),
                description: "窗户插销损坏 ".repeat(40),
                ..Default::default()
            },
        )
        .unwrap();
    let mut doc = a.store().load(id).unwrap().unwrap();
    let mut changes = doc.get_changes(&[]);
    let raw: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let compressed: Vec<Vec<u8>> = changes.iter_mut().map(|c| c.bytes().to_vec()).collect();
    let mut bad_sum = raw.clone();
    let last = bad_sum[0].len() - 1;
    bad_sum[0][last] ^= 0x55;
    let mut cut = raw.clone();
    let half = cut[0].len() / 2;
    cut[0].truncate(half);
    for (what, bytes) in [("bad checksum", bad_sum), ("truncated", cut)]
        .into_iter()
        .chain((compressed != raw).then_some(("compressed", compressed)))
    {
        match b.receive_changes(id, &bytes) {
            Err(Error::Document(reason)) => assert!(reason.contains("refused"), "{what}: {reason}"),
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
        assert!(
            b.store().load(id).unwrap().is_none(),
            "{what}: nothing stored"
        );
    }
    b.receive_changes(id, &raw).unwrap();
    assert_eq!(
        b.store().load(id).unwrap().unwrap().get_heads(),
        doc.get_heads()
    );
}

/// Parsed documents are kept in memory between writes (the store's document cache). Two
/// handles on one file, as the app and the CLI may be: each must see and build on what
/// the other wrote, never on its own older copy.
#[test]
fn two_handles_on_one_file_always_see_each_others_writes() {
    use saferound_core::doc::inspection::AnswerResult;
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let a = device(tmp.path(), "inspector", &clock);
    let b = Device::open(tmp.path().join("inspector.db"), Arc::new(clock.clone())).unwrap();
    let i = a
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    let codes = demo::dorm_item_codes();
    a.answer(i, &codes[0], AnswerResult::Pass, "a", &[], None)
        .unwrap();
    // b parses (and keeps) the inspection with one answer …
    assert_eq!(b.inspection(i).unwrap().answers.len(), 1);
    a.answer(i, &codes[1], AnswerResult::Pass, "a", &[], None)
        .unwrap();
    // … then must see a's second answer, and write on top of it.
    assert_eq!(b.inspection(i).unwrap().answers.len(), 2);
    b.answer(i, &codes[2], AnswerResult::Fail, "b", &[], None)
        .unwrap();
    a.answer(i, &codes[3], AnswerResult::Pass, "a", &[], None)
        .unwrap();
    for d in [&a, &b] {
        let got = d.inspection(i).unwrap();
        assert_eq!(got.answers.len(), 4, "{:?}", got.answers.keys());
    }
    // A fresh handle, which has parsed nothing, reads the same from the file.
    let c = Device::open(tmp.path().join("inspector.db"), Arc::new(clock)).unwrap();
    assert_eq!(c.inspection(i).unwrap().answers.len(), 4);
    assert_eq!(
        c.store().heads(i).unwrap(),
        a.store().heads(i).unwrap(),
        "stored heads are the document's"
    );
}

/// Stored bytes load only if every chunk is a document or an uncompressed change (what
/// SafeRound writes): the bundle fuzzing found, which made Automerge 0.12 allocate 512 MB,
/// is refused before Automerge sees it, like a compressed change or a cut-off chunk.
#[test]
fn stored_bytes_of_other_chunk_kinds_are_refused_before_automerge_parses_them() {
    use saferound_core::codec::load_stored;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../fuzz/artifacts-fixed/stored_document/oom-bcf1875ef3beed00a4bcb16629a1378be31a1961",
    );
    let bundle = std::fs::read(fixture).expect("fuzz fixture");
    assert_eq!(bundle[8], 3, "the fixture is a bundle chunk");
    let err = load_stored(&bundle).expect_err("a bundle is refused");
    assert!(err.contains("kind 3"), "{err}");
    let mut d = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut d, automerge::ROOT, "k", "v").unwrap();
    let mut saved = d.save();
    saved.extend(d.save_after(&[]));
    assert!(
        load_stored(&saved).is_ok(),
        "a snapshot and change chunks load"
    );
    let mut compressed = d.save_after(&[]);
    compressed[8] = 2;
    assert!(load_stored(&compressed).is_err());
    assert!(load_stored(&saved[..saved.len() - 1]).is_err(), "cut off");
}
