//! Every hazard transition from synced phones, by every role of DOMAIN.md: allowed ones
//! made through the core's API reach the server's ledger; forbidden ones are refused by
//! the core before anything is written, and — written into the document anyway, as a
//! tampered app would — refused by the server, quarantined on the phone, reset to the
//! server's copy, and change nothing in the ledger. So are events that are not legal where
//! their author put them, supervision of a hazard that is not major, and an event slipped
//! in before the recorded history.

use saferound_core::demo;
use saferound_core::device::{Assignment, NewFinding};
use saferound_core::doc::hazard::{self, Event, Plan, PlanPart};
use saferound_core::doc::{self, PersonRef};
use saferound_core::ids::{DocId, LocalDate, Timestamp};
use saferound_core::model::lifecycle::EventKind;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, Error};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

/// The hazard's status on the server, through the phone API.
fn server_status(server: &Server, d: &Device, id: DocId) -> String {
    let (s, v) = get_json(server, d, &format!("/api/v1/hazards/{id}"));
    assert_eq!(s, 200, "{v}");
    v["hazard"]["status"].as_str().unwrap_or("").to_string()
}

/// How a forged change edits the hazard besides appending its event.
enum Edit {
    None,
    Risk(RiskGrade),
    Plan(PlanPart),
    /// The event goes first in the list, before the recorded history.
    Prepend,
}

/// Writes an event of `kind` by `d`'s user straight into the hazard document, past the
/// core's role and lifecycle checks: what a tampered app would push.
fn forge(d: &Device, id: DocId, kind: EventKind, edit: Edit) {
    let now = Timestamp(chrono::Utc::now());
    let me: PersonRef = d.identity().user.clone();
    d.store()
        .write(d.actor(), now, |tx| {
            tx.edit(id, |doc| {
                doc::record_author(doc, &me)?;
                let mut event = Event {
                    id: DocId::new(),
                    kind,
                    by: me.clone(),
                    at: now,
                    note: "forged".into(),
                    photos: vec![],
                    risk: None,
                    plan: None,
                    corrections: Vec::new(),
                };
                match edit {
                    Edit::None => {}
                    Edit::Risk(r) => {
                        hazard::set_risk(doc, r)?;
                        event.risk = Some(r);
                    }
                    Edit::Plan(part) => {
                        let plan = Plan {
                            measure: "伪造的措施".into(),
                            responsible: Some(me.clone()),
                            deadline: Some(LocalDate(
                                chrono::Utc::now().date_naive() + chrono::Duration::days(9),
                            )),
                            interim_controls: "伪造的管控".into(),
                            designated_person: Some(me.clone()),
                            treatment_plan: "伪造的方案".into(),
                            ..Default::default()
                        };
                        hazard::update_plan(doc, &plan, part)?;
                        event.plan = Some(plan);
                    }
                    Edit::Prepend => {
                        let events = match automerge::ReadDoc::get(doc, automerge::ROOT, "events") {
                            Ok(Some((_, obj))) => obj,
                            _ => panic!("a hazard has an event list"),
                        };
                        autosurgeon::reconcile_insert(doc, events, 0, &event)
                            .map_err(|e| Error::State(e.to_string()))?;
                        return Ok(());
                    }
                }
                hazard::append_event(doc, &event)
            })
        })
        .expect("forged write");
}

/// Forges the event on `d`, syncs, and checks the server refused it with `code`, the
/// phone quarantined it and went back to the server's copy, and the ledger is unchanged.
fn refused(server: &Server, d: &Device, id: DocId, kind: EventKind, edit: Edit, code: &str) {
    refused_because(server, d, id, kind, edit, code, "");
}

/// As `refused`, and the server's reason says `reason`.
fn refused_because(
    server: &Server,
    d: &Device,
    id: DocId,
    kind: EventKind,
    edit: Edit,
    code: &str,
    reason: &str,
) {
    let before = server.ledger_rows(id);
    let events_before = d.hazard(id).expect("hazard").events.len();
    forge(d, id, kind, edit);
    let quarantined_before = d.store().quarantined().expect("quarantine").len();
    let r = sync(d);
    assert!(
        r.rejected.iter().any(|(doc, _)| *doc == id.to_string()),
        "{kind:?} by {}: not refused: {r:?}",
        d.identity().user.name
    );
    let q = d.store().quarantined().expect("quarantine");
    assert_eq!(q.len(), quarantined_before + 1);
    assert_eq!(q[0].code, code, "{kind:?}: {}", q[0].reason);
    assert!(q[0].reason.contains(reason), "{kind:?}: {}", q[0].reason);
    assert_eq!(
        server.ledger_rows(id),
        before,
        "{kind:?} changed the ledger"
    );
    assert_eq!(
        d.hazard(id).expect("hazard").events.len(),
        events_before,
        "the phone is back on the server's copy"
    );
    assert!(sync(d).rejected.is_empty(), "later syncs are clean");
}

fn not_allowed<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::NotAllowed { .. }) => {}
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn every_transition_by_every_role_from_synced_phones() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let inspector = enroll(&server, tmp.path(), "inspector", "inspector", DEMO_PASSWORD);
    let inspector2 = enroll(
        &server,
        tmp.path(),
        "inspector2",
        "inspector2",
        DEMO_PASSWORD,
    );
    let owner = enroll(&server, tmp.path(), "owner", "owner", DEMO_PASSWORD);
    let office = enroll(&server, tmp.path(), "office", "office", DEMO_PASSWORD);
    let admin = enroll(&server, tmp.path(), "admin", "demo-admin", DEMO_PASSWORD);
    // An inspector's phone that will not sync again until it tries a forgery.
    let rogue = enroll(&server, tmp.path(), "rogue", "inspector2", DEMO_PASSWORD);
    let all = [&inspector, &inspector2, &owner, &office, &admin];
    let sync_all = || {
        for d in all {
            assert!(sync(d).rejected.is_empty());
        }
    };

    // Reported by the inspector; the owner and the administrator may not report.
    let finding = NewFinding {
        category: Some(HazardCategory::FireSafety),
        risk: Some(RiskGrade::General),
        description: "配电箱前堆放纸箱".into(),
        ..Default::default()
    };
    let site = demo::site("第一教学楼");
    not_allowed(owner.report_hazard(site, None, &finding));
    not_allowed(admin.report_hazard(site, None, &finding));
    let id = inspector.report_hazard(site, None, &finding).unwrap();
    sync_all();
    assert_eq!(server_status(&server, &office, id), "reported");

    // reported → assign: the office only.
    let assignment = Assignment {
        measure: "清理纸箱，配电箱前划定禁放区".into(),
        responsible: demo::user("owner"),
        funds: "100 元".into(),
        deadline: LocalDate(chrono::Utc::now().date_naive() + chrono::Duration::days(7)),
        contingency: "专人看守".into(),
        reinspector: Some(demo::user("inspector")),
    };
    for d in [&inspector, &owner, &admin] {
        not_allowed(d.assign(id, &assignment, ""));
        refused(
            &server,
            d,
            id,
            EventKind::Assigned,
            Edit::Plan(PlanPart::Assignment),
            "forbidden",
        );
    }
    for d in [&inspector, &owner, &admin] {
        not_allowed(d.defer(id, "围挡", demo::user("owner"), ""));
        refused(
            &server,
            d,
            id,
            EventKind::Deferred,
            Edit::Plan(PlanPart::Deferral),
            "forbidden",
        );
    }
    // Not legal where its author put it: verified before any rectification, by the office.
    refused_because(
        &server,
        &office,
        id,
        EventKind::Verified,
        Edit::None,
        "schema_violation",
        "cannot be recorded on a hazard that is reported",
    );
    // Supervision is for major hazards only, even for the office.
    refused_because(
        &server,
        &office,
        id,
        EventKind::ListedForSupervision,
        Edit::Plan(PlanPart::Supervision),
        "schema_violation",
        "only major hazards",
    );
    // An event slipped in before the recorded history.
    refused_because(
        &server,
        &office,
        id,
        EventKind::Regraded,
        Edit::Prepend,
        "schema_violation",
        "new events go after the events already recorded",
    );
    // A second history for the same hazard: a phone that never had it writes a document
    // of its own under the hazard's id (a change without dependencies), whose event list
    // could otherwise win over the real one's.
    let before = server.ledger_rows(id);
    rogue
        .store()
        .write(rogue.actor(), Timestamp(chrono::Utc::now()), |tx| {
            tx.create(id, |d| {
                hazard::create(
                    d,
                    &hazard::NewHazard {
                        id,
                        institution: rogue.identity().institution,
                        campaign: None,
                        inspection: None,
                        site: doc::SiteRef {
                            id: site,
                            name: "第一教学楼".into(),
                            kind: saferound_core::model::SiteKind::TeachingBuilding,
                        },
                        category: HazardCategory::FireSafety,
                        risk: RiskGrade::Low,
                        location: String::new(),
                        description: "另起炉灶".into(),
                        photos: vec![],
                    },
                    &rogue.identity().user,
                    Timestamp(chrono::Utc::now()),
                )
            })
        })
        .unwrap();
    let r = sync(&rogue);
    assert!(
        r.rejected.iter().any(|(doc, _)| *doc == id.to_string()),
        "{r:?}"
    );
    let q = rogue.store().quarantined().unwrap();
    assert!(q[0].reason.contains("created once"), "{}", q[0].reason);
    assert_eq!(
        server.ledger_rows(id),
        before,
        "the second history changed nothing"
    );
    // The owner and a colleague of the reporter may not regrade; its reporter may until
    // it is assigned.
    not_allowed(owner.regrade(id, RiskGrade::Low, "x"));
    refused(
        &server,
        &owner,
        id,
        EventKind::Regraded,
        Edit::Risk(RiskGrade::Low),
        "forbidden",
    );
    not_allowed(inspector2.regrade(id, RiskGrade::Low, "x"));
    refused(
        &server,
        &inspector2,
        id,
        EventKind::Regraded,
        Edit::Risk(RiskGrade::Low),
        "forbidden",
    );
    inspector
        .regrade(id, RiskGrade::Significant, "纸箱很多")
        .unwrap();
    sync_all();

    office.assign(id, &assignment, "限期清理").unwrap();
    assert!(sync(&office).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "in_rectification");
    sync_all();
    // Once assigned, inspectors no longer regrade.
    not_allowed(inspector.regrade(id, RiskGrade::Low, "x"));
    refused(
        &server,
        &inspector,
        id,
        EventKind::Regraded,
        Edit::Risk(RiskGrade::Low),
        "forbidden",
    );

    // in rectification → report rectification: the named responsible person or the office.
    for d in [&inspector, &inspector2, &admin] {
        not_allowed(d.report_rectification(id, "已整改", &[]));
        refused(
            &server,
            d,
            id,
            EventKind::RectificationReported,
            Edit::None,
            "forbidden",
        );
    }
    owner.report_rectification(id, "纸箱已清走", &[]).unwrap();
    assert!(sync(&owner).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "awaiting_verification");
    sync_all();

    // awaiting verification → verify: the named re-inspector or the office.
    for d in [&owner, &inspector2, &admin] {
        not_allowed(d.reinspect(id, true, "", &[]));
        refused(&server, d, id, EventKind::Verified, Edit::None, "forbidden");
        refused(
            &server,
            d,
            id,
            EventKind::VerificationFailed,
            Edit::None,
            "forbidden",
        );
    }
    inspector.reinspect(id, false, "禁放区未划线", &[]).unwrap();
    assert!(sync(&inspector).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "in_rectification");
    sync_all();
    owner.report_rectification(id, "已划线", &[]).unwrap();
    assert!(sync(&owner).rejected.is_empty());
    sync_all();
    inspector.reinspect(id, true, "复查合格", &[]).unwrap();
    assert!(sync(&inspector).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "closed");
    sync_all();

    // closed → reopen (回头看): inspectors and the office; not the owner or the admin.
    for d in [&owner, &admin] {
        not_allowed(d.reopen(id, "回头看"));
        refused(&server, d, id, EventKind::Reopened, Edit::None, "forbidden");
    }
    inspector2.reopen(id, "回头看：纸箱又堆回来了").unwrap();
    assert!(sync(&inspector2).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "reported");
    sync_all();

    // defer: the office, with interim controls and a designated person.
    office
        .defer(
            id,
            "贴警示标识，每日巡查",
            demo::user("owner"),
            "待寒假改造",
        )
        .unwrap();
    assert!(sync(&office).rejected.is_empty());
    assert_eq!(server_status(&server, &office, id), "deferred");
    sync_all();

    // supervise (挂牌督办): a major hazard, by the office; never by the others.
    office
        .regrade(id, RiskGrade::Major, "配电房整体隐患，升级为重大")
        .unwrap();
    assert!(sync(&office).rejected.is_empty());
    sync_all();
    for d in [&inspector, &owner, &admin] {
        not_allowed(d.list_for_supervision(id, "方案"));
        refused(
            &server,
            d,
            id,
            EventKind::ListedForSupervision,
            Edit::Plan(PlanPart::Supervision),
            "forbidden",
        );
    }
    office
        .list_for_supervision(id, "寒假期间改造配电房；资金三万元；后勤管理处负责")
        .unwrap();
    assert!(sync(&office).rejected.is_empty());
    let (_, v) = get_json(&server, &office, &format!("/api/v1/hazards/{id}"));
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "reported",
            "regraded",
            "assigned",
            "rectification_reported",
            "verification_failed",
            "rectification_reported",
            "verified",
            "reopened",
            "deferred",
            "regraded",
            "listed_for_supervision",
        ]
    );

    // Every phone converges on the server's history, and the ledger equals a rebuild.
    sync_all();
    for d in all {
        assert_eq!(d.hazard(id).unwrap().events.len(), kinds.len());
    }
    server.assert_ledger_equals_a_rebuild();
}
