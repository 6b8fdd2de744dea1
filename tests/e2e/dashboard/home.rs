//! The home page against a real server on an injected clock: every figure it shows is
//! the one the test computes from the ledger's rows (the JSON API's).

use chrono::{Duration, FixedOffset, NaiveDate};
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::ids::Timestamp;
use saferound_core::model::SafetyArea;

use super::*;

/// The number in the row `<tr {attr}="{key}">…<td class="n…">N</td>` of table `id`.
fn cell(body: &str, id: &str, attr: &str, key: &str, class: &str) -> i64 {
    let table = &body[body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"))..];
    let table = &table[..table.find("</table>").unwrap()];
    let row = &table[table
        .find(&format!("{attr}=\"{key}\""))
        .unwrap_or_else(|| panic!("{id}: no row {key}"))..];
    let row = &row[..row.find("</tr>").unwrap()];
    let at = row
        .find(&format!("<td class=\"{class}\">"))
        .unwrap_or_else(|| panic!("{id} {key}: no {class} in {row}"))
        + class.len()
        + 13;
    row[at..at + row[at..].find('<').unwrap()].parse().unwrap()
}

/// The big number of tile `id`.
fn tile(body: &str, id: &str) -> String {
    let t = &body[body.find(&format!("id=\"{id}\"")).unwrap()..];
    let at = t.find("<span class=\"big\">").unwrap() + 18;
    t[at..at + t[at..].find('<').unwrap()].to_string()
}

#[test]
fn every_figure_on_the_home_page_is_the_ledgers() {
    let tmp = tempfile::tempdir().unwrap();
    // A Wednesday, 10:00 in the institution's time zone (+08:00).
    let server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--demo-hazards",
            "--now",
            "2026-03-11T10:00:00+08:00",
        ],
    );
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let today: NaiveDate = "2026-03-11".parse().unwrap();
    let office = Web::login(&server, "office");
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let (_, all) = get_json(&server, &phone, "/api/v1/hazards?limit=1000");
    let rows = all["hazards"].as_array().unwrap();
    assert!(rows.len() >= 20, "the demo's ten weeks of hazards");
    let home = office.get("/");
    assert_eq!(home.status, 200);
    let body = &home.body;

    let text = |h: &serde_json::Value, k: &str| h[k].as_str().map(str::to_string);
    let local = |t: &str| {
        t.parse::<Timestamp>()
            .unwrap()
            .0
            .with_timezone(&tz)
            .date_naive()
    };
    let open: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|h| text(h, "status").as_deref() != Some("closed"))
        .collect();
    assert_eq!(tile(body, "tile-open"), open.len().to_string());
    for risk in ["major", "significant", "general", "low"] {
        let n = open.iter().filter(|h| h["risk"] == risk).count() as i64;
        assert_eq!(cell(body, "by-risk", "data-code", risk, "n"), n, "{risk}");
    }
    for area in SafetyArea::ALL {
        let n = open
            .iter()
            .filter(|h| {
                h["category"]
                    .as_str()
                    .and_then(|c| c.parse::<HazardCategory>().ok())
                    .map(HazardCategory::area)
                    == Some(*area)
            })
            .count() as i64;
        assert_eq!(
            cell(body, "by-area", "data-code", area.code(), "n"),
            n,
            "{area:?}"
        );
    }
    let due = |h: &serde_json::Value| text(h, "deadline").map(|d| d.parse::<NaiveDate>().unwrap());
    let rectifying = |h: &&serde_json::Value| h["status"] == "in_rectification";
    let overdue = rows
        .iter()
        .filter(rectifying)
        .filter(|h| due(h).is_some_and(|d| d < today))
        .count();
    assert!(overdue > 0, "the demo has overdue hazards");
    assert_eq!(tile(body, "tile-overdue"), overdue.to_string());
    let soon = rows
        .iter()
        .filter(rectifying)
        .filter(|h| due(h).is_some_and(|d| d >= today && d <= today + Duration::days(3)))
        .count();
    assert_eq!(tile(body, "tile-soon"), soon.to_string());
    let supervised = open.iter().filter(|h| h["supervised"] == true).count();
    assert_eq!(supervised, 2);
    assert_eq!(tile(body, "tile-supervised"), supervised.to_string());
    assert_eq!(tile(body, "tile-incidents"), "0");
    assert_eq!(tile(body, "tile-rate"), "—", "no campaign runs");

    // Twelve ISO weeks of flows, from the rows' own dates.
    let mut checked = 0;
    for back in 0..12 {
        let day = today - Duration::weeks(back);
        let week = IsoWeek::of(day);
        let key = week.to_string();
        let found = rows
            .iter()
            .filter(|h| IsoWeek::of(local(h["reported_at"].as_str().unwrap())) == week)
            .count() as i64;
        let closed = rows
            .iter()
            .filter(|h| h["status"] == "closed")
            .filter(|h| IsoWeek::of(local(h["verified_at"].as_str().unwrap())) == week)
            .count() as i64;
        let turned = rows
            .iter()
            .filter(|h| h["status"] != "deferred")
            .filter(|h| {
                let Some(d) = due(h) else { return false };
                let first = d + Duration::days(1);
                let in_time = text(h, "rectified_at").is_some_and(|r| local(&r) <= d);
                first <= today && !in_time && IsoWeek::of(first) == week
            })
            .count() as i64;
        assert_eq!(
            cell(body, "flows", "data-week", &key, "n found"),
            found,
            "{key} found"
        );
        assert_eq!(
            cell(body, "flows", "data-week", &key, "n closed"),
            closed,
            "{key} closed"
        );
        assert_eq!(
            cell(body, "flows", "data-week", &key, "n overdue"),
            turned,
            "{key} overdue"
        );
        checked += found + closed + turned;
    }
    assert!(checked > 30, "the weeks hold real figures");
    // This week's weekly reports: none filed, and Friday's deadline is still ahead.
    let departments = demo::DEPARTMENTS.len() as i64;
    assert_eq!(
        cell(body, "reports-week", "data-state", "pending", "n"),
        departments
    );
    assert_eq!(cell(body, "reports-week", "data-state", "missing", "n"), 0);
    assert!(
        body.contains("<svg class=\"chart\""),
        "charts drawn on the server"
    );
}
