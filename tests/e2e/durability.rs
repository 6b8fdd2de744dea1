//! Durability: an online backup taken under load, a restore from an older backup that
//! devices notice (the server's epoch changes) and refill, a full disk during a commit,
//! and the server killed at random moments during concurrent syncs, round after round.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use saferound_core::device::NewFinding;
use saferound_core::ids::DocId;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, SystemClock, demo};
use saferound_tests::{
    DEMO_PASSWORD, Server, admin_on, enroll, integrity_check, server_epoch, sync,
};

/// Reports `n` hazards on `d`, each description starting with `tag`.
pub fn record(d: &Device, n: usize, tag: &str) -> Vec<DocId> {
    (0..n)
        .map(|i| {
            d.report_hazard(
                demo::site("5号学生公寓"),
                None,
                &NewFinding {
                    category: Some(HazardCategory::FireSafety),
                    risk: Some(RiskGrade::General),
                    description: format!("{tag} {i}"),
                    ..Default::default()
                },
            )
            .unwrap()
        })
        .collect()
}

fn read_only(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// Every document of a device store with its heads (the raw column, sorted hashes).
pub fn store_heads(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = read_only(path);
    let mut stmt = c.prepare("SELECT id, heads FROM documents").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// What the device holds as acknowledged by the server: (document, change hash).
pub fn acknowledged(path: &Path) -> Vec<(String, Vec<u8>)> {
    let c = read_only(path);
    let mut stmt = c.prepare("SELECT doc_id, heads FROM server_heads").unwrap();
    let rows: Vec<(String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.into_iter()
        .flat_map(|(id, heads)| {
            heads
                .chunks(32)
                .map(|h| (id.clone(), h.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Acknowledged changes the server database does not hold (a head held means its whole
/// history is held: the server stores a change only with its dependencies).
pub fn missing_on_server(server_db: &Path, acked: &[(String, Vec<u8>)]) -> Vec<String> {
    let c = read_only(server_db);
    acked
        .iter()
        .filter(|(id, hash)| {
            c.query_row(
                "SELECT 1 FROM changes WHERE doc_id = ?1 AND hash = ?2",
                rusqlite::params![id, hash],
                |_| Ok(()),
            )
            .is_err()
        })
        .map(|(id, hash)| format!("{id}@{}", hex(hash)))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn open(path: &Path) -> Device {
    Device::open(path, Arc::new(SystemClock)).unwrap()
}

/// A ledger dump, then the dump after rebuilding the ledger from the documents alone.
fn ledger_and_rebuild(db: &Path, blobs: &Path) -> (String, String) {
    let dump = admin_on(db, blobs, &["dump-ledger"]);
    admin_on(db, blobs, &["rebuild-ledger"]);
    (dump, admin_on(db, blobs, &["dump-ledger"]))
}

#[test]
fn an_online_backup_under_load_is_consistent_and_carries_the_photos() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let photo: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xE0]
        .into_iter()
        .chain((0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8))
        .collect();
    let hash = a.add_photo(&photo).unwrap();
    a.report_hazard(
        demo::site("5号学生公寓"),
        None,
        &NewFinding {
            category: Some(HazardCategory::FireSafety),
            risk: Some(RiskGrade::General),
            description: "带照片的隐患".into(),
            photos: vec![hash.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    sync(&a);
    enroll(&server, tmp.path(), "b", "inspector2", DEMO_PASSWORD);

    // Two devices keep recording and syncing while the backups are taken.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let path = tmp.path().join(format!("{name}.db"));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let d = open(&path);
                let mut rounds = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 1 {
                    record(&d, 4, &format!("load {name} {rounds}"));
                    sync(&d);
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    let mut backups = Vec::new();
    for n in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let to = tmp.path().join(format!("backup-{n}.db"));
        let out = server.admin(&[
            "backup",
            to.to_str().unwrap(),
            "--blobs-to",
            tmp.path().join("backup-blobs").to_str().unwrap(),
        ]);
        assert!(out.contains("backup written"), "{out}");
        backups.push(to);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        assert!(w.join().unwrap() >= 1);
    }
    // A second backup to the same file is refused, not overwritten.
    let again = std::process::Command::new(saferound_tests::server_binary())
        .arg("--db")
        .arg(&server.db)
        .args(["backup", backups[0].to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());

    let live_docs = |p: &Path| -> i64 {
        read_only(p)
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))
            .unwrap()
    };
    let mut previous = 0;
    for b in &backups {
        assert_eq!(integrity_check(b), "ok", "{}", b.display());
        // Each backup is one moment: its ledger is exactly what its documents give, and
        // every change row belongs to a document it holds.
        let orphans: i64 = read_only(b)
            .query_row(
                "SELECT COUNT(*) FROM changes c WHERE NOT EXISTS
                 (SELECT 1 FROM documents d WHERE d.institution = c.institution AND d.id = c.doc_id)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        let n = live_docs(b);
        assert!(n >= previous, "later backups hold more");
        previous = n;
        let copy = b.with_extension("check");
        std::fs::copy(b, &copy).unwrap();
        let (dump, rebuilt) = ledger_and_rebuild(&copy, &tmp.path().join("backup-blobs"));
        assert_eq!(dump, rebuilt, "backup {} is consistent", b.display());
        assert!(dump.contains("带照片的隐患"));
    }
    assert!(previous <= live_docs(&server.db));
    // The photo the backups refer to was copied beside them, byte for byte.
    let h = hash.to_string();
    let copied = tmp.path().join("backup-blobs").join(&h[..2]).join(&h);
    assert_eq!(std::fs::read(copied).unwrap(), photo);
}

#[test]
fn after_a_restore_from_an_older_backup_devices_push_again_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let b = enroll(&server, tmp.path(), "b", "inspector2", DEMO_PASSWORD);
    let o = enroll(&server, tmp.path(), "o", "office", DEMO_PASSWORD);

    // Before the backup: both inspectors report, the office regrades one of A's.
    let early_a = record(&a, 3, "早 A");
    record(&b, 2, "早 B");
    sync(&a);
    sync(&b);
    sync(&o);
    o.regrade(early_a[0], RiskGrade::Significant, "复核定级")
        .unwrap();
    sync(&o);
    sync(&a);
    let backup = tmp.path().join("backup.db");
    let blobs_backup = tmp.path().join("backup-blobs");
    server.admin(&[
        "backup",
        backup.to_str().unwrap(),
        "--blobs-to",
        blobs_backup.to_str().unwrap(),
    ]);
    let epoch_before = server_epoch(&server.db);

    // After the backup, all acknowledged by the server that will be lost: new hazards,
    // and a chain across devices — A reports, the office regrades it, A regrades again on
    // top of the office's change — so the pushes after the restore depend on each other.
    let late_a = record(&a, 4, "晚 A");
    let late_b = record(&b, 3, "晚 B");
    sync(&a);
    sync(&b);
    sync(&o);
    o.regrade(late_a[0], RiskGrade::Significant, "办公室定级")
        .unwrap();
    o.regrade(late_b[0], RiskGrade::Low, "办公室定级").unwrap();
    sync(&o);
    sync(&a);
    sync(&b);
    a.regrade(late_a[0], RiskGrade::Major, "再次定级").unwrap();
    sync(&a);
    sync(&o);
    sync(&b);
    let acked: Vec<_> = ["a", "b", "o"]
        .iter()
        .flat_map(|n| acknowledged(&tmp.path().join(format!("{n}.db"))))
        .collect();
    let ledger_before = server.dump_ledger();
    for id in late_a.iter().chain(&late_b) {
        assert!(ledger_before.contains(&id.to_string()));
    }

    // The server's disk is lost: stop, restore the older backup, start again.
    server.kill();
    let out = server.admin(&[
        "restore",
        backup.to_str().unwrap(),
        "--blobs-from",
        blobs_backup.to_str().unwrap(),
    ]);
    assert!(out.contains("new epoch"), "{out}");
    assert_eq!(integrity_check(&server.db), "ok");
    let restored_epoch = server_epoch(&server.db);
    assert_ne!(restored_epoch, epoch_before);
    assert!(
        !missing_on_server(&server.db, &acked).is_empty(),
        "the backup is older: the server lost acknowledged changes"
    );
    assert!(
        !server.dump_ledger().contains(&late_a[1].to_string()),
        "the restored ledger is the backup's"
    );
    server.restart();
    for d in [&a, &b, &o] {
        d.store()
            .set_server(&server.url, Some(&saferound_tests::token(d)))
            .unwrap();
    }

    // A syncs first: it holds the office's lost regrade of its hazard, which it may not
    // push for the office, and its own regrade on top of it. Its other changes land; the
    // rest waits, nothing is quarantined, and everything arrives once all have synced.
    for round in 0..4 {
        for d in [&a, &b, &o] {
            let r = sync(d);
            assert!(r.rejected.is_empty(), "round {round}: {r:?}");
        }
        if [&a, &b, &o]
            .iter()
            .all(|d| d.store().unsynced().unwrap().is_empty())
        {
            break;
        }
    }
    for (name, d) in [("a", &a), ("b", &b), ("o", &o)] {
        assert_eq!(
            d.store().unsynced().unwrap(),
            vec![],
            "{name} has everything acknowledged"
        );
        assert!(d.store().quarantined().unwrap().is_empty(), "{name}");
        assert_eq!(
            d.store().sync_settings().unwrap().epoch.as_deref(),
            Some(restored_epoch.as_str())
        );
    }
    assert_eq!(
        missing_on_server(&server.db, &acked),
        Vec::<String>::new(),
        "every change acknowledged before the restore is back on the server"
    );
    let heads_a = store_heads(&tmp.path().join("a.db"));
    assert_eq!(heads_a, store_heads(&tmp.path().join("b.db")));
    assert_eq!(heads_a, store_heads(&tmp.path().join("o.db")));
    // The ledger is the one the server had before it lost its disk, and what its
    // documents give.
    let ledger_after = server.dump_ledger();
    assert_eq!(ledger_after, ledger_before);
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger(), ledger_after);
    assert_eq!(a.hazard(late_a[0]).unwrap().risk, RiskGrade::Major);
    // A device enrolled now receives all of it.
    let _fresh = enroll(&server, tmp.path(), "fresh", "inspector", DEMO_PASSWORD);
    assert_eq!(store_heads(&tmp.path().join("fresh.db")), heads_a);
}

#[test]
fn a_full_disk_during_a_commit_keeps_the_changes_on_the_device_until_there_is_room() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    record(&a, 2, "已同步");
    sync(&a);
    let ids = record(&a, 30, "磁盘满时记录");
    server.terminate();
    let before = server.dump_ledger();
    // No room to grow: the database may not exceed the pages it has now (after a VACUUM,
    // so there are no free pages to reuse either). A real SQLITE_FULL, not an injected one.
    let pages: i64 = {
        let c = rusqlite::Connection::open(&server.db).unwrap();
        c.execute_batch("VACUUM").unwrap();
        c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap()
    };
    let limit = pages.to_string();
    let full = Server::start_env(
        tmp.path(),
        &[],
        &[(saferound_server::store::MAX_PAGE_COUNT_ENV, limit.as_str())],
    );
    a.store()
        .set_server(&full.url, Some(&saferound_tests::token(&a)))
        .unwrap();
    let err = saferound_core::sync::client::sync(&a, &mut |_| {})
        .expect_err("the server cannot store the changes");
    assert!(err.retryable(), "{err}");
    match &err {
        saferound_core::Error::Server { status, message } => {
            assert_eq!(*status, 503);
            assert!(message.contains("storage is full"), "{message}");
            assert!(message.contains("try again later"), "{message}");
        }
        other => panic!("expected a 503, got {other}"),
    }
    // The device kept every change, pending; the server kept nothing of them.
    let pending = a.store().unsynced().unwrap();
    for id in &ids {
        assert!(pending.contains(id), "{id} still waits on the device");
    }
    drop(full);
    assert_eq!(integrity_check(&server.db), "ok");
    assert_eq!(server.dump_ledger(), before, "nothing half-written");

    // Room again (the limit lifted): the same device succeeds.
    server.restart();
    a.store()
        .set_server(&server.url, Some(&saferound_tests::token(&a)))
        .unwrap();
    let r = sync(&a);
    assert!(r.rejected.is_empty(), "{r:?}");
    assert!(a.store().unsynced().unwrap().is_empty());
    let ledger = server.dump_ledger();
    for id in &ids {
        assert!(ledger.contains(&id.to_string()), "{id} landed");
    }
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger(), ledger);
}
