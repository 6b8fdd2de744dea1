//! A device store whose process is killed with SIGKILL in the middle of writes reopens
//! with every record it had reported committed, and passes SQLite's integrity check.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use saferound_core::device::NewFinding;
use saferound_core::ids::DocId;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, FixedClock, SystemClock, demo};

use crate::support::{at, device};

const CHILD_ENV: &str = "SAFEROUND_CRASH_CHILD";

/// Not a test on its own: the writer process that the test below starts and kills.
/// Without the environment variable it returns at once.
#[test]
fn crash_writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let inspection: DocId = std::env::var("SAFEROUND_CRASH_INSPECTION")
        .unwrap()
        .parse()
        .unwrap();
    let d = Device::open(&path, Arc::new(SystemClock)).unwrap();
    for n in 0u64.. {
        let id = d
            .report_hazard(
                demo::site("5号学生公寓"),
                None,
                &NewFinding {
                    category: Some(HazardCategory::FireSafety),
                    risk: Some(RiskGrade::General),
                    description: format!(
                        "crash-test hazard {n} {}",
                        "x".repeat((n % 50) as usize * 40)
                    ),
                    ..Default::default()
                },
            )
            .unwrap();
        println!("created {id} {n}");
        d.set_inspection_notes(inspection, &n.to_string()).unwrap();
        println!("notes {n}");
    }
}

#[test]
fn a_store_killed_mid_write_keeps_every_committed_record() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let path = tmp.path().join("inspector.db");
    let inspection = {
        let d = device(tmp.path(), "inspector", &clock);
        d.start_inspection(demo::site("5号学生公寓"), None, None)
            .unwrap()
    };
    let exe = std::env::current_exe().unwrap();
    let mut created: Vec<(DocId, u64)> = Vec::new();
    let mut last_notes = None;
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env("SAFEROUND_CRASH_INSPECTION", inspection.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        // Kill after a different number of commits each round, mid-stream.
        let stop_after = 15 + round * 23;
        let mut seen = 0;
        for line in out.lines() {
            let line = line.unwrap();
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("created") => {
                    let id: DocId = parts.next().unwrap().parse().unwrap();
                    let n: u64 = parts.next().unwrap().parse().unwrap();
                    created.push((id, n));
                    seen += 1;
                }
                Some("notes") => last_notes = Some(parts.next().unwrap().parse::<u64>().unwrap()),
                _ => continue,
            }
            if seen >= stop_after {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let d = Device::open(&path, Arc::new(clock.clone())).expect("reopens after a kill");
        assert_eq!(d.store().integrity_check().unwrap(), "ok");
        for (id, n) in &created {
            let h = d
                .hazard(*id)
                .unwrap_or_else(|e| panic!("round {round}: hazard {n} lost: {e}"));
            assert!(h.description.starts_with(&format!("crash-test hazard {n}")));
        }
        let notes: u64 = d.inspection(inspection).unwrap().notes.parse().unwrap();
        assert!(
            notes >= last_notes.unwrap(),
            "notes {notes} older than committed {last_notes:?}"
        );
        let listed = |d: &Device| {
            d.store()
                .list(saferound_core::doc::DocKind::Hazard, &Default::default())
                .unwrap()
        };
        let before = listed(&d);
        // The child may have committed one more than it got to report.
        assert!(
            before.len() >= created.len(),
            "the index lists every reported hazard"
        );
        d.store().rebuild_index().unwrap();
        assert_eq!(
            listed(&d),
            before,
            "the index equals one rebuilt from the documents"
        );
    }
    assert!(created.len() >= 15 + 38 + 61 + 84);
}
