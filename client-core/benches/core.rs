//! Benchmarks of the client core, each beside a baseline measured in the same run:
//! - one answer durably recorded, against a bare durable SQLite insert of the same size
//!   (the floor any durable write pays on this disk), and the write policy's share of it
//!   (reading the record before and after, and judging the change);
//! - a whole inspection of 20 answers and 3 findings;
//! - opening a store holding 5,000 documents and listing them, against loading and reading
//!   every document instead of the index;
//! - listing hazards with a filter.
//!
//! Run: `cargo bench -p saferound-core --bench core`.

// A benchmark: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use saferound_core::device::{HazardQuery, NewFinding};
use saferound_core::doc::DocKind;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::ids::{DocId, Timestamp};
use saferound_core::model::{HazardStatus, RiskGrade};
use saferound_core::store::ListFilter;
use saferound_core::{Clock, Device, FixedClock, demo, policy};

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new("2026-12-28T01:00:00Z".parse().unwrap()))
}

fn new_device(dir: &std::path::Path, name: &str) -> Device {
    let d = Device::init(
        dir.join(name),
        demo::identity("inspector").unwrap(),
        clock(),
    )
    .unwrap();
    d.import_directory(&demo::directory()).unwrap();
    d
}

/// Records one inspection of 20 answers and 3 findings, submitted.
fn record_inspection(d: &Device, codes: &[String]) -> Vec<DocId> {
    let i = d
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    for (n, code) in codes.iter().cycle().take(20).enumerate() {
        let r = if n % 6 == 1 {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        d.answer(i, code, r, "已检查", &[], None).unwrap();
    }
    let mut ids = vec![i];
    for (n, code) in codes.iter().take(3).enumerate() {
        ids.push(
            d.add_finding(
                i,
                &NewFinding {
                    item: Some(code.clone()),
                    risk: Some(if n == 0 {
                        RiskGrade::Significant
                    } else {
                        RiskGrade::General
                    }),
                    location: "3F".into(),
                    description: format!("发现隐患 {n}：疏散通道堆放杂物，需立即清理"),
                    ..Default::default()
                },
            )
            .unwrap(),
        );
    }
    d.submit_inspection(i).unwrap();
    ids
}

fn answers(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let d = new_device(tmp.path(), "answers.db");
    let codes = demo::dorm_item_codes();
    let mut g = c.benchmark_group("answer");
    // Answers go into inspections of 20 items, as on a real walk; starting each new
    // inspection is not timed.
    g.bench_function("one answer, durable (core)", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut i = None;
            for k in 0..iters as usize {
                if k % 20 == 0 {
                    i = Some(
                        d.start_inspection(demo::site("1号学生公寓"), None, None)
                            .unwrap(),
                    );
                }
                let start = std::time::Instant::now();
                d.answer(
                    i.unwrap(),
                    &codes[k % codes.len()],
                    AnswerResult::Pass,
                    "已检查",
                    &[],
                    None,
                )
                .unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    // The write policy's part of an answer: the record read before and after one more
    // answer on an inspection of ten, and the change judged, as `Device` does before it
    // commits.
    let i = d
        .start_inspection(demo::site("1号学生公寓"), None, None)
        .unwrap();
    for code in codes.iter().take(10) {
        d.answer(i, code, AnswerResult::Pass, "已检查", &[], None)
            .unwrap();
    }
    let before = d.store().load(i).unwrap().unwrap();
    d.answer(i, &codes[10], AnswerResult::Fail, "灭火器过期", &[], None)
        .unwrap();
    let after = d.store().load(i).unwrap().unwrap();
    let me = demo::identity("inspector").unwrap();
    let dir = demo::directory();
    let author = policy::Author {
        user: me.user.user_id,
        roles: &me.roles,
        department: me.department,
        actor: d.actor().to_hex_string(),
    };
    let ctx = policy::Context {
        institution: me.institution,
        directory: Some(&dir),
        received: Timestamp(clock().now()),
    };
    g.bench_function(
        "the write policy's part: read before and after, judge",
        |b| {
            b.iter(|| {
                let (b, a) = (
                    policy::Version::read(&before).unwrap(),
                    policy::Version::read(&after).unwrap(),
                );
                policy::judge(Some(&b), &a, &author, &ctx).unwrap()
            })
        },
    );
    // Baseline: a bare insert of ~400 bytes with the same pragmas (WAL, synchronous=FULL).
    let conn = rusqlite::Connection::open(tmp.path().join("baseline.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(x BLOB);")
        .unwrap();
    let payload = vec![7u8; 400];
    g.bench_function("baseline: bare durable SQLite insert", |b| {
        b.iter(|| {
            conn.execute("INSERT INTO t VALUES (?1)", [&payload])
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("inspection");
    g.sample_size(20);
    g.bench_function("20 answers + 3 findings, submitted", |b| {
        b.iter(|| record_inspection(&d, &codes))
    });
    g.finish();
}

fn big_store(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.db");
    {
        let d = new_device(tmp.path(), "big.db");
        let codes = demo::dorm_item_codes();
        // 1,250 inspections × (1 inspection + 3 hazards) = 5,000 documents.
        for _ in 0..1250 {
            record_inspection(&d, &codes);
        }
        let bytes = std::fs::metadata(&path).unwrap().len();
        eprintln!(
            "store with 5,000 documents: {:.1} MB on disk",
            bytes as f64 / 1e6
        );
    }
    let mut g = c.benchmark_group("store of 5,000 documents");
    g.sample_size(10);
    g.bench_function("open and list all (index)", |b| {
        b.iter(|| {
            let d = Device::open(&path, clock()).unwrap();
            let h = d.hazards(&HazardQuery::default()).unwrap();
            let i = d.inspections(None, None, None).unwrap();
            assert_eq!(h.len() + i.len(), 5000);
        })
    });
    g.bench_function("baseline: open and read every document", |b| {
        b.iter(|| {
            let d = Device::open(&path, clock()).unwrap();
            let ids: Vec<DocId> = [DocKind::Hazard, DocKind::Inspection]
                .iter()
                .flat_map(|k| d.store().list(*k, &ListFilter::default()).unwrap())
                .map(|s| s.id.parse().unwrap())
                .collect();
            let n = ids
                .iter()
                .filter(|id| d.store().load(**id).unwrap().is_some())
                .count();
            assert_eq!(n, 5000);
        })
    });
    let d = Device::open(&path, clock()).unwrap();
    g.bench_function("list hazards: significant and above, reported", |b| {
        b.iter_batched(
            || HazardQuery {
                min_risk: Some(RiskGrade::Significant),
                status: Some(HazardStatus::Reported),
                ..Default::default()
            },
            |q| assert_eq!(d.hazards(&q).unwrap().len(), 1250),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, answers, big_store);
criterion_main!(benches);
