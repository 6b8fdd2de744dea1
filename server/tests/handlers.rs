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
