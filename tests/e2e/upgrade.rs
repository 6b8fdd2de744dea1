//! Upgrades: a database made by the previous release opens with this one, ends with the
//! schema a fresh database has and keeps every row it held; a device speaking the
//! previous sync protocol is told to update, and nothing it sent is taken.
//!
//! The fixtures were written by the previous release's server (commit `d13bc72`): a
//! `--demo` server, an inspector's phone that synced one inspection with a finding and a
//! separate hazard, the office's regrade of it — on SQLite (`server-previous.db`, its
//! ledger dump `server-previous.ledger`) and on PostgreSQL (`server-previous.pg.sql`, a
//! `pg_dump --inserts` of it, and `server-previous.pg.ledger`). `server-schema4.db` (and
//! its `.ledger`) holds the same records as an older release wrote them, at schema 4, so
//! every migration since runs on real data. `loadgen-previous.db` is the load generator's
//! data (12 inspections, their findings and hazards, regrades) as the previous release
//! stored it, with that release's ledger dump: the ledger this release derives from the
//! same documents must be byte-identical (`loadgen --inspections 12 --keep-db
//! tests/fixtures/loadgen-previous.db`, run with `SAFEROUND_SERVER_BINARY`). Regenerate
//! the previous release's fixtures with the
//! release that should be the "previous" one, built and named by
//! `SAFEROUND_SERVER_BINARY`:
//!
//! ```text
//! SAFEROUND_WRITE_FIXTURE=1 SAFEROUND_SERVER_BINARY=<previous>/saferound-server \
//!   scripts/with-postgres.sh cargo test -p saferound-tests --test e2e write_upgrade_fixture -- --ignored
//! ```

use std::path::Path;

use saferound_core::demo;
use saferound_core::device::NewFinding;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::model::RiskGrade;
use saferound_core::sync::wire;
use saferound_server::store::{Store, scratch, shape};
use saferound_tests::{
    DEMO_PASSWORD, PgDatabase, Server, block_on, enroll, get_json, integrity_check, post_raw, sync,
    token,
};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The fixtures' records, written through `server`: an inspection with a passed and a
/// failed item and a finding, a separate hazard, and the office's regrade of it.
fn record_fixture_scenario(server: &Server, dir: &Path) {
    let a = enroll(server, dir, "a", "inspector", DEMO_PASSWORD);
    let o = enroll(server, dir, "o", "office", DEMO_PASSWORD);
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
}

/// The tables of the previous release's dump in a dump of this release's: the ledger
/// tables this release added come after them (`LEDGER_TABLES`), so what comes before the
/// first of them must be the previous release's dump, byte for byte.
fn previous_tables(dump: &str) -> &str {
    dump.split("## ledger_photos\n")
        .next()
        .unwrap_or(dump)
        .trim_end()
}

fn writing_fixtures() -> bool {
    std::env::var("SAFEROUND_WRITE_FIXTURE").is_ok()
}

#[test]
#[ignore = "writes the fixture; run by hand with SAFEROUND_WRITE_FIXTURE=1"]
fn write_upgrade_fixture_sqlite() {
    if !writing_fixtures() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    record_fixture_scenario(&server, tmp.path());
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
#[ignore = "writes the fixture; run by hand with SAFEROUND_WRITE_FIXTURE=1"]
fn write_upgrade_fixture_postgres() {
    if !writing_fixtures() {
        return;
    }
    let db = PgDatabase::for_test("write_upgrade_fixture_postgres")
        .expect("run under scripts/with-postgres.sh");
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_db(tmp.path(), &db.url, &["--demo"]);
    record_fixture_scenario(&server, tmp.path());
    let ledger = server.dump_ledger();
    server.terminate();
    let pg_dump = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pg_dump"))
        .find(|p| p.exists())
        .unwrap_or_else(|| "pg_dump".into());
    let out = std::process::Command::new(pg_dump)
        .args([
            "--inserts",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(fixtures().join("server-previous.pg.sql"), out.stdout).unwrap();
    std::fs::write(fixtures().join("server-previous.pg.ledger"), ledger).unwrap();
}

/// A database of the previous release, opened by this one: the migrated schema is a fresh
/// database's, every row the old one held is still there, its ledger is the same and so
/// is a ledger rebuilt from its documents, and a phone enrolled now receives them.
fn migrated_forward(server: &mut Server, dir: &Path, expected_ledger: &str) {
    let dump = server.dump_ledger();
    assert_eq!(
        previous_tables(&dump),
        previous_tables(expected_ledger),
        "the ledger survives the upgrade"
    );
    assert!(
        dump.contains("## ledger_photos\n"),
        "the tables added since are there"
    );
    let d = enroll(server, dir, "new", "inspector", DEMO_PASSWORD);
    let hazards = d.hazards(&Default::default()).unwrap();
    assert_eq!(hazards.len(), 2, "{hazards:?}");
    assert!(
        hazards
            .iter()
            .any(|h| h.summary.title.contains("升级前的隐患")),
        "{hazards:?}"
    );
    hazards_are_numbered(
        server,
        &enroll(server, dir, "office-new", "office", DEMO_PASSWORD),
    );
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger(), dump, "derived again, the same ledger");
}

/// Every hazard in the ledger has its own number (2026-0042), hazards received before
/// numbers existed too.
fn hazards_are_numbered(server: &Server, office: &saferound_core::Device) {
    let (status, v) = get_json(server, office, "/api/v1/hazards?limit=1000");
    assert_eq!(status, 200, "{v}");
    let rows = v["hazards"].as_array().expect("hazards");
    let mut serials: Vec<&str> = rows
        .iter()
        .map(|h| h["serial"].as_str().unwrap_or_default())
        .collect();
    assert!(!serials.is_empty());
    assert!(
        serials
            .iter()
            .all(|s| s.len() == 9 && s.as_bytes()[4] == b'-'),
        "{serials:?}"
    );
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), rows.len(), "each its own number");
}

#[test]
fn a_sqlite_database_of_the_previous_release_migrates_forward_with_all_its_data() {
    sqlite_fixture_migrates_forward("server-previous");
}

/// An older database still (schema 4, the same records as an older release's server wrote
/// them) takes every migration since in one start.
#[test]
fn a_sqlite_database_of_schema_4_migrates_forward_with_all_its_data() {
    sqlite_fixture_migrates_forward("server-schema4");
}

fn sqlite_fixture_migrates_forward(fixture: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("server.db");
    std::fs::copy(fixtures().join(format!("{fixture}.db")), &db).unwrap();
    let old = shape::sqlite_shape(&db).unwrap();
    let before = shape::sqlite_rows(&db, &old).unwrap();
    let expected = std::fs::read_to_string(fixtures().join(format!("{fixture}.ledger"))).unwrap();
    let mut server = Server::start_with(tmp.path(), &[]);
    assert_eq!(integrity_check(&db), "ok");
    let fresh = tmp.path().join("fresh.db");
    drop(Store::open_sqlite(&fresh).unwrap());
    let differences = shape::differences(
        &shape::sqlite_shape(&db).unwrap(),
        &shape::sqlite_shape(&fresh).unwrap(),
        "the migrated database",
        "a fresh one",
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    let lost = shape::missing_rows(&before, &shape::sqlite_rows(&db, &old).unwrap());
    assert!(lost.is_empty(), "lost in the upgrade:\n{}", lost.join("\n"));
    migrated_forward(&mut server, tmp.path(), &expected);
}

/// The load generator's documents give, derived by this release, the very ledger the
/// previous release derived from them: every table, byte for byte.
#[test]
fn the_load_generators_data_gives_the_previous_releases_ledger_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("server.db");
    std::fs::copy(fixtures().join("loadgen-previous.db"), &db).unwrap();
    let expected = std::fs::read_to_string(fixtures().join("loadgen-previous.ledger")).unwrap();
    assert!(
        expected.lines().count() > 200,
        "the fixture holds a real ledger"
    );
    let server = Server::start_with(tmp.path(), &[]);
    let dump = server.dump_ledger();
    assert_eq!(
        previous_tables(&dump),
        expected.trim_end(),
        "every table it had"
    );
    assert!(
        dump.contains("## ledger_photos\n") && dump.contains("## ledger_report_texts"),
        "and the tables added since"
    );
    server.admin(&["rebuild-ledger"]);
    assert_eq!(server.dump_ledger(), dump, "derived again by this release");
}

#[test]
fn a_postgres_database_of_the_previous_release_migrates_forward_with_all_its_data() {
    let Some(db) = PgDatabase::for_test("upgrade") else {
        return;
    };
    let dump = std::fs::read_to_string(fixtures().join("server-previous.pg.sql")).unwrap();
    // psql's meta-commands (`\restrict`) are not SQL.
    let dump: String = dump
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    let (old, before) = block_on(async {
        let load = scratch::admin_client(&db.url).await.unwrap();
        load.batch_execute(&dump).await.unwrap();
        // (The dump empties the loading session's search path.)
        let c = scratch::admin_client(&db.url).await.unwrap();
        let old = shape::postgres_shape(&c).await.unwrap();
        let rows = shape::postgres_rows(&c, &old).await.unwrap();
        (old, rows)
    });
    let expected = std::fs::read_to_string(fixtures().join("server-previous.pg.ledger")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_db(tmp.path(), &db.url, &[]);
    let fresh = PgDatabase::for_test("upgrade").unwrap();
    let (migrated, fresh_shape, after) = block_on(async {
        drop(Store::connect_postgres(&fresh.url).await.unwrap());
        let c = scratch::admin_client(&db.url).await.unwrap();
        let f = scratch::admin_client(&fresh.url).await.unwrap();
        (
            shape::postgres_shape(&c).await.unwrap(),
            shape::postgres_shape(&f).await.unwrap(),
            shape::postgres_rows(&c, &old).await.unwrap(),
        )
    });
    let differences = shape::differences(
        &migrated,
        &fresh_shape,
        "the migrated database",
        "a fresh one",
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    let lost = shape::missing_rows(&before, &after);
    assert!(lost.is_empty(), "lost in the upgrade:\n{}", lost.join("\n"));
    migrated_forward(&mut server, tmp.path(), &expected);
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
