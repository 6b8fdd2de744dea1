//! The server killed with SIGKILL at a random moment while several devices sync at once,
//! round after round. After every restart: the database passes `PRAGMA integrity_check`
//! and holds every change any device saw acknowledged. At the end: every device
//! converges to identical heads and the ledger equals a rebuild from the documents.
//!
//! `SAFEROUND_CRASH_ROUNDS` sets the number of rounds (3 by default, the CI form;
//! `scripts/stress.sh` runs 50), `SAFEROUND_STRESS_SEED` the random seed (printed).
//! The test prints one summary line starting with `crash-rounds:`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use saferound_core::model::RiskGrade;
use saferound_core::{Device, SystemClock};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, integrity_check, sync, token};

use crate::durability::{acknowledged, missing_on_server, record, store_heads};

/// A small deterministic generator (xorshift), so a failing round can be replayed with
/// its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn crash_rounds_the_server_killed_during_concurrent_syncs_loses_nothing() {
    let rounds: usize = std::env::var("SAFEROUND_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("SAFEROUND_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("crash rounds: {rounds} rounds, seed {seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    let people = [("a", "inspector"), ("b", "inspector2"), ("o", "office")];
    let devices: Vec<Device> = people
        .iter()
        .map(|(name, login)| enroll(&server, tmp.path(), name, login, DEMO_PASSWORD))
        .collect();
    let paths: Vec<PathBuf> = people
        .iter()
        .map(|(name, _)| tmp.path().join(format!("{name}.db")))
        .collect();
    let mut hazards = Vec::new();
    let (mut syncs, mut failed, mut checked, mut kill_ms_total) = (0usize, 0usize, 0usize, 0u64);
    for round in 0..rounds {
        // Offline work on every device: new hazards, and the office regrading hazards
        // it has received (changes to other devices' documents).
        for (d, tag) in devices[..2].iter().zip(["A", "B"]) {
            let n = 4 + rng.below(12) as usize;
            hazards.extend(record(d, n, &format!("round {round} {tag}")));
        }
        let office = &devices[2];
        for _ in 0..2 {
            let h = hazards[rng.below(hazards.len() as u64) as usize];
            if office.hazard(h).is_ok() {
                let grade = [RiskGrade::Low, RiskGrade::General, RiskGrade::Significant]
                    [rng.below(3) as usize];
                office.regrade(h, grade, &format!("round {round}")).unwrap();
            }
        }
        // Every device syncs at once; the server dies at a random moment.
        let url = server.url.clone();
        let workers: Vec<_> = paths
            .iter()
            .map(|p| {
                let (p, url) = (p.clone(), url.clone());
                std::thread::spawn(move || {
                    let d = Device::open(&p, Arc::new(SystemClock)).unwrap();
                    let t = d.store().sync_settings().unwrap().token.unwrap();
                    saferound_core::sync::client::sync_with(&d, &url, &t, &mut |_| {}).is_ok()
                })
            })
            .collect();
        // Mostly while the pushes are in flight (a few hundred ms in a debug build for 4–15 hazards each),
        // sometimes before the first request or after the last answer.
        // Half the rounds early (mid-push), half later (after some answers: acknowledged
        // changes to check); on a busy machine early kills alone may precede every answer.
        let wait = if rng.below(2) == 0 {
            rng.below(150)
        } else {
            150 + rng.below(1200)
        };
        kill_ms_total += wait;
        std::thread::sleep(Duration::from_millis(wait));
        server.kill();
        for w in workers {
            syncs += 1;
            if !w.join().unwrap() {
                failed += 1;
            }
        }
        server.restart();
        // Before anyone pushes again: what any device saw acknowledged is on the server.
        assert_eq!(integrity_check(&server.db), "ok", "round {round}");
        let acked: Vec<_> = paths.iter().flat_map(|p| acknowledged(p)).collect();
        checked += acked.len();
        let missing = missing_on_server(&server.db, &acked);
        assert!(
            missing.is_empty(),
            "round {round} (seed {seed}): acknowledged but lost: {missing:?}"
        );
        for d in &devices {
            d.store().set_server(&server.url, Some(&token(d))).unwrap();
        }
    }
    // Calm: everyone syncs until nothing is pending, then once more to receive the rest.
    for _ in 0..2 {
        for d in &devices {
            let r = sync(d);
            assert!(r.rejected.is_empty(), "{r:?}");
        }
    }
    for (d, (name, _)) in devices.iter().zip(people) {
        assert!(d.store().unsynced().unwrap().is_empty(), "{name}");
        assert!(d.store().quarantined().unwrap().is_empty(), "{name}");
        assert_eq!(d.store().integrity_check().unwrap(), "ok");
    }
    let heads = store_heads(&paths[0]);
    for p in &paths[1..] {
        assert_eq!(store_heads(p), heads, "{} converged", p.display());
    }
    for h in &hazards {
        assert!(heads.contains_key(&h.to_string()), "hazard {h} everywhere");
    }
    let ledger = server.dump_ledger();
    for h in &hazards {
        assert!(ledger.contains(&h.to_string()), "hazard {h} in the ledger");
    }
    server.admin(&["rebuild-ledger"]);
    let rebuilt = server.dump_ledger();
    assert_eq!(rebuilt, ledger);
    println!(
        "crash-rounds: rounds={rounds} seed={seed} devices={} syncs={syncs} syncs_cut_by_kill={failed} \
         mean_kill_after_ms={} hazards={} acked_heads_checked={checked} lost=0 converged=yes \
         ledger_equals_rebuild=yes secs={}",
        devices.len(),
        kill_ms_total / rounds.max(1) as u64,
        hazards.len(),
        started.elapsed().as_secs()
    );
}
