//! Photos a phone uploads before the records that name them: partial uploads belong to
//! their device, photos no record uses count against quotas per device and institution,
//! and they (and stale partial uploads) are removed after their grace period — a phone
//! whose photo went uploads it again, so nothing it recorded is lost.

use std::time::{Duration, Instant, SystemTime};

use saferound_core::demo;
use saferound_core::device::NewFinding;
use saferound_core::ids::BlobHash;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_tests::{DEMO_PASSWORD, Server, agent, enroll, put_raw, sync, token};

/// A JPEG-looking photo of `len` bytes, different for every `seed`.
fn photo(seed: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0xFF, 0xD8, 0xFF, 0xE0];
    p.extend((0..len as u32 - 4).map(|i| ((i ^ seed).wrapping_mul(2_654_435_761) >> 13) as u8));
    p
}

fn head(server: &Server, token: &str, hash: &BlobHash) -> u16 {
    agent()
        .head(format!("{}/api/v1/blobs/{hash}", server.url))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("HEAD")
        .status()
        .as_u16()
}

fn put(
    server: &Server,
    token: &str,
    hash: &BlobHash,
    bytes: &[u8],
    offset: usize,
    total: usize,
) -> (u16, String) {
    put_raw(
        server,
        &format!("/api/v1/blobs/{hash}"),
        token,
        &[
            ("Upload-Offset", offset.to_string()),
            ("Upload-Length", total.to_string()),
        ],
        bytes,
    )
}

fn report(d: &saferound_core::Device, photos: Vec<BlobHash>) -> saferound_core::ids::DocId {
    d.report_hazard(
        demo::site("第一教学楼"),
        None,
        &NewFinding {
            category: Some(HazardCategory::Buildings),
            risk: Some(RiskGrade::General),
            description: "墙皮脱落".into(),
            photos,
            ..Default::default()
        },
    )
    .expect("report a hazard")
}

#[test]
fn partial_uploads_are_the_devices_own_and_quotas_hold_until_records_use_the_photos() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--device-photo-quota-mib",
            "2",
            "--institution-photo-quota-mib",
            "3",
        ],
    );
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let b = enroll(&server, tmp.path(), "b", "inspector2", DEMO_PASSWORD);
    let (ta, tb) = (token(&a), token(&b));

    // A's partial upload is A's: B neither sees it nor appends to it.
    let x = photo(99, 300_000);
    let hx = BlobHash::of(&x);
    assert_eq!(put(&server, &ta, &hx, &x[..100_000], 0, x.len()).0, 202);
    assert_eq!(head(&server, &ta, &hx), 204);
    assert_eq!(
        head(&server, &tb, &hx),
        404,
        "another device's partial upload"
    );
    assert_eq!(
        put(&server, &tb, &hx, &x[100_000..], 100_000, x.len()).0,
        409
    );

    // Photos no record uses yet, arrived or arriving: A's 2 MiB, then the institution's
    // 3 MiB, are full.
    let p: Vec<Vec<u8>> = (0..3).map(|i| photo(i, 800_000)).collect();
    let h: Vec<BlobHash> = p.iter().map(|p| BlobHash::of(p)).collect();
    for i in 0..2 {
        assert_eq!(put(&server, &ta, &h[i], &p[i], 0, p[i].len()).0, 201);
    }
    let (s, body) = put(&server, &ta, &h[2], &p[2], 0, p[2].len());
    assert_eq!(s, 507, "{body}");
    assert!(body.contains("this device"), "{body}");
    let big = photo(7, 1_500_000);
    let (s, body) = put(&server, &tb, &BlobHash::of(&big), &big, 0, big.len());
    assert_eq!(s, 507, "{body}");
    assert!(body.contains("institution"), "{body}");
    let small = photo(8, 20_000);
    assert_eq!(
        put(&server, &tb, &BlobHash::of(&small), &small, 0, small.len()).0,
        201
    );

    // A hazard with the three photos: the first sync finds two on the server and stops
    // uploading at the quota; the record waits (not refused), and using the two frees
    // room, so the next sync brings the third and the hazard.
    for bytes in &p {
        a.add_photo(bytes).unwrap();
    }
    let hazard = report(&a, h.clone());
    let r = sync(&a);
    assert!(r.photos_waiting, "{r:?}");
    assert!(r.rejected.is_empty(), "waiting is not refused: {r:?}");
    assert!(!server.dump_ledger().contains(&hazard.to_string()));
    let r = sync(&a);
    assert!(!r.photos_waiting, "{r:?}");
    assert!(r.rejected.is_empty(), "{r:?}");
    assert!(server.dump_ledger().contains(&hazard.to_string()), "{r:?}");
    for p in &h {
        assert_eq!(head(&server, &tb, p), 200, "the institution holds {p}");
    }
    // With its photos used, A may upload again.
    assert_eq!(
        put(&server, &ta, &hx, &x[100_000..], 100_000, x.len()).0,
        201
    );
}

/// Sets a file's modification time `age` back, as if nobody had touched it since.
fn age_file(path: &std::path::Path, age: Duration) {
    std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now() - age))
        .unwrap_or_else(|e| panic!("age {}: {e}", path.display()));
}

#[test]
fn unused_photos_and_stale_partial_uploads_are_removed_and_a_phone_uploads_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    // Used: on a synced hazard. Unused: uploaded at a sync, then the record naming it is
    // written days later. Partial: half an upload, never finished.
    let used = a.add_photo(&photo(1, 50_000)).unwrap();
    report(&a, vec![used.clone()]);
    let unused = a.add_photo(&photo(2, 50_000)).unwrap();
    assert_eq!(sync(&a).photos_uploaded, 2);
    let p = photo(3, 50_000);
    let partial = BlobHash::of(&p);
    assert_eq!(
        put(&server, &token(&a), &partial, &p[..10_000], 0, p.len()).0,
        202
    );

    // Two days pass: the server's rows and files are made that old, then it starts again.
    server.kill();
    let two_days = Duration::from_secs(2 * 24 * 3600);
    let db = rusqlite::Connection::open(&server.db).unwrap();
    db.execute("UPDATE blobs SET received_at = '2000-01-01T00:00:00Z'", [])
        .unwrap();
    drop(db);
    let blobs = server.blobs.clone();
    let file = |h: &BlobHash| blobs.join(&h.to_string()[..2]).join(h.to_string());
    for h in [&used, &unused] {
        age_file(&file(h), two_days);
    }
    let partials: Vec<_> = std::fs::read_dir(server.blobs.join("partial"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(partials.len(), 1, "{partials:?}");
    age_file(&partials[0], two_days);
    server.restart();
    a.store().set_server(&server.url, Some(&token(&a))).unwrap();
    let t = token(&a);

    // The sweep runs at start.
    let deadline = Instant::now() + Duration::from_secs(30);
    while head(&server, &t, &unused) != 404 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(head(&server, &t, &unused), 404, "unused past its grace");
    assert!(!file(&unused).exists(), "its file is gone");
    assert_eq!(head(&server, &t, &partial), 404, "the stale partial upload");
    assert!(!partials[0].exists());
    assert_eq!(head(&server, &t, &used), 200, "a used photo stays");
    assert!(file(&used).exists());

    // The phone still believes the server holds `unused`: its record is held back, the
    // photo uploaded again, and the record lands.
    let h = report(&a, vec![unused.clone()]);
    let r = sync(&a);
    assert!(r.rejected.is_empty(), "held back, not refused: {r:?}");
    assert!(!server.dump_ledger().contains(&h.to_string()));
    let r = sync(&a);
    assert_eq!(r.photos_uploaded, 1, "{r:?}");
    assert!(server.dump_ledger().contains(&h.to_string()), "{r:?}");
    assert_eq!(head(&server, &t, &unused), 200);
}
