//! Two server processes (replicas A and B) on one PostgreSQL database and one photo
//! directory, with real devices switching between them: whichever replica a device syncs
//! through, it gets exactly what it lacks; concurrent syncs of the same document through
//! both (a compare-and-swap contended across processes) lose nothing; a replica killed
//! with SIGKILL while syncs are in flight loses nothing either; each replica writes the
//! directory with an actor of its own; a dashboard on B hears of an incident synced
//! through A at once (NOTIFY/LISTEN), not at its next poll.
//!
//! Needs `SAFEROUND_TEST_PG` (`scripts/with-postgres.sh`); skipped with a message when
//! unset, failed when `SAFEROUND_REQUIRE_PG=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use saferound_core::device::{NewFinding, NewIncidentInput};
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::ids::DocId;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::sync::client::SyncReport;
use saferound_core::{Device, demo};
use saferound_tests::{DEMO_PASSWORD, PgDatabase, Server, agent, enroll, get_json, sync, token};

use crate::dashboard::Web;

/// Points the device at `server` (same token: one database behind both).
fn via(d: &Device, server: &Server) {
    d.store()
        .set_server(&server.url, Some(&token(d)))
        .expect("set the server");
}

/// Syncs through `server`, asserting nothing was refused.
fn sync_via(d: &Device, server: &Server) -> SyncReport {
    via(d, server);
    let r = sync(d);
    assert!(r.rejected.is_empty(), "refused: {:?}", r.rejected);
    r
}

/// Every document the device holds: id → heads (as stored, sorted by the store).
fn documents(d: &Device) -> BTreeMap<String, Vec<u8>> {
    let c = rusqlite::Connection::open_with_flags(
        d.store().path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the device store");
    let mut s = c
        .prepare("SELECT id, heads FROM documents ORDER BY id")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The hazard ledger as a replica's JSON API answers it (the whole list).
fn ledger(server: &Server, d: &Device) -> serde_json::Value {
    let (status, v) = get_json(server, d, "/api/v1/hazards?limit=1000");
    assert_eq!(status, 200, "{v}");
    v
}

/// The events of a hazard as a replica's ledger holds them.
fn events(server: &Server, d: &Device, h: DocId) -> Vec<serde_json::Value> {
    let (status, v) = get_json(server, d, &format!("/api/v1/hazards/{h}"));
    assert_eq!(status, 200, "{v}");
    v["events"].as_array().expect("events").clone()
}

/// One inspection of a dormitory with `findings` findings; the new document ids
/// (inspection first).
fn inspect(d: &Device, findings: usize, tag: &str) -> Vec<DocId> {
    let i = d
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .expect("start");
    d.answer(i, "DORM-01", AnswerResult::Fail, tag, &[], None)
        .expect("answer");
    let mut ids = vec![i];
    for f in 0..findings {
        ids.push(
            d.add_finding(
                i,
                &NewFinding {
                    item: Some("DORM-01".into()),
                    risk: Some(RiskGrade::General),
                    location: format!("{f}F"),
                    description: format!("{tag}-{f}: 疏散通道堆放杂物"),
                    ..Default::default()
                },
            )
            .expect("finding"),
        );
    }
    d.submit_inspection(i).expect("submit");
    ids
}

/// The ledger's hazards, by id (`total` checked against the list).
fn hazard_ids(l: &serde_json::Value) -> BTreeSet<String> {
    let items = l["hazards"].as_array().expect("a hazard list");
    assert_eq!(l["total"].as_u64(), Some(items.len() as u64), "one page");
    items
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_string())
        .collect()
}

/// `POST /api/v1/admin/departments` with a device's token: the replica refreshes the
/// directory document, with its own actor.
fn add_department(server: &Server, admin: &Device, name: &str) {
    let mut r = agent()
        .post(format!("{}/api/v1/admin/departments", server.url))
        .header("Authorization", format!("Bearer {}", token(admin)))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({ "name": name }).to_string())
        .expect("POST");
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.body_mut().read_to_string().unwrap());
}

#[test]
fn devices_switching_replicas_converge_and_concurrent_edits_survive() {
    let Some(db) = PgDatabase::for_test("replicas") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Started at the same moment with --demo: one seeds, the other finds it done (a
    // race here used to fail the second on the first's rows).
    let mut servers = Server::start_replicas(tmp.path(), &db.url, 2, &["--demo"]);
    let (a, b) = (servers.remove(0), servers.remove(0));
    let r = [&a, &b];

    let insp = enroll(&a, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    let insp2 = enroll(&b, tmp.path(), "insp2", "inspector2", DEMO_PASSWORD);
    let office = enroll(&a, tmp.path(), "office", "office", DEMO_PASSWORD);
    let owner = enroll(&b, tmp.path(), "owner", "owner", DEMO_PASSWORD);
    let admin = enroll(&a, tmp.path(), "admin", "demo-admin", DEMO_PASSWORD);
    let devices = [&insp, &insp2, &office, &owner, &admin];
    // The demo institution once: each person once in the directory, whoever seeded it.
    let people = insp.directory().unwrap().expect("directory").people;
    let expected_people = demo::PEOPLE
        .iter()
        .filter(|(_, _, _, roles)| roles != &[saferound_core::model::Role::Administrator])
        .count();
    assert_eq!(people.len(), expected_people, "{people:?}");

    // Offline work, synced round by round through alternating replicas: device k syncs
    // through replica (k + round) % 2.
    let mut hazards = Vec::new();
    for round in 0..4 {
        hazards.extend(inspect(&insp, 2, &format!("a{round}"))[1..].to_vec());
        hazards.extend(inspect(&insp2, 1, &format!("b{round}"))[1..].to_vec());
        if let Some(h) = hazards.first() {
            office
                .regrade(*h, RiskGrade::Significant, &format!("round {round}"))
                .ok();
        }
        for (k, d) in devices.iter().enumerate() {
            sync_via(d, r[(k + round) % 2]);
        }
    }
    // A photo taken on a phone syncing through A is fetched through B: one directory.
    let i = insp
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    let photo = insp.add_photo(&[0xFF, 0xD8, 0xFF, 0xE0, 7, 7]).unwrap();
    insp.answer(
        i,
        "DORM-01",
        AnswerResult::Fail,
        "照片",
        std::slice::from_ref(&photo),
        None,
    )
    .unwrap();
    assert_eq!(sync_via(&insp, &a).photos_uploaded, 1);
    via(&office, &b);
    let fetched = saferound_core::sync::client::fetch_photo(&office, &photo).unwrap();
    assert_eq!(fetched, vec![0xFF, 0xD8, 0xFF, 0xE0, 7, 7]);
    for (k, d) in devices.iter().enumerate() {
        sync_via(d, r[k % 2]);
    }

    // Exactly what it lacks: one inspection with two findings (three documents) made
    // through A reaches the owner, last synced through A, through B — those three and
    // nothing else; and a device up to date gets nothing from the other replica.
    let new_docs = inspect(&insp, 2, "exact");
    assert_eq!(sync_via(&insp, &a).pushed_docs, 3);
    hazards.extend(new_docs[1..].to_vec());
    sync_via(&owner, &a); // (up to date through A first)
    let r_owner = sync_via(&owner, &b);
    assert_eq!((r_owner.pushed_docs, r_owner.received_docs), (0, 0));
    let more = inspect(&insp, 2, "exact2");
    sync_via(&insp, &a);
    hazards.extend(more[1..].to_vec());
    let r_owner = sync_via(&owner, &b);
    assert_eq!(r_owner.received_docs, 3, "the three new documents, no more");
    assert_eq!(r_owner.pushed_docs, 0);
    let r_owner = sync_via(&owner, &a);
    assert_eq!((r_owner.pushed_docs, r_owner.received_docs), (0, 0));

    // The same hazard edited at once through both replicas, five rounds: three devices
    // (its reporter's and two of the safety office's, who may regrade it) regrade it
    // offline, then all sync together (a barrier), two through A and one through B (and
    // the other way the next round). Every regrade is an event; none may be lost to the
    // compare-and-swap across processes.
    let h = *hazards.last().unwrap();
    let office2 = enroll(&b, tmp.path(), "office2", "office", DEMO_PASSWORD);
    for d in devices.iter().chain([&&office2]) {
        sync_via(d, &a);
    }
    let events_before = events(&a, &office, h).len();
    let editors = [&insp, &office2, &office];
    let grades = [RiskGrade::Low, RiskGrade::General, RiskGrade::Significant];
    let rounds = 5;
    let per_round = 2;
    for round in 0..rounds {
        for (k, d) in editors.iter().enumerate() {
            for e in 0..per_round {
                d.regrade(h, grades[(k + e + round) % 3], &format!("{k}/{round}/{e}"))
                    .unwrap();
            }
        }
        let start = Barrier::new(editors.len());
        std::thread::scope(|s| {
            for (k, d) in editors.iter().enumerate() {
                let (start, server) = (&start, r[(k + round) % 2]);
                via(d, server);
                s.spawn(move || {
                    start.wait();
                    let rep = sync(d);
                    assert!(rep.rejected.is_empty(), "{:?}", rep.rejected);
                });
            }
        });
    }
    // Two passes bring everyone everything.
    for pass in 0..2 {
        for (k, d) in devices.iter().enumerate() {
            sync_via(d, r[(k + pass) % 2]);
        }
    }
    let expected_events = events_before + editors.len() * rounds * per_round;
    assert_eq!(events(&a, &office, h).len(), expected_events, "through A");
    assert_eq!(events(&b, &office, h).len(), expected_events, "through B");

    // Each replica refreshes the directory with its own actor, at the same time: both
    // departments are there for every phone, and the directory's changes come from
    // exactly two actors (the seeding replica is one of A and B).
    std::thread::scope(|s| {
        s.spawn(|| add_department(&a, &admin, "甲处"));
        s.spawn(|| add_department(&b, &admin, "乙处"));
    });
    // At the same time, one replica's refresh may already write both (it reads the
    // other's department), and the other's then has nothing to change: one more each,
    // one after the other, so each replica surely writes.
    add_department(&a, &admin, "丙处");
    add_department(&b, &admin, "丁处");
    for (k, d) in devices.iter().enumerate() {
        sync_via(d, r[k % 2]);
    }
    let dir_id = saferound_core::doc::directory::id_for(demo::institution());
    for d in devices {
        let names: Vec<String> = d
            .directory()
            .unwrap()
            .unwrap()
            .departments
            .values()
            .map(|x| x.name.clone())
            .collect();
        for n in ["甲处", "乙处", "丙处", "丁处"] {
            assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
        }
    }
    let mut dir_doc = insp.store().load(dir_id).unwrap().expect("the directory");
    let actors: BTreeSet<_> = dir_doc
        .get_changes(&[])
        .iter()
        .map(|c| c.actor_id().clone())
        .collect();
    assert_eq!(actors.len(), 2, "one actor per replica: {actors:?}");

    // Everyone holds the same documents, the two replicas show the same ledger with
    // every hazard once, and that ledger is what the documents alone give.
    let reference = documents(&insp);
    for d in devices {
        assert_eq!(documents(d), reference);
    }
    let (la, lb) = (ledger(&a, &office), ledger(&b, &office));
    assert_eq!(la, lb, "the same ledger from either replica");
    let expected: BTreeSet<String> = hazards.iter().map(|h| h.to_string()).collect();
    assert_eq!(hazard_ids(&la), expected, "every hazard once");
    a.assert_ledger_equals_a_rebuild();

    // A dashboard on B hears of an incident synced through A at once: notified, not
    // polled (its fallback poll comes 5 s after it last looked, when it connected).
    let web = Web::login(&b, "office");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let (url, cookie) = (b.url.clone(), web.cookie.clone());
    let (ctx, crx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let response = agent
            .get(format!("{url}/incidents/stream?after=0"))
            .header("Cookie", &cookie)
            .call()
            .expect("the stream");
        // The headers are here: the stream subscribed and took its first look.
        let _ = ctx.send(Instant::now());
        for line in BufReader::new(response.into_body().into_reader()).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("data:") && tx.send(line).is_err() {
                break;
            }
        }
    });
    insp.file_incident(&NewIncidentInput {
        occurred_at: None,
        site: Some(demo::site("1号学生公寓")),
        location: "2楼".into(),
        category: HazardCategory::FireSafety,
        severity: RiskGrade::Major,
        title: "跨副本事故".into(),
        description: "经 A 同步，在 B 的看板上".into(),
        actions_taken: "已处置".into(),
    })
    .unwrap();
    let connected = crx
        .recv_timeout(Duration::from_secs(10))
        .expect("the stream connects");
    sync_via(&insp, &a);
    let synced = Instant::now();
    let data = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the incident on B's stream");
    let heard = Instant::now();
    assert!(data.contains("跨副本事故"), "{data}");
    eprintln!(
        "incident synced through A on B's stream {} ms after the sync",
        (heard - synced).as_millis()
    );
    assert!(
        heard - connected < Duration::from_millis(4500),
        "heard {} ms after connecting: that was the fallback poll, not a notification",
        (heard - connected).as_millis()
    );
}

#[test]
fn a_replica_killed_mid_sync_loses_nothing() {
    let Some(db) = PgDatabase::for_test("replicas") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut servers = Server::start_replicas(tmp.path(), &db.url, 2, &["--demo"]);
    let (mut a, b) = (servers.remove(0), servers.remove(0));
    let a_pid = a.pid().expect("A runs");

    let insp = enroll(&a, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    let insp2 = enroll(&a, tmp.path(), "insp2", "inspector2", DEMO_PASSWORD);
    let office = enroll(&a, tmp.path(), "office", "office", DEMO_PASSWORD);
    let owner = enroll(&b, tmp.path(), "owner", "owner", DEMO_PASSWORD);
    // One hazard everybody edits: the office regrades it throughout.
    let shared = inspect(&insp, 1, "shared")[1];
    sync_via(&insp, &a);
    sync_via(&office, &a);
    let regrades_before = events(&a, &office, shared).len();

    // Three devices record and sync in a loop through A; meanwhile A is killed. A sync
    // that fails goes on through B, as a phone whose server stopped answering would
    // after its operator switched it (or a load balancer did).
    let killed = AtomicBool::new(false);
    let syncs_through_a = AtomicUsize::new(0);
    let created = Mutex::new(Vec::<DocId>::new());
    let regrades = AtomicUsize::new(0);
    let (a_ref, b_ref) = (&a, &b);
    let iterations = 12;
    let work = |d: &'static str, dev: &Device| {
        let mut server = a_ref;
        via(dev, server);
        for n in 0..iterations {
            if d == "office" {
                dev.regrade(shared, [RiskGrade::Low, RiskGrade::Major][n % 2], "复核")
                    .unwrap();
                regrades.fetch_add(1, Ordering::Relaxed);
            } else {
                let ids = inspect(dev, 3, &format!("{d}{n}"));
                created.lock().unwrap().extend(ids);
            }
            loop {
                match saferound_core::sync::client::sync(dev, &mut |_| {}) {
                    Ok(r) => {
                        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
                        if std::ptr::eq(server, a_ref) {
                            syncs_through_a.fetch_add(1, Ordering::Relaxed);
                        }
                        break;
                    }
                    Err(e) => {
                        assert!(
                            killed.load(Ordering::Relaxed),
                            "{d}: a sync failed before any replica died: {e}"
                        );
                        server = b_ref;
                        via(dev, server);
                    }
                }
            }
        }
    };
    std::thread::scope(|s| {
        let workers = [
            s.spawn(|| work("insp", &insp)),
            s.spawn(|| work("insp2", &insp2)),
            s.spawn(|| work("office", &office)),
        ];
        // Kill A while syncs are in flight: after a few went through it.
        let deadline = Instant::now() + Duration::from_secs(120);
        while syncs_through_a.load(Ordering::Relaxed) < 6 {
            assert!(Instant::now() < deadline, "no syncs through A");
            std::thread::sleep(Duration::from_millis(20));
        }
        killed.store(true, Ordering::Relaxed);
        // SIGKILL by pid (the devices' threads still hold A's address); reaped below.
        let status = std::process::Command::new("kill")
            .args(["-KILL", &a_pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        for w in workers {
            w.join().expect("a device");
        }
    });
    assert!(
        syncs_through_a.load(Ordering::Relaxed) < 3 * iterations,
        "A was killed before the devices were done"
    );

    // Everything converges through B: nothing lost, nothing doubled.
    for _ in 0..2 {
        for d in [&insp, &insp2, &office, &owner] {
            sync_via(d, &b);
        }
    }
    for d in [&insp, &insp2, &office, &owner] {
        assert!(d.store().unsynced().unwrap().is_empty(), "all acknowledged");
    }
    let reference = documents(&owner);
    for d in [&insp, &insp2, &office] {
        assert_eq!(documents(d), reference);
    }
    let created = created.into_inner().unwrap();
    for id in &created {
        assert!(reference.contains_key(&id.to_string()), "{id} was lost");
    }
    let lb = ledger(&b, &office);
    // An inspection and its three findings per `inspect`, and the shared hazard.
    let hazards_made = 1 + created.len() / 4 * 3;
    assert_eq!(hazard_ids(&lb).len(), hazards_made, "every hazard once");
    assert_eq!(
        events(&b, &office, shared).len(),
        regrades_before + regrades.load(Ordering::Relaxed),
        "every regrade of the shared hazard"
    );
    b.assert_ledger_equals_a_rebuild();

    // A replacement for A on the same database serves the same ledger.
    a.restart();
    assert_eq!(ledger(&a, &office), lb);
    let r = sync_via(&owner, &a);
    assert_eq!((r.pushed_docs, r.received_docs), (0, 0));
}

/// Files `n` incidents on `d` and syncs them through `server`; their ids, in order.
fn incidents_via(d: &Device, server: &Server, n: usize, tag: &str) -> Vec<String> {
    let ids = crate::dashboard::file_incidents(d, n, tag);
    sync_via(d, server);
    ids
}

#[test]
fn one_replica_calls_the_webhook_and_another_takes_over_when_it_dies() {
    let Some(db) = PgDatabase::for_test("replicas") else {
        return;
    };
    let (hook, rx) = crate::dashboard::webhook_receiver();
    let tmp = tempfile::tempdir().unwrap();
    let extra = ["--demo", "--incident-webhook", hook.as_str()];
    // A starts first and becomes the sender; B, started after, waits for the lock.
    let mut a = Server::start_with_db(tmp.path(), &db.url, &extra);
    std::thread::sleep(Duration::from_millis(500));
    let b = Server::start_with_db(tmp.path(), &db.url, &extra);
    let phone = enroll(&a, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    // Incidents synced through either replica go out once each, in order.
    let mut filed = incidents_via(&phone, &a, 3, "A");
    filed.extend(incidents_via(&phone, &b, 3, "B"));
    assert_eq!(crate::dashboard::webhook_ids(&rx, filed.len()), filed);
    std::thread::sleep(Duration::from_secs(1));
    assert!(rx.try_recv().is_err(), "no replica sent one twice");
    // The sender dies; B takes over from where A got to: nothing skipped, nothing twice.
    a.kill();
    let more = incidents_via(&phone, &b, 4, "C");
    assert_eq!(crate::dashboard::webhook_ids(&rx, more.len()), more);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        rx.try_recv().is_err(),
        "nothing sent twice after the take-over"
    );
    drop(b);
    drop(db);
}
