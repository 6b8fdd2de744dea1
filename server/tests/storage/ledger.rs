//! The ledger's queries, its rebuild and dump, and the weekly report's figures and filings.

use super::*;

// ---------------------------------------------------------------------------------------
// The ledger

pub(crate) async fn hazard_queries_filter_and_page(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let (dept, site) = department_with_site(s, inst, SiteKind::Dorm).await;
    let campaign = CampaignId::new().to_string();
    let mut ids = Vec::new();
    // 12 hazards: reported one a day; every third at `site`; statuses and deadlines vary.
    for i in 0..12u32 {
        let id = DocId::new();
        let mut h = hazard_row(id);
        h.reported_at = format!("2026-03-{:02}T01:00:00.000Z", i + 1);
        h.risk_rank = i64::from(i % 4);
        h.risk = ["low", "general", "significant", "major"][(i % 4) as usize].into();
        if i % 3 == 0 {
            h.site_id = site.to_string();
        }
        if i % 2 == 0 {
            h.status = Some("in_rectification".into());
            h.deadline = Some(format!("2026-04-{:02}", 12 - i));
        }
        if i >= 10 {
            h.campaign = Some(campaign.clone());
            h.category = "electrical".into();
        }
        if i == 11 {
            h.status = Some("closed".into());
        }
        commit_rows(
            s,
            inst,
            id,
            LedgerRows {
                hazard: Some(h),
                ..Default::default()
            },
        )
        .await;
        ids.push(id.to_string());
    }
    // Another institution's hazard is never in this one's lists.
    let foreign = DocId::new();
    commit_rows(
        s,
        InstitutionId::new(),
        foreign,
        LedgerRows {
            hazard: Some(hazard_row(foreign)),
            ..Default::default()
        },
    )
    .await;

    let q = |f: &dyn Fn(&mut HazardQuery)| {
        let mut q = HazardQuery {
            institution: Some(inst),
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let run = |q: HazardQuery| async move {
        let (rows, total) = s.hazards(&q).await.unwrap();
        (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    let idx = |v: &[usize]| v.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    // Newest report first, paged.
    let (page, total) = run(q(&|q| {
        q.limit = 5;
        q.offset = 5;
    }))
    .await;
    assert_eq!(total, 12);
    assert_eq!(page, idx(&[6, 5, 4, 3, 2]));
    assert_eq!(
        run(q(&|q| q.site = Some(site.to_string()))).await.0,
        idx(&[9, 6, 3, 0])
    );
    assert_eq!(
        run(q(&|q| q.category = Some("electrical".into()))).await.0,
        idx(&[11, 10])
    );
    assert_eq!(
        run(q(&|q| q.min_risk_rank = Some(3))).await.0,
        idx(&[11, 7, 3])
    );
    assert_eq!(
        run(q(&|q| q.risk = Some("significant".into()))).await.0,
        idx(&[10, 6, 2])
    );
    assert_eq!(
        run(q(&|q| q.status = Some("closed".into()))).await.0,
        idx(&[11])
    );
    assert_eq!(
        run(q(&|q| q.campaign = Some(campaign.clone()))).await.0,
        idx(&[11, 10])
    );
    assert_eq!(
        run(q(&|q| q.department = Some(dept.to_string()))).await.0,
        idx(&[9, 6, 3, 0])
    );
    assert_eq!(
        run(q(&|q| {
            q.reported_from = Some("2026-03-03".into());
            q.reported_before = Some("2026-03-05".into());
        }))
        .await
        .0,
        idx(&[3, 2])
    );
    // Deadlines 2026-04-12 − i for even i < 11 in rectification: 0→12, 2→10, 4→08, 6→06, 8→04, 10→02.
    assert_eq!(
        run(q(&|q| q.overdue_before = Some("2026-04-06".into())))
            .await
            .0,
        idx(&[10, 8])
    );
    assert_eq!(
        run(q(&|q| {
            q.due_from = Some("2026-04-06".into());
            q.due_until = Some("2026-04-10".into());
        }))
        .await
        .0,
        idx(&[6, 4, 2])
    );
    // Earliest deadline first; hazards without one first, as SQLite sorts NULL.
    let (by_deadline, _) = run(q(&|q| q.by_deadline = true)).await;
    assert_eq!(by_deadline, idx(&[11, 9, 7, 5, 3, 1, 10, 8, 6, 4, 2, 0]));
    let scope = CampaignScope {
        id: campaign.clone(),
        from: "2026-03-08T00:00:00Z".into(),
        before: "2026-03-10T00:00:00Z".into(),
    };
    assert_eq!(
        run(q(&|q| q.in_campaign = Some(scope.clone()))).await.0,
        idx(&[11, 10, 8, 7])
    );
    let (figures, _) = s
        .campaign_figures(inst, &scope, "2026-04-05")
        .await
        .unwrap();
    let count: i64 = figures.iter().map(|f| f.count).sum();
    assert_eq!(count, 4);
    assert!(
        figures
            .iter()
            .any(|f| f.overdue && f.category == "electrical"),
        "{figures:?}"
    );

    let c = s.counts(Some(inst)).await.unwrap();
    assert_eq!((c.hazards, c.open), (12, 11));
    assert_eq!(
        c.by_status,
        vec![
            ("closed".into(), 1),
            ("in_rectification".into(), 6),
            ("reported".into(), 5)
        ]
    );
    assert_eq!(s.counts(None).await.unwrap().hazards, 13);

    let detail = s
        .hazard(None, ids[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.institution, inst.to_string());
    assert!(
        s.hazard(Some(InstitutionId::new()), ids[0].parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Reports: receipt from the first change's feed position.
    let r1 = DocId::new();
    let report = |id: DocId| ReportRow {
        id: id.to_string(),
        kind: "incident_report".into(),
        department: None,
        week: None,
        all_clear: Some(false),
        title: "厨房起火".into(),
        filed_at: Some("2026-03-02T01:00:00Z".into()),
    };
    commit_rows(
        s,
        inst,
        r1,
        LedgerRows {
            report: Some(report(r1)),
            ..Default::default()
        },
    )
    .await;
    let got = s
        .reports(
            Some(inst),
            "incident_report",
            0,
            10,
            ReportOrder::NewestFirst,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let first = got[0].first_seq;
    assert_eq!(got[0].all_clear, Some(false));
    let feed = whole_feed(s, inst, 0).await;
    assert_eq!(
        feed.iter().find(|f| f.doc_id == r1).unwrap().seq as i64,
        first
    );
    let r2 = DocId::new();
    commit_rows(
        s,
        inst,
        r2,
        LedgerRows {
            report: Some(report(r2)),
            ..Default::default()
        },
    )
    .await;
    let newer = s
        .reports(
            Some(inst),
            "incident_report",
            first,
            10,
            ReportOrder::OldestFirst,
        )
        .await
        .unwrap();
    assert_eq!(
        newer.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![r2.to_string()]
    );
    // One report per page, in either order: followers page oldest first.
    let page = |order| async move {
        s.reports(Some(inst), "incident_report", 0, 1, order)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(page(ReportOrder::OldestFirst).await, vec![r1.to_string()]);
    assert_eq!(page(ReportOrder::NewestFirst).await, vec![r2.to_string()]);
    assert!(
        s.reports(Some(inst), "weekly_report", 0, 10, ReportOrder::NewestFirst)
            .await
            .unwrap()
            .is_empty()
    );

    // Inspections, newest first.
    for (i, submitted) in [(1, true), (2, false), (3, true)] {
        let id = DocId::new();
        let row = saferound_server::ledger::InspectionRow {
            id: id.to_string(),
            campaign: None,
            site_id: if i == 2 { site.to_string() } else { "x".into() },
            site_name: "食堂".into(),
            site_kind: "dorm".into(),
            template: "dorm".into(),
            template_version: 1,
            inspectors: "王磊".into(),
            started_at: format!("2026-03-0{i}T01:00:00Z"),
            submitted_at: submitted.then(|| format!("2026-03-0{i}T02:00:00Z")),
            answers: 10,
            failed: 1,
            findings: 1,
        };
        commit_rows(
            s,
            inst,
            id,
            LedgerRows {
                inspection: Some(row),
                ..Default::default()
            },
        )
        .await;
    }
    let (rows, total) = s.inspections(Some(inst), None, 2, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter()
            .map(|r| r.started_at.as_str())
            .collect::<Vec<_>>(),
        vec!["2026-03-03T01:00:00Z", "2026-03-02T01:00:00Z"]
    );
    assert_eq!(
        s.inspections(Some(inst), Some(site.to_string()), 10, 0)
            .await
            .unwrap()
            .1,
        1
    );
    let c = s.counts(Some(inst)).await.unwrap();
    assert_eq!((c.inspections, c.submitted_inspections), (3, 2));
}

/// Real hazard documents (with a concurrent edit, so a conflict row) and their ledger.
fn real_hazards(inst: InstitutionId) -> Vec<DocCommit> {
    let device = ActorId::from(vec![0x11; 16]);
    let other = ActorId::from(vec![0x22; 16]);
    let mut out = Vec::new();
    for (i, site) in ["1号学生公寓", "2号学生公寓", "食堂"].iter().enumerate() {
        let mut d = TestDoc::hazard(inst, &device, site, RiskGrade::General);
        out.push(d.commit(i == 1));
        d.accepted();
        // Two devices regrade at once: the highest grade stands, the conflict is listed.
        let mut f = d.fork(&other);
        hazard::set_risk(&mut d.doc, RiskGrade::Major).unwrap();
        d.doc.commit();
        hazard::set_risk(&mut f.doc, RiskGrade::Low).unwrap();
        f.doc.commit();
        d.doc.merge(&mut f.doc).unwrap();
        out.push(d.commit(i == 2));
    }
    out
}

pub(crate) async fn ledger_dump_is_equal_after_rebuild(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    for c in real_hazards(inst) {
        commit_ok(s, vec![c]).await;
    }
    let dump = s.ledger_dump().await.unwrap();
    assert!(
        dump.contains("## ledger_conflicts\n") && dump.lines().count() > 10,
        "{dump}"
    );
    assert_eq!(s.rebuild_ledger().await.unwrap(), 3);
    assert_eq!(s.ledger_dump().await.unwrap(), dump);
    let (rows, _) = s
        .hazards(&HazardQuery {
            institution: Some(inst),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.risk == "major" && r.conflicts > 0),
        "{rows:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The institution's weekly report to the province

pub(crate) async fn institution_weekly_report_figures_and_filings(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let other_inst = InstitutionId::new();
    s.create_institution(other_inst, "二中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let (dept, site) = department_with_site(s, inst, SiteKind::Kitchen).await;
    // Incidents are dated by the server's receipt (the real clock), so the "week" is the
    // two hours around now; everything else is dated in the rows.
    let now = chrono::Utc::now();
    let ts = |d: chrono::DateTime<chrono::Utc>| Timestamp(d).to_string();
    let range = WeekRange {
        week: "2026-W10".into(),
        from: ts(now - chrono::Duration::hours(1)),
        before: ts(now + chrono::Duration::hours(1)),
        overdue_before: "2026-03-10".into(),
    };
    let at = ts(now);
    let event = |idx: i64, kind: &str, at: &str, skipped: bool| EventRow {
        idx,
        kind: kind.into(),
        by_user: "u1".into(),
        by_name: "王磊".into(),
        at: at.into(),
        note: String::new(),
        skipped,
    };
    // In the week: a major fire hazard at the kitchen, rectified and verified in the
    // week (plus a skipped verification, which does not count); an overdue one.
    let a = DocId::new();
    let mut h = hazard_row(a);
    h.site_id = site.to_string();
    h.reported_at = at.clone();
    h.hazard_grade = "major".into();
    h.risk = "major".into();
    h.status = Some("closed".into());
    commit_rows(
        s,
        inst,
        a,
        LedgerRows {
            hazard: Some(h),
            events: vec![
                event(0, "reported", &at, false),
                event(1, "rectification_reported", &at, false),
                event(2, "verified", &at, false),
                event(3, "verified", &at, true),
            ],
            ..Default::default()
        },
    )
    .await;
    let b = DocId::new();
    let mut h = hazard_row(b);
    h.reported_at = at.clone();
    h.category = "electrical".into();
    h.status = Some("in_rectification".into());
    h.deadline = Some("2026-03-05".into());
    commit_rows(
        s,
        inst,
        b,
        LedgerRows {
            hazard: Some(h),
            events: vec![event(
                0,
                "rectification_reported",
                "2020-01-01T00:00:00.000Z",
                false,
            )],
            ..Default::default()
        },
    )
    .await;
    // Before the week: not among its hazards, but overdue all the same (institution-wide).
    let c = DocId::new();
    let mut h = hazard_row(c);
    h.reported_at = "2020-01-01T00:00:00.000Z".into();
    h.status = Some("in_rectification".into());
    h.deadline = Some("2026-03-01".into());
    commit_rows(
        s,
        inst,
        c,
        LedgerRows {
            hazard: Some(h),
            ..Default::default()
        },
    )
    .await;
    // Another institution's hazard and incident never count.
    let f = DocId::new();
    let mut h = hazard_row(f);
    h.reported_at = at.clone();
    commit_rows(
        s,
        other_inst,
        f,
        LedgerRows {
            hazard: Some(h),
            ..Default::default()
        },
    )
    .await;
    let report = |kind: &str, week: Option<&str>| ReportRow {
        id: String::new(),
        kind: kind.into(),
        department: week.map(|_| dept.to_string()),
        week: week.map(str::to_string),
        all_clear: week.map(|_| true),
        title: "r".into(),
        filed_at: Some("2026-03-06T01:00:00.000Z".into()),
    };
    for (i, kind, week) in [
        (inst, "incident_report", None),
        (other_inst, "incident_report", None),
        (inst, "weekly_report", Some("2026-W10")),
        (inst, "weekly_report", Some("2026-W09")),
    ] {
        let id = DocId::new();
        commit_rows(
            s,
            i,
            id,
            LedgerRows {
                report: Some(ReportRow {
                    id: id.to_string(),
                    ..report(kind, week)
                }),
                ..Default::default()
            },
        )
        .await;
    }

    let w = s.week_figures(inst, &range).await.unwrap();
    let hazards: i64 = w.hazards.iter().map(|f| f.count).sum();
    assert_eq!(hazards, 2, "{:?}", w.hazards);
    assert!(
        w.hazards.iter().any(|f| f.department == dept.to_string()
            && f.hazard_grade == "major"
            && f.status == "closed"),
        "{:?}",
        w.hazards
    );
    assert!(
        w.hazards
            .iter()
            .any(|f| f.category == "electrical" && f.overdue && f.department.is_empty()),
        "the hazard at an unknown site is overdue on 03-10: {:?}",
        w.hazards
    );
    assert_eq!(
        (w.rectified, w.verified),
        (1, 1),
        "events in the week, not skipped"
    );
    assert_eq!(
        w.overdue, 2,
        "every hazard of the institution past its deadline"
    );
    assert_eq!(w.incidents, 1);
    assert!(w.inspections.is_empty());
    // A week when nothing happened: all zero.
    let empty = s
        .week_figures(
            inst,
            &WeekRange {
                week: "2019-W01".into(),
                from: "2019-01-01T00:00:00.000Z".into(),
                before: "2019-01-08T00:00:00.000Z".into(),
                overdue_before: "2019-01-08".into(),
            },
        )
        .await
        .unwrap();
    assert!(empty.hazards.is_empty());
    assert_eq!((empty.rectified, empty.overdue, empty.incidents), (0, 0, 0));

    let reports = s.week_reports(inst, "2026-W10").await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].department, Some(dept.to_string()));
    assert_eq!(reports[0].all_clear, Some(true));
    assert!(
        s.week_reports(other_inst, "2026-W10")
            .await
            .unwrap()
            .is_empty()
    );

    // Filings: every one kept, oldest first; the grid sees the first receipt, the
    // latest all-clear and how many.
    let filing = |i: InstitutionId, week: &str, at: &str, all_clear: bool| InstitutionFiling {
        seq: 0,
        institution: i.to_string(),
        week: week.into(),
        received_at: at.into(),
        by_user: "u1".into(),
        by_name: "王磊".into(),
        all_clear,
        summary: if all_clear {
            String::new()
        } else {
            "本周开展消防检查".into()
        },
        snapshot: r#"{"figures":{}}"#.into(),
    };
    let first = s
        .add_institution_filing(&filing(inst, "2026-W10", "2026-03-06T06:00:00.000Z", false))
        .await
        .unwrap();
    let second = s
        .add_institution_filing(&filing(inst, "2026-W10", "2026-03-06T09:00:00.000Z", true))
        .await
        .unwrap();
    assert!(second > first);
    s.add_institution_filing(&filing(inst, "2026-W11", "2026-03-13T08:30:00.000Z", false))
        .await
        .unwrap();
    s.add_institution_filing(&filing(
        other_inst,
        "2026-W10",
        "2026-03-06T05:00:00.000Z",
        true,
    ))
    .await
    .unwrap();
    s.add_institution_filing(&filing(inst, "2026-W20", "2026-05-15T05:00:00.000Z", true))
        .await
        .unwrap();
    let history = s.institution_filings(inst, "2026-W10").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].seq, history[1].seq), (first, second));
    assert_eq!(history[0].summary, "本周开展消防检查");
    assert!(history[1].all_clear && !history[0].all_clear);
    assert_eq!(history[0].snapshot, r#"{"figures":{}}"#);
    assert_eq!(history[0].institution, inst.to_string());
    assert!(
        s.institution_filings(inst, "2026-W09")
            .await
            .unwrap()
            .is_empty()
    );

    let grid = s
        .institution_receipts("2026-W09", "2026-W11")
        .await
        .unwrap();
    let mine: Vec<_> = grid
        .iter()
        .filter(|r| r.institution == inst.to_string())
        .collect();
    assert_eq!(mine.len(), 2, "W20 is outside the range: {grid:?}");
    assert_eq!(mine[0].week, "2026-W10");
    assert_eq!(mine[0].first_received_at, "2026-03-06T06:00:00.000Z");
    assert!(mine[0].all_clear, "the latest filing's");
    assert_eq!(mine[0].filings, 2);
    assert_eq!((mine[1].week.as_str(), mine[1].filings), ("2026-W11", 1));
    assert!(
        grid.iter()
            .any(|r| r.institution == other_inst.to_string() && r.week == "2026-W10")
    );
}

/// The same commits give byte-identical ledger dumps on SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub(crate) async fn sqlite_and_postgres_ledger_dumps_are_equal() {
    let Some(pg) = postgres().await else { return };
    let lite = sqlite();
    let inst = InstitutionId::new();
    let mut commits = real_hazards(inst);
    // Rows with every kind of value: NULLs, booleans, tabs and newlines in text.
    let id = DocId::new();
    let mut d = TestDoc::plain(inst, &ActorId::random());
    d.id = id;
    let mut c = d.commit(false);
    let mut h = hazard_row(id);
    h.supervised = true;
    h.verification_note = Some("line\nbreak\tand tab".into());
    c.ledger = LedgerRows {
        hazard: Some(h),
        report: Some(ReportRow {
            id: id.to_string(),
            kind: "weekly_report".into(),
            department: None,
            week: Some("2026-W10".into()),
            all_clear: Some(true),
            title: "周报".into(),
            filed_at: None,
        }),
        ..Default::default()
    };
    commits.push(c);
    for c in commits {
        commit_ok(lite.storage.as_ref(), vec![c.clone()]).await;
        commit_ok(pg.storage.as_ref(), vec![c]).await;
    }
    let (a, b) = (
        lite.storage.ledger_dump().await.unwrap(),
        pg.storage.ledger_dump().await.unwrap(),
    );
    assert!(a.contains("\t1\t") && a.contains("NULL"), "{a}");
    assert_eq!(a, b);
    lite.finish().await;
    pg.finish().await;
}

// ---------------------------------------------------------------------------------------
// Hazard numbers

/// Each institution numbers its hazards 0001, 0002, … in the year they arrive; a later
/// change or a rebuild keeps the number.
pub(crate) async fn hazards_are_numbered_in_order_of_receipt(s: Arc<Store>) {
    let s = s.as_ref();
    let (a, b) = (InstitutionId::new(), InstitutionId::new());
    for (i, name) in [(a, "一中"), (b, "二中")] {
        s.create_institution(i, name, "2026-01-01T00:00:00Z")
            .await
            .unwrap();
    }
    let year = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y")
        .to_string();
    let device = ActorId::random();
    let mut first = TestDoc::hazard(a, &device, "1号学生公寓", RiskGrade::General);
    commit_ok(s, vec![first.commit(false)]).await;
    first.accepted();
    // Two in one commit, with one of another institution.
    let mut second = TestDoc::hazard(a, &device, "食堂", RiskGrade::Major);
    let mut foreign = TestDoc::hazard(b, &device, "2号学生公寓", RiskGrade::Low);
    let mut third = TestDoc::hazard(a, &device, "实验楼", RiskGrade::Low);
    commit_ok(
        s,
        vec![
            second.commit(false),
            foreign.commit(false),
            third.commit(false),
        ],
    )
    .await;
    let serials = |inst| async move {
        let (rows, _) = s
            .hazards(&HazardQuery {
                institution: Some(inst),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut v: Vec<(String, String)> = rows
            .into_iter()
            .map(|h| (h.id, h.serial.unwrap_or_default()))
            .collect();
        v.sort_by(|x, y| x.1.cmp(&y.1));
        v
    };
    let numbered = serials(a).await;
    assert_eq!(
        numbered.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
        [1, 2, 3].map(|n| format!("{year}-000{n}")),
        "{numbered:?}"
    );
    assert_eq!(
        numbered[0].0,
        first.id.to_string(),
        "the first received is 0001"
    );
    assert_eq!(serials(b).await[0].1, format!("{year}-0001"));
    // A later change keeps the number; so does a rebuild.
    first.edit(7);
    commit_ok(s, vec![first.commit(false)]).await;
    s.rebuild_ledger().await.unwrap();
    assert_eq!(serials(a).await, numbered);
    let detail = s.hazard(Some(a), first.id).await.unwrap().unwrap();
    assert_eq!(detail.hazard.serial, Some(format!("{year}-0001")));
    assert_eq!(
        detail.hazard.department_name, None,
        "a site not in the directory"
    );
}
