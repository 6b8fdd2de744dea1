//! The institution's weekly report to the province, against a real server process with
//! its clock set (`--now`): departments file from phones, the safety office reads the
//! week (each department's status, the ledger figures), files it before Friday 15:00 one
//! week and after it another, and the provincial reviewer sees every institution's weeks
//! — on time, late by how much, missing — read-only. Another institution's office gets
//! the same answer as for a report that does not exist.

use chrono::{Duration, FixedOffset, Utc};
use saferound_core::demo;
use saferound_core::doc::weekly::IsoWeek;
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

use crate::dashboard::Web;

/// The `<tr>` of the table row holding `needle`.
fn row_of<'a>(body: &'a str, needle: &str) -> &'a str {
    let at = body
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} on the page"));
    let start = body[..at].rfind("<tr").unwrap_or(0);
    let end = at + body[at..].find("</tr>").unwrap_or(body.len() - at);
    &body[start..end]
}

/// The text of the element with `id`, up to its closing tag.
fn text_of(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id}"));
    let open = at + body[at..].find('>').unwrap() + 1;
    let close = open + body[open..].find('<').unwrap();
    body[open..close].trim().to_string()
}

#[test]
fn institution_files_its_week_and_the_province_sees_every_institution() {
    let tmp = tempfile::tempdir().unwrap();
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = Utc::now().with_timezone(&china).date_naive();
    // Weeks after today: the phones' reports, received now by the real clock, are on time
    // for them. The week before today gets no filing at all.
    let a = IsoWeek::of(today + Duration::days(7));
    let b = IsoWeek::of(today + Duration::days(14));
    let friday = |w: IsoWeek| w.friday().unwrap();
    let mut server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--demo-hazards",
            "--now",
            &format!("{}T14:00:00+08:00", friday(a)),
        ],
    );
    let inst = demo::institution().to_string();
    server.admin(&[
        "admin",
        "create-user",
        "--login",
        "province",
        "--name",
        "省厅审阅",
        "--roles",
        "provincial_reviewer",
    ]);
    let other = server.admin(&["admin", "create-institution", "南昌某中学"]);
    let other = other.trim();
    server.admin(&[
        "admin",
        "create-user",
        "--institution",
        other,
        "--login",
        "zhang",
        "--name",
        "张三",
        "--roles",
        "safety_office",
    ]);

    // The logistics department (the owner's) files week A as an all-clear and week B
    // with a text; no other department files anything.
    let owner = enroll(&server, tmp.path(), "owner-phone", "owner", DEMO_PASSWORD);
    owner.file_weekly_report(None, Some(a), true, "").unwrap();
    owner
        .file_weekly_report(None, Some(b), false, "本周开展消防检查，未发现问题")
        .unwrap();
    sync(&owner);

    let office = Web::login(&server, "office");
    let reviewer = Web::try_login(&server, "province", "long-enough-pw")
        .1
        .expect("the reviewer logs in");
    let zhang = Web::try_login(&server, "zhang", "long-enough-pw")
        .1
        .expect("the other institution's office logs in");
    let page_a = format!("/weekly/{a}/institution");

    // The week's page: each department's status (Friday 14:00: past the departments'
    // 12:00, so those without a report are missing) and the ledger figures of the week
    // (the demo's hazards, reported on this clock, as the ledger's rows have them).
    let p = office.get(&page_a);
    assert_eq!(p.status, 200, "{}", p.body);
    let logistics = row_of(&p.body, "后勤管理处");
    assert!(logistics.contains("dept on_time"), "{logistics}");
    assert!(logistics.contains("报平安"), "{logistics}");
    assert!(p.body.contains("dept missing"), "others are missing");
    let (_, all) = get_json(&server, &owner, "/api/v1/hazards?limit=1000");
    let rows = all["hazards"].as_array().unwrap();
    let in_a = |t: &serde_json::Value| {
        t.as_str().is_some_and(|t| {
            let at: chrono::DateTime<Utc> = t.parse().unwrap();
            IsoWeek::of(at.with_timezone(&china).date_naive()) == a
        })
    };
    let n =
        |f: &dyn Fn(&serde_json::Value) -> bool| rows.iter().filter(|h| f(h)).count().to_string();
    let reported = n(&|h| in_a(&h["reported_at"]));
    assert_ne!(reported, "0", "the demo reported hazards this week");
    let friday_s = friday(a).to_string();
    assert_eq!(text_of(&p.body, "fig-reported"), reported);
    assert_eq!(
        text_of(&p.body, "fig-rectified"),
        n(&|h| in_a(&h["rectified_at"]))
    );
    assert_eq!(
        text_of(&p.body, "fig-verified"),
        n(&|h| in_a(&h["verified_at"]))
    );
    assert_eq!(
        text_of(&p.body, "fig-overdue"),
        n(&|h| h["status"] == "in_rectification"
            && h["deadline"]
                .as_str()
                .is_some_and(|d| d < friday_s.as_str()))
    );
    assert_eq!(text_of(&p.body, "fig-incidents"), "0");
    assert!(
        p.body
            .contains("id=\"filing-status\" class=\"cell pending\"")
    );
    assert!(p.body.contains("id=\"file-form\""), "the office may file");
    assert!(
        p.body.contains(&format!("{} 15:00", friday(a))),
        "Friday 15:00"
    );

    // A form without the session's CSRF token is refused, and files nothing.
    let mut forged = Web::login(&server, "office");
    forged.csrf = "0".repeat(64);
    assert_eq!(forged.post(&page_a, &[("all_clear", "1")]).status, 403);
    // The reviewer reads any institution's report, read-only, and cannot file.
    let read = reviewer.get(&format!("{page_a}?institution={inst}"));
    assert_eq!(read.status, 200);
    assert!(read.body.contains("后勤管理处") && !read.body.contains("id=\"file-form\""));
    assert_eq!(
        reviewer
            .post(
                &format!("{page_a}?institution={inst}"),
                &[("all_clear", "1")]
            )
            .status,
        403
    );
    assert_eq!(reviewer.get(&page_a).status, 404, "no institution named");
    // Another institution's office: the same answer as a report that does not exist.
    let foreign = zhang.get(&format!("{page_a}?institution={inst}"));
    assert_eq!(foreign.status, 404);
    assert!(!foreign.body.contains("后勤管理处"));
    assert_eq!(
        zhang
            .get_bytes(&format!(
                "/export/weekly/{a}/institution.csv?institution={inst}"
            ))
            .0,
        404
    );
    assert_eq!(
        zhang
            .post(
                &format!("{page_a}?institution={inst}"),
                &[("all_clear", "1")]
            )
            .status,
        404
    );
    assert_eq!(
        zhang
            .get(&format!("/weekly/{a}/institution?institution=nonsense"))
            .status,
        404
    );
    assert_eq!(office.get("/weekly/2026-W99/institution").status, 404);
    // Week B has not begun: nothing to file yet.
    let ahead = format!("/weekly/{b}/institution");
    assert!(!office.get(&ahead).body.contains("id=\"file-form\""));
    assert_eq!(office.post(&ahead, &[("all_clear", "1")]).status, 400);
    // Neither an inspector nor the department owner opens it.
    assert_eq!(Web::login(&server, "inspector").get(&page_a).status, 403);
    // Nothing is filed without a text or the all-clear.
    assert_eq!(office.post(&page_a, &[("summary", "  ")]).status, 400);
    assert!(
        office.get(&page_a).body.contains("class=\"cell pending\""),
        "none of the refused forms filed"
    );

    // Filed at 14:00, before 15:00: on time.
    let p = office.post(&page_a, &[("summary", "本周排查隐患8项，已整改2项")]);
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location, page_a);
    let p = office.get(&page_a);
    assert!(
        p.body
            .contains("id=\"filing-status\" class=\"cell on_time\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("本周排查隐患8项，已整改2项"));
    // Filed again: both kept, still on time (the first receipt counts).
    assert_eq!(office.post(&page_a, &[("all_clear", "1")]).status, 303);
    let p = office.get(&page_a);
    assert_eq!(p.body.matches("class=\"filing\"").count(), 2);
    // Each filing keeps what it sent: the week's hazards, one department on time.
    assert_eq!(
        p.body
            .matches(&format!("class=\"as-filed-hazards\">{reported}<"))
            .count(),
        2
    );
    assert!(p.body.contains("class=\"cell on_time\""));
    let (status, csv) = office.get_bytes(&format!("/export/weekly/{a}/institution.csv"));
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("按时") && csv.contains("后勤管理处") && csv.contains("漏报"));
    assert!(csv.contains(&format!("本周上报隐患,{reported}")), "{csv}");

    // A week later, the clock at week B's Friday 16:30: filed 1h 30m late.
    server.kill();
    server = Server::start_with(
        tmp.path(),
        &["--now", &format!("{}T16:30:00+08:00", friday(b))],
    );
    let office = Web::login(&server, "office");
    let page_b = format!("/weekly/{b}/institution");
    let p = office.get(&page_b);
    assert!(
        p.body.contains("本周开展消防检查，未发现问题"),
        "the department's text"
    );
    assert!(
        p.body.contains("class=\"cell missing\""),
        "not filed and past 15:00"
    );
    assert_eq!(office.post(&page_b, &[("all_clear", "on")]).status, 303);
    let p = office.get(&page_b);
    assert!(
        p.body.contains("id=\"filing-status\" class=\"cell late\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("1h 30m"));

    // The province: every institution × week. The demo institution: the week before
    // today and this week missing, A on time, B late by 1h 30m; the other institution
    // filed nothing.
    let reviewer = Web::try_login(&server, "province", "long-enough-pw")
        .1
        .expect("reviewer");
    let grid = reviewer.get(&format!("/province/weekly?end={}&weeks=4", friday(b)));
    assert_eq!(grid.status, 200);
    assert!(
        grid.body.contains("href=\"/province/weekly\""),
        "in the nav"
    );
    let mine = row_of(&grid.body, &format!("data-id=\"{inst}\""));
    assert_eq!(mine.matches("cell on_time").count(), 1, "{mine}");
    assert_eq!(mine.matches("cell late").count(), 1, "{mine}");
    assert_eq!(mine.matches("cell missing").count(), 2, "{mine}");
    assert!(mine.contains("1h 30m"));
    assert!(mine.contains(&format!("/weekly/{a}/institution?institution={inst}")));
    // It was set up just now (by the real clock): the week before owed nothing yet; every
    // week since is missing.
    let theirs = row_of(&grid.body, &format!("data-id=\"{other}\""));
    let before = theirs.matches("cell before_setup").count();
    assert!(before >= 1, "{theirs}");
    assert_eq!(
        theirs.matches("cell missing").count(),
        4 - before,
        "{theirs}"
    );
    let (status, csv) = reviewer.get_bytes(&format!(
        "/export/province/weekly.csv?end={}&weeks=4",
        friday(b)
    ));
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("迟报 1h 30m") && csv.contains("按时") && csv.contains("漏报"));
    assert!(csv.contains("南昌某中学"));
    // The grid is the province's: institutions' own people are refused.
    assert_eq!(office.get("/province/weekly").status, 403);
    assert_eq!(office.get_bytes("/export/province/weekly.csv").0, 403);
    // A campaign may move the institution's deadline: week C lies in one that is due
    // Friday 17:00, so filing at 16:30 is on time (against the default 15:00, late).
    let c = IsoWeek::of(today + Duration::days(21));
    let (monday_c, friday_c) = (friday(c) - Duration::days(4), friday(c));
    let p = office.post(
        "/campaigns",
        &[
            ("name", "安全生产月"),
            ("starts", &monday_c.to_string()),
            ("ends", &friday_c.to_string()),
            ("phases", &format!("排查 | {monday_c} | {friday_c}")),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let p = office.post(
        &format!("{}/deadlines", p.location),
        &[
            ("dept_day", "5"),
            ("dept_time", "12:00"),
            ("inst_day", "5"),
            ("inst_time", "17:00"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    server.kill();
    server = Server::start_with(
        tmp.path(),
        &["--now", &format!("{friday_c}T16:30:00+08:00")],
    );
    let office = Web::login(&server, "office");
    let page_c = format!("/weekly/{c}/institution");
    let p = office.get(&page_c);
    assert!(p.body.contains(&format!("{friday_c} 17:00")), "{}", p.body);
    assert!(
        p.body
            .contains("id=\"filing-status\" class=\"cell pending\"")
    );
    assert_eq!(office.post(&page_c, &[("all_clear", "on")]).status, 303);
    let p = office.get(&page_c);
    assert!(
        p.body
            .contains("id=\"filing-status\" class=\"cell on_time\""),
        "{}",
        p.body
    );
    let reviewer = Web::try_login(&server, "province", "long-enough-pw")
        .1
        .expect("reviewer");
    let grid = reviewer.get(&format!("/province/weekly?end={friday_c}&weeks=1"));
    let mine = row_of(&grid.body, &format!("data-id=\"{inst}\""));
    assert_eq!(mine.matches("cell on_time").count(), 1, "{mine}");

    // Filings and exports are audit-logged.
    let log = Web::login(&server, "demo-admin").get("/admin").body;
    assert!(log.contains("institution_report_file"));
    assert!(log.contains("export_institution_week_csv"));
}
