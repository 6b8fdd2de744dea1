//! The safety office beyond the ledger, against a real server process: campaigns (the
//! hundred-day template, progress, the summary's figures and their exports, weekly
//! deadlines per campaign), the institution's time zone, the overdue board's due-soon
//! list, the duty roster, and the institution's own checklists reaching phones by sync.
//! Every form is tried by a role that may use it and by one that may not.

use chrono::{Duration, FixedOffset, NaiveDate, Utc};
use saferound_core::demo;
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

use crate::dashboard::Web;

fn today_in_china() -> NaiveDate {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
}

/// The id in a redirect to `/campaigns/{id}`.
fn campaign_id(location: &str) -> String {
    location
        .strip_prefix("/campaigns/")
        .unwrap_or_else(|| panic!("redirect to a campaign: {location}"))
        .to_string()
}

/// The cells of the CSV's lines (no cell of these exports holds a comma or a quote).
fn csv_lines(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn count(body: &str, needle: &str) -> usize {
    body.matches(needle).count()
}

#[test]
fn campaigns_summary_exports_and_weekly_deadlines() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let inspector = Web::login(&server, "inspector");
    let owner = Web::login(&server, "owner");
    let start = today_in_china() - Duration::days(10);
    let start_s = start.to_string();

    // Only the safety office and administrators start campaigns; others change nothing.
    for w in [&inspector, &owner] {
        let p = w.post(
            "/campaigns",
            &[("template", "hundred_day"), ("start", &start_s)],
        );
        assert_eq!(p.status, 403, "{}", p.body);
        assert_eq!(w.get("/campaigns").status, 403);
    }
    assert_eq!(
        count(&office.get("/campaigns").body, "class=\"campaign "),
        0
    );
    // A form without the session's CSRF token is refused.
    let mut forged = Web::login(&server, "office");
    forged.csrf = "0".repeat(64);
    assert_eq!(
        forged
            .post("/campaigns", &[("template", "hundred_day")])
            .status,
        403
    );

    // The hundred-day template, moved to start ten days ago.
    let p = office.post(
        "/campaigns",
        &[("template", "hundred_day"), ("start", &start_s)],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let id = campaign_id(&p.location);
    let page = office.get(&format!("/campaigns/{id}"));
    assert_eq!(page.status, 200);
    for phase in ["动员部署", "隐患排查", "整改复查", "集中攻坚"] {
        assert!(page.body.contains(phase), "{phase}");
    }
    assert!(page.body.contains(&start_s));
    // Mobilisation (11 days) is under way on the tenth day.
    assert!(page.body.contains("phase current"), "{}", page.body);

    // A phone's inspection in the campaign's dates belongs to it without a campaign tag.
    let phone = enroll(&server, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    phone
        .start_inspection(demo::site("第一食堂后厨"), None, None)
        .unwrap();
    sync(&phone);

    // The figures, against the ledger's rows reported since the campaign started (its
    // dates hold them, untagged as they are).
    let (_, all) = get_json(&server, &phone, "/api/v1/hazards?limit=1000");
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    let mine: Vec<&serde_json::Value> = all["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            let at: chrono::DateTime<Utc> = h["reported_at"].as_str().unwrap().parse().unwrap();
            at.with_timezone(&china).date_naive() >= start
        })
        .collect();
    let n = |f: &dyn Fn(&serde_json::Value) -> bool| mine.iter().filter(|h| f(h)).count();
    let found = mine.len();
    let rectified = n(&|h| h["status"] == "awaiting_verification" || h["status"] == "closed");
    let verified = n(&|h| h["status"] == "closed");
    let today = today_in_china().to_string();
    let overdue = n(&|h| {
        h["status"] == "in_rectification"
            && h["deadline"].as_str().is_some_and(|d| d < today.as_str())
    });
    let fire = n(&|h| h["category"] == "fire_safety");
    let owned_by = |dept: &str| {
        let sites: Vec<String> = demo::SITES
            .iter()
            .filter(|s| s.4 == dept)
            .map(|s| demo::site(s.0).to_string())
            .collect();
        n(&|h| sites.iter().any(|s| h["site_id"] == s.as_str()))
    };
    assert!(found >= 4 && rectified >= 1, "the demo's last ten days");
    let rate = format!("{:.1}%", rectified as f64 * 100.0 / found as f64);
    let summary = office.get(&format!("/campaigns/{id}/summary"));
    assert_eq!(summary.status, 200);
    assert!(summary.body.contains("工作总结"));
    assert!(
        summary.body.contains(&format!("共排查出安全隐患{found}项")),
        "{}",
        summary.body
    );
    assert!(summary.body.contains(&format!("整改率{rate}")));
    let (status, csv) = office.get_bytes(&format!("/export/campaigns/{id}/summary.csv"));
    assert_eq!(status, 200);
    let lines = csv_lines(&csv);
    let col = |name: &str| {
        lines[0]
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let total = lines.last().unwrap();
    assert!(total[0].contains("全校合计"), "{total:?}");
    assert_eq!(total[col("隐患总数")], found.to_string());
    assert_eq!(total[col("已整改")], rectified.to_string());
    assert_eq!(total[col("已复核销号")], verified.to_string());
    assert_eq!(total[col("逾期")], overdue.to_string());
    assert_eq!(total[col("整改率")], rate);
    assert_eq!(total[col("排查次数")], "1");
    assert_eq!(total[col("排查·食堂后厨")], "1", "{:?}", lines[0]);
    assert_eq!(total[col("消防安全")], fire.to_string());
    let dorms = lines.iter().find(|l| l[0] == "学生工作处").unwrap();
    assert_eq!(dorms[col("隐患总数")], owned_by("学生工作处").to_string());
    let kitchen = lines.iter().find(|l| l[0] == "后勤管理处").unwrap();
    assert_eq!(
        (
            kitchen[col("隐患总数")].clone(),
            kitchen[col("排查次数")].as_str()
        ),
        (owned_by("后勤管理处").to_string(), "1")
    );

    // The same table as .xlsx, read back.
    {
        let (status, bytes) = office.get_bytes(&format!("/export/campaigns/{id}/summary.xlsx"));
        assert_eq!(status, 200);
        let rows = crate::dashboard::xlsx_rows(bytes, "工作总结");
        assert_eq!(rows, lines);
    }
    assert_eq!(
        inspector
            .get_bytes(&format!("/export/campaigns/{id}/summary.csv"))
            .0,
        403
    );

    // A campaign of the office's own in the past gathers none of today's records.
    let admin = Web::login(&server, "demo-admin");
    let p = admin.post(
        "/campaigns",
        &[
            ("name", "2020 春季开学检查"),
            ("starts", "2020-02-01"),
            ("ends", "2020-03-31"),
            ("phases", "排查 / Inspection | 2020-02-01 | 2020-02-20"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let old = campaign_id(&p.location);
    let (_, csv) = office.get_bytes(&format!("/export/campaigns/{old}/summary.csv"));
    let lines = csv_lines(&csv);
    let total = lines.last().unwrap();
    assert_eq!(
        (total[1].as_str(), total[lines[0].len() - 1].as_str()),
        ("0", "—")
    );
    // The ledger filtered by campaign, and its export, show the campaign's hazards.
    let total_of = |body: &str| {
        let i = body.find("id=\"total\">").expect("a total") + "id=\"total\">".len();
        let j = i + body[i..].find("</span>").unwrap();
        body[i..j].rsplit(' ').next().unwrap().to_string()
    };
    assert_eq!(
        total_of(&office.get(&format!("/ledger?campaign={id}")).body),
        found.to_string()
    );
    assert_eq!(
        total_of(&office.get(&format!("/ledger?campaign={old}")).body),
        "0"
    );
    let (_, csv) = office.get_bytes(&format!("/export/ledger.csv?campaign={old}"));
    assert_eq!(csv_lines(&csv).len(), 1, "the header only");
    assert_eq!(office.get("/ledger?campaign=nonsense").status, 400);
    // A phase outside the campaign is refused.
    let p = admin.post(
        "/campaigns",
        &[
            ("name", "x"),
            ("starts", "2020-02-01"),
            ("ends", "2020-03-31"),
            ("phases", "排查 | 2020-01-01 | 2020-02-20"),
        ],
    );
    assert_eq!(p.status, 400);

    // Weekly deadlines per campaign: Thursday 18:00 for this one.
    let p = inspector.post(
        &format!("/campaigns/{id}/deadlines"),
        &[("dept_day", "4"), ("dept_time", "18:00")],
    );
    assert_eq!(p.status, 403);
    let weekly = office.get("/weekly");
    assert!(weekly.body.contains("12:00"), "default Friday 12:00");
    let p = office.post(
        &format!("/campaigns/{id}/deadlines"),
        &[
            ("dept_day", "4"),
            ("dept_time", "18:00"),
            ("inst_day", "5"),
            ("inst_time", "16:30"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let weekly = office.get("/weekly");
    assert!(weekly.body.contains("18:00"), "{}", weekly.body);
    assert!(weekly.body.contains("16:30"));
    let p = office.post(
        &format!("/campaigns/{id}/deadlines"),
        &[("dept_day", "9"), ("dept_time", "18:00")],
    );
    assert_eq!(p.status, 400);
    let audit = admin.get("/admin").body;
    assert!(audit.contains("campaign_create") && audit.contains("campaign_deadlines"));
    assert!(audit.contains("export_campaign_csv") && audit.contains("export_campaign_xlsx"));

    // Phones learn of campaigns with the directory and tag what they record with the one
    // running today (the 2020 one is long over); the ledger keeps the tag.
    let phone = enroll(&server, tmp.path(), "phone", "inspector", DEMO_PASSWORD);
    let mut known: Vec<String> = phone
        .campaigns()
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    known.sort();
    let mut expected = vec![id.clone(), old.clone()];
    expected.sort();
    assert_eq!(known, expected);
    let h = phone
        .report_hazard(
            demo::site("1号学生公寓"),
            None,
            &saferound_core::device::NewFinding {
                category: Some(saferound_core::model::HazardCategory::FireSafety),
                risk: Some(saferound_core::model::RiskGrade::General),
                description: "消防通道堆放杂物".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&phone);
    let (status, v) = saferound_tests::get_json(&server, &phone, &format!("/api/v1/hazards/{h}"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["hazard"]["campaign"].as_str(), Some(id.as_str()), "{v}");
}

/// The demo's hazards on a clock set to 2026-03-01 (+08:00): the overdue board and the
/// due-soon list count exactly the ledger's hazards in rectification whose deadline is
/// past, or within three days, of today in the institution's time zone.
#[test]
fn overdue_due_soon_and_the_institution_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--demo-hazards",
            "--now",
            "2026-03-01T10:00:00+08:00",
        ],
    );
    let reader = enroll(&server, tmp.path(), "reader", "office", DEMO_PASSWORD);
    let (_, all) = get_json(&server, &reader, "/api/v1/hazards?limit=1000");
    let deadlines: Vec<NaiveDate> = all["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "in_rectification")
        .filter_map(|h| h["deadline"].as_str()?.parse().ok())
        .collect();
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    let past = |today: &str| deadlines.iter().filter(|d| **d < day(today)).count();
    let soon = |today: &str| {
        let t = day(today);
        deadlines
            .iter()
            .filter(|d| **d >= t && **d <= t + Duration::days(3))
            .count()
    };
    assert!(past("2026-03-01") > 0 && past("2026-03-07") > past("2026-03-01"));
    let office = Web::login(&server, "office");
    let p = office.get("/overdue");
    assert_eq!(count(&p.body, "class=\"overdue "), past("2026-03-01"));
    assert_eq!(
        count(&p.body, "class=\"due-soon\""),
        soon("2026-03-01"),
        "{}",
        p.body
    );
    server.kill();

    // 2026-03-07 02:00 UTC: 10:00 on the 7th in +08:00, 21:00 on the 6th in -05:00.
    let server = Server::start_with(tmp.path(), &["--now", "2026-03-07T02:00:00+00:00"]);
    let office = Web::login(&server, "office");
    let p = office.get("/overdue");
    assert!(p.body.contains("2026-03-07"));
    assert_eq!(
        count(&p.body, "class=\"overdue "),
        past("2026-03-07"),
        "{}",
        p.body
    );

    // Only an administrator sets the time zone.
    let admin = Web::login(&server, "demo-admin");
    for (who, w) in [
        ("office", &office),
        ("inspector", &Web::login(&server, "inspector")),
    ] {
        let p = w.post("/admin/timezone", &[("utc_offset", "-05:00")]);
        assert_eq!(p.status, 403, "{who}");
    }
    assert_eq!(
        count(&office.get("/overdue").body, "class=\"overdue "),
        past("2026-03-07")
    );
    assert_eq!(
        admin
            .post("/admin/timezone", &[("utc_offset", "+15:00")])
            .status,
        400
    );
    let p = admin.post(
        "/admin/timezone",
        &[("utc_offset", "-05:00"), ("time_zone", "America/New_York")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let p = office.get("/overdue");
    assert!(p.body.contains("2026-03-06"), "today in -05:00");
    assert_eq!(count(&p.body, "class=\"overdue "), past("2026-03-06"));
    // The ledger's filters read dates in the same zone: the last demo hazard was reported
    // on 2026-02-28 at 09:17 in +08:00, the 27th at 20:17 in -05:00.
    let l = office.get("/ledger?from=2026-02-27&to=2026-02-27");
    assert!(l.body.contains("2026-02-27 20:17"), "{}", l.body);

    // Phones receive the zone in the directory.
    let phone = enroll(&server, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    let dir = phone.directory().unwrap().expect("directory");
    assert_eq!(
        (dir.utc_offset_minutes, dir.time_zone.as_str()),
        (-300, "America/New_York")
    );
    // The operator's CLI sets it too.
    server.admin(&[
        "admin",
        "set-time-zone",
        "--institution",
        &demo::institution().to_string(),
        "--utc-offset",
        "+08:00",
        "--time-zone",
        "Asia/Shanghai",
    ]);
    assert_eq!(
        count(&office.get("/overdue").body, "class=\"overdue "),
        past("2026-03-07")
    );
    sync(&phone);
    assert_eq!(
        phone.directory().unwrap().unwrap().utc_offset_minutes,
        8 * 60
    );
    assert!(admin.get("/admin").body.contains("time zone -05:00"));
}

#[test]
fn duty_roster_who_is_on_duty_and_uncovered_holidays() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        tmp.path(),
        &["--demo", "--now", "2026-01-01T12:00:00+08:00"],
    );
    let office = Web::login(&server, "office");
    let inspector = Web::login(&server, "inspector");

    let p = office.post(
        "/duty/holiday",
        &[
            ("name", "元旦"),
            ("starts", "2026-01-01"),
            ("ends", "2026-01-03"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let p = office.get("/duty");
    assert!(p.body.contains("id=\"nobody\""));
    assert!(
        p.body.contains("2026-01-01 00:00 – 2026-01-04 00:00"),
        "{}",
        p.body
    );

    let slot = |w: &Web, a: &str, b: &str, officer: &str| {
        w.post(
            "/duty/slot",
            &[
                ("starts", a),
                ("ends", b),
                ("officer", officer),
                ("officer_phone", "138-0000-0000"),
                ("leader", "赵强"),
                ("leader_phone", "+86 139 0000 0000"),
            ],
        )
    };
    // Read by everyone, edited only by the office and administrators.
    assert_eq!(
        slot(&inspector, "2026-01-01T00:00", "2026-01-02T08:00", "王磊").status,
        403
    );
    assert_eq!(
        inspector
            .post(
                "/duty/holiday",
                &[
                    ("name", "x"),
                    ("starts", "2026-02-01"),
                    ("ends", "2026-02-02")
                ]
            )
            .status,
        403
    );
    assert_eq!(count(&office.get("/duty").body, "class=\"slot\""), 0);
    // Bad input is refused.
    assert_eq!(
        slot(&office, "2026-01-02T08:00", "2026-01-01T00:00", "王磊").status,
        400
    );
    let p = office.post(
        "/duty/slot",
        &[
            ("starts", "2026-01-01T00:00"),
            ("ends", "2026-01-02T08:00"),
            ("officer", "王磊"),
            ("officer_phone", "call me"),
            ("leader", "赵强"),
            ("leader_phone", "139"),
        ],
    );
    assert_eq!(p.status, 400);

    assert_eq!(
        slot(&office, "2026-01-01T00:00", "2026-01-02T08:00", "王磊").status,
        303
    );
    let p = inspector.get("/duty");
    assert_eq!(p.status, 200);
    assert!(!p.body.contains("id=\"nobody\""));
    assert!(
        p.body.contains("class=\"on-duty\"><b>值班人员</b> 王磊"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("action=\"/duty/slot\""),
        "no forms for inspectors"
    );
    assert!(p.body.contains("2026-01-02 08:00 – 2026-01-04 00:00"));

    let admin = Web::login(&server, "demo-admin");
    assert_eq!(
        slot(&admin, "2026-01-02T08:00", "2026-01-04T00:00", "刘洋").status,
        303
    );
    let p = office.get("/duty");
    assert!(!p.body.contains("class=\"gap\""), "{}", p.body);
    assert!(p.body.contains("holiday covered"));

    // Editing a slot: the form comes filled in; saving changes that slot, not a new one.
    let j = p.body.rfind("class=\"slot\" data-id=\"").unwrap() + "class=\"slot\" data-id=\"".len();
    let last = p.body[j..j + 36].to_string();
    let form = office.get(&format!("/duty?edit={last}")).body;
    assert!(
        form.contains(&format!("name=\"id\" value=\"{last}\""))
            && form.contains("value=\"刘洋\"")
            && form.contains("value=\"2026-01-02T08:00\""),
        "{form}"
    );
    let edit = |w: &Web, id: &str| {
        w.post(
            "/duty/slot",
            &[
                ("id", id),
                ("starts", "2026-01-02T08:00"),
                ("ends", "2026-01-03T20:00"),
                ("officer", "孙悦"),
                ("officer_phone", "138-0000-0001"),
                ("leader", "赵强"),
                ("leader_phone", "139"),
            ],
        )
    };
    assert_eq!(edit(&inspector, &last).status, 403);
    assert_eq!(
        edit(&office, "00000000-0000-0000-0000-000000000000").status,
        404
    );
    assert_eq!(edit(&office, &last).status, 303);
    let p = office.get("/duty");
    assert_eq!(count(&p.body, "class=\"slot\""), 2, "{}", p.body);
    assert!(p.body.contains("孙悦") && !p.body.contains("刘洋"));
    assert!(
        p.body.contains("2026-01-03 20:00 – 2026-01-04 00:00"),
        "the shortened slot leaves a gap: {}",
        p.body
    );

    // Removing a slot opens the gap again; inspectors cannot remove.
    let i = p.body.find("class=\"slot\" data-id=\"").unwrap() + "class=\"slot\" data-id=\"".len();
    let first = p.body[i..i + 36].to_string();
    assert_eq!(
        inspector
            .post("/duty/slot_delete", &[("id", &first)])
            .status,
        403
    );
    assert_eq!(
        office.post("/duty/slot_delete", &[("id", &first)]).status,
        303
    );
    let p = office.get("/duty");
    assert!(
        p.body.contains("2026-01-01 00:00 – 2026-01-02 08:00"),
        "{}",
        p.body
    );
    assert!(p.body.contains("id=\"nobody\""));
    let audit = admin.get("/admin").body;
    assert!(audit.contains("duty_slot") && audit.contains("duty_slot_delete"));
    assert!(audit.contains("duty_holiday"));
}

#[test]
fn institution_checklists_are_versioned_and_reach_phones() {
    use saferound_core::doc::inspection::AnswerResult;
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let office = Web::login(&server, "office");
    let items_v1 = "N-1 | 实验室门窗已关闭 | Doors and windows closed | lab_chemicals | general\n\
                    N-2 | 危化品柜已上锁 | Chemical cabinet locked | lab_chemicals | significant\n\
                    N-3 | 值班记录已填写 |  | gate_control | low";
    let form = |items: &str| {
        vec![
            ("title_zh", "实验楼夜间巡查表".to_string()),
            ("title_en", "Laboratory night round".to_string()),
            ("site_kind", "laboratory".to_string()),
            ("items", items.to_string()),
        ]
    };
    let post = |w: &Web, f: &[(&str, String)]| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.post("/checklists", &f)
    };
    // Inspectors and responsible people cannot publish; nothing is created.
    for login in ["inspector", "owner"] {
        let w = Web::login(&server, login);
        assert_eq!(post(&w, &form(items_v1)).status, 403, "{login}");
    }
    assert_eq!(count(&office.get("/checklists").body, "class=\"own\""), 0);
    assert_eq!(
        post(&office, &form("N-1 | x | y | nonsense | low")).status,
        400
    );

    let p = post(&office, &form(items_v1));
    assert_eq!(p.status, 303, "{}", p.body);
    let key = p.location.split("published=").nth(1).unwrap().to_string();
    let id = key.strip_suffix("@1").expect("version 1").to_string();

    // The phone receives it in the directory and inspects with it.
    let phone = enroll(&server, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    let t = phone
        .template(&id, 1)
        .expect("the institution's template on the phone");
    assert_eq!((t.items.len(), t.builtin), (3, false));
    assert_eq!(t.items[2].text_en, "值班记录已填写");
    let lab = demo::site("食品检测实验室");
    let first = phone.start_inspection(lab, Some(&id), None).unwrap();
    phone
        .answer(first, "N-1", AnswerResult::Pass, "", &[], None)
        .unwrap();
    sync(&phone);

    // Version 2: N-3 gone, N-4 new. Built-in and unknown ids get no versions here.
    let items_v2 = "N-1 | 实验室门窗已关闭 | Doors and windows closed | lab_chemicals | general\n\
                    N-2 | 危化品柜已上锁 | Chemical cabinet locked | lab_chemicals | significant\n\
                    N-4 | 通风橱已关闭 | Fume hood off | lab_chemicals | general";
    for bad in ["lab-v1", "inst-000000000000"] {
        let mut f = form(items_v2);
        f.push(("id", bad.to_string()));
        assert_eq!(post(&office, &f).status, 400, "{bad}");
    }
    let mut f = form(items_v2);
    f.push(("id", id.clone()));
    let p = post(&office, &f);
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.ends_with(&format!("{id}@2")), "{}", p.location);
    let page = office.get("/checklists");
    assert!(page.body.contains("class=\"version\">v2"));
    assert!(page.body.contains("v1 · 3") && page.body.contains("v2 · 3"));
    // The edit form starts from the newest version.
    let edit = office.get(&format!("/checklists?edit={id}"));
    assert!(edit.body.contains("N-4 | 通风橱已关闭"));
    assert!(edit.body.contains(&format!("{id} v3")));

    sync(&phone);
    let newest = phone
        .templates()
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap();
    assert_eq!(newest.version, 2);
    // The earlier inspection keeps version 1: N-3 still answers, N-4 does not exist there.
    phone
        .answer(first, "N-3", AnswerResult::Pass, "", &[], None)
        .expect("v1 item on the v1 inspection");
    assert!(
        phone
            .answer(first, "N-4", AnswerResult::Pass, "", &[], None)
            .is_err()
    );
    let second = phone.start_inspection(lab, Some(&id), None).unwrap();
    assert!(
        phone
            .answer(second, "N-3", AnswerResult::Pass, "", &[], None)
            .is_err()
    );
    phone
        .answer(second, "N-4", AnswerResult::Pass, "", &[], None)
        .unwrap();
    sync(&phone);

    // The server's ledger accepted both and shows the version each was made with.
    let (status, list) = saferound_tests::get_json(&server, &phone, "/api/v1/inspections?limit=10");
    assert_eq!(status, 200);
    let rows = list["inspections"].as_array().unwrap();
    let find = |d: saferound_core::DocId| {
        rows.iter()
            .find(|r| r["id"] == d.to_string())
            .unwrap_or_else(|| panic!("inspection {d} in the ledger: {list}"))
    };
    assert_eq!(find(first)["template"], id.as_str());
    assert_eq!(
        (
            find(first)["template_version"].as_i64(),
            find(first)["answers"].as_i64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(find(second)["template_version"].as_i64(), Some(2));

    // A second phone enrolled now receives both versions.
    let other = enroll(&server, tmp.path(), "insp2", "inspector2", DEMO_PASSWORD);
    assert!(other.template(&id, 1).is_ok() && other.template(&id, 2).is_ok());
    let admin = Web::login(&server, "demo-admin");
    assert_eq!(count(&admin.get("/admin").body, "checklist_publish"), 2);
}

/// `--demo --demo-hazards` adds the sample hazards to an empty ledger only, and says so
/// when it adds none, instead of doing nothing silently.
#[test]
fn demo_hazards_go_into_an_empty_ledger_and_the_server_says_when_it_adds_none() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    assert!(
        first.startup.iter().any(|l| l.contains("demo hazards")),
        "{:?}",
        first.startup
    );
    let dump = first.dump_ledger();
    first.kill();
    let again = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    assert!(
        again
            .startup
            .iter()
            .any(|l| l.contains("no sample hazards were added")),
        "{:?}",
        again.startup
    );
    assert_eq!(again.dump_ledger(), dump, "nothing added the second time");
}
