//! The safety office's web dashboard: server-rendered HTML (minijinja templates embedded
//! in the binary), session cookies, CSRF tokens on every form, zh-CN with an English
//! switch. Lists and figures read the ledger tables (a hazard's photos and a weekly
//! report's contents come from their documents; the office's own plans from their
//! tables); every action goes through the hazard documents (`actions`), so phones and
//! dashboard never disagree.

mod account;
pub mod action_error;
pub mod actions;
mod admin;
pub mod campaigns;
mod charts;
pub mod checklists;
pub mod demo;
pub mod duty;
pub mod form;
pub mod home;
pub mod i18n;
pub mod pages;
pub mod province;
pub mod reports;
pub mod state;
mod tables;
pub mod upload;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use saferound_core::ids::InstitutionId;
use saferound_core::model::{Lang, Role};
use serde::Serialize;

use crate::state::AppState;
use crate::store::User;

/// Form bodies of the dashboard are small; anything larger is refused (413).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// A session lasts a working day.
pub const SESSION_HOURS: i64 = 12;
pub const SESSION_COOKIE: &str = "sr_session";
pub const LANG_COOKIE: &str = "sr_lang";

/// What a user may read: their institution; provincial reviewers (and a server operator
/// with no institution) every institution.
pub(crate) fn scope_of(user: &User) -> Option<InstitutionId> {
    user.institution
}

impl Web {
    /// Whether the session is still valid (not logged out, expired, or ended by a
    /// password reset or a deactivation).
    pub async fn still_valid(&self, state: &AppState) -> bool {
        let now = saferound_core::ids::Timestamp(chrono::Utc::now()).to_string();
        matches!(
            state.storage.session(self.token_hash, &now).await,
            Ok(Some(_))
        )
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/metrics", get(admin::metrics))
        .route(
            "/login",
            get(account::login_page)
                .post(account::login)
                .layer(DefaultBodyLimit::max(crate::http::SMALL_BODY)),
        )
        .route("/logout", post(account::logout))
        .route("/account/devices/revoke", post(account::revoke_own_device))
        .route("/account/contact", post(account::set_own_contact))
        .route(
            "/account/password",
            get(account::password_page)
                .post(account::change_password)
                .layer(DefaultBodyLimit::max(crate::http::SMALL_BODY)),
        )
        .route("/lang/{code}", get(account::set_lang))
        .route("/static/style.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .route("/ledger", get(pages::ledger))
        .route(
            "/hazards/new",
            post(pages::new_hazard).layer(DefaultBodyLimit::max(upload::MAX_UPLOAD_BYTES)),
        )
        .route("/hazards/{id}", get(pages::hazard))
        .route(
            "/hazards/{id}/act",
            post(pages::act).layer(DefaultBodyLimit::max(upload::MAX_UPLOAD_BYTES)),
        )
        .route("/hazards/{id}/notice", get(pages::notice))
        .route("/hazards/{id}/letter", get(pages::letter))
        .route("/photos/{hash}", get(pages::photo))
        .route("/overdue", get(pages::overdue))
        .route("/export/ledger.csv", get(pages::export_csv))
        .route("/export/ledger.xlsx", get(pages::export_xlsx))
        .route("/weekly", get(reports::weekly))
        .route("/export/weekly.csv", get(reports::weekly_csv))
        .route("/export/weekly.xlsx", get(reports::weekly_xlsx))
        .route(
            "/weekly/{week}/institution",
            get(province::page).post(province::file),
        )
        .route("/export/weekly/{week}/{file}", get(province::export))
        .route("/province/weekly", get(province::grid))
        .route("/export/province/weekly.csv", get(province::grid_csv))
        .route("/incidents", get(reports::incidents))
        .route("/incidents/stream", get(reports::incident_stream))
        .route("/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/campaigns/{id}", get(campaigns::progress))
        .route("/campaigns/{id}/summary", get(campaigns::summary))
        .route("/campaigns/{id}/deadlines", post(campaigns::deadlines))
        .route("/export/campaigns/{id}/{file}", get(campaigns::export))
        .route("/duty", get(duty::page))
        .route("/duty/{what}", post(duty::post))
        .route(
            "/checklists",
            get(checklists::page).post(checklists::publish),
        )
        .route("/admin", get(admin::page))
        .route("/admin/{what}", post(admin::post))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// The signed-in user of a dashboard request.
pub struct Web {
    pub user: User,
    pub csrf: String,
    pub lang: Lang,
    token_hash: [u8; 32],
}

impl Web {
    pub fn is(&self, r: Role) -> bool {
        self.user.roles.contains(&r)
    }

    /// Safety office, school leader, administrator or provincial reviewer: the pages and
    /// exports that read the whole institution (reports, campaigns, checklists, exports).
    pub fn reads_all(&self) -> bool {
        self.is(Role::SafetyOffice)
            || self.is(Role::Leader)
            || self.is(Role::Administrator)
            || self.is(Role::ProvincialReviewer)
    }

    pub fn scope(&self) -> Option<InstitutionId> {
        scope_of(&self.user)
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

impl FromRequestParts<AppState> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            // Pages send people to the login; scripts (fetch, EventSource) get a 401.
            if parts.uri.path().starts_with("/export/") || parts.uri.path().ends_with("/stream") {
                StatusCode::UNAUTHORIZED.into_response()
            } else {
                Redirect::to("/login").into_response()
            }
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| t.len() == 64) else {
            return Err(to_login());
        };
        let hash = crate::accounts::token_hash(token);
        // Sessions expire by the real clock, whatever `--now` says.
        let now = saferound_core::ids::Timestamp(chrono::Utc::now()).to_string();
        match state.storage.session(hash, &now).await {
            Ok(Some(s)) => {
                // A one-time password is changed before anything else is done with it.
                let path = parts.uri.path();
                let exempt =
                    matches!(path, "/account/password" | "/logout") || path.starts_with("/static/");
                if !exempt && state.storage.password_due(s.user.id).await.unwrap_or(false) {
                    return Err(Redirect::to("/account/password").into_response());
                }
                Ok(Web {
                    user: s.user,
                    csrf: s.csrf,
                    lang: lang_of(&parts.headers),
                    token_hash: hash,
                })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(error_page(
                state,
                Lang::Zh,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )),
        }
    }
}

#[derive(Serialize)]
struct Base<'a> {
    lang: &'static str,
    t: std::collections::BTreeMap<&'static str, &'static str>,
    me: Option<Me<'a>>,
    csrf: &'a str,
    path: &'a str,
}

#[derive(Serialize)]
struct Me<'a> {
    name: &'a str,
    login: &'a str,
    roles: Vec<&'static str>,
    admin: bool,
    reads_all: bool,
    reviewer: bool,
}

/// Renders `template` with the page's own context merged over the common one.
pub(crate) fn render(
    state: &AppState,
    web: Option<&Web>,
    lang: Lang,
    template: &str,
    path: &str,
    ctx: serde_json::Value,
) -> Response {
    let base = Base {
        lang: if lang == Lang::En { "en" } else { "zh" },
        t: i18n::dict(lang),
        me: web.map(|w| Me {
            name: &w.user.name,
            login: &w.user.login,
            roles: w.user.roles.iter().map(|r| r.code()).collect(),
            admin: w.is(Role::Administrator),
            reads_all: w.reads_all(),
            reviewer: w.is(Role::ProvincialReviewer),
        }),
        csrf: web.map(|w| w.csrf.as_str()).unwrap_or(""),
        path,
    };
    let mut v = serde_json::to_value(&base).unwrap_or_default();
    if let (Some(m), serde_json::Value::Object(extra)) = (v.as_object_mut(), ctx) {
        m.extend(extra);
    }
    let html = state
        .web
        .env
        .get_template(template)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&v))));
    match html {
        Ok(h) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            h,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("template {template}: {e:#}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The error page for a failure of the server's own (storage, a task), as a 500.
pub(crate) fn internal(state: &AppState, web: &Web, e: impl std::fmt::Display) -> Response {
    error_page(
        state,
        web.lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        &e.to_string(),
    )
}

pub(crate) fn error_page(state: &AppState, lang: Lang, status: StatusCode, msg: &str) -> Response {
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("{msg}");
    }
    let shown = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "internal error"
    } else {
        msg
    };
    let mut r = render(
        state,
        None,
        lang,
        "error.html",
        "",
        serde_json::json!({"status": status.as_u16(), "message": shown}),
    );
    *r.status_mut() = status;
    r
}

pub(crate) fn forbidden(state: &AppState, web: &Web) -> Response {
    error_page(
        state,
        web.lang,
        StatusCode::FORBIDDEN,
        i18n::text(web.lang, "forbidden_page"),
    )
}

/// Records an action of the signed-in user.
pub(crate) async fn audit_action(state: &AppState, web: &Web, action: &str, detail: &str) {
    state
        .audit(Some(&web.user), &web.user.login, action, detail)
        .await;
}

/// The end of a form that changes something: on success the action is audited (with
/// the detail the form returned) and the browser goes to `to`; a failure shows its page.
pub(crate) async fn finish_action(
    state: &AppState,
    web: &Web,
    result: Result<String, (StatusCode, String)>,
    action: &str,
    to: &str,
) -> Response {
    match result {
        Ok(detail) => {
            audit_action(state, web, action, &detail).await;
            Redirect::to(to).into_response()
        }
        Err((status, msg)) => {
            error_page(state, web.lang, status, &i18n::field_error(web.lang, &msg))
        }
    }
}
