//! The write policy against a tampered phone: a real device token, ordinary Automerge
//! changes under the device's own actor, written past the core's checks straight into
//! the store. Each field group of the policy table is refused by the server (quarantined
//! on the phone, the ledger unchanged), while the same edit made honestly through the
//! core's API lands.

use automerge::transaction::Transactable;
use saferound_core::demo;
use saferound_core::device::{HazardCorrection, NewFinding, NewIncidentInput};
use saferound_core::doc::{self, PersonRef};
use saferound_core::ids::{DocId, Timestamp};
use saferound_core::model::lifecycle::EventKind;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, Error};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, sync};

fn finding(text: &str) -> NewFinding {
    NewFinding {
        category: Some(HazardCategory::Buildings),
        risk: Some(RiskGrade::General),
        location: "2楼".into(),
        description: text.into(),
        ..Default::default()
    }
}

/// Writes `edit` into document `id` on `d`, past the core's policy: what a tampered app
/// pushes.
fn forge(d: &Device, id: DocId, edit: impl FnOnce(&mut automerge::AutoCommit)) {
    let now = Timestamp(chrono::Utc::now());
    d.store()
        .write(d.actor(), now, |tx| {
            tx.edit(id, |doc| {
                edit(doc);
                Ok(())
            })
        })
        .expect("forged write");
}

/// Syncs `d` and checks the server refused `id` with `code` (and a reason naming
/// `field`), the phone quarantined it, and the ledger rows did not change.
fn refused(server: &Server, d: &Device, id: DocId, code: &str, field: &str) {
    let before = server.ledger_rows(id);
    let quarantined = d.store().quarantined().expect("quarantine").len();
    let report = sync(d);
    assert!(
        report.rejected.iter().any(|(r, _)| *r == id.to_string()),
        "{:?}",
        report.rejected
    );
    let q = d.store().quarantined().expect("quarantine");
    assert_eq!(q.len(), quarantined + 1);
    assert_eq!(q[0].code, code, "{}", q[0].reason);
    assert!(q[0].reason.contains(field), "{}", q[0].reason);
    assert_eq!(server.ledger_rows(id), before, "the ledger is unchanged");
}

#[test]
fn a_tampered_phone_is_refused_field_by_field_and_honest_edits_land() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let inspector = enroll(&server, tmp.path(), "i", "inspector", DEMO_PASSWORD);
    let colleague = enroll(&server, tmp.path(), "c", "inspector2", DEMO_PASSWORD);
    let office = enroll(&server, tmp.path(), "o", "office", DEMO_PASSWORD);
    let site = demo::site("第一教学楼");
    let id = inspector
        .report_hazard(site, None, &finding("外墙瓷砖松动"))
        .unwrap();
    assert!(sync(&inspector).rejected.is_empty());
    sync(&colleague);
    sync(&office);

    // Set once: who reported it, and when.
    let someone = PersonRef {
        user_id: demo::user("office"),
        name: "陈静".into(),
    };
    forge(&inspector, id, |d| {
        autosurgeon::reconcile_prop(d, automerge::ROOT, "reported_by", &someone).unwrap();
    });
    refused(&server, &inspector, id, "schema_violation", "reported_by");

    // The report is corrected only with a 'corrected' event holding old and new values.
    forge(&inspector, id, |d| {
        doc::hazard::set_description(d, "改过的描述").unwrap()
    });
    refused(&server, &inspector, id, "schema_violation", "description");

    // Its reporter corrects it through the core, which records the event; a colleague
    // may not, neither through the core nor behind its back.
    let fix = HazardCorrection {
        location: Some("3楼东侧".into()),
        description: Some("外墙瓷砖松动，已拉警戒线".into()),
        ..Default::default()
    };
    assert!(matches!(
        colleague.correct_hazard(id, &fix, "补充"),
        Err(Error::NotAllowed { .. })
    ));
    inspector.correct_hazard(id, &fix, "补充").unwrap();
    assert!(sync(&inspector).rejected.is_empty());
    let h = inspector.hazard(id).unwrap();
    let e = h.events.last().unwrap();
    assert_eq!(e.kind, EventKind::Corrected);
    assert_eq!(
        e.corrections
            .iter()
            .map(|c| c.field.as_str())
            .collect::<Vec<_>>(),
        ["location", "description"]
    );
    assert!(server.ledger_rows(id).contains("外墙瓷砖松动，已拉警戒线"));
    sync(&colleague);
    colleague
        .store()
        .write(colleague.actor(), Timestamp(chrono::Utc::now()), |tx| {
            tx.edit(id, |d| {
                let h = doc::hazard::read_with(d, false)?;
                let mut after = h.clone();
                after.location = "别处".into();
                doc::record_author(d, &colleague.identity().user)?;
                d.put(automerge::ROOT, "location", "别处")?;
                doc::hazard::append_event(
                    d,
                    &doc::hazard::Event {
                        id: DocId::new(),
                        kind: EventKind::Corrected,
                        by: colleague.identity().user.clone(),
                        at: Timestamp(chrono::Utc::now()),
                        note: String::new(),
                        photos: vec![],
                        risk: None,
                        plan: None,
                        corrections: doc::hazard::corrections(&h, &after, &["location"]),
                    },
                )
            })
        })
        .unwrap();
    refused(&server, &colleague, id, "forbidden", "Correct");

    // Who wrote as whom: an authors entry naming someone else is refused.
    sync(&inspector);
    forge(&inspector, id, |d| {
        let obj = match automerge::ReadDoc::get(d, automerge::ROOT, "authors") {
            Ok(Some((_, o))) => o,
            _ => panic!("the hazard records its authors"),
        };
        autosurgeon::reconcile_prop(&mut *d, &obj, "00ff00ff", &someone).unwrap();
    });
    refused(&server, &inspector, id, "schema_violation", "authors");

    // A claimed time three days ahead is refused; honest edits still land afterwards.
    sync(&inspector);
    let ahead = Timestamp(chrono::Utc::now() + chrono::Duration::days(3));
    let clocked = inspector
        .report_hazard(site, None, &finding("楼梯扶手松动"))
        .unwrap();
    forge(&inspector, clocked, |d| {
        d.put(automerge::ROOT, "reported_at", ahead.to_string())
            .unwrap();
    });
    refused(
        &server,
        &inspector,
        clocked,
        "schema_violation",
        "reported_at",
    );

    // A phone whose clock runs two hours ahead: its report is kept, and the office sees
    // the flag on the hazard's page.
    let fast = Device::open(
        tmp.path().join("i.db"),
        std::sync::Arc::new(saferound_core::FixedClock::new(
            chrono::Utc::now() + chrono::Duration::hours(2),
        )),
    )
    .unwrap();
    let early = fast
        .report_hazard(site, None, &finding("消防门闭门器损坏"))
        .unwrap();
    assert!(sync(&fast).rejected.is_empty());
    assert!(server.ledger_rows(early).contains("消防门闭门器损坏"));
    let page = crate::dashboard::Web::login(&server, "office").get(&format!("/hazards/{early}"));
    assert!(page.body.contains("id=\"clock-ahead\""), "{}", page.body);
    assert!(
        page.body.contains("phone clock ahead by 1"),
        "{}",
        page.body
    );
    let other = crate::dashboard::Web::login(&server, "office").get(&format!("/hazards/{id}"));
    assert!(!other.body.contains("id=\"clock-ahead\""));

    // A phone whose clock is years behind: its core refuses to backdate a report to
    // before the institution existed, and the server refuses such a date pushed behind
    // the core's back.
    let slow = Device::open(
        tmp.path().join("i.db"),
        std::sync::Arc::new(saferound_core::FixedClock::new(
            chrono::Utc::now() - chrono::Duration::days(3 * 365),
        )),
    )
    .unwrap();
    let err = slow
        .report_hazard(site, None, &finding("配电箱未上锁"))
        .unwrap_err();
    assert!(err.to_string().contains("before the institution"), "{err}");
    let backdated = inspector
        .report_hazard(site, None, &finding("配电箱未上锁"))
        .unwrap();
    forge(&inspector, backdated, |d| {
        let long_ago = Timestamp(chrono::Utc::now() - chrono::Duration::days(3 * 365));
        d.put(automerge::ROOT, "reported_at", long_ago.to_string())
            .unwrap();
    });
    refused(
        &server,
        &inspector,
        backdated,
        "schema_violation",
        "before the institution",
    );

    // An incident is never changed once filed.
    let incident = inspector
        .file_incident(&NewIncidentInput {
            occurred_at: None,
            site: Some(site),
            location: "门口".into(),
            category: HazardCategory::Buildings,
            severity: RiskGrade::Significant,
            title: "瓷砖掉落".into(),
            description: "无人受伤".into(),
            actions_taken: String::new(),
        })
        .unwrap();
    assert!(sync(&inspector).rejected.is_empty());
    forge(&inspector, incident, |d| {
        d.put(automerge::ROOT, "title", "小事").unwrap();
    });
    refused(
        &server,
        &inspector,
        incident,
        "schema_violation",
        "never changed",
    );

    // A weekly report is written by its own department's people only (the safety
    // office included: it files its own department's).
    let other = demo::department("后勤管理处");
    assert!(matches!(
        office.file_weekly_report(Some(other), None, true, ""),
        Err(Error::NotAllowed { .. })
    ));
    inspector.file_weekly_report(None, None, true, "").unwrap();
    assert!(sync(&inspector).rejected.is_empty());
}
