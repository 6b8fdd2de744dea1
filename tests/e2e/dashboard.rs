//! The safety office's web dashboard against a real server process: sessions and CSRF,
//! every hazard action by every role (allowed ones land in the same documents the phones
//! sync; forbidden ones are refused and change nothing), the overdue board on a clock set
//! past the deadline, exports read back, the weekly grid, incidents over server-sent
//! events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use saferound_core::demo;
use saferound_core::device::{Assignment, NewIncidentInput};
use saferound_core::ids::LocalDate;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

/// A browser-like client: keeps the session cookie, does not follow redirects.
pub(crate) struct Web {
    url: String,
    pub(crate) agent: ureq::Agent,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) body: String,
    pub(crate) headers: HashMap<String, String>,
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

pub(crate) fn page(mut r: ureq::http::Response<ureq::Body>) -> Page {
    // A header sent more than once (set-cookie) keeps every value, one per line.
    let mut headers: HashMap<String, String> = HashMap::new();
    for (k, v) in r.headers() {
        let v = v.to_str().unwrap_or("");
        headers
            .entry(k.as_str().to_string())
            .and_modify(|all| {
                all.push('\n');
                all.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    Page {
        status: r.status().as_u16(),
        location: headers.get("location").cloned().unwrap_or_default(),
        body: r.body_mut().read_to_string().unwrap_or_default(),
        headers,
    }
}

/// `name=value` of the cookie `name` a response sets.
pub(crate) fn cookie_named(p: &Page, name: &str) -> Option<String> {
    p.headers
        .get("set-cookie")?
        .lines()
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn csrf_of(body: &str) -> Option<String> {
    let i = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(body[i..i + 64].to_string())
}

impl Web {
    pub(crate) fn try_login(server: &Server, login: &str, password: &str) -> (Page, Option<Web>) {
        let a = agent();
        // The login form's CSRF token, in the page and in its cookie.
        let form = page(
            a.get(format!("{}/login", server.url))
                .call()
                .expect("GET /login"),
        );
        let token = csrf_of(&form.body).expect("a csrf token on the login form");
        let login_cookie = cookie_named(&form, "sr_login").expect("the login cookie");
        let p = page(
            a.post(format!("{}/login", server.url))
                .header("Cookie", &login_cookie)
                .send_form([("login", login), ("password", password), ("csrf", &token)])
                .expect("POST /login"),
        );
        if p.status != 303 {
            return (p, None);
        }
        let cookie = cookie_named(&p, "sr_session").expect("a session cookie");
        let mut w = Web {
            url: server.url.clone(),
            agent: a,
            cookie,
            csrf: String::new(),
        };
        // A one-time password sends every page to the password form first.
        let mut first = w.get("/ledger");
        if first.status == 303 && first.location == "/account/password" {
            first = w.get("/account/password");
        }
        assert_eq!(first.status, 200, "{}", first.body);
        w.csrf = csrf_of(&first.body).expect("a csrf token on the page");
        (p, Some(w))
    }

    pub(crate) fn login(server: &Server, login: &str) -> Web {
        Self::try_login(server, login, DEMO_PASSWORD)
            .1
            .unwrap_or_else(|| panic!("login {login}"))
    }

    pub(crate) fn get(&self, path: &str) -> Page {
        page(
            self.agent
                .get(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .call()
                .expect("GET"),
        )
    }

    pub(crate) fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Cookie", &self.cookie)
            .call()
            .expect("GET");
        (
            r.status().as_u16(),
            r.body_mut().read_to_vec().unwrap_or_default(),
        )
    }

    pub(crate) fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut f: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        f.extend_from_slice(form);
        page(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .send_form(f)
                .expect("POST"),
        )
    }
}

impl Web {
    /// Another client on the same session (its own connection pool).
    fn clone_session(&self) -> Web {
        Web {
            url: self.url.clone(),
            agent: agent(),
            cookie: self.cookie.clone(),
            csrf: self.csrf.clone(),
        }
    }

    /// Posts a `multipart/form-data` form, as a browser does for a form with a file
    /// input: the CSRF token and `fields`, then each photo as a `photos` file part.
    pub(crate) fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        photos: &[&[u8]],
    ) -> Page {
        let boundary = "----saferound-test-boundary-7d1f";
        let mut body = Vec::new();
        let csrf = [("csrf", self.csrf.as_str())];
        for (k, v) in csrf.iter().chain(fields) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (i, photo) in photos.iter().enumerate() {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(photo);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        page(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..])
                .expect("POST multipart"),
        )
    }
}

/// Bytes that pass as a JPEG photo (its magic number, then noise), different per seed.
fn jpeg(seed: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0xFF, 0xD8, 0xFF, 0xE0];
    p.extend(
        (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8),
    );
    p
}

/// The cells of one sheet of an .xlsx file, as text, row by row.
pub(crate) fn xlsx_rows(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an .xlsx file");
    wb.worksheet_range(sheet)
        .unwrap_or_else(|e| panic!("sheet {sheet}: {e}"))
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    saferound_core::ids::BlobHash::of(bytes).to_string()
}

fn user_id(login: &str) -> String {
    demo::user(login).to_string()
}

/// The hazard's ledger rows as the canonical dump prints them (events included).
fn hazard_dump(server: &Server, id: &str) -> String {
    server
        .dump_ledger()
        .lines()
        .filter(|l| l.contains(id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first hazard of the demo ledger (newest first) in a given status.
fn hazard_in(w: &Web, status: &str) -> String {
    let p = w.get(&format!("/ledger?status={status}"));
    let i = p.body.find("/hazards/").expect("a hazard in that status") + "/hazards/".len();
    p.body[i..i + 36].to_string()
}

#[test]
fn sessions_csrf_lockout_and_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let a = agent();
    // Not signed in: pages go to the login, exports answer 401.
    let p = page(a.get(format!("{}/ledger", server.url)).call().unwrap());
    assert_eq!((p.status, p.location.as_str()), (303, "/login"));
    let p = page(
        a.get(format!("{}/export/ledger.csv", server.url))
            .call()
            .unwrap(),
    );
    assert_eq!(p.status, 401);
    // A forged cookie is no session.
    let p = page(
        a.get(format!("{}/ledger", server.url))
            .header("Cookie", format!("sr_session={}", "ab".repeat(32)))
            .call()
            .unwrap(),
    );
    assert_eq!(p.status, 303);

    let (p, w) = Web::try_login(&server, "office", DEMO_PASSWORD);
    let w = w.expect("office logs in");
    let cookie = &p.headers["set-cookie"];
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // zh-CN by default, English by the switch.
    assert!(w.get("/ledger").body.contains("隐患台账"));
    // A form without the session's CSRF token is refused and changes nothing.
    let id = hazard_in(&w, "reported");
    let before = hazard_dump(&server, &id);
    let p = page(
        w.agent
            .post(format!("{}/hazards/{id}/act", server.url))
            .header("Cookie", &w.cookie)
            .send_form([
                ("action", "regrade"),
                ("risk", "major"),
                ("note", "x"),
                ("csrf", &"0".repeat(64)),
            ])
            .unwrap(),
    );
    assert_eq!(p.status, 403);
    assert_eq!(hazard_dump(&server, &id), before);

    // Five wrong passwords lock the login, even for the right one; others are unaffected.
    for _ in 0..5 {
        let (p, w) = Web::try_login(&server, "owner", "wrong-password");
        assert_eq!(p.status, 401);
        assert!(w.is_none());
    }
    let (p, w2) = Web::try_login(&server, "owner", DEMO_PASSWORD);
    assert_eq!(p.status, 429);
    assert!(w2.is_none());
    assert!(
        Web::try_login(&server, "inspector", DEMO_PASSWORD)
            .1
            .is_some()
    );

    // Logout needs the token and ends the session.
    let p = w.post("/logout", &[]);
    assert_eq!(p.status, 303);
    assert_eq!(w.get("/ledger").status, 303);

    // The audit log shows logins and failures, to the administrator only.
    let admin = Web::login(&server, "demo-admin");
    let p = admin.get("/admin");
    assert_eq!(p.status, 200);
    for needle in ["login_failed", "login_locked", "logout", ">login<"] {
        assert!(p.body.contains(needle), "audit log lacks {needle}");
    }
    assert_eq!(Web::login(&server, "office").get("/admin").status, 403);
}

/// Asserts the dashboard action is refused with `status` and the hazard's ledger rows are
/// exactly as before.
fn refused(server: &Server, w: &Web, id: &str, form: &[(&str, &str)], status: u16) {
    let before = hazard_dump(server, id);
    let p = w.post(&format!("/hazards/{id}/act"), form);
    assert_eq!(p.status, status, "{form:?}: {}", p.body);
    assert_eq!(
        hazard_dump(server, id),
        before,
        "{form:?} changed the ledger"
    );
}

fn allowed(w: &Web, id: &str, form: &[(&str, &str)]) {
    let p = w.post(&format!("/hazards/{id}/act"), form);
    assert_eq!(p.status, 303, "{form:?}: {}", p.body);
    assert!(p.location.ends_with("?msg=ok"));
}

/// The hazard's status code, as its dashboard page shows it.
fn status_of(w: &Web, id: &str) -> String {
    let body = w.get(&format!("/hazards/{id}")).body;
    let i = body.find("id=\"status\">").expect("status") + "id=\"status\">".len();
    let label = &body[i..i + body[i..].find('<').unwrap()];
    saferound_core::model::HazardStatus::ALL
        .iter()
        .find(|s| s.label(saferound_core::model::Lang::Zh) == label)
        .map(|s| s.code().to_string())
        .unwrap_or_else(|| label.to_string())
}

#[test]
fn metrics_are_for_the_scraper_token_or_an_administrator() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let url = format!("{}/metrics", server.url);
    let status = |auth: Option<&str>| {
        let mut req = saferound_tests::agent().get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.call().expect("GET /metrics").status().as_u16()
    };
    assert_eq!(status(None), 401, "nobody");
    assert_eq!(status(Some("Bearer wrong-token-of-some-length")), 401);
    assert_eq!(status(Some("Basic dGVzdDp0ZXN0")), 401);
    let token = format!("Bearer {}", saferound_tests::METRICS_TOKEN);
    assert_eq!(status(Some(&token)), 200, "the scraper's token");
    // A device's own bearer token is not the scraper's.
    let d = enroll(&server, tmp.path(), "phone.db", "inspector", DEMO_PASSWORD);
    let device = format!("Bearer {}", saferound_tests::token(&d));
    assert_eq!(status(Some(&device)), 401, "a device token");
    // Dashboard sessions: an administrator's reads them, the safety office's does not.
    let admin = Web::login(&server, "demo-admin").get("/metrics");
    assert_eq!(admin.status, 200);
    assert!(
        admin.body.contains("saferound_sync_requests_total"),
        "{}",
        admin.body
    );
    assert_eq!(Web::login(&server, "office").get("/metrics").status, 401);
}

#[test]
fn every_action_by_every_role_from_the_dashboard_and_the_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
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
    let office = Web::login(&server, "office");
    let inspector = Web::login(&server, "inspector");
    let owner = Web::login(&server, "owner");
    let admin = Web::login(&server, "demo-admin");
    let reviewer = Web::try_login(&server, "province", "long-enough-pw")
        .1
        .expect("reviewer logs in");
    // A fresh hazard reported from the dashboard by the office.
    let p = office.post(
        "/hazards/new",
        &[
            ("site", &demo::site("1号学生公寓").to_string()),
            ("category", "fire_safety"),
            ("risk", "general"),
            ("location", "3楼"),
            ("description", "楼梯间堆放杂物"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/hazards/")
        .trim_end_matches("?msg=ok")
        .to_string();
    assert_eq!(status_of(&office, &id), "reported");
    let (owner_id, inspector_id) = (user_id("owner"), user_id("inspector"));
    let deadline = (chrono::Utc::now() + chrono::Duration::days(10))
        .date_naive()
        .to_string();
    let assign: Vec<(&str, &str)> = vec![
        ("action", "assign"),
        ("measure", "清理杂物"),
        ("responsible", &owner_id),
        ("funds", "200 元"),
        ("deadline", &deadline),
        ("contingency", "专人值守"),
        ("reinspector", &inspector_id),
    ];

    // reported: only its reporter (here the office) or the office regrades; only the
    // office assigns.
    refused(
        &server,
        &owner,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    refused(
        &server,
        &admin,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    allowed(
        &office,
        &id,
        &[
            ("action", "regrade"),
            ("risk", "significant"),
            ("note", "更严重"),
        ],
    );
    for w in [&inspector, &owner, &admin, &reviewer] {
        refused(&server, w, &id, &assign, 403);
    }
    refused(
        &server,
        &office,
        &id,
        &[("action", "rectify"), ("note", "x")],
        409,
    );
    // Bad input is refused before anything is written.
    refused(
        &server,
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", ""),
            ("responsible", &owner_id),
            ("deadline", &deadline),
        ],
        400,
    );
    refused(
        &server,
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", "m"),
            ("responsible", &owner_id),
            ("deadline", "2001-01-01"),
        ],
        400,
    );
    refused(&server, &office, &id, &[("action", "launch")], 400);
    allowed(&office, &id, &assign);
    assert_eq!(status_of(&office, &id), "in_rectification");
    // Once assigned, inspectors no longer regrade.
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "regrade"), ("risk", "low"), ("note", "x")],
        403,
    );

    // in rectification: the named responsible person (or the office) reports it done.
    for w in [&inspector, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "rectify"), ("note", "已整改")],
            403,
        );
    }
    allowed(&owner, &id, &[("action", "rectify"), ("note", "已整改")]);
    assert_eq!(status_of(&office, &id), "awaiting_verification");

    // awaiting verification: the named re-inspector (or the office) verifies.
    for w in [&owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "verify_pass"), ("note", "")],
            403,
        );
    }
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "verify_fail"), ("note", "")],
        400,
    );
    allowed(
        &inspector,
        &id,
        &[("action", "verify_fail"), ("note", "仍有杂物")],
    );
    assert_eq!(status_of(&office, &id), "in_rectification");

    // defer: the office only, with interim controls and a designated person.
    for w in [&inspector, &owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[
                ("action", "defer"),
                ("interim_controls", "围挡"),
                ("designated_person", &owner_id),
            ],
            403,
        );
    }
    allowed(
        &office,
        &id,
        &[
            ("action", "defer"),
            ("interim_controls", "设置围挡，专人巡查"),
            ("designated_person", &owner_id),
        ],
    );
    assert_eq!(status_of(&office, &id), "deferred");

    // supervision: major hazards only; the office or the provincial reviewer.
    refused(
        &server,
        &office,
        &id,
        &[("action", "supervise"), ("treatment_plan", "方案")],
        409,
    );
    allowed(
        &office,
        &id,
        &[
            ("action", "regrade"),
            ("risk", "major"),
            ("note", "升级为重大"),
        ],
    );
    for w in [&inspector, &owner, &admin] {
        refused(
            &server,
            w,
            &id,
            &[("action", "supervise"), ("treatment_plan", "方案")],
            403,
        );
    }
    allowed(
        &reviewer,
        &id,
        &[("action", "supervise"), ("treatment_plan", "限期治理方案")],
    );
    assert!(
        office
            .get(&format!("/hazards/{id}"))
            .body
            .contains("挂牌督办")
    );

    // Back through the loop to closed; then the look-back reopens it (inspector, office).
    allowed(&office, &id, &assign);
    allowed(&office, &id, &[("action", "rectify"), ("note", "完成")]);
    allowed(&office, &id, &[("action", "verify_pass"), ("note", "合格")]);
    assert_eq!(status_of(&office, &id), "closed");
    for w in [&owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "reopen"), ("note", "回头看")],
            403,
        );
    }
    allowed(
        &inspector,
        &id,
        &[("action", "reopen"), ("note", "回头看发现反弹")],
    );
    assert_eq!(status_of(&office, &id), "reported");

    // A phone sees every dashboard action in the same document, attributed to the people
    // who took them; and the phone's own forbidden actions are refused on the phone and
    // change nothing.
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let doc: saferound_core::DocId = id.parse().unwrap();
    let h = phone.hazard(doc).expect("the phone has the hazard");
    assert_eq!(h.status.map(|s| s.code()), Some("reported"));
    let by: Vec<&str> = h.events.iter().map(|e| e.by.name.as_str()).collect();
    assert!(
        by.contains(&"省厅审阅") && by.contains(&"李娜") && by.contains(&"王磊"),
        "{by:?}"
    );
    let owner_phone = enroll(&server, tmp.path(), "owner-phone", "owner", DEMO_PASSWORD);
    let heads = owner_phone.show(doc).unwrap();
    assert!(
        owner_phone
            .assign(
                doc,
                &Assignment {
                    measure: "m".into(),
                    responsible: demo::user("owner"),
                    funds: String::new(),
                    deadline: LocalDate(
                        chrono::Utc::now().date_naive() + chrono::Duration::days(3)
                    ),
                    contingency: String::new(),
                    reinspector: None,
                },
                ""
            )
            .is_err()
    );
    assert_eq!(owner_phone.show(doc).unwrap(), heads);
    // The phone's allowed action reaches the dashboard: the office assigns from its phone.
    phone
        .assign(
            doc,
            &Assignment {
                measure: "手机交办".into(),
                responsible: demo::user("owner"),
                funds: String::new(),
                deadline: LocalDate(chrono::Utc::now().date_naive() + chrono::Duration::days(5)),
                contingency: String::new(),
                reinspector: None,
            },
            "",
        )
        .unwrap();
    sync(&phone);
    let p = office.get(&format!("/hazards/{id}"));
    assert!(p.body.contains("手机交办"));
    assert_eq!(status_of(&office, &id), "in_rectification");
    // And the ledger equals one rebuilt from the documents alone.
    server.assert_ledger_equals_a_rebuild();
}

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
    assert_eq!(rows[0][14], "销号时间");
    assert_eq!(rows.len() - 1, ledger.len());
    for (i, (row, h)) in rows[1..].iter().zip(&ledger).enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(row[15], h["id"].as_str().unwrap());
        assert_eq!(row[2], h["reported_by_name"].as_str().unwrap());
        assert_eq!(row[4], h["description"].as_str().unwrap());
        assert_eq!(row[7], h["measure"].as_str().unwrap());
        assert_eq!(row[9], h["responsible_name"].as_str().unwrap_or(""));
        assert_eq!(row[10], h["deadline"].as_str().unwrap_or(""));
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
        .map(|r| r[15].clone())
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
fn photos_before_and_after_from_the_dashboard_reach_the_phones() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let owner = Web::login(&server, "owner");
    let inspector = Web::login(&server, "inspector");
    // The demo's hazards carry a before-photo, the rectified ones an after-photo too.
    let demo_hazard = hazard_in(&office, "awaiting_verification");
    let p = office.get(&format!("/hazards/{demo_hazard}"));
    assert_eq!(
        p.body.matches("class=\"photo\"").count(),
        2,
        "before and after"
    );

    // The office reports a hazard with a before-photo from the dashboard's form.
    let before = jpeg(1, 40_000);
    let p = office.post_multipart(
        "/hazards/new",
        &[
            ("site", &demo::site("1号学生公寓").to_string()),
            ("category", "fire_safety"),
            ("risk", "general"),
            ("location", "2楼"),
            ("description", "走廊灭火器过期"),
        ],
        &[&before],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/hazards/")
        .trim_end_matches("?msg=ok")
        .to_string();
    let page = office.get(&format!("/hazards/{id}"));
    assert!(
        page.body
            .contains(&format!("/photos/{}", sha256_hex(&before)))
    );
    assert_eq!(
        office.get_bytes(&format!("/photos/{}", sha256_hex(&before))),
        (200, before.clone())
    );

    // Assigned to the owner, who reports the rectification with two after-photos.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(5))
        .date_naive()
        .to_string();
    let owner_id = user_id("owner");
    allowed(
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", "更换灭火器"),
            ("responsible", &owner_id),
            ("deadline", &deadline),
        ],
    );
    // Refusals keep no photo: a forbidden action, a file that is not an image, photos
    // on an action that takes none, a photo over the size limit.
    let stray = jpeg(9, 1_000);
    let dump = hazard_dump(&server, &id);
    let p = inspector.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&stray],
    );
    assert_eq!(p.status, 403);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[b"%PDF-1.4 not a photo"],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    let p = office.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        &[&stray],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    let huge = jpeg(3, 10 * 1024 * 1024);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&huge],
    );
    assert_eq!(p.status, 413);
    // A form whose token is wrong is refused before its photos are read; one good photo
    // beside a bad one keeps neither.
    let forged = Web {
        csrf: "0".repeat(64),
        ..owner.clone_session()
    };
    // (A photo that is no image: a 400 would mean it was read before the token.)
    let p = forged.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[b"GIF89a not one of ours"],
    );
    assert_eq!(p.status, 403);
    let good = jpeg(7, 2_000);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&good, b"GIF89a not one of ours"],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    assert_eq!(
        office.get(&format!("/photos/{}", sha256_hex(&good))).status,
        404,
        "nothing of a refused form is kept"
    );
    assert_eq!(hazard_dump(&server, &id), dump, "refusals change nothing");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("blobs").join("partial"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "refused photos leave no files: {leftovers:?}"
    );
    assert_eq!(
        office
            .get(&format!("/photos/{}", sha256_hex(&stray)))
            .status,
        404,
        "a refused action's photo is not kept"
    );

    let (after1, after2) = (jpeg(4, 30_000), jpeg(5, 20_000));
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换新灭火器")],
        &[&after1, &after2],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(status_of(&office, &id), "awaiting_verification");
    let page = office.get(&format!("/hazards/{id}")).body;
    let after_section = &page[page.find("整改后照片").expect("after-photos")..];
    for photo in [&after1, &after2] {
        assert!(after_section.contains(&format!("/photos/{}", sha256_hex(photo))));
    }

    // A phone has the same event with the same photos, and fetches them by hash.
    let phone = enroll(
        &server,
        tmp.path(),
        "insp-phone",
        "inspector",
        DEMO_PASSWORD,
    );
    let doc: saferound_core::DocId = id.parse().unwrap();
    let h = phone.hazard(doc).unwrap();
    assert_eq!(
        h.photos.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        vec![sha256_hex(&before)]
    );
    let rectified = h.events.last().unwrap();
    assert_eq!(
        rectified
            .photos
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        vec![sha256_hex(&after1), sha256_hex(&after2)]
    );
    let (s, bytes) = saferound_tests::get_bytes(
        &server,
        &phone,
        &format!("/api/v1/blobs/{}", sha256_hex(&after1)),
    );
    assert_eq!((s, bytes), (200, after1.clone()));
    server.assert_ledger_equals_a_rebuild();
}

#[test]
fn administration_reaches_phones_revokes_devices_and_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo"]);
    let admin = Web::login(&server, "demo-admin");
    let office = Web::login(&server, "office");
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let ok = |p: Page| {
        assert_eq!(p.status, 303, "{}", p.body);
        assert!(p.location.starts_with("/admin"), "{}", p.location);
    };
    // Only administrators administer.
    assert_eq!(
        office
            .post("/admin/department", &[("name", "新部门")])
            .status,
        403
    );
    ok(admin.post("/admin/department", &[("name", "图书馆")]));
    let page = admin.get("/admin").body;
    let i = page.find("图书馆").expect("the new department");
    let dept = {
        let before = &page[..i];
        let j = before.rfind("value=\"").expect("its id") + "value=\"".len();
        before[j..j + 36].to_string()
    };
    // Bad input is refused with a reason.
    let p = admin.post(
        "/admin/site",
        &[("department", "not-an-id"), ("name", "x"), ("kind", "dorm")],
    );
    assert_eq!(p.status, 400);
    ok(admin.post(
        "/admin/site",
        &[
            ("department", &dept),
            ("name", "图书馆主楼"),
            ("kind", "teaching_building"),
            ("building", "图书馆"),
            ("floor_room", "1-5F"),
        ],
    ));
    ok(admin.post(
        "/admin/user",
        &[
            ("login", "librarian"),
            ("name", "孙丽"),
            ("password", "long-enough-pw"),
            ("role_inspector", "on"),
            ("department", &dept),
        ],
    ));
    let p = admin.post(
        "/admin/user",
        &[
            ("login", "librarian"),
            ("name", "重名"),
            ("password", "long-enough-pw"),
            ("role_inspector", "on"),
        ],
    );
    assert_eq!(p.status, 409, "a login is taken once");
    // The phones get the new site and person in their directory.
    sync(&phone);
    assert!(
        phone
            .sites()
            .unwrap()
            .iter()
            .any(|s| s.name == "图书馆主楼")
    );
    let person = |d: &saferound_core::Device| {
        d.directory()
            .unwrap()
            .expect("a directory")
            .people
            .into_values()
            .find(|p| p.name == "孙丽")
    };
    let librarian = person(&phone).expect("the new user reaches the phones");
    assert_eq!(
        librarian.roles,
        vec![saferound_core::model::Role::Inspector]
    );
    // Roles are edited later; the phones follow.
    ok(admin.post(
        "/admin/roles",
        &[
            ("user", &librarian.user_id.to_string()),
            ("role_inspector", "on"),
            ("role_responsible_person", "on"),
            ("department", &dept),
        ],
    ));
    sync(&phone);
    let edited = person(&phone).unwrap();
    assert_eq!(
        edited.roles,
        vec![
            saferound_core::model::Role::Inspector,
            saferound_core::model::Role::ResponsiblePerson
        ]
    );
    let p = admin.post("/admin/roles", &[("user", &librarian.user_id.to_string())]);
    assert_eq!(p.status, 400, "at least one role");

    // The new user logs in and enrols a phone; the administrator revokes the phone, and
    // its next sync is refused. Deactivating the user ends their dashboard session.
    let lib_web = Web::try_login(&server, "librarian", "long-enough-pw")
        .1
        .expect("the new user logs in");
    let lib_phone = enroll(
        &server,
        tmp.path(),
        "lib-phone",
        "librarian",
        "long-enough-pw",
    );
    let page = admin.get("/admin").body;
    let row = &page[page.find("lib-phone").expect("the device is listed")..];
    let i = row.find("name=\"device\" value=\"").unwrap() + "name=\"device\" value=\"".len();
    let device = &row[i..i + row[i..].find('"').unwrap()];
    ok(admin.post("/admin/revoke", &[("device", device)]));
    assert_eq!(
        admin.post("/admin/revoke", &[("device", device)]).status,
        404,
        "revoked once"
    );
    assert!(
        saferound_core::sync::client::sync(&lib_phone, &mut |_| {}).is_err(),
        "a revoked device cannot sync"
    );
    ok(admin.post(
        "/admin/deactivate",
        &[("user", &librarian.user_id.to_string())],
    ));
    assert_eq!(lib_web.get("/ledger").status, 303, "session ended");
    assert!(
        Web::try_login(&server, "librarian", "long-enough-pw")
            .1
            .is_none()
    );
    ok(admin.post(
        "/admin/activate",
        &[("user", &librarian.user_id.to_string())],
    ));
    assert!(
        Web::try_login(&server, "librarian", "long-enough-pw")
            .1
            .is_some()
    );
    // Every administrative action is in the audit log.
    let page = admin.get("/admin").body;
    for needle in [
        "admin_department",
        "admin_site",
        "admin_user",
        "admin_roles",
        "admin_revoke",
        "admin_deactivate",
        "admin_activate",
    ] {
        assert!(page.contains(needle), "audit log lacks {needle}");
    }
}

#[test]
fn conflicting_grades_show_on_the_hazard_page_until_the_office_settles_them() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo"]);
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let b = enroll(&server, tmp.path(), "b", "office", DEMO_PASSWORD);
    let id = a
        .report_hazard(
            demo::site("第一教学楼"),
            None,
            &saferound_core::device::NewFinding {
                category: Some(HazardCategory::Buildings),
                risk: Some(RiskGrade::General),
                description: "外墙瓷砖松动".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&a);
    sync(&b);
    // The reporter and the office correct the grade offline, differently.
    a.regrade(id, RiskGrade::Significant, "有掉落风险").unwrap();
    b.regrade(id, RiskGrade::Low, "只有一块").unwrap();
    sync(&a);
    sync(&b);
    let office = Web::login(&server, "office");
    let page = office.get(&format!("/hazards/{id}")).body;
    assert!(page.contains("id=\"conflicts\""), "the conflict is shown");
    // The higher grade stands meanwhile (safety first).
    let (_, v) = get_json(&server, &a, &format!("/api/v1/hazards/{id}"));
    assert_eq!(v["hazard"]["risk"], "significant");
    allowed(
        &office,
        &id.to_string(),
        &[
            ("action", "regrade"),
            ("risk", "significant"),
            ("note", "核定为较大"),
        ],
    );
    let page = office.get(&format!("/hazards/{id}")).body;
    assert!(!page.contains("id=\"conflicts\""), "settled by the office");
}

/// A webhook receiver on a loopback port: answers the first call with a 500 (the server
/// must try again), every later one with a 200; sends each body it accepted.
pub(crate) fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { break };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if n > 0
                && tx
                    .send(String::from_utf8_lossy(&body).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

/// Files `n` incidents on `d` (titled `tag` and a number); their ids, in order.
pub(crate) fn file_incidents(d: &saferound_core::Device, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|k| {
            d.file_incident(&NewIncidentInput {
                occurred_at: None,
                site: Some(demo::site("1号学生公寓")),
                location: format!("{k}号房"),
                category: HazardCategory::FireSafety,
                severity: RiskGrade::General,
                title: format!("{tag}{k}"),
                description: "楼道烟雾报警".into(),
                actions_taken: "已排查".into(),
            })
            .unwrap()
            .to_string()
        })
        .collect()
}

/// Bodies from the webhook receiver until `n` have come (60 s at most); their incident
/// ids, in the order they came.
pub(crate) fn webhook_ids(rx: &std::sync::mpsc::Receiver<String>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    (0..n)
        .map(|i| {
            let body = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("only {i} of {n} incidents reached the webhook"));
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
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
