//! Replays every fuzz corpus file and every fixed crasher (`fuzz/corpus/<target>/`,
//! `fuzz/artifacts-fixed/<target>/`) through the fuzz targets' own bodies
//! (`saferound_server::fuzz`) on stable, so CI keeps every crash fixed without libFuzzer.
//! The long runs are `scripts/fuzz.sh`.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    out.sort();
    out
}

#[test]
fn every_corpus_file_and_fixed_crasher_replays_without_a_panic() {
    for (name, target) in saferound_server::fuzz::TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} holds the seeds");
        let fixed = files(&fuzz_dir().join("artifacts-fixed").join(name));
        for f in corpus.iter().chain(&fixed) {
            let bytes = std::fs::read(f).expect("read a corpus file");
            // A panic here names the file; the assertion messages inside say what broke.
            eprintln!("{name}: {}", f.display());
            target(&bytes);
        }
    }
}

/// Writes the seed corpora from a real device: the request its sync would send for an
/// inspection with answers and findings, the change chunks of each document, the saved
/// documents. Run once after a format change:
/// `cargo test -p saferound-server --test fuzz_replay -- --ignored write_seed_corpus`
#[test]
#[ignore]
fn write_seed_corpus() {
    use saferound_core::device::NewFinding;
    use saferound_core::doc::inspection::AnswerResult;
    use saferound_core::sync::wire::{self, PushDoc, SyncRequest};
    use saferound_core::{Device, SystemClock, demo};

    let tmp = tempfile::tempdir().unwrap();
    let d = Device::init_with_actor(
        tmp.path().join("seed.db"),
        demo::identity("inspector").unwrap(),
        automerge::ActorId::from(vec![7u8; 16]),
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    d.import_directory(&demo::directory()).unwrap();
    let i = d
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    let codes = demo::dorm_item_codes();
    for (j, code) in codes.iter().take(4).enumerate() {
        let r = if j == 2 {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        d.answer(i, code, r, "已检查", &[], None).unwrap();
    }
    d.add_finding(
        i,
        &NewFinding {
            item: Some(codes[2].clone()),
            location: "2F".into(),
            description: "疏散通道堆放杂物".into(),
            ..Default::default()
        },
    )
    .unwrap();
    d.submit_inspection(i).unwrap();

    let out = fuzz_dir();
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = out.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let mut docs = Vec::new();
    for (k, id) in d.store().unsynced().unwrap().into_iter().enumerate() {
        let (heads, changes) = d.store().pending_push(id).unwrap().unwrap();
        write("change_chunks", &format!("doc-{k}"), &changes.concat());
        write("change_chunks", &format!("first-change-{k}"), &changes[0]);
        let mut saved = d.store().load(id).unwrap().unwrap();
        write("stored_document", &format!("saved-{k}"), &saved.save());
        // The server's stored form: a snapshot then appended change chunks.
        let split = changes.len() / 2;
        let mut prefix = automerge::AutoCommit::new();
        prefix
            .apply_changes(
                changes[..split]
                    .iter()
                    .map(|c| automerge::Change::from_bytes(c.clone()).unwrap()),
            )
            .unwrap();
        let mut stored = prefix.save();
        stored.extend(changes[split..].concat());
        write(
            "stored_document",
            &format!("snapshot-and-changes-{k}"),
            &stored,
        );
        write(
            "stored_document",
            &format!("changes-only-{k}"),
            &changes.concat(),
        );
        docs.push(PushDoc {
            id: id.0,
            heads: wire::heads_to_bytes(&heads),
            changes: changes
                .into_iter()
                .map(serde_bytes::ByteBuf::from)
                .collect(),
        });
    }
    let req = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        docs,
        max_update_bytes: 1 << 20,
    };
    write(
        "sync_request",
        "inspection-with-finding",
        &wire::encode(&req),
    );
    write(
        "sync_request",
        "empty",
        &wire::encode(&SyncRequest {
            docs: Vec::new(),
            ..req
        }),
    );
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    write(
        "blob_upload",
        "first-part",
        format!("{hash}\n0\n1000\n500").as_bytes(),
    );
    write(
        "blob_upload",
        "resume",
        format!("{hash}\n500\n1000\n500").as_bytes(),
    );
    write(
        "blob_upload",
        "no-length",
        format!("{hash}\n\n\n10").as_bytes(),
    );
    write(
        "export_query",
        "ledger-filter",
        b"site=&category=fire&risk=major&status=in_rectification&overdue=1&from=2026-01-01&to=2026-11-30&page=2",
    );
    write(
        "export_query",
        "weekly",
        b"end=2026-11-27&weeks=8&institution=00000000-0000-0000-0000-000000000000",
    );
    write(
        "export_query",
        "api",
        b"risk=significant&overdue=true&limit=100&offset=50&from=2026-11-01",
    );
}

/// The operation bomb is a real change (Automerge parses it and counts every claimed
/// operation) and `check_change_chunk` counts the same number from the runs alone, so it
/// refuses one past the bound before Automerge would start counting.
#[test]
fn an_operation_bomb_is_counted_from_its_runs_and_refused_past_the_bound() {
    use saferound_core::codec::MAX_OPS_PER_CHANGE;
    use saferound_server::fuzz::op_bomb;
    let actor = [9u8; 16];
    let at_bound = op_bomb(&actor, &[], 1, MAX_OPS_PER_CHANGE);
    assert!(
        at_bound.len() < 100,
        "a bomb is small: {} bytes",
        at_bound.len()
    );
    let info =
        saferound_core::codec::check_change_chunk(&at_bound).expect("at the bound is accepted");
    assert_eq!(info.ops, MAX_OPS_PER_CHANGE);
    let change = automerge::Change::from_bytes(at_bound).expect("a real change");
    assert_eq!(change.len() as u64, MAX_OPS_PER_CHANGE);
    let past = op_bomb(&actor, &[], 1, MAX_OPS_PER_CHANGE + 1);
    let e = saferound_core::codec::check_change_chunk(&past).unwrap_err();
    assert!(e.contains("operations"), "{e}");
    let huge = op_bomb(&actor, &[], 1, 1 << 40);
    assert!(saferound_core::codec::check_change_chunk(&huge).is_err());
    // The committed crasher is this bomb.
    let fixed = fuzz_dir().join("artifacts-fixed/change_chunks/op-bomb-2e40");
    assert_eq!(std::fs::read(fixed).expect("the fixed crasher"), huge);
}

/// Writes the operation bomb as a fixed crasher (it is a hang, not a crash, for
/// libFuzzer: a timeout before `check_change_chunk` counted runs).
#[test]
#[ignore]
fn write_op_bomb_crasher() {
    let dir = fuzz_dir().join("artifacts-fixed/change_chunks");
    std::fs::create_dir_all(&dir).unwrap();
    let bomb = saferound_server::fuzz::op_bomb(&[9u8; 16], &[], 1, 1 << 40);
    std::fs::write(dir.join("op-bomb-2e40"), bomb).unwrap();
}

/// The fixed inputs of the blob and export targets mean what they say.
#[test]
fn fixed_crashers_of_headers_and_query_strings_are_refused() {
    use axum::http::{HeaderMap, HeaderValue};
    use saferound_server::http::blobs::upload_range;
    let mut h = HeaderMap::new();
    h.insert("upload-offset", HeaderValue::from(u64::MAX));
    assert!(upload_range(&h, 10).is_err(), "an offset near u64::MAX");
    let mut h = HeaderMap::new();
    h.insert("upload-length", HeaderValue::from(100u64));
    assert!(upload_range(&h, 5000).is_err(), "a body past Upload-Length");
    let edge: chrono::NaiveDate = "-262143-01-05".parse().expect("chrono reads the edge");
    let weeks = saferound_server::web::reports::week_list(edge, 26);
    assert_eq!(weeks.len(), 1, "only the weeks the calendar has");
}
