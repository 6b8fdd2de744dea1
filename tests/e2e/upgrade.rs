//! Upgrades: a database made by the previous release opens with this one and keeps all
//! its data; a device speaking the previous sync protocol is told to update, and
//! nothing it sent is taken.
//!
//! The fixture `tests/fixtures/server-previous.db` was made by the release before this
//! one (schema 4): a `--demo` server, an inspector's phone that synced one inspection
//! with a finding and a separate hazard, the office's regrade of it. Its canonical ledger
//! dump is `server-previous.ledger`. Regenerate both with the release that should be the
//! "previous" one: `SAFEROUND_WRITE_FIXTURE=1 cargo test -p saferound-tests --test e2e
//! write_upgrade_fixture -- --ignored`.

use std::path::Path;

use saferound_core::demo;
use saferound_core::device::NewFinding;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::model::RiskGrade;
use saferound_core::sync::wire;
use saferound_tests::{DEMO_PASSWORD, Server, enroll, integrity_check, post_raw, sync, token};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

#[test]
#[ignore = "writes the fixture; run by hand with SAFEROUND_WRITE_FIXTURE=1"]
fn write_upgrade_fixture() {
    if std::env::var("SAFEROUND_WRITE_FIXTURE").is_err() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let o = enroll(&server, tmp.path(), "o", "office", DEMO_PASSWORD);
    let i = a
        .start_inspection(demo::site("5号学生公寓"), None, None)
        .unwrap();
    a.answer(i, "DORM-01", AnswerResult::Pass, "", &[], None)
        .unwrap();
    a.answer(
        i,
        "DORM-02",
        AnswerResult::Fail,
        "走廊堆放自行车",
        &[],
        None,
    )
    .unwrap();
    a.add_finding(
        i,
        &NewFinding {
            item: Some("DORM-02".into()),
            description: "疏散走廊堆放自行车".into(),
            ..Default::default()
        },
    )
    .unwrap();
    a.submit_inspection(i).unwrap();
    let h = crate::durability::record(&a, 1, "升级前的隐患")[0];
    sync(&a);
    sync(&o);
    o.regrade(h, RiskGrade::Significant, "复核").unwrap();
    sync(&o);
    let ledger = server.dump_ledger();
    server.terminate();
    let out = fixtures().join("server-previous.db");
    let _ = std::fs::remove_file(&out);
    let c = rusqlite::Connection::open(&server.db).unwrap();
    c.execute("VACUUM INTO ?1", [out.to_str().unwrap()])
        .unwrap();
    std::fs::write(fixtures().join("server-previous.ledger"), ledger).unwrap();
}

#[test]
fn a_database_of_the_previous_release_migrates_forward_with_all_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("server.db");
    std::fs::copy(fixtures().join("server-previous.db"), &db).unwrap();
    let expected = std::fs::read_to_string(fixtures().join("server-previous.ledger")).unwrap();
    let server = Server::start_with(tmp.path(), &[]);
    assert_eq!(integrity_check(&db), "ok");
    assert_eq!(
        server.dump_ledger().trim(),
        expected.trim(),
        "the ledger survives the upgrade"
    );
    // The documents survive too: a phone enrolled now receives them, and a ledger
    // rebuilt from them alone is the same ledger.
    let d = enroll(&server, tmp.path(), "new", "inspector", DEMO_PASSWORD);
    let hazards = d.hazards(&Default::default()).unwrap();
    assert_eq!(hazards.len(), 2, "{hazards:?}");
    assert!(
        hazards
            .iter()
            .any(|h| h.summary.title.contains("升级前的隐患")),
        "{hazards:?}"
    );
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger().trim(), expected.trim());
    // Accounts survive: the old demo logins still work (the enrolment above), and the
    // database is now at this release's schema.
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 4);
}

#[test]
fn a_device_on_the_previous_protocol_is_told_to_update_and_nothing_is_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let h = crate::durability::record(&a, 1, "旧版本")[0];
    let before = server.dump_ledger();
    // A request as the previous release's app builds it (protocol N-1; the message shape
    // is the same, only the version differs), carrying real changes.
    let (heads, changes) = a.store().pending_push(h).unwrap().unwrap();
    let old = wire::encode(&wire::SyncRequest {
        protocol: wire::PROTOCOL_VERSION - 1,
        cursor: 0,
        docs: vec![wire::PushDoc {
            id: h.0,
            heads: wire::heads_to_bytes(&heads),
            changes: changes
                .into_iter()
                .map(serde_bytes::ByteBuf::from)
                .collect(),
        }],
        max_update_bytes: 1 << 20,
    });
    let (status, body) = post_raw(&server, "/api/v1/sync", Some(&token(&a)), &old);
    assert_eq!(status, 426, "{body}");
    let message = serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("please update the app"), "{message}");
    assert_eq!(server.dump_ledger(), before, "nothing of it was taken");
    // The app maps it to a clear error, not a retry and not a corrupt store.
    let e = saferound_core::Error::Server {
        status,
        message: message.clone(),
    };
    assert!(!e.retryable());
    let phone: saferound_mobile::SafeRoundError = e.into();
    assert!(phone.to_string().contains("please update"), "{phone}");
    // The current app syncs the same change normally.
    assert!(sync(&a).rejected.is_empty());
    assert!(server.dump_ledger().contains(&h.to_string()));
}
