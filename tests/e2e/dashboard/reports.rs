//! What the office reads and sends on: exports, the overdue board, the weekly grid, incidents on the stream and the webhook.

use super::*;

#[test]
fn exports_match_the_ledger_and_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let (_, all) = get_json(&server, &phone, "/api/v1/hazards?limit=500");
    let ledger: Vec<&serde_json::Value> = all["hazards"].as_array().unwrap().iter().collect();
    assert!(ledger.len() >= 8);

    let (status, bytes) = office.get_bytes("/export/ledger.xlsx");
    assert_eq!(status, 200);
    let rows = xlsx_rows(bytes, "隐患台账");
    assert_eq!(rows[0][..3], ["序号", "排查时间", "排查人员"]);
    assert_eq!(rows[0][10], "责任部门");
    assert_eq!(rows[0][15], "销号时间");
    assert_eq!(rows.len() - 1, ledger.len());
    for (row, h) in rows[1..].iter().zip(&ledger) {
        assert_eq!(
            row[0],
            h["serial"].as_str().unwrap(),
            "序号: the hazard's number"
        );
        assert_eq!(row[16], h["id"].as_str().unwrap());
        assert_eq!(row[2], h["reported_by_name"].as_str().unwrap());
        assert_eq!(row[4], h["description"].as_str().unwrap());
        assert_eq!(row[7], h["measure"].as_str().unwrap());
        assert_eq!(row[9], h["responsible_name"].as_str().unwrap_or(""));
        assert_eq!(row[11], h["deadline"].as_str().unwrap_or(""));
        assert!(row[3].starts_with(h["site_name"].as_str().unwrap()));
    }

    // A filtered export exports what the filter shows.
    let (_, major) = get_json(&server, &phone, "/api/v1/hazards?risk=major&limit=500");
    let (status, csv) = office.get_bytes("/export/ledger.csv?risk=major");
    assert_eq!(status, 200);
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "CSV starts with the UTF-8 BOM"
    );
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    let shown = office.get("/ledger?risk=major");
    let majors = major["hazards"].as_array().unwrap();
    assert_eq!(lines.len() - 1, majors.len());
    assert!(lines[1..].iter().all(|l| l.contains("重大风险")));
    assert_eq!(
        shown.body.matches("class=\"hazard-link\"").count(),
        majors.len()
    );
    // The filtered Excel export holds the same hazards as the filtered CSV.
    let (status, bytes) = office.get_bytes("/export/ledger.xlsx?risk=major");
    assert_eq!(status, 200);
    let mut xlsx_ids: Vec<String> = xlsx_rows(bytes, "隐患台账")
        .into_iter()
        .skip(1)
        .map(|r| r[16].clone())
        .collect();
    let mut api_ids: Vec<String> = majors
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    xlsx_ids.sort();
    api_ids.sort();
    assert_eq!(xlsx_ids, api_ids);
    // Site and department filters show only that site's, that department's hazards.
    let site = ledger[0]["site_id"].as_str().unwrap();
    let site_name = ledger[0]["site_name"].as_str().unwrap();
    let (_, at_site) = get_json(
        &server,
        &phone,
        &format!("/api/v1/hazards?site={site}&limit=500"),
    );
    let at_site = at_site["hazards"].as_array().unwrap();
    assert!(!at_site.is_empty() && at_site.iter().all(|h| h["site_name"] == site_name));
    let page = office.get(&format!("/ledger?site={site}"));
    assert_eq!(
        page.body.matches("class=\"hazard-link\"").count(),
        at_site.len()
    );
    let owner_of: HashMap<String, String> = phone
        .sites()
        .unwrap()
        .into_iter()
        .map(|s| (s.id.to_string(), s.department.to_string()))
        .collect();
    let dept = &owner_of[site];
    let expected = ledger
        .iter()
        .filter(|h| owner_of[h["site_id"].as_str().unwrap()] == *dept)
        .count();
    let page = office.get(&format!("/ledger?department={dept}"));
    let (_, in_dept) = get_json(
        &server,
        &phone,
        &format!("/api/v1/hazards?department={dept}&limit=500"),
    );
    assert_eq!(in_dept["hazards"].as_array().unwrap().len(), expected);
    assert_eq!(page.body.matches("class=\"hazard-link\"").count(), expected);

    // Exports are for the office; the inspector is refused. Both exports are audit-logged.
    assert_eq!(
        Web::login(&server, "inspector")
            .get("/export/ledger.xlsx")
            .status,
        403
    );
    let log = Web::login(&server, "demo-admin").get("/admin").body;
    assert!(log.contains("export_xlsx") && log.contains("export_csv"));
}

#[test]
fn overdue_board_after_the_deadline_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--demo-hazards",
            "--now",
            "2027-03-01T09:00:00+08:00",
        ],
    );
    let office = Web::login(&server, "office");
    let id = hazard_in(&office, "reported");
    let owner = user_id("owner");
    allowed(
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", "整改"),
            ("responsible", &owner),
            ("deadline", "2027-03-02"),
        ],
    );
    let board = office.get("/overdue");
    let (overdue, soon) = board.body.split_at(
        board
            .body
            .find("id=\"due-soon\"")
            .expect("the due-soon list"),
    );
    assert!(!overdue.contains(&id), "not overdue on its deadline's eve");
    assert!(soon.contains(&id), "but due soon");
    server.kill();
    // Three days later the hazard is overdue by two days: on the board, flagged in the
    // ledger, in the overdue filter of the JSON API.
    server = Server::start_with(tmp.path(), &["--now", "2027-03-04T09:00:00+08:00"]);
    let office = Web::login(&server, "office");
    let board = office.get("/overdue");
    assert!(board.body.contains(&id), "{}", board.body);
    let row = &board.body[board.body.find(&id).unwrap() - 200..];
    assert!(row.contains("class=\"big\">2<"), "two days overdue");
    assert!(office.get("/ledger?overdue=1").body.contains(&id));
    let letter = office.get(&format!("/hazards/{id}/letter"));
    assert!(letter.body.contains("督办函") && letter.body.contains("<b>2</b>"));
    assert!(
        office
            .get(&format!("/hazards/{id}/notice"))
            .body
            .contains("整改通知单")
    );
    // Past a week overdue the hazard is escalated 督办, visibly, on the board.
    server.kill();
    server = Server::start_with(tmp.path(), &["--now", "2027-03-12T09:00:00+08:00"]);
    let board = Web::login(&server, "office").get("/overdue").body;
    assert!(
        board.contains(&format!("class=\"overdue escalated\" data-id=\"{id}\"")),
        "{board}"
    );
    drop(server);
}

#[test]
fn weekly_grid_judges_server_receipt_time() {
    use saferound_core::doc::weekly::IsoWeek;
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let owner = enroll(&server, tmp.path(), "owner-phone", "owner", DEMO_PASSWORD);
    let today = chrono::Utc::now().date_naive();
    // A report for a week long past arrives now: late by weeks. One for next week: on time.
    let past = IsoWeek::of(today - chrono::Duration::weeks(3));
    let next = IsoWeek::of(today + chrono::Duration::weeks(1));
    owner
        .file_weekly_report(None, Some(past), true, "")
        .unwrap();
    owner
        .file_weekly_report(None, Some(next), false, "本周开展消防检查")
        .unwrap();
    sync(&owner);
    let office = Web::login(&server, "office");
    let end = (today + chrono::Duration::weeks(1)).to_string();
    let p = office.get(&format!("/weekly?end={end}&weeks=5"));
    assert_eq!(p.status, 200);
    let row = &p.body[p.body.find("后勤管理处").expect("the owner's department")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert_eq!(row.matches("cell late").count(), 1, "{row}");
    assert_eq!(row.matches("cell on_time").count(), 1, "{row}");
    assert!(
        row.contains("cell missing"),
        "weeks without a report show as missing"
    );
    assert!(row.contains("d "), "late by days");
    // Other departments filed nothing: missing, as visible as late.
    assert!(p.body.matches("cell missing").count() >= 5);
    let (status, csv) = office.get_bytes(&format!("/export/weekly.csv?end={end}&weeks=5"));
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("漏报"));
    // The Excel export holds the same grid, cell for cell.
    let (status, bytes) = office.get_bytes(&format!("/export/weekly.xlsx?end={end}&weeks=5"));
    assert_eq!(status, 200);
    let from_xlsx: Vec<String> = xlsx_rows(bytes, "周报")
        .iter()
        .map(|r| r.join(","))
        .collect();
    let from_csv: Vec<String> = csv
        .trim_start_matches('\u{feff}')
        .trim_end()
        .split("\r\n")
        .map(str::to_string)
        .collect();
    assert_eq!(from_xlsx, from_csv);

    // A phone whose clock says Thursday 10:00 of a past week files then, but the report
    // reaches the server only now: late, judged by the server's receipt; both times kept.
    use chrono::Datelike;
    let day = today - chrono::Duration::weeks(2);
    let thursday = day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
        + chrono::Duration::days(3);
    let phone_time = thursday.and_hms_opt(2, 0, 0).unwrap().and_utc(); // 10:00 at +08:00
    let clock = saferound_core::clock::FixedClock::new(chrono::Utc::now());
    let guard = saferound_core::sync::client::enroll(
        tmp.path().join("guard.db"),
        &server.url,
        "inspector2",
        DEMO_PASSWORD,
        "guard-phone",
        std::sync::Arc::new(clock.clone()),
    )
    .unwrap();
    sync(&guard);
    clock.set(phone_time);
    guard.file_weekly_report(None, None, true, "").unwrap();
    clock.set(chrono::Utc::now());
    let received_before = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    sync(&guard);
    let received_after = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let p = office.get(&format!("/weekly?end={end}&weeks=5"));
    let row = &p.body[p.body.find("保卫处").expect("the guard's department")..];
    let row = &row[..row.find("</tr>").unwrap()];
    let cell = &row[row.find("cell late").expect("late by the server's receipt")..];
    let cell = &cell[..cell.find('>').unwrap()];
    assert!(
        cell.contains(&format!("{thursday} 10:00")),
        "the phone's time is kept beside the receipt: {cell}"
    );
    // Received today, in the institution's time zone (+08:00).
    assert!(
        cell.contains(&format!("{received_before} "))
            || cell.contains(&format!("{received_after} ")),
        "{cell}"
    );
}

#[test]
fn an_incident_appears_on_the_stream_within_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let page = office.get("/incidents");
    assert_eq!(page.status, 200);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let (url, cookie) = (server.url.clone(), office.cookie.clone());
    std::thread::spawn(move || {
        let a: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let r = a
            .get(format!("{url}/incidents/stream?after=0"))
            .header("Cookie", &cookie)
            .call()
            .unwrap();
        for line in BufReader::new(r.into_body().into_reader()).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("data:") && tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let inspector = enroll(&server, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    inspector
        .file_incident(&NewIncidentInput {
            occurred_at: None,
            site: Some(demo::site("1号学生公寓")),
            location: "3楼".into(),
            category: HazardCategory::FireSafety,
            severity: RiskGrade::Major,
            title: "宿舍冒烟".into(),
            description: "3楼配电箱冒烟，已断电".into(),
            actions_taken: "已疏散".into(),
        })
        .unwrap();
    let synced = Instant::now();
    sync(&inspector);
    let data = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the incident within 5 s");
    assert!(data.contains("宿舍冒烟"), "{data}");
    assert!(synced.elapsed() < Duration::from_secs(5));
    assert!(office.get("/incidents").body.contains("宿舍冒烟"));
}

#[test]
fn every_incident_reaches_the_webhook_once_in_order_even_after_a_failure() {
    let (hook, rx) = webhook_receiver();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--incident-webhook", &hook]);
    let phone = enroll(&server, tmp.path(), "insp", "inspector", DEMO_PASSWORD);
    // More incidents in one sync than the server reads in one page.
    let filed = file_incidents(&phone, 60, "事件");
    sync(&phone);
    let got = webhook_ids(&rx, filed.len());
    // The first call failed and was made again; none is skipped or sent twice, and they
    // come in the order the server received them (the push's order).
    assert_eq!(got, filed);
    std::thread::sleep(Duration::from_millis(500));
    assert!(rx.try_recv().is_err(), "nothing is sent twice");
}
