//! Load generator: a real server process on a free loopback port with a fresh database;
//! D devices, each a real store file driven by the core's API and sync client, record N
//! inspections (20 answers, 3 findings) each offline, sync, edit one field in 10% of the
//! hazards, sync again; then a newcomer phone's first sync receives all of it. Prints one
//! JSON line.
//!
//! `cargo run --release -p saferound-tests --bin loadgen -- --devices 1 --inspections 1000`
//!
//! `--db postgres://user@host:port/postgres`: the server runs on PostgreSQL instead of a
//! SQLite file — a fresh database made on that cluster for the run and dropped after (the
//! URL's user must be allowed to create databases), e.g. under
//! `SAFEROUND_PG_FSYNC=on scripts/with-postgres.sh sh -c '… --db "$SAFEROUND_TEST_PG"'`.
//! The JSON line says which (`"db"`). The server's CPU and memory figures are the server
//! process's alone; PostgreSQL's own processes are not counted in them.
//!
//! `--keep-db PATH.db` keeps the server's SQLite database and its ledger dump
//! (`PATH.ledger`).
//!
//! Concurrent mode (`--concurrent D --minutes M`): D devices start within 10 s, each
//! recording 5 inspections and one edit and syncing every 30 s for M minutes; then a
//! Friday-noon burst where every device files its department's weekly report within one
//! minute (and the safety office every department's); meanwhile one stalled client holds
//! a connection open and another trickles a sync body a byte a second. One JSON line:
//! throughput, errors, the server's peak memory, and sync latency p50/p99 as the server
//! measured it, as the phones timed their exchanges with it, as it would be on a phone
//! with a CPU of its own (exchanges plus the phone thread's CPU) and by the wall clock.
//!
//! `--institutions K` (default 10) spreads the devices over the demo institution and K-1
//! more made with the admin commands: a province's server, not 200 inspectors of one
//! school. It matters on one machine: every phone receives every document of its
//! institution, so with one institution the 200 simulated phones must apply 200 × 16,000
//! received documents on the 2 cores the server runs on, work real phones do on their own
//! CPUs. `--institutions 1` runs the single-school case.

// The load generator, a test tool: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use saferound_core::device::NewFinding;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::model::RiskGrade;
use saferound_core::{Device, demo};
use saferound_tests::{
    DEMO_PASSWORD, PgDatabase, Server, enroll, get_json, process_cpu_ms, sync, token,
};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(d: &Device, n: usize, codes: &[String]) -> Vec<saferound_core::ids::DocId> {
    let mut hazards = Vec::new();
    // The first dormitory of the device's own institution (the demo's 1号学生公寓, or the
    // one the run made for another institution).
    let site = d
        .sites()
        .expect("sites")
        .into_iter()
        .filter(|s| s.kind == saferound_core::model::SiteKind::Dorm)
        .min_by(|a, b| a.name.cmp(&b.name))
        .expect("a dormitory")
        .id;
    for k in 0..n {
        let i = d.start_inspection(site, None, None).expect("start");
        for (j, code) in codes.iter().cycle().take(20).enumerate() {
            let r = if j % 7 == 3 {
                AnswerResult::Fail
            } else {
                AnswerResult::Pass
            };
            d.answer(i, code, r, "已检查", &[], None).expect("answer");
        }
        for f in 0..3 {
            hazards.push(
                d.add_finding(
                    i,
                    &NewFinding {
                        item: Some(codes[(k + f) % codes.len()].clone()),
                        risk: Some(RiskGrade::General),
                        location: format!("{}F", 1 + f),
                        description: format!("巡查发现隐患 {k}-{f}：疏散通道堆放杂物"),
                        ..Default::default()
                    },
                )
                .expect("finding"),
            );
        }
        d.submit_inspection(i).expect("submit");
    }
    hazards
}

/// The database of the run: `--db <postgres URL>` makes a fresh PostgreSQL database on
/// that cluster (dropped when the returned value is); otherwise SQLite in `dir`.
struct Db {
    pg: Option<PgDatabase>,
}

impl Db {
    fn from_args() -> Db {
        let args: Vec<String> = std::env::args().collect();
        let Some(url) = args
            .iter()
            .position(|a| a == "--db")
            .and_then(|i| args.get(i + 1))
        else {
            return Db { pg: None };
        };
        if !saferound_server::store::is_url(url) {
            eprintln!("--db takes a postgres:// URL (SQLite is the default)");
            std::process::exit(2);
        }
        match PgDatabase::create(url, "sr_loadgen") {
            Ok(pg) => Db { pg: Some(pg) },
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }

    fn name(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// A server with the demo institution on this database.
    fn start(&self, dir: &std::path::Path) -> Server {
        match &self.pg {
            Some(pg) => Server::start_with_db(dir, &pg.url, &["--demo"]),
            None => Server::start(dir),
        }
    }
}

/// The upper bounds of the server's sync-duration histogram buckets holding its median
/// and its 99th percentile, in milliseconds, read from the server's own `/metrics`:
/// the server's time alone, without the simulated phones' own work.
fn server_sync_quantiles_ms(server: &Server) -> Option<(f64, f64)> {
    let text = server.metrics()?;
    let buckets: Vec<(f64, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("saferound_sync_duration_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, n) = l.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le * 1000.0, n.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1 as f64;
    let at = |q: f64| {
        buckets
            .iter()
            .find(|(_, n)| *n as f64 >= q * total)
            .map(|(le, _)| *le)
    };
    Some((at(0.5)?, at(0.99)?))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[i] * 10.0).round() / 10.0
}

/// A client that sends a sync request's headers and then its body a byte a second (or
/// nothing at all), until `stop`: it must not slow anyone else.
fn slow_client(server: &Server, token: String, trickle: bool, stop: &AtomicBool) -> usize {
    use std::io::Write;
    let addr = server.url.trim_start_matches("http://").to_string();
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
        return 0;
    };
    let head = format!(
        "POST /api/v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {}\r\nContent-Length: 1000000\r\n\r\n",
        saferound_core::sync::wire::CONTENT_TYPE
    );
    let _ = s.write_all(head.as_bytes());
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(1));
        if trickle && s.write_all(&[0xa4]).is_ok() {
            sent += 1;
        }
    }
    sent
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    burst_ms: Vec<f64>,
    /// Of each sync (burst included), the time in the exchanges with the server alone.
    exchange_ms: Vec<f64>,
    /// Of each sync, its exchanges plus the CPU time its own thread used: the sync as it
    /// would take on a phone with its own CPU (the CPU used during the exchanges, reading
    /// the answer, is counted twice: an overestimate).
    own_cpu_ms: Vec<f64>,
    acknowledged: usize,
    errors: usize,
    rejected: usize,
    inspections: usize,
    edits: usize,
}

/// CPU time the calling thread has used, in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if r != 0 {
        return 0.0;
    }
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}

/// Lowers the calling thread's scheduling priority (nice 10; on Linux `setpriority` with
/// who = 0 applies to the calling thread only). Raising it back would need privileges, so
/// syncs run on threads that never lowered theirs.
fn lower_priority() {
    // SAFETY: setpriority has no memory effects; a failure only leaves the priority as is.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if r != 0 {
        eprintln!("could not lower a simulated phone's priority; figures include its work");
    }
}

/// Makes `n - 1` institutions beside the demo one, each with a department, a dormitory
/// and an inspector, with the server's own admin commands; the logins to enrol with, one
/// per institution (the demo's first).
fn institutions(server: &Server, n: usize) -> Vec<(String, &'static str)> {
    let mut logins = vec![("inspector".to_string(), DEMO_PASSWORD)];
    for k in 1..n {
        let inst = server.admin(&["admin", "create-institution", &format!("负载测试学校{k}")]);
        let dept = server.admin(&[
            "admin",
            "create-department",
            "--institution",
            &inst,
            "--name",
            "保卫处",
        ]);
        server.admin(&[
            "admin",
            "create-site",
            "--institution",
            &inst,
            "--department",
            &dept,
            "--name",
            "1号学生公寓",
            "--kind",
            "dorm",
        ]);
        let login = format!("load{k}");
        server.admin(&[
            "admin",
            "create-user",
            "--institution",
            &inst,
            "--department",
            &dept,
            "--login",
            &login,
            "--name",
            &format!("巡查员{k}"),
            "--roles",
            "inspector",
        ]);
        // `Server::admin` sets this password for the users it makes.
        logins.push((login, "long-enough-pw"));
    }
    logins
}

fn concurrent(devices: usize, minutes: f64, institution_count: usize, db: &Db) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = db.start(tmp.path());
    let logins = institutions(&server, institution_count.max(1));
    eprintln!(
        "enrolling {devices} devices in {} institution(s)…",
        logins.len()
    );
    let phones: Vec<Device> = (0..devices)
        .map(|k| {
            let (login, password) = &logins[k % logins.len()];
            enroll(&server, tmp.path(), &format!("phone{k}"), login, password)
        })
        .collect();
    let office = enroll(&server, tmp.path(), "office", "office", DEMO_PASSWORD);
    let codes = demo::dorm_item_codes();
    let tally = Mutex::new(Tally::default());
    let stop = AtomicBool::new(false);
    let period = Duration::from_secs(30);
    let run = Duration::from_secs_f64(minutes * 60.0);
    let timed_sync = |d: &Device, burst: bool| {
        let (t, cpu) = (Instant::now(), thread_cpu_ms());
        let r = saferound_core::sync::client::sync(d, &mut |_| {});
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let cpu_ms = thread_cpu_ms() - cpu;
        let mut g = tally.lock().expect("tally");
        match r {
            Ok(r) => {
                g.acknowledged += r.acknowledged;
                g.rejected += r.rejected.len();
                g.exchange_ms.push(r.exchange_ms as f64);
                g.own_cpu_ms.push(r.exchange_ms as f64 + cpu_ms);
                if burst {
                    &mut g.burst_ms
                } else {
                    &mut g.latencies_ms
                }
                .push(ms);
            }
            Err(e) => {
                eprintln!("sync failed: {e}");
                g.errors += 1;
            }
        }
    };
    eprintln!("running {devices} devices for {minutes} minutes, then the Friday-noon burst…");
    // CPU of the server and of this process (the simulated phones) over the run: on one
    // machine they share the cores, so the split says whose work the latencies wait on.
    let (server_cpu_before, phones_cpu_before) =
        (server.cpu_ms(), process_cpu_ms(std::process::id()));
    let started = Instant::now();
    let first_syncs = Mutex::new(Vec::new());
    // Real phones record and apply what they receive on their own CPUs; here all of them
    // share 2 cores with the server they measure. So every simulated phone runs at a lower
    // priority (nice 10) than the server: the server's figures are its own, and the
    // phones' latencies include waiting for their share of the machine.
    let timed_sync = &timed_sync;
    let (trickled, first_sync_by) = std::thread::scope(|s| {
        let slow = [true, false].map(|trickle| {
            let (t, stop, server) = (token(&phones[0]), &stop, &server);
            s.spawn(move || slow_client(server, t, trickle, stop))
        });
        let handles: Vec<_> = phones
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let (codes, first_syncs) = (&codes, &first_syncs);
                let tally = &tally;
                s.spawn(move || {
                    lower_priority();
                    // Start spread evenly over the first 10 s.
                    let offset = Duration::from_millis((k as u64 * 10_000) / devices as u64);
                    std::thread::sleep(offset);
                    let mut cycle = 0u32;
                    let mut mine = Vec::new();
                    loop {
                        let due = started + offset + period * cycle;
                        if due.duration_since(started) >= run {
                            break;
                        }
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        mine.extend(record(d, 5, codes));
                        if let Some(h) = mine.get(cycle as usize) {
                            d.regrade(*h, RiskGrade::Significant, "复核调整")
                                .expect("regrade");
                        }
                        {
                            let mut g = tally.lock().expect("tally");
                            g.inspections += 5;
                            g.edits += 1;
                        }
                        timed_sync(d, false);
                        if cycle == 0 {
                            first_syncs.lock().expect("first").push(started.elapsed());
                        }
                        cycle += 1;
                    }
                    // Friday noon: the weekly report within one minute.
                    let at =
                        started + run + Duration::from_millis((k as u64 * 60_000) / devices as u64);
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    d.file_weekly_report(None, None, true, "")
                        .expect("weekly report");
                    timed_sync(d, true);
                })
            })
            .collect();
        // The safety office files for every department, in the same minute.
        let office = &office;
        let office_burst = s.spawn(move || {
            lower_priority();
            let at = started + run + Duration::from_secs(30);
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for name in demo::DEPARTMENTS {
                office
                    .file_weekly_report(Some(demo::department(name)), None, true, "")
                    .expect("office report");
            }
            timed_sync(office, true);
        });
        for h in handles {
            h.join().expect("device");
        }
        office_burst.join().expect("office");
        stop.store(true, Ordering::Relaxed);
        let trickled: usize = slow.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        let first = first_syncs.lock().expect("first");
        (trickled, first.iter().max().map(|d| d.as_secs_f64()))
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu_s = |after: Option<u64>, before: Option<u64>| {
        Some(((after? as f64 - before? as f64) / 100.0).round() / 10.0)
    };
    let server_cpu_s = cpu_s(server.cpu_ms(), server_cpu_before);
    let phones_cpu_s = cpu_s(process_cpu_ms(std::process::id()), phones_cpu_before);
    let mut t = tally.into_inner().expect("tally");
    t.latencies_ms.sort_by(f64::total_cmp);
    t.burst_ms.sort_by(f64::total_cmp);
    t.exchange_ms.sort_by(f64::total_cmp);
    t.own_cpu_ms.sort_by(f64::total_cmp);
    let server_quantiles = server_sync_quantiles_ms(&server);
    let (s, v) = get_json(&server, &phones[0], "/api/v1/hazards?limit=1");
    println!(
        "{}",
        serde_json::json!({
            "mode": "concurrent",
            "db": db.name(),
            "devices": devices,
            "institutions": logins.len(),
            "minutes": minutes,
            "inspections": t.inspections,
            "edits": t.edits,
            "syncs": t.latencies_ms.len() + t.burst_ms.len(),
            "acknowledged_docs": t.acknowledged,
            "throughput_docs_per_s": ((t.acknowledged as f64 / wall) * 10.0).round() / 10.0,
            // The server's own time per sync, as bucket bounds of its histogram.
            "server_sync_p50_ms_at_most": server_quantiles.map(|q| q.0),
            "server_sync_p99_ms_at_most": server_quantiles.map(|q| q.1),
            // As the simulated phones saw it: their own work on the shared cores included.
            "sync_p50_ms": percentile(&t.latencies_ms, 0.5),
            "sync_p99_ms": percentile(&t.latencies_ms, 0.99),
            "sync_max_ms": percentile(&t.latencies_ms, 1.0),
            // The part of each sync spent in its exchanges with the server (request out,
            // answer in), without the phone's own work on what it pushed and received.
            "exchange_p50_ms": percentile(&t.exchange_ms, 0.5),
            "exchange_p99_ms": percentile(&t.exchange_ms, 0.99),
            // The exchanges plus the phone's own CPU time for the sync: a sync as it
            // would take were each phone's work on a CPU of its own.
            "sync_on_own_cpu_p50_ms": percentile(&t.own_cpu_ms, 0.5),
            "sync_on_own_cpu_p99_ms": percentile(&t.own_cpu_ms, 0.99),
            "burst_syncs": t.burst_ms.len(),
            "burst_p50_ms": percentile(&t.burst_ms, 0.5),
            "burst_p99_ms": percentile(&t.burst_ms, 0.99),
            "errors": t.errors,
            "rejected": t.rejected,
            "first_sync_of_every_device_by_s": first_sync_by.map(|s| (s * 10.0).round() / 10.0),
            "slow_client_bytes_trickled": trickled,
            "ledger_hazards": if s == 200 { v["total"].clone() } else { serde_json::Value::Null },
            "wall_s": (wall * 10.0).round() / 10.0,
            "server_peak_rss_mb": server.peak_rss_mb().map(|m| (m * 10.0).round() / 10.0),
            "server_cpu_s": server_cpu_s,
            "simulated_phones_cpu_s": phones_cpu_s,
        })
    );
}

fn main() {
    let concurrent_devices = arg("--concurrent", 0);
    if concurrent_devices > 0 {
        let minutes = std::env::args()
            .skip_while(|a| a != "--minutes")
            .nth(1)
            .and_then(|m| m.parse::<f64>().ok())
            .unwrap_or(2.0);
        let db = Db::from_args();
        concurrent(concurrent_devices, minutes, arg("--institutions", 10), &db);
        return;
    }
    let devices = arg("--devices", 1).max(1);
    let inspections = arg("--inspections", 100);
    let db = Db::from_args();
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = db.start(tmp.path());
    let logins = ["inspector", "inspector2"];
    let phones: Vec<Device> = (0..devices)
        .map(|k| {
            enroll(
                &server,
                tmp.path(),
                &format!("phone{k}"),
                logins[k % 2],
                DEMO_PASSWORD,
            )
        })
        .collect();
    let codes = demo::dorm_item_codes();
    eprintln!("recording {inspections} inspections on each of {devices} devices (offline)…");
    let recording = Instant::now();
    let hazards: Vec<Vec<_>> = std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .iter()
            .map(|d| s.spawn(|| record(d, inspections, &codes)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("recorder"))
            .collect()
    });
    // Wall time per inspection on one device (the devices record in parallel).
    let record_ms = recording.elapsed().as_secs_f64() * 1000.0 / inspections.max(1) as f64;
    let docs: usize = phones
        .iter()
        .map(|d| d.store().unsynced().map(|u| u.len()).unwrap_or(0))
        .sum();

    eprintln!("syncing {docs} documents…");
    let cpu_before = server.cpu_ms();
    let client_cpu_before = process_cpu_ms(std::process::id());
    let started = Instant::now();
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = phones.iter().map(|d| s.spawn(|| sync(d))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sync"))
            .collect()
    });
    let sync_ms = started.elapsed().as_millis();
    // Server CPU during the first sync: what the sync costs the server, whatever else
    // this machine is doing meanwhile.
    let sync_server_cpu_ms = server
        .cpu_ms()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    // The devices' own CPU in the same time (this process): with the server's, where the
    // wall time of a sync goes.
    let sync_client_cpu_ms = process_cpu_ms(std::process::id())
        .zip(client_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let (bytes_up, bytes_down, requests): (usize, usize, usize) =
        reports.iter().fold((0, 0, 0), |a, r| {
            (a.0 + r.bytes_up, a.1 + r.bytes_down, a.2 + r.requests)
        });
    let rejected: usize = reports.iter().map(|r| r.rejected.len()).sum();
    assert_eq!(
        rejected,
        0,
        "documents refused: {:?}",
        reports
            .iter()
            .flat_map(|r| &r.rejected)
            .take(3)
            .collect::<Vec<_>>()
    );

    // Edit one field (the grade) of every tenth hazard, then sync again.
    let mut resync_docs = 0;
    for (d, hs) in phones.iter().zip(&hazards) {
        for h in hs.iter().step_by(10) {
            d.regrade(*h, RiskGrade::Significant, "复核调整")
                .expect("regrade");
            resync_docs += 1;
        }
    }
    let started = Instant::now();
    let resync: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = phones.iter().map(|d| s.spawn(|| sync(d))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sync"))
            .collect()
    });
    let resync_ms = started.elapsed().as_millis();
    let resync_bytes_up: usize = resync.iter().map(|r| r.bytes_up).sum();
    let resync_requests: usize = resync.iter().map(|r| r.requests).sum();

    // A sync where nothing changed.
    let noop = sync(&phones[0]);

    // A phone new to the institution: its first sync receives every document. What a
    // phone spends applying received documents is most of a sync in the many-phones run.
    // Enrolled without the harness's first sync, which is the one timed here.
    let newcomer = saferound_core::sync::client::enroll(
        tmp.path().join("newcomer.db"),
        &server.url,
        "inspector",
        DEMO_PASSWORD,
        "newcomer",
        std::sync::Arc::new(saferound_core::clock::SystemClock),
    )
    .expect("enrol the newcomer");
    let newcomer_cpu_before = process_cpu_ms(std::process::id());
    let started = Instant::now();
    let first = sync(&newcomer);
    let newcomer_ms = started.elapsed().as_millis();
    let newcomer_cpu_ms = process_cpu_ms(std::process::id())
        .zip(newcomer_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));

    println!(
        "{}",
        serde_json::json!({
            "db": db.name(),
            "devices": devices,
            "docs": docs,
            "sync_ms": sync_ms,
            "record_ms_per_inspection": (record_ms * 10.0).round() / 10.0,
            "sync_client_cpu_ms": sync_client_cpu_ms,
            "resync_ms": resync_ms,
            "bytes_up": bytes_up,
            "bytes_down": bytes_down,
            "resync_bytes_up": resync_bytes_up,
            "resync_docs": resync_docs,
            "resync_bytes_per_doc": resync_bytes_up / resync_docs.max(1),
            "noop_requests": noop.requests,
            "noop_bytes_up": noop.bytes_up,
            "noop_bytes_down": noop.bytes_down,
            "sync_server_cpu_ms": sync_server_cpu_ms,
            "newcomer_received_docs": first.received_docs,
            "newcomer_sync_ms": newcomer_ms,
            "newcomer_cpu_ms": newcomer_cpu_ms,
            "server_peak_rss_mb": server.peak_rss_mb().map(|m| (m * 10.0).round() / 10.0),
            "requests": requests + resync_requests,
        })
    );
    // `--keep-db PATH.db`: the server's SQLite database as the run left it, and its
    // ledger dump beside it (`PATH.ledger`): the ledger fixture of `tests/e2e/upgrade.rs`.
    if let Some(keep) = std::env::args().skip_while(|a| a != "--keep-db").nth(1) {
        let ledger = server.dump_ledger();
        let _ = std::fs::remove_file(&keep);
        rusqlite::Connection::open(&server.db)
            .and_then(|c| c.execute("VACUUM INTO ?1", [&keep]))
            .expect("copy the database");
        let dump = std::path::Path::new(&keep).with_extension("ledger");
        std::fs::write(dump, ledger).expect("write the ledger dump");
        eprintln!("kept the database at {keep}");
    }
}
