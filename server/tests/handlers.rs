//! Handlers in process: the whole router (`app::app`) over a real SQLite store in a
//! temporary directory with the demo institution, driven request by request with
//! `tower::ServiceExt::oneshot` — routing, validation, status codes, and the checks every
//! dashboard form passes (session, CSRF token, role). What crosses processes (phones,
//! replicas, a browser) is tested end to end in `tests/`.

// Test code: a step that fails ends the run with its message, as a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use saferound_core::demo;
use saferound_server::store::Store;
use saferound_server::{AppState, accounts, app, load_demo};
use tower::ServiceExt;

struct Harness {
    app: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("server.db")).unwrap();
    let state = AppState::new(Arc::new(store), dir.path().join("blobs"));
    load_demo(&state).await.unwrap();
    Harness {
        app: app::app(state.clone()),
        state,
        _dir: dir,
    }
}

/// A dashboard session of the demo person `login`: its cookie and CSRF token.
async fn session(state: &AppState, login: &str) -> (String, String) {
    let user = state.storage.user_by_login(login).await.unwrap().unwrap();
    let token = hex::encode(rand::random::<[u8; 32]>());
    let csrf = format!("csrf-of-{login}");
    let expires =
        saferound_core::ids::Timestamp(chrono::Utc::now() + chrono::Duration::hours(1)).to_string();
    state
        .storage
        .create_session(accounts::token_hash(&token), user.id, &csrf, &expires)
        .await
        .unwrap();
    (format!("sr_session={token}"), csrf)
}

/// Sends `req` through the router: the status, the `Location` header, the body.
async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn form(path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut r =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn holiday(csrf: &str) -> String {
    format!("csrf={csrf}&name=%E5%9B%BD%E5%BA%86&starts=2026-10-01&ends=2026-10-07")
}

async fn holidays(h: &Harness) -> usize {
    h.state
        .storage
        .holidays(demo::institution())
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn health_answers_and_unknown_paths_are_not_found() {
    let h = harness().await;
    let (status, _, body) = send(
        &h.app,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((status, body.trim()), (StatusCode::OK, "ok"));
    let (status, _, _) = send(
        &h.app,
        Request::get("/no/such/page").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_form_needs_a_session_then_its_csrf_token_then_a_role_that_may_post_it() {
    let h = harness().await;
    // No session: to the login page, nothing written.
    let (status, to, _) = send(&h.app, form("/duty/holiday", None, &holiday("x"))).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(to.as_deref(), Some("/login"));
    // A session, but no token or another session's token: refused.
    let (office, csrf) = session(&h.state, "office").await;
    let (inspector, inspector_csrf) = session(&h.state, "inspector").await;
    let no_token = "name=x&starts=2026-10-01&ends=2026-10-07";
    let (status, _, body) = send(&h.app, form("/duty/holiday", Some(&office), no_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    let (status, _, _) = send(
        &h.app,
        form("/duty/holiday", Some(&office), &holiday(&inspector_csrf)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The right token, but a role that may not post it.
    let (status, _, _) = send(
        &h.app,
        form("/duty/holiday", Some(&inspector), &holiday(&inspector_csrf)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(holidays(&h).await, 0, "nothing refused was written");
    // The office, with its token: written, and back to the page.
    let (status, to, body) = send(
        &h.app,
        form("/duty/holiday", Some(&office), &holiday(&csrf)),
    )
    .await;
    assert!(status.is_redirection(), "{status} {body}");
    assert!(to.unwrap().starts_with("/duty"));
    assert_eq!(holidays(&h).await, 1);
}

#[tokio::test]
async fn administration_is_the_administrators_alone() {
    let h = harness().await;
    let (office, csrf) = session(&h.state, "office").await;
    let body = format!("csrf={csrf}&name=%E6%96%B0%E9%83%A8%E9%97%A8");
    let (status, _, _) = send(&h.app, form("/admin/department", Some(&office), &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (admin, csrf) = session(&h.state, "demo-admin").await;
    let body = format!("csrf={csrf}&name=%E6%96%B0%E9%83%A8%E9%97%A8");
    let (status, _, body) = send(&h.app, form("/admin/department", Some(&admin), &body)).await;
    assert!(status.is_redirection(), "{status} {body}");
    let names: Vec<String> = h
        .state
        .storage
        .departments(demo::institution())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(names.contains(&"新部门".to_string()), "{names:?}");
    // The audit log says what happened in the reader's language, at the institution's
    // local time (+08:00), not in codes and UTC.
    let (_, _, page) = send(&h.app, get("/admin", &admin)).await;
    let audit = &page[page.find("id=\"audit\"").unwrap()..];
    assert!(audit.contains("新增部门"), "{audit}");
    let hour = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .format("%Y-%m-%d %H:")
            .to_string()
    };
    let now = chrono::Utc::now();
    // (The post may have been a moment before an hour turned.)
    let hours = [hour(now), hour(now - chrono::Duration::minutes(1))];
    assert!(
        hours.iter().any(|h| audit.contains(h)),
        "{hours:?} in {audit}"
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_400_and_an_oversized_form_a_413() {
    let h = harness().await;
    let (office, csrf) = session(&h.state, "office").await;
    let backwards = format!("csrf={csrf}&name=x&starts=2026-10-07&ends=2026-10-01");
    let (status, _, body) = send(&h.app, form("/duty/holiday", Some(&office), &backwards)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ends"), "{body}");
    let not_a_date = format!("csrf={csrf}&name=x&starts=tomorrow&ends=2026-10-01");
    let (status, _, _) = send(&h.app, form("/duty/holiday", Some(&office), &not_a_date)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = format!("csrf={csrf}&name={}", "x".repeat(70 * 1024));
    let (status, _, _) = send(&h.app, form("/duty/holiday", Some(&office), &huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(holidays(&h).await, 0);
}

#[tokio::test]
async fn the_sync_endpoint_wants_a_device_token_and_a_sync_body() {
    let h = harness().await;
    let sync = |token: Option<&str>, body: &'static [u8]| -> Request<Body> {
        let mut r = Request::post("/api/v1/sync").header(header::CONTENT_TYPE, "application/cbor");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        r.body(Body::from(body)).unwrap()
    };
    let (status, _, _) = send(&h.app, sync(None, b"\xa0")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&h.app, sync(Some(&"0".repeat(64)), b"\xa0")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown token");
    // A real device's token with a body that is no sync request.
    let user = h
        .state
        .storage
        .user_by_login("inspector")
        .await
        .unwrap()
        .unwrap();
    let token = hex::encode(rand::random::<[u8; 32]>());
    h.state
        .storage
        .enroll_device(&saferound_server::store::NewDevice {
            id: "phone-1".into(),
            user: user.id,
            institution: demo::institution(),
            actor: vec![7; 16],
            token_hash: accounts::token_hash(&token),
            name: "test phone".into(),
        })
        .await
        .unwrap();
    let (status, _, body) = send(&h.app, sync(Some(&token), b"not cbor at all")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// The first hazard of the demo's ledger, assigned or not.
async fn demo_hazard(h: &Harness, assigned: bool) -> saferound_server::ledger::HazardRow {
    let (rows, _) = h
        .state
        .storage
        .hazards(&saferound_server::store::HazardQuery {
            institution: Some(demo::institution()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    rows.into_iter()
        .find(|r| r.responsible.is_some() == assigned && r.status.as_deref() != Some("closed"))
        .expect("a demo hazard")
}

/// The `<select>` named `name` in a page.
fn select<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!("<select name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} select"));
    let end = start + page[start..].find("</select>").unwrap();
    &page[start..end]
}

#[tokio::test]
async fn forms_choose_nobody_and_no_grade_until_the_office_does() {
    let h = harness().await;
    saferound_server::web::demo::seed(&h.state).await.unwrap();
    let (office, _) = session(&h.state, "office").await;
    // An unassigned hazard: nobody chosen as responsible.
    let open = demo_hazard(&h, false).await;
    let (status, _, page) = send(&h.app, get(&format!("/hazards/{}", open.id), &office)).await;
    assert_eq!(status, StatusCode::OK);
    let responsible = select(&page, "responsible");
    assert!(
        responsible.contains("value=\"\" disabled selected"),
        "{responsible}"
    );
    assert_eq!(responsible.matches(" selected").count(), 1, "{responsible}");
    // The new-hazard form: no site, category or grade chosen for the office.
    let (_, _, ledger) = send(&h.app, get("/ledger", &office)).await;
    let form = &ledger[ledger.find("action=\"/hazards/new\"").unwrap()..];
    for name in ["site", "category", "risk"] {
        let s = select(form, name);
        assert!(s.contains("value=\"\" disabled selected"), "{name}: {s}");
    }
    // Incidents are listed under their own heading, not a hazard's.
    let (_, _, incidents) = send(&h.app, get("/incidents", &office)).await;
    assert!(incidents.contains("<th>事件</th>"), "{incidents}");
    assert!(!incidents.contains("隐患描述"));
    // The hundred-day campaign starts today unless the office says otherwise.
    let (_, _, campaigns) = send(&h.app, get("/campaigns", &office)).await;
    let today = h
        .state
        .today_in(h.state.tz(Some(demo::institution())).await);
    assert!(
        campaigns.contains(&format!("name=\"start\" value=\"{today}\" required")),
        "{campaigns}"
    );
}

#[tokio::test]
async fn the_supervision_letter_cites_a_campaign_only_when_the_hazard_is_in_one() {
    let h = harness().await;
    saferound_server::web::demo::seed(&h.state).await.unwrap();
    let (office, csrf) = session(&h.state, "office").await;
    let hazard = demo_hazard(&h, true).await;
    let letter = format!("/hazards/{}/letter", hazard.id);
    let (_, _, page) = send(&h.app, get(&letter, &office)).await;
    assert!(page.contains("根据学校安全隐患排查治理工作要求"), "{page}");
    assert!(!page.contains("工作方案要求"), "no campaign, no plan cited");
    // A campaign holding the day it was reported: its plan is cited.
    let reported: chrono::DateTime<chrono::Utc> = hazard.reported_at.parse().unwrap();
    let day = reported
        .with_timezone(&h.state.tz(Some(demo::institution())).await)
        .date_naive();
    let body = format!(
        "csrf={csrf}&name=%E6%B6%88%E9%98%B2%E4%B8%93%E9%A1%B9&starts={}&ends={}",
        day - chrono::Duration::days(1),
        day + chrono::Duration::days(1)
    );
    let (status, _, b) = send(&h.app, form("/campaigns", Some(&office), &body)).await;
    assert!(status.is_redirection(), "{status} {b}");
    let (_, _, page) = send(&h.app, get(&letter, &office)).await;
    assert!(page.contains("根据《消防专项》工作方案要求"), "{page}");
}

#[tokio::test]
async fn weeks_before_the_institution_was_set_up_are_not_missing_reports() {
    let h = harness().await;
    let s = h.state.storage.as_ref();
    let inst = saferound_core::ids::InstitutionId::new();
    let now = h.state.now();
    s.create_institution(
        inst,
        "新学校",
        &saferound_core::ids::Timestamp(now).to_string(),
    )
    .await
    .unwrap();
    s.create_department(&saferound_server::store::Department {
        id: saferound_core::ids::DepartmentId::new(),
        institution: inst,
        name: "保卫处".into(),
    })
    .await
    .unwrap();
    let today = h.state.today_in(h.state.tz(Some(inst)).await);
    let grid = saferound_server::web::reports::grid(&h.state, inst, today, 8)
        .await
        .unwrap();
    let cells = grid["rows"][0]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 8);
    let states: Vec<&str> = cells.iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert!(
        states[..7].iter().all(|s| *s == "before_setup"),
        "{states:?}"
    );
    assert!(!states.contains(&"missing"), "{states:?}");
    // The demo institution, set up a year ago, owes every week shown.
    let demo = saferound_server::web::reports::grid(&h.state, demo::institution(), today, 8)
        .await
        .unwrap();
    assert!(!demo.to_string().contains("before_setup"));
}

#[tokio::test]
async fn every_page_has_a_title_of_its_own() {
    let h = harness().await;
    saferound_server::web::demo::seed(&h.state).await.unwrap();
    let (office, _) = session(&h.state, "office").await;
    let (admin, _) = session(&h.state, "demo-admin").await;
    let hazard = demo_hazard(&h, true).await;
    let pages = [
        ("/ledger", &office),
        ("/overdue", &office),
        ("/weekly", &office),
        ("/incidents", &office),
        ("/campaigns", &office),
        ("/duty", &office),
        ("/checklists", &office),
        ("/account/password", &office),
        ("/admin", &admin),
        (&format!("/hazards/{}", hazard.id) as &str, &office),
        (&format!("/hazards/{}/notice", hazard.id), &office),
        (&format!("/hazards/{}/letter", hazard.id), &office),
    ];
    let mut titles = std::collections::HashMap::new();
    for (path, cookie) in pages {
        let (status, _, page) = send(&h.app, get(path, cookie)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let start = page.find("<title>").unwrap() + "<title>".len();
        let title = page[start..start + page[start..].find("</title>").unwrap()].to_string();
        assert!(title.contains(" · "), "{path}: {title}");
        if let Some(other) = titles.insert(title.clone(), path.to_string()) {
            panic!("{path} and {other} share the title {title}");
        }
    }
}

#[tokio::test]
async fn every_hazard_prints_a_number_of_its_own_on_its_pages_and_exports() {
    let h = harness().await;
    saferound_server::web::demo::seed(&h.state).await.unwrap();
    let (office, _) = session(&h.state, "office").await;
    let (rows, _) = h
        .state
        .storage
        .hazards(&saferound_server::store::HazardQuery {
            institution: Some(demo::institution()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.len() > 3);
    let mut numbers = std::collections::BTreeSet::new();
    let (_, _, csv) = send(&h.app, get("/export/ledger.csv", &office)).await;
    let (_, _, ledger) = send(&h.app, get("/ledger?page=0", &office)).await;
    for r in &rows {
        let serial = r.serial.clone().expect("numbered");
        assert!(numbers.insert(serial.clone()), "{serial} given twice");
        for page in ["notice", "letter"] {
            let (status, _, body) =
                send(&h.app, get(&format!("/hazards/{}/{page}", r.id), &office)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                body.contains(&format!("隐患编号：{serial}")),
                "{page}: {body}"
            );
        }
        let (_, _, page) = send(&h.app, get(&format!("/hazards/{}", r.id), &office)).await;
        assert!(page.contains(&serial), "the hazard page shows {serial}");
        // The export's 序号 is the number, first on the hazard's line.
        let line = csv.lines().find(|l| l.contains(&r.id)).expect("exported");
        assert!(line.starts_with(&format!("{serial},")), "{line}");
    }
    assert!(csv.lines().next().unwrap().contains("责任部门"));
    let first = rows[0].serial.as_deref().unwrap();
    assert!(
        ledger.contains(&format!("<td class=\"serial\">{first}</td>")),
        "{ledger}"
    );
}

#[tokio::test]
async fn a_school_leader_reads_everything_and_lists_for_supervision_but_does_not_assign() {
    let h = harness().await;
    saferound_server::web::demo::seed(&h.state).await.unwrap();
    let (leader, csrf) = session(&h.state, "leader").await;
    // A major hazard just found, not yet supervised.
    let office = h
        .state
        .storage
        .user_by_login("office")
        .await
        .unwrap()
        .unwrap();
    saferound_server::web::actions::report(
        &h.state,
        &office,
        saferound_server::web::actions::NewReport {
            site: demo::site("危化品仓库"),
            category: saferound_core::model::HazardCategory::LabChemicals,
            risk: saferound_core::model::RiskGrade::Major,
            location: "1F".into(),
            description: "危化品柜门锁损坏".into(),
            photos: Vec::new(),
        },
        Vec::new(),
    )
    .await
    .unwrap();
    for page in ["/weekly", "/campaigns", "/checklists", "/export/ledger.csv"] {
        let (status, _, _) = send(&h.app, get(page, &leader)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
    }
    let (rows, _) = h
        .state
        .storage
        .hazards(&saferound_server::store::HazardQuery {
            institution: Some(demo::institution()),
            risk: Some("major".into()),
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    let major = rows
        .iter()
        .find(|r| !r.supervised && r.status.as_deref() != Some("closed"))
        .expect("an open major hazard not yet supervised");
    let page_of = |id: &str| format!("/hazards/{id}");
    let (_, _, page) = send(&h.app, get(&page_of(&major.id), &leader)).await;
    assert!(page.contains("id=\"form-supervise\""), "{page}");
    assert!(!page.contains("id=\"form-assign\""));
    let act = format!("/hazards/{}/act", major.id);
    let body = format!("csrf={csrf}&action=supervise&treatment_plan=%E6%96%B9%E6%A1%88");
    let (status, _, b) = send(&h.app, form(&act, Some(&leader), &body)).await;
    assert!(status.is_redirection(), "{status} {b}");
    let detail = h
        .state
        .storage
        .hazard(Some(demo::institution()), major.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(detail.hazard.supervised);
    let last = detail.events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.by_name.as_str()),
        ("listed_for_supervision", "孙伟")
    );
    // Assigning is the office's.
    let owner = demo::user("owner");
    let body =
        format!("csrf={csrf}&action=assign&measure=x&responsible={owner}&deadline=2030-01-01");
    let (status, _, _) = send(&h.app, form(&act, Some(&leader), &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn people_set_their_own_contact_and_the_administrator_anyones_in_the_institution() {
    let h = harness().await;
    let (owner, csrf) = session(&h.state, "owner").await;
    let me = h
        .state
        .storage
        .user_by_login("owner")
        .await
        .unwrap()
        .unwrap();
    // A bad number: refused on the form, in Chinese, with what was typed kept.
    let body = format!("csrf={csrf}&mobile=138-abc&email=li%40school.edu.cn&email_opt_in=1");
    let (status, _, page) = send(&h.app, form("/account/contact", Some(&owner), &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("手机号：只能填写数字"), "{page}");
    assert!(page.contains("value=\"138-abc\"") && page.contains("value=\"li@school.edu.cn\""));
    assert_eq!(
        h.state.storage.contact(me.id).await.unwrap(),
        Default::default()
    );
    let body =
        format!("csrf={csrf}&mobile=%2B86+138+0013+8000&email=li%40school.edu.cn&email_opt_in=1");
    let (status, _, _) = send(&h.app, form("/account/contact", Some(&owner), &body)).await;
    assert!(status.is_redirection());
    let c = h.state.storage.contact(me.id).await.unwrap();
    assert_eq!(c.mobile.as_deref(), Some("13800138000"));
    assert!(c.email_opt_in);
    // The administrator changes the number and keeps the person's own opt-in.
    let (admin, admin_csrf) = session(&h.state, "demo-admin").await;
    let body = format!(
        "csrf={admin_csrf}&user={}&mobile=13900139000&email=li%40school.edu.cn",
        me.id
    );
    let (status, _, b) = send(&h.app, form("/admin/contact", Some(&admin), &body)).await;
    assert!(status.is_redirection(), "{status} {b}");
    let c = h.state.storage.contact(me.id).await.unwrap();
    assert_eq!(
        (c.mobile.as_deref(), c.email_opt_in),
        (Some("13900139000"), true)
    );
    let (_, _, page) = send(&h.app, get("/admin", &admin)).await;
    assert!(page.contains("value=\"13900139000\""));
    // Nobody else's contact is anyone else's to set; no one outside the institution's.
    let body = format!("csrf={csrf}&user={}&mobile=1&email=", me.id);
    let (status, _, _) = send(&h.app, form("/admin/contact", Some(&owner), &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stranger = saferound_core::ids::UserId::new();
    let body = format!("csrf={admin_csrf}&user={stranger}&mobile=13900139000&email=");
    let (status, _, _) = send(&h.app, form("/admin/contact", Some(&admin), &body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Phones never receive contacts: the directory has none.
    let inst = demo::institution();
    saferound_server::directory::refresh(&h.state, inst)
        .await
        .unwrap();
    let id = saferound_core::doc::directory::id_for(inst);
    let stored = h
        .state
        .storage
        .load_documents(inst, vec![id])
        .await
        .unwrap();
    let doc = automerge::AutoCommit::load(&stored[&id].bytes).unwrap();
    let text = format!("{:?}", saferound_core::doc::directory::read(&doc).unwrap());
    assert!(text.contains("李娜"), "the directory read");
    assert!(!text.contains("13900139000") && !text.contains("li@school"));
}
