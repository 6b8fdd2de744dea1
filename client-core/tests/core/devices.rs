//! The inspector's day and the closed loop, across devices that meet only by exchanging
//! documents.

use saferound_core::device::{Assignment, HazardQuery, NewFinding, NewIncidentInput};
use saferound_core::doc::DocKind;
use saferound_core::doc::directory::Directory;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::error::Error;
use saferound_core::ids::{DocId, LocalDate};
use saferound_core::model::templates::{Template, TemplateItem};
use saferound_core::model::{HazardCategory, HazardStatus, RiskGrade, SiteKind};
use saferound_core::{Device, FixedClock, demo};

use crate::support::{at, device, heads, jpeg, send};

fn dorm() -> saferound_core::ids::SiteId {
    demo::site("1号学生公寓")
}

#[test]
fn an_inspection_records_answers_findings_and_freezes_on_submit() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(tmp.path(), "inspector", &clock);
    let i = d.start_inspection(dorm(), None, None).unwrap();
    d.answer(i, "DORM-01", AnswerResult::Pass, "", &[], None)
        .unwrap();
    let photo = d.add_photo(&jpeg("exit")).unwrap();
    d.answer(
        i,
        "DORM-02",
        AnswerResult::Fail,
        "走廊堆放自行车",
        std::slice::from_ref(&photo),
        None,
    )
    .unwrap();
    let h = d
        .add_finding(
            i,
            &NewFinding {
                item: Some("DORM-02".into()),
                location: "3F 东侧".into(),
                description: "疏散走廊堆放自行车".into(),
                photos: vec![photo.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    let hz = d.hazard(h).unwrap();
    assert_eq!(hz.inspection, Some(i));
    assert_eq!(
        hz.category,
        HazardCategory::FireSafety,
        "defaults from the item"
    );
    assert_eq!(hz.status, Some(HazardStatus::Reported));
    assert_eq!(hz.photos, vec![photo]);
    d.submit_inspection(i).unwrap();

    let insp = d.inspection(i).unwrap();
    assert_eq!(insp.findings, vec![h]);
    assert_eq!(insp.answers.len(), 2);
    assert!(insp.submitted.is_some());
    assert_eq!(insp.template.id, "dorm");

    // Frozen: a change needs a reason, and the reason stays on the record.
    let before = heads(&d, i);
    let err = d
        .answer(i, "DORM-01", AnswerResult::Fail, "", &[], None)
        .unwrap_err();
    assert!(matches!(err, Error::State(_)), "{err}");
    assert_eq!(heads(&d, i), before, "a refused change writes nothing");
    d.answer(
        i,
        "DORM-01",
        AnswerResult::Fail,
        "复查发现上锁",
        &[],
        Some("值班复查时发现"),
    )
    .unwrap();
    let insp = d.inspection(i).unwrap();
    assert_eq!(insp.amendments.len(), 1);
    assert_eq!(insp.answers["DORM-01"].result, AnswerResult::Fail);

    let err = d.submit_inspection(i).unwrap_err();
    assert!(err.to_string().contains("already submitted"), "{err}");
}

#[test]
fn every_misuse_is_a_typed_error_that_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(tmp.path(), "inspector", &clock);
    let i = d.start_inspection(dorm(), None, None).unwrap();
    let before = heads(&d, i);

    let e = d
        .answer(i, "LAB-01", AnswerResult::Pass, "", &[], None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "item"),
        "{e}"
    );
    let e = d.submit_inspection(i).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "answers"),
        "{e}"
    );
    let e = d
        .add_finding(
            i,
            &NewFinding {
                item: Some("DORM-01".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "description"),
        "{e}"
    );
    let e = d
        .add_finding(
            i,
            &NewFinding {
                description: "x".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "category"),
        "{e}"
    );
    let unknown = saferound_core::ids::BlobHash::of(b"never added");
    let e = d
        .answer(i, "DORM-01", AnswerResult::Pass, "", &[unknown], None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "photos"),
        "{e}"
    );
    let e = d
        .answer(DocId::new(), "DORM-01", AnswerResult::Pass, "", &[], None)
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let e = d
        .start_inspection(saferound_core::ids::SiteId::new(), None, None)
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let e = d
        .answer(
            i,
            "DORM-01",
            AnswerResult::Pass,
            &"长".repeat(5000),
            &[],
            None,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
    assert_eq!(heads(&d, i), before);

    // The inspector may not assign, defer or verify.
    let h = d
        .add_finding(
            i,
            &NewFinding {
                item: Some("DORM-01".into()),
                description: "安全出口上锁".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let before = heads(&d, h);
    let a = Assignment {
        measure: "拆除锁具".into(),
        responsible: demo::user("owner"),
        funds: String::new(),
        deadline: LocalDate("2027-01-05".parse().unwrap()),
        contingency: String::new(),
        reinspector: None,
    };
    assert!(matches!(
        d.assign(h, &a, "").unwrap_err(),
        Error::NotAllowed { .. }
    ));
    assert!(matches!(
        d.defer(h, "专人值守", demo::user("owner"), "").unwrap_err(),
        Error::NotAllowed { .. }
    ));
    assert!(matches!(
        d.reinspect(h, true, "", &[]).unwrap_err(),
        Error::NotAllowed { .. }
    ));
    // Illegal in its state even for someone allowed: reopening an open hazard.
    assert!(matches!(
        d.reopen(h, "回头看").unwrap_err(),
        Error::State(_)
    ));
    assert_eq!(heads(&d, h), before);
}

#[test]
fn the_closed_loop_runs_across_three_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let inspector = device(tmp.path(), "inspector", &clock);
    let office = device(tmp.path(), "office", &clock);
    let owner = device(tmp.path(), "owner", &clock);

    let i = inspector
        .start_inspection(demo::site("第一食堂后厨"), None, None)
        .unwrap();
    inspector
        .answer(i, "KITCHEN-01", AnswerResult::Fail, "", &[], None)
        .unwrap();
    let h = inspector
        .add_finding(
            i,
            &NewFinding {
                item: Some("KITCHEN-01".into()),
                description: "明厨亮灶摄像头离线".into(),
                ..Default::default()
            },
        )
        .unwrap();
    send(&inspector, &office, h);

    let deadline = LocalDate("2027-01-05".parse().unwrap());
    office
        .assign(
            h,
            &Assignment {
                measure: "更换摄像头并接入平台".into(),
                responsible: demo::user("owner"),
                funds: "2000 元".into(),
                deadline,
                contingency: "人工巡查".into(),
                reinspector: Some(demo::user("inspector")),
            },
            "请于期限内完成",
        )
        .unwrap();
    send(&office, &owner, h);
    // The owner sees it as assigned to them, due soon once the date nears.
    let mine = owner
        .hazards(&HazardQuery {
            responsible_is_me: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert!(!mine[0].due_soon);
    clock.set(at("2027-01-03T01:00:00Z"));
    let soon = owner
        .hazards(&HazardQuery {
            due_within_days: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(soon.len(), 1);

    // Only the named owner reports rectification; the inspector may not.
    send(&office, &inspector, h);
    let e = inspector
        .report_rectification(h, "我来报", &[])
        .unwrap_err();
    assert!(matches!(e, Error::NotAllowed { .. }), "{e}");
    let after = owner.add_photo(&jpeg("after")).unwrap();
    owner.report_rectification(h, "已更换", &[after]).unwrap();
    send(&owner, &inspector, h);
    send(&office, &inspector, h);
    assert_eq!(
        inspector.hazard(h).unwrap().status,
        Some(HazardStatus::AwaitingVerification)
    );
    // Named re-inspector fails it once, then passes it.
    inspector.reinspect(h, false, "画面仍不清晰", &[]).unwrap();
    assert_eq!(
        inspector.hazard(h).unwrap().status,
        Some(HazardStatus::InRectification)
    );
    send(&inspector, &owner, h);
    owner.report_rectification(h, "已调整角度", &[]).unwrap();
    send(&owner, &inspector, h);
    inspector.reinspect(h, true, "", &[]).unwrap();
    let hz = inspector.hazard(h).unwrap();
    assert_eq!(hz.status, Some(HazardStatus::Closed));
    assert_eq!(hz.events.len(), 6);
    assert!(hz.conflicts.is_empty(), "{:?}", hz.conflicts);
    // Look-back: reopen.
    inspector.reopen(h, "回头看发现摄像头再次离线").unwrap();
    assert_eq!(
        inspector.hazard(h).unwrap().status,
        Some(HazardStatus::Reported)
    );
}

#[test]
fn overdue_is_computed_from_the_clock_in_the_institutions_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    // 2027-01-05 23:30 in Shanghai is 15:30 UTC.
    let clock = FixedClock::new(at("2027-01-01T01:00:00Z"));
    let office = device(tmp.path(), "office", &clock);
    let h = office
        .report_hazard(
            demo::site("危化品仓库"),
            None,
            &NewFinding {
                category: Some(HazardCategory::LabChemicals),
                risk: Some(RiskGrade::Major),
                description: "双人双锁缺失".into(),
                ..Default::default()
            },
        )
        .unwrap();
    office
        .assign(
            h,
            &Assignment {
                measure: "加装第二把锁".into(),
                responsible: demo::user("owner"),
                funds: String::new(),
                deadline: LocalDate("2027-01-05".parse().unwrap()),
                contingency: String::new(),
                reinspector: None,
            },
            "",
        )
        .unwrap();
    let overdue = |o: &saferound_core::Device| {
        o.hazards(&HazardQuery {
            overdue: true,
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    clock.set(at("2027-01-05T15:30:00Z"));
    assert_eq!(overdue(&office), 0, "still the deadline day in Shanghai");
    clock.set(at("2027-01-05T16:30:00Z"));
    assert_eq!(overdue(&office), 1, "past midnight in Shanghai");
    // A major hazard may be listed for supervision; a deadline in the past is refused.
    office
        .list_for_supervision(h, "制定专项整改方案，限期完成")
        .unwrap();
    assert!(office.hazard(h).unwrap().supervised);
    let e = office
        .assign(
            h,
            &Assignment {
                measure: "x".into(),
                responsible: demo::user("owner"),
                funds: String::new(),
                deadline: LocalDate("2027-01-01".parse().unwrap()),
                contingency: String::new(),
                reinspector: None,
            },
            "",
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "deadline"),
        "{e}"
    );
}

#[test]
fn concurrent_grades_resolve_to_the_higher_and_deadlines_to_the_earlier_and_both_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let a = device(tmp.path(), "inspector", &clock);
    let b = device(tmp.path(), "office", &clock);
    let i = a
        .start_inspection(demo::site("食品检测实验室"), None, None)
        .unwrap();
    let h = a
        .add_finding(
            i,
            &NewFinding {
                item: Some("LAB-01".into()),
                risk: Some(RiskGrade::General),
                description: "废液桶无标识".into(),
                ..Default::default()
            },
        )
        .unwrap();
    send(&a, &b, h);
    // Offline, the reporter and the safety office grade it differently.
    // The higher grade goes to the writer that Automerge's own pick (last writer by
    // operation order) would not choose, so only the domain rule makes it stand.
    a.regrade(h, RiskGrade::Significant, "废液量较大").unwrap();
    b.regrade(h, RiskGrade::Low, "复核后降级").unwrap();
    send(&a, &b, h);
    send(&b, &a, h);
    let lww = a.store().load(h).unwrap().unwrap();
    let picked = automerge::ReadDoc::get(&lww, automerge::ROOT, "risk")
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(
        picked.as_str(),
        Some("low"),
        "Automerge alone would keep the lower grade"
    );
    for d in [&a, &b] {
        let hz = d.hazard(h).unwrap();
        assert_eq!(hz.risk, RiskGrade::Significant, "the higher grade stands");
        let c = hz
            .conflicts
            .iter()
            .find(|c| c.field == "risk")
            .expect("risk conflict reported");
        assert_eq!(c.values.len(), 2);
        let names: Vec<_> = c
            .values
            .iter()
            .filter_map(|v| v.written_by.as_ref())
            .map(|p| p.name.as_str())
            .collect();
        assert!(
            names.contains(&"王磊") && names.contains(&"陈静"),
            "{names:?}"
        );
    }
    assert_eq!(heads(&a, h), heads(&b, h));

    // Two safety-office devices set different deadlines offline: the earlier stands.
    let second = tmp.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let o1 = device(&second, "office", &clock);
    send(&a, &o1, h);
    let assignment = |day: &str| Assignment {
        measure: "张贴标识".into(),
        responsible: demo::user("owner"),
        funds: String::new(),
        deadline: LocalDate(day.parse().unwrap()),
        contingency: String::new(),
        reinspector: None,
    };
    o1.assign(h, &assignment("2027-01-10"), "").unwrap();
    send(&o1, &a, h);
    // A second office device (same person, another phone) holding the assigned hazard.
    let tmp2 = tempfile::tempdir().unwrap();
    let o2 = device(tmp2.path(), "office", &clock);
    send(&o1, &o2, h);
    o1.assign(h, &assignment("2027-01-08"), "提前").unwrap();
    o2.assign(h, &assignment("2027-01-20"), "延期").unwrap();
    send(&o2, &o1, h);
    let hz = o1.hazard(h).unwrap();
    let plan: saferound_core::doc::hazard::Plan = autosurgeon::hydrate_prop(
        &o1.store().load(h).unwrap().unwrap(),
        automerge::ROOT,
        "plan",
    )
    .unwrap();
    assert_eq!(
        plan.deadline.unwrap().to_string(),
        "2027-01-20",
        "Automerge alone keeps the later date"
    );
    assert_eq!(hz.plan.deadline.unwrap().to_string(), "2027-01-08");
    assert!(
        hz.conflicts.iter().any(|c| c.field == "plan.deadline"),
        "{:?}",
        hz.conflicts
    );
    // Both assignments are in the history; neither is lost.
    assert_eq!(
        hz.events
            .iter()
            .filter(|e| e.kind == saferound_core::model::EventKind::Assigned)
            .count(),
        3
    );
    // The index lists the resolved values.
    let row = &o1.hazards(&HazardQuery::default()).unwrap()[0];
    assert_eq!(row.summary.deadline.as_deref(), Some("2027-01-08"));
    assert_eq!(row.summary.risk.as_deref(), Some("significant"));
    assert!(row.summary.conflicts > 0);
}

#[test]
fn weekly_reports_of_one_department_and_week_are_one_document() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2027-01-08T02:00:00Z")); // Friday 10:00 in Shanghai
    let a = device(tmp.path(), "inspector", &clock);
    let b = device(tmp.path(), "inspector2", &clock);
    let ra = a
        .file_weekly_report(None, None, false, "本周排查宿舍 2 栋，发现隐患 1 处")
        .unwrap();
    let rb = b.file_weekly_report(None, None, true, "").unwrap();
    assert_eq!(ra, rb);
    send(&a, &b, ra);
    let r = b.weekly_report(ra).unwrap();
    assert_eq!(r.week, "2027-W01".parse::<IsoWeek>().unwrap());
    assert_eq!(r.filings.len(), 2);
    assert_eq!(r.department_name, "保卫处");
    assert!(r.content.contains("发现隐患 1 处"));
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    let names: Vec<_> = r.filings.iter().map(|f| f.by.name.as_str()).collect();
    assert!(names.contains(&"王磊") && names.contains(&"刘洋"));
    // Another department's report is not theirs to file.
    let e = a
        .file_weekly_report(Some(demo::department("后勤管理处")), None, true, "")
        .unwrap_err();
    assert!(matches!(e, Error::NotAllowed { .. }), "{e}");
    let e = a.file_weekly_report(None, None, false, "  ").unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "content"),
        "{e}"
    );
    assert_eq!(a.documents(DocKind::WeeklyReport, None).unwrap().len(), 1);
}

#[test]
fn incidents_are_reported_with_site_and_severity() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2027-01-08T02:00:00Z"));
    let d = device(tmp.path(), "owner", &clock);
    let id = d
        .file_incident(&NewIncidentInput {
            occurred_at: Some("2027-01-08T01:30:00Z".parse().unwrap()),
            site: Some(demo::site("北区电动车充电棚")),
            location: "3号充电桩".into(),
            category: HazardCategory::FireSafety,
            severity: RiskGrade::Major,
            title: "电动车电池起火".into(),
            description: "充电中电池冒烟起火，已用灭火器扑灭，无人员受伤".into(),
            actions_taken: "断电、疏散、报告保卫处".into(),
        })
        .unwrap();
    let r = d.incident(id).unwrap();
    assert_eq!(r.site.unwrap().kind, SiteKind::EbikeParking);
    assert_eq!(d.documents(DocKind::IncidentReport, None).unwrap().len(), 1);
    let e = d
        .file_incident(&NewIncidentInput {
            occurred_at: Some("2027-02-01T00:00:00Z".parse().unwrap()),
            site: None,
            location: String::new(),
            category: HazardCategory::Theft,
            severity: RiskGrade::Low,
            title: "x".into(),
            description: "y".into(),
            actions_taken: String::new(),
        })
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field, .. } if field == "occurred_at"),
        "{e}"
    );
}

#[test]
fn a_new_template_version_never_alters_an_older_inspection() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(tmp.path(), "inspector", &clock);
    let old = d.start_inspection(dorm(), None, None).unwrap();
    d.answer(old, "DORM-15", AnswerResult::Pass, "", &[], None)
        .unwrap();

    let mut dir: Directory = demo::directory();
    dir.add_template(Template {
        id: "dorm".into(),
        version: 2,
        site_kind: SiteKind::Dorm,
        title_zh: "宿舍检查表（本校版）".into(),
        title_en: "Dormitory checklist (college edition)".into(),
        builtin: false,
        items: vec![TemplateItem {
            code: "JW-DORM-01".into(),
            text_zh: "宿舍无违规大功率电器".into(),
            text_en: "No illegal high-power appliances".into(),
            category: HazardCategory::FireSafety,
            suggested_risk: RiskGrade::Significant,
        }],
    })
    .unwrap();
    assert!(
        dir.add_template(dir.templates["dorm@2"].clone()).is_err(),
        "a version is never replaced"
    );
    // A user may not rewrite the directory (it decides roles); the new version arrives
    // from the server, which replaces the local copy.
    assert!(matches!(
        d.import_directory(&dir).unwrap_err(),
        Error::NotAllowed { .. }
    ));
    let id = saferound_core::doc::directory::id_for(dir.institution);
    let mut server_copy = automerge::AutoCommit::new();
    saferound_core::doc::directory::write(&mut server_copy, &dir).unwrap();
    d.store()
        .replace(
            id,
            &server_copy.save(),
            &automerge::ActorId::random(),
            "2026-12-28T01:00:00Z".parse().unwrap(),
        )
        .unwrap();

    // The old inspection still answers its own version's items.
    d.answer(old, "DORM-01", AnswerResult::Pass, "", &[], None)
        .unwrap();
    assert_eq!(d.inspection(old).unwrap().template.version, 1);
    let new = d.start_inspection(dorm(), None, None).unwrap();
    assert_eq!(d.inspection(new).unwrap().template.version, 2);
    assert!(
        d.answer(new, "DORM-01", AnswerResult::Pass, "", &[], None)
            .is_err()
    );
    d.answer(new, "JW-DORM-01", AnswerResult::Pass, "", &[], None)
        .unwrap();
}

#[test]
fn photos_are_deduplicated_bounded_and_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let mut d = device(tmp.path(), "inspector", &clock);
    let a = d.add_photo(&jpeg("same")).unwrap();
    let b = d.add_photo(&jpeg("same")).unwrap();
    assert_eq!(a, b);
    assert_eq!(d.photo(&a).unwrap(), jpeg("same"));
    d.set_max_photo_bytes(1024);
    let big = [jpeg("x"), vec![0u8; 2000]].concat();
    match d.add_photo(&big).unwrap_err() {
        Error::PhotoTooLarge { size, limit } => assert_eq!((size, limit), (2005, 1024)),
        e => panic!("{e}"),
    }
    assert!(matches!(
        d.add_photo(b"%PDF-1.4").unwrap_err(),
        Error::Invalid { .. }
    ));
}

#[test]
fn a_typical_inspection_with_three_findings_is_small_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let d = device(tmp.path(), "inspector", &clock);
    let i = d.start_inspection(dorm(), None, None).unwrap();
    let codes = demo::dorm_item_codes();
    let mut ids = vec![i];
    for (n, code) in codes.iter().cycle().take(20).enumerate() {
        let r = if n % 7 == 3 {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        d.answer(i, code, r, "已检查", &[], None).unwrap();
    }
    for (n, code) in codes.iter().take(3).enumerate() {
        ids.push(
            d.add_finding(
                i,
                &NewFinding {
                    item: Some(code.clone()),
                    description: format!("隐患描述 {n}：现场发现问题，需要整改"),
                    location: "2F".into(),
                    ..Default::default()
                },
            )
            .unwrap(),
        );
    }
    d.submit_inspection(i).unwrap();
    let bytes: usize = ids
        .iter()
        .map(|id| d.store().stored_bytes(*id).unwrap())
        .sum();
    assert!(
        bytes < 20 * 1024,
        "inspection with 3 findings takes {bytes} bytes"
    );
}

/// Campaigns reach phones in the directory, and what a phone records while one runs is
/// tagged with it (the one that started last when two overlap); asked for, a campaign is
/// kept; outside every campaign, nothing is tagged.
#[test]
fn records_are_tagged_with_the_campaign_running_that_day() {
    use saferound_core::doc::directory::CampaignEntry;
    use saferound_core::ids::CampaignId;
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-04-10T02:00:00Z"));
    let d = saferound_core::Device::init(
        tmp.path().join("i.db"),
        demo::identity("inspector").unwrap(),
        std::sync::Arc::new(clock.clone()),
    )
    .unwrap();
    let day = |s: &str| LocalDate(s.parse().unwrap());
    let (hundred, week) = (CampaignId::new(), CampaignId::new());
    let mut dir = demo::directory();
    dir.add_campaign(CampaignEntry {
        id: hundred,
        name: "百日攻坚".into(),
        starts: day("2026-03-01"),
        ends: day("2026-06-08"),
    });
    dir.add_campaign(CampaignEntry {
        id: week,
        name: "消防宣传周".into(),
        starts: day("2026-04-06"),
        ends: day("2026-04-12"),
    });
    d.import_directory(&dir).unwrap();
    assert_eq!(d.campaigns().unwrap().len(), 2);

    // 2026-04-10 10:00 in UTC+8: inside both; the week started last.
    let i = d.start_inspection(dorm(), None, None).unwrap();
    assert_eq!(d.inspection(i).unwrap().campaign, Some(week));
    let f = NewFinding {
        category: Some(HazardCategory::FireSafety),
        risk: Some(RiskGrade::General),
        description: "灭火器过期".into(),
        ..Default::default()
    };
    let h = d.report_hazard(dorm(), None, &f).unwrap();
    assert_eq!(d.hazard(h).unwrap().campaign, Some(week));
    // Asked for, the hundred days it is.
    let h = d.report_hazard(dorm(), Some(hundred), &f).unwrap();
    assert_eq!(d.hazard(h).unwrap().campaign, Some(hundred));
    // 2026-04-12 23:30 in UTC+8 (15:30 UTC): still the week, by the institution's day.
    clock.set(at("2026-04-12T15:30:00Z"));
    let i = d.start_inspection(dorm(), None, None).unwrap();
    assert_eq!(d.inspection(i).unwrap().campaign, Some(week));
    // Then only the hundred days; after them, nothing.
    clock.set(at("2026-04-12T16:30:00Z"));
    let i = d.start_inspection(dorm(), None, None).unwrap();
    assert_eq!(d.inspection(i).unwrap().campaign, Some(hundred));
    clock.set(at("2026-07-01T02:00:00Z"));
    let i = d.start_inspection(dorm(), None, None).unwrap();
    assert_eq!(d.inspection(i).unwrap().campaign, None);
    assert_eq!(d.current_campaign().unwrap(), None);
}

/// The changes of `from`'s copy of `id` that `since` lacks, as the server sends them.
fn changes_since(from: &Device, id: DocId, since: &[automerge::ChangeHash]) -> Vec<Vec<u8>> {
    let mut d = from.store().load(id).unwrap().unwrap();
    d.get_changes(since)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// What a sync brings is applied as the server's changes (the phone's receive path): the
/// index counts conflicts only where there was concurrency, a received new document is
/// stored as its changes and loads again from the file, and after the server forgets
/// (a restore) those stored changes are what the phone pushes again.
#[test]
fn received_changes_are_indexed_with_their_conflicts_and_stored_as_they_came() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(at("2026-12-28T01:00:00Z"));
    let a = device(tmp.path(), "inspector", &clock);
    let b = device(tmp.path(), "office", &clock);
    let i = a.start_inspection(dorm(), None, None).unwrap();
    let h = a
        .add_finding(
            i,
            &NewFinding {
                item: Some("DORM-02".into()),
                risk: Some(RiskGrade::General),
                description: "疏散走廊堆放自行车".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let conflicts = |d: &Device| {
        d.hazards(&HazardQuery::default())
            .unwrap()
            .iter()
            .find(|r| r.summary.id == h.to_string())
            .expect("hazard listed")
            .summary
            .conflicts
    };
    b.receive_from_server(&[
        (h, changes_since(&a, h, &[])),
        (i, changes_since(&a, i, &[])),
    ])
    .unwrap();
    assert_eq!(b.show(h).unwrap(), a.show(h).unwrap());
    assert_eq!(conflicts(&b), 0);
    // A later edit on top of what b has: still no conflict.
    let seen = heads(&b, h);
    a.regrade(h, RiskGrade::Significant, "复核").unwrap();
    b.receive_from_server(&[(h, changes_since(&a, h, &seen))])
        .unwrap();
    assert_eq!(b.hazard(h).unwrap().risk, RiskGrade::Significant);
    assert_eq!(conflicts(&b), 0);
    // Concurrent grades: the conflict is counted on the receiving side.
    let seen = heads(&b, h);
    a.regrade(h, RiskGrade::Low, "复核后降级").unwrap();
    b.regrade(h, RiskGrade::Major, "复核后升级").unwrap();
    b.receive_from_server(&[(h, changes_since(&a, h, &seen))])
        .unwrap();
    assert_eq!(b.hazard(h).unwrap().risk, RiskGrade::Major);
    assert_eq!(conflicts(&b), 1);
    // Stored as received: the file opens and every document loads the same.
    let path = tmp.path().join("office.db");
    let (want_h, want_i) = (b.show(h).unwrap(), b.show(i).unwrap());
    drop(b);
    let b = Device::open(&path, std::sync::Arc::new(clock.clone())).unwrap();
    assert_eq!(b.show(h).unwrap(), want_h);
    assert_eq!(b.hazard(h).unwrap().risk, RiskGrade::Major);
    assert_eq!(b.show(i).unwrap(), want_i);
    b.store().forget_acknowledgements().unwrap();
    let again = b.store().unacknowledged_changes(i).unwrap();
    assert_eq!(again, changes_since(&a, i, &[]));
}
