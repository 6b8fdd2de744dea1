//! Faults and hostile input: killed server, garbage bodies, forged actors, forbidden
//! actions. None of them loses or changes anything.

use saferound_core::demo;
use saferound_core::device::NewFinding;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::sync::wire::{self, PushDoc, SyncRequest};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, post_raw, sync, token};

#[test]
fn garbage_truncated_oversized_and_unauthenticated_bodies_get_clear_4xx() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let t = token(&a);
    let before = server.dump_ledger();

    let (s, _) = post_raw(&server, "/api/v1/sync", None, b"x");
    assert_eq!(s, 401);
    let (s, _) = post_raw(&server, "/api/v1/sync", Some("not-a-token"), b"x");
    assert_eq!(s, 401);
    let (s, body) = post_raw(&server, "/api/v1/sync", Some(&t), b"\xff\x00garbage");
    assert_eq!(s, 400, "{body}");
    let good = wire::encode(&SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        docs: vec![PushDoc {
            id: uuid::Uuid::now_v7(),
            heads: vec![],
            changes: vec![],
        }],
        max_update_bytes: 1 << 20,
    });
    for cut in [1, good.len() / 2, good.len() - 1] {
        let (s, _) = post_raw(&server, "/api/v1/sync", Some(&t), &good[..cut]);
        assert_eq!(s, 400, "cut at {cut}");
    }
    let (s, _) = post_raw(
        &server,
        "/api/v1/sync",
        Some(&t),
        &vec![0u8; wire::MAX_REQUEST_BYTES + 1],
    );
    assert_eq!(s, 413);
    let old = wire::encode(&SyncRequest {
        protocol: 0,
        cursor: 0,
        docs: vec![],
        max_update_bytes: 0,
    });
    let (s, body) = post_raw(&server, "/api/v1/sync", Some(&t), &old);
    assert_eq!(s, 426, "{body}");
    assert!(body.contains("update"), "{body}");
    // Bytes that are not changes, inside a well-formed request: a per-document rejection.
    let bad = wire::encode(&SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        docs: vec![PushDoc {
            id: uuid::Uuid::now_v7(),
            heads: vec![],
            changes: vec![serde_bytes::ByteBuf::from(vec![
                0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 200, 1, 2, 3,
            ])],
        }],
        max_update_bytes: 1 << 20,
    });
    let (s, _) = post_raw(&server, "/api/v1/sync", Some(&t), &bad);
    assert_eq!(s, 200);
    assert_eq!(server.dump_ledger(), before, "nothing changed");
}

#[test]
fn a_forged_actor_and_a_forbidden_action_are_refused_quarantined_and_harm_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let o = enroll(&server, tmp.path(), "o", "owner", DEMO_PASSWORD);
    let finding = |d: &saferound_core::Device, text: &str| {
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
    };
    let good = finding(&a, "楼梯扶手松动").unwrap();

    // The responsible person may not report hazards: the API refuses it up front, so we
    // write the document directly, as a tampered app would.
    let forbidden = saferound_core::ids::DocId::new();
    o.store()
        .write(o.actor(), "2026-12-28T01:00:00Z".parse().unwrap(), |tx| {
            tx.create(forbidden, |d| {
                saferound_core::doc::hazard::create(
                    d,
                    &saferound_core::doc::hazard::NewHazard {
                        id: forbidden,
                        institution: o.identity().institution,
                        campaign: None,
                        inspection: None,
                        site: saferound_core::doc::SiteRef {
                            id: demo::site("第一教学楼"),
                            name: "第一教学楼".into(),
                            kind: saferound_core::model::SiteKind::TeachingBuilding,
                        },
                        category: HazardCategory::Buildings,
                        risk: RiskGrade::Low,
                        location: String::new(),
                        description: "不该由我上报".into(),
                        photos: vec![],
                    },
                    &o.identity().user,
                    "2026-12-28T01:00:00Z".parse().unwrap(),
                )
            })
        })
        .unwrap();
    // A change under another device's actor: the owner writes with A's actor.
    let forged = saferound_core::ids::DocId::new();
    o.store()
        .write(a.actor(), "2026-12-28T01:00:00Z".parse().unwrap(), |tx| {
            tx.create(forged, |d| {
                saferound_core::doc::incident::create(
                    d,
                    &saferound_core::doc::incident::NewIncident {
                        id: forged,
                        institution: o.identity().institution,
                        campaign: None,
                        occurred_at: "2026-12-28T00:00:00Z".parse().unwrap(),
                        site: None,
                        location: String::new(),
                        category: HazardCategory::Theft,
                        severity: RiskGrade::Low,
                        title: "冒名".into(),
                        description: "伪造的作者".into(),
                        actions_taken: String::new(),
                    },
                    &o.identity().user,
                    "2026-12-28T01:00:00Z".parse().unwrap(),
                )
            })
        })
        .unwrap();
    // And one legitimate weekly report in the same batch.
    let weekly = o.file_weekly_report(None, None, true, "").unwrap();

    sync(&a);
    let r = sync(&o);
    let refused: Vec<&String> = r.rejected.iter().map(|x| &x.0).collect();
    assert!(refused.contains(&&forbidden.to_string()), "{r:?}");
    assert!(refused.contains(&&forged.to_string()), "{r:?}");
    let q = o.store().quarantined().unwrap();
    assert_eq!(q.len(), 2);
    assert!(q.iter().any(|x| x.code == "forbidden"), "{q:?}");
    assert!(q.iter().any(|x| x.code == "forged_actor"), "{q:?}");
    assert!(
        o.store().load(forbidden).unwrap().is_none(),
        "reset to the server's (no) copy"
    );
    // The rest of the batch landed; the server has none of the refused documents.
    let (s, _) = saferound_tests::get_json(&server, &a, &format!("/api/v1/hazards/{forbidden}"));
    assert_eq!(s, 404);
    let (s, _) = saferound_tests::get_json(&server, &a, &format!("/api/v1/hazards/{good}"));
    assert_eq!(s, 200);
    assert!(server.dump_ledger().contains(&weekly.to_string()));
    // Later syncs are clean.
    assert!(sync(&o).rejected.is_empty());
}

#[test]
fn a_photo_upload_cut_halfway_resumes_with_what_was_left() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
    photo.extend((0..600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let hash = a.add_photo(&photo).unwrap();
    let path = format!("/api/v1/blobs/{hash}");
    // The first 300 KB arrive, then the connection is gone.
    let len = ("Upload-Length", photo.len().to_string());
    let (s, _) = saferound_tests::put_raw(
        &server,
        &path,
        &token(&a),
        &[("Upload-Offset", "0".into()), len.clone()],
        &photo[..300_000],
    );
    assert_eq!(s, 202);
    // Resuming from the wrong place is refused, not corrupted.
    let (s, _) = saferound_tests::put_raw(
        &server,
        &path,
        &token(&a),
        &[("Upload-Offset", "10".into()), len],
        &photo[10..20],
    );
    assert_eq!(s, 409);
    let r = sync(&a);
    assert_eq!(r.photos_uploaded, 1);
    assert_eq!(
        r.photo_bytes_up,
        photo.len() - 300_000,
        "only what was left"
    );
    let (s, bytes) = saferound_tests::get_bytes(&server, &a, &path);
    assert_eq!(s, 200);
    assert_eq!(bytes, photo);
    // Bytes that do not match their name are refused.
    let fake = saferound_core::ids::BlobHash::of(b"something else");
    let (s, _) = saferound_tests::put_raw(
        &server,
        &format!("/api/v1/blobs/{fake}"),
        &token(&a),
        &[("Upload-Length", "6".into())],
        &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2],
    );
    assert_eq!(s, 400);
    // Metrics count what happened.
    let metrics = server.metrics().expect("metrics for the scraper's token");
    assert!(
        metrics.contains("saferound_sync_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("saferound_blob_bytes_in_total"),
        "{metrics}"
    );
}

#[test]
fn a_server_killed_mid_sync_loses_nothing_and_doubles_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let codes: Vec<String> = (1..=15).map(|n| format!("DORM-{n:02}")).collect();
    let mut ids = Vec::new();
    for n in 0..60 {
        let i = a
            .start_inspection(demo::site("5号学生公寓"), None, None)
            .unwrap();
        for c in &codes[..5] {
            a.answer(i, c, AnswerResult::Pass, "", &[], None).unwrap();
        }
        ids.push(
            a.add_finding(
                i,
                &NewFinding {
                    item: Some(codes[n % 15].clone()),
                    description: format!("隐患 {n}"),
                    ..Default::default()
                },
            )
            .unwrap(),
        );
        ids.push(i);
    }
    // Kill the server while the device is syncing.
    let url = server.url.clone();
    let handle = std::thread::spawn({
        let path = tmp.path().join("a.db");
        move || {
            let d = saferound_core::Device::open(
                &path,
                std::sync::Arc::new(saferound_core::SystemClock),
            )
            .unwrap();
            saferound_core::sync::client::sync_with(
                &d,
                &url,
                &d.store().sync_settings().unwrap().token.unwrap(),
                &mut |_| {},
            )
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    server.kill();
    let _ = handle.join().unwrap(); // it may have finished, or failed: both are fine
    server.restart();
    a.store().set_server(&server.url, Some(&token(&a))).unwrap();
    let r = sync(&a);
    assert!(r.rejected.is_empty(), "{r:?}");
    assert!(
        a.store().unsynced().unwrap().is_empty(),
        "everything acknowledged"
    );
    // Everything is on the server exactly once, and a new device receives it all.
    let fresh = enroll(&server, tmp.path(), "fresh", "inspector2", DEMO_PASSWORD);
    for id in &ids {
        let mut mine = a.store().load(*id).unwrap().unwrap();
        let mut theirs = fresh
            .store()
            .load(*id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} lost"));
        assert_eq!(mine.get_heads(), theirs.get_heads());
    }
    let ledger = server.dump_ledger();
    assert_eq!(
        ledger.matches("隐患 ").count(),
        60,
        "no hazard doubled or lost"
    );
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger(), ledger);
}

#[test]
fn serves_https_with_its_own_certificate_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success());
    let mut server = Server::start_with(
        tmp.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let out = std::process::Command::new("curl")
        .args(["-sk", &format!("{}/healthz", server.url)])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok");
    let plain = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/healthz", server.url.replace("https", "http")),
        ])
        .output()
        .expect("curl");
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "no plain HTTP on the TLS port"
    );
    let status = server.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
}
