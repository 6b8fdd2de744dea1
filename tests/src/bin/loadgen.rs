//! Load generator: a real server process on a free loopback port with a fresh database;
//! D devices, each a real store file driven by the core's API and sync client, record N
//! inspections (20 answers, 3 findings) each offline, sync, edit one field in 10% of the
//! hazards, sync again. Prints one JSON line.
//!
//! `cargo run --release -p saferound-tests --bin loadgen -- --devices 1 --inspections 1000`

use std::time::Instant;

use saferound_core::device::NewFinding;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::model::RiskGrade;
use saferound_core::{Device, demo};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, process_cpu_ms, sync};

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
    for k in 0..n {
        let i = d
            .start_inspection(demo::site("1号学生公寓"), None, None)
            .expect("start");
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

fn main() {
    let devices = arg("--devices", 1).max(1);
    let inspections = arg("--inspections", 100);
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start(tmp.path());
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
    let codes: Vec<String> = phones[0]
        .templates()
        .expect("templates")
        .into_iter()
        .find(|t| t.id == "dorm")
        .expect("dorm template")
        .items
        .iter()
        .map(|i| i.code.clone())
        .collect();
    eprintln!("recording {inspections} inspections on each of {devices} devices (offline)…");
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

    println!(
        "{}",
        serde_json::json!({
            "devices": devices,
            "docs": docs,
            "sync_ms": sync_ms,
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
            "server_peak_rss_mb": server.peak_rss_mb().map(|m| (m * 10.0).round() / 10.0),
            "requests": requests + resync_requests,
        })
    );
}
