//! No panic is reachable from a request: every date input — query parameters of every
//! route the router declares, path parameters, and every date field of every form the
//! dashboard renders — fed dates at and past the ends of the calendar. Each request gets
//! an answer (a panic would drop the connection) that is not a 500, and the server stays
//! up.

use saferound_tests::Server;

use crate::dashboard::{Page, Web, page};

/// Dates at and past what chrono represents, nonsense and ISO weeks likewise.
const EXTREMES: &[&str] = &[
    "+262143-12-31",
    "-262143-01-01",
    "262142-12-31",
    "9999-12-31",
    "0000-01-01",
    "2026-02-30",
    "9999-W52",
    "262143-W52",
    "-9999-W01",
    "9999-12-31T23:59",
    "0000-01-01T00:00",
    "99999999999999999999",
];

/// Query parameters that are dates or weeks somewhere.
const DATE_PARAMS: &[&str] = &[
    "from", "to", "week", "date", "day", "end", "start", "starts", "ends", "deadline", "month",
];

fn answered(p: &Page, what: &str) {
    assert!(
        p.status != 0 && p.status != 500,
        "{what}: {} {}",
        p.status,
        p.body
    );
}

/// The forms on `body`: (action, [(name, type, value)]).
fn forms(body: &str) -> Vec<(String, Vec<(String, String, String)>)> {
    let attr = |tag: &str, name: &str| -> String {
        let key = format!("{name}=\"");
        tag.find(&key)
            .map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for chunk in body.split("<form").skip(1) {
        let Some(end) = chunk.find("</form>") else {
            continue;
        };
        let form = &chunk[..end];
        let head = &form[..form.find('>').unwrap_or(0)];
        if !attr(head, "method").eq_ignore_ascii_case("post") {
            continue;
        }
        let mut fields = Vec::new();
        for tag in form.split('<').filter(|t| {
            t.starts_with("input") || t.starts_with("select") || t.starts_with("textarea")
        }) {
            let name = attr(tag, "name");
            if !name.is_empty() {
                fields.push((name, attr(tag, "type"), attr(tag, "value")));
            }
        }
        out.push((attr(head, "action"), fields));
    }
    out
}

fn is_date_field(name: &str, kind: &str) -> bool {
    matches!(kind, "date" | "datetime-local" | "week" | "month")
        || DATE_PARAMS.iter().any(|p| name.contains(p))
}

#[test]
fn extreme_dates_in_every_date_input_get_an_answer_never_a_500() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let admin = Web::login(&server, "demo-admin");

    // Every GET route, its path parameters and date query parameters at the extremes.
    let routes = crate::web_guard::routes_with(|| "{}".to_string());
    for route in &routes {
        if route.ends_with("/stream") {
            continue;
        }
        for x in EXTREMES {
            let path = route.replace("{}", x);
            let query: Vec<String> = DATE_PARAMS.iter().map(|p| format!("{p}={x}")).collect();
            let url = format!("{path}?{}", query.join("&"));
            answered(&office.get(&url), &url);
        }
    }

    // Every form the dashboard renders to the office and the administrator, its date
    // fields at the extremes.
    let pages = [
        "/ledger",
        "/weekly",
        "/campaigns",
        "/duty",
        "/admin",
        "/checklists",
        "/overdue",
        "/incidents",
    ];
    let hazard = office
        .get("/ledger")
        .body
        .split("href=\"/hazards/")
        .nth(1)
        .map(|s| s[..s.find('"').unwrap_or(0)].to_string());
    let mut visited: Vec<String> = pages.iter().map(|p| p.to_string()).collect();
    if let Some(h) = hazard {
        visited.push(format!("/hazards/{h}"));
    }
    let week = office
        .get("/weekly")
        .body
        .split("href=\"/weekly/")
        .nth(1)
        .map(|s| format!("/weekly/{}", &s[..s.find('"').unwrap_or(0)]));
    visited.extend(week);
    let mut tried = 0;
    for w in [&office, &admin] {
        for p in &visited {
            for (action, fields) in forms(&w.get(p).body) {
                if action == "/logout" || !fields.iter().any(|(n, k, _)| is_date_field(n, k)) {
                    continue;
                }
                for x in EXTREMES {
                    let form: Vec<(String, String)> = fields
                        .iter()
                        .filter(|(n, _, _)| n != "csrf")
                        .map(|(n, k, v)| {
                            let v = if is_date_field(n, k) {
                                x.to_string()
                            } else {
                                v.clone()
                            };
                            (n.clone(), v)
                        })
                        .collect();
                    let form: Vec<(&str, &str)> =
                        form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                    answered(&w.post(&action, &form), &format!("{action} with {x}"));
                    tried += 1;
                }
            }
        }
    }
    assert!(tried > 20, "date forms were found and posted: {tried}");
    // Still serving.
    let p = page(
        crate::dashboard::agent()
            .get(format!("{}/healthz", server.url))
            .call()
            .expect("the server is up"),
    );
    assert_eq!(p.status, 200);
}
