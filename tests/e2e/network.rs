//! Bad networks: devices sync through a proxy that delays, refuses and cuts connections
//! at random, then heals; every device converges, nothing is lost or doubled, and a
//! photo upload resumes where it stopped (the server receives each byte once).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use saferound_core::device::NewFinding;
use saferound_core::ids::DocId;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, SystemClock, demo};
use saferound_tests::proxy::FlakyProxy;
use saferound_tests::{DEMO_PASSWORD, Server, get_bytes, get_json};

fn finding(d: &Device, text: String, photos: Vec<saferound_core::ids::BlobHash>) -> DocId {
    d.report_hazard(
        demo::site("第一教学楼"),
        None,
        &NewFinding {
            category: Some(HazardCategory::Buildings),
            risk: Some(RiskGrade::General),
            description: text,
            photos,
            ..Default::default()
        },
    )
    .expect("report")
}

fn try_sync(d: &Device) -> bool {
    saferound_core::sync::client::sync(d, &mut |_| {}).is_ok_and(|r| r.rejected.is_empty())
}

fn metric(server: &Server, name: &str) -> u64 {
    let text = server.metrics().expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn devices_syncing_through_a_flaky_network_converge_and_nothing_is_lost_or_doubled() {
    // The stress script runs this for minutes (SAFEROUND_FLAKY_SECONDS); CI for 20 s.
    let seconds: u64 = std::env::var("SAFEROUND_FLAKY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let proxy = FlakyProxy::start(&server.url, 0x005a_fe0d);
    let logins = ["inspector", "inspector2", "inspector", "inspector2"];
    let devices: Vec<Device> = logins
        .iter()
        .enumerate()
        .map(|(k, login)| {
            let d = saferound_core::sync::client::enroll(
                tmp.path().join(format!("d{k}.db")),
                &proxy.url,
                login,
                DEMO_PASSWORD,
                &format!("d{k}"),
                Arc::new(SystemClock),
            )
            .expect("enrol through the healthy proxy");
            assert!(try_sync(&d));
            d
        })
        .collect();
    // A 1.5 MB photo (six upload chunks) on a finding, uploaded through the bad network.
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
    photo.extend((0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let hash = devices[0].add_photo(&photo).unwrap();
    let with_photo = finding(&devices[0], "配电室门锁损坏".into(), vec![hash.clone()]);

    proxy.break_network();
    let until = Instant::now() + Duration::from_secs(seconds);
    let made: Vec<(Vec<DocId>, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(k, d)| {
                s.spawn(move || {
                    let (mut mine, mut ok, mut failed) = (Vec::new(), 0, 0);
                    let mut round = 0;
                    while Instant::now() < until {
                        mine.push(finding(d, format!("设备{k}第{round}轮发现"), Vec::new()));
                        if round % 2 == 1 {
                            let h = mine[round / 2];
                            d.regrade(h, RiskGrade::Significant, "复核调整")
                                .expect("regrade");
                        }
                        if try_sync(d) {
                            ok += 1;
                        } else {
                            failed += 1;
                        }
                        round += 1;
                    }
                    (mine, ok, failed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    proxy.heal();
    for d in &devices {
        assert!(
            (0..5).any(|_| try_sync(d)),
            "a device syncs once the network heals"
        );
    }
    // Everyone receives what the others pushed last.
    for d in &devices {
        assert!(try_sync(d));
    }
    let stats = &proxy.stats;
    let (ok, failed): (usize, usize) = made.iter().fold((0, 0), |a, m| (a.0 + m.1, a.1 + m.2));
    let mut all: Vec<DocId> = made.iter().flat_map(|m| m.0.clone()).collect();
    all.push(with_photo);
    eprintln!(
        "flaky network {seconds}s: {} hazards, {ok} syncs succeeded and {failed} failed; proxy: {} connections, {} refused, {} cut",
        all.len(),
        stats.connections.load(Ordering::Relaxed),
        stats.refused.load(Ordering::Relaxed),
        stats.cut.load(Ordering::Relaxed),
    );
    assert!(
        stats.cut.load(Ordering::Relaxed) + stats.refused.load(Ordering::Relaxed) > 0,
        "the network really was bad"
    );

    // Nothing lost, nothing doubled: the ledger holds exactly the hazards recorded.
    let (s, v) = get_json(&server, &devices[0], "/api/v1/hazards?limit=1");
    assert_eq!(s, 200);
    assert_eq!(
        v["total"].as_u64(),
        Some(all.len() as u64),
        "every hazard once"
    );
    // Every device converged: no pending changes, none quarantined, identical heads.
    for d in &devices {
        assert!(d.store().unsynced().unwrap().is_empty());
        assert!(d.store().quarantined().unwrap().is_empty());
    }
    for id in &all {
        let heads: Vec<_> = devices
            .iter()
            .map(|d| {
                d.store()
                    .load(*id)
                    .unwrap()
                    .expect("every hazard on every device")
                    .get_heads()
            })
            .collect();
        assert!(heads.windows(2).all(|w| w[0] == w[1]), "{id} converged");
    }
    // The photo arrived whole, and the server received each of its bytes once: every
    // interrupted upload resumed from what the server held.
    let (s, bytes) = get_bytes(&server, &devices[1], &format!("/api/v1/blobs/{hash}"));
    assert_eq!(s, 200);
    assert_eq!(bytes, photo);
    assert_eq!(
        metric(&server, "saferound_blob_bytes_in_total"),
        photo.len() as u64
    );
}
