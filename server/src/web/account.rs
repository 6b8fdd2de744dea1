//! Signing in and out, one's own account (password, devices), the language switch.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;

use super::form::{Anyone, Posted};
use super::{LANG_COOKIE, SESSION_COOKIE, SESSION_HOURS, Web, error_page, i18n, render};
use crate::state::AppState;
use crate::store::User;

/// A cookie of the dashboard's: HttpOnly, SameSite=Strict, and Secure when browsers reach
/// the server over HTTPS.
fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.origin.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sr_session=; Path=/; Max-Age=0"))
}

pub fn session_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, token, max_age)
}

/// The login form's CSRF token lives in a cookie of its own until there is a session
/// (double submit): a page on another site can neither read it nor set it, so it cannot
/// log a browser into an account of its choosing.
const LOGIN_COOKIE: &str = "sr_login";

/// The login page, with a fresh login CSRF token in the form and in its cookie.
fn login_form(
    state: &AppState,
    lang: super::Lang,
    status: StatusCode,
    extra: serde_json::Value,
) -> Response {
    let token = crate::accounts::new_secret();
    let mut ctx = json!({"login_csrf": token, "demo": state.demo});
    if let (Some(c), Some(e)) = (ctx.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let mut r = render(state, None, lang, "login.html", "/login", ctx);
    *r.status_mut() = status;
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, 3600),
    );
    r
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = super::lang_of(&headers);
    login_form(&state, lang, StatusCode::OK, json!({}))
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    State(state): State<AppState>,
    crate::http::ClientAddr(addr): crate::http::ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = super::lang_of(&headers);
    let again = |key: &str, status: StatusCode| {
        login_form(
            &state,
            lang,
            status,
            json!({"error": i18n::text(lang, key), "login_value": f.login.chars().take(100).collect::<String>()}),
        )
    };
    let cookie_token = super::cookie(&headers, LOGIN_COOKIE);
    if f.csrf.is_empty()
        || !cookie_token
            .is_some_and(|c| crate::accounts::same_secret(c.as_bytes(), f.csrf.as_bytes()))
    {
        return again("login_expired", StatusCode::FORBIDDEN);
    }
    if f.login.len() > 100 || f.password.len() > 200 {
        return again("login_failed", StatusCode::BAD_REQUEST);
    }
    // Failures are logged against the account they tried (its institution's log).
    let target = state
        .storage
        .user_by_login(f.login.trim())
        .await
        .ok()
        .flatten();
    let user = match state.storage.user_by_login(f.login.trim()).await {
        Ok(u) => u,
        Err(e) => {
            return error_page(
                &state,
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    // Counted before the password is checked, in the database (`throttle`).
    let checked =
        crate::throttle::check(state.storage.as_ref(), &f.login, addr, &f.password, hash).await;
    let ok = match checked {
        Ok(crate::throttle::Checked::Right) => true,
        Ok(crate::throttle::Checked::Wrong) => false,
        Ok(crate::throttle::Checked::Throttled(t)) => {
            let detail = format!("retry after {} s", t.retry_after_secs);
            state
                .audit(target.as_ref(), f.login.trim(), "login_locked", &detail)
                .await;
            return again("login_locked", StatusCode::TOO_MANY_REQUESTS);
        }
        Ok(crate::throttle::Checked::Busy(busy)) => {
            return error_page(&state, lang, StatusCode::SERVICE_UNAVAILABLE, &busy);
        }
        Err(e) => {
            return error_page(
                &state,
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            crate::metrics::Metrics::add(&state.metrics.auth_failures, 1);
            state
                .audit(user.as_ref(), f.login.trim(), "login_failed", "")
                .await;
            return again("login_failed", StatusCode::UNAUTHORIZED);
        }
    };
    state.audit(Some(&user), &user.login, "login", "").await;
    start_session(&state, lang, &user, "/ledger").await
}

/// A new session for `user` in this browser, and on to `to`.
async fn start_session(state: &AppState, lang: super::Lang, user: &User, to: &str) -> Response {
    let token = crate::accounts::new_secret();
    let csrf = crate::accounts::new_secret();
    let expires =
        saferound_core::ids::Timestamp(chrono::Utc::now() + Duration::hours(SESSION_HOURS))
            .to_string();
    if let Err(e) = state
        .storage
        .create_session(
            crate::accounts::token_hash(&token),
            user.id,
            &csrf,
            &expires,
        )
        .await
    {
        return error_page(
            state,
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        );
    }
    let mut r = Redirect::to(to).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session_cookie(state, &token, SESSION_HOURS * 3600),
    );
    h.append(header::SET_COOKIE, set_cookie(state, LOGIN_COOKIE, "", 0));
    r
}

/// `/account/password`: the signed-in user chooses a new password (first of all when
/// theirs is the administrator's one-time password).
pub async fn password_page(State(state): State<AppState>, web: Web) -> Response {
    password_form(&state, &web, StatusCode::OK, None).await
}

async fn password_form(
    state: &AppState,
    web: &Web,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let contact = state.storage.contact(web.user.id).await.unwrap_or_default();
    account_page(
        state,
        web,
        status,
        json!({"error": error, "contact": contact}),
    )
    .await
}

/// The account page: password, contact, devices; `extra` says what the last form got
/// wrong and what was typed in it.
async fn account_page(
    state: &AppState,
    web: &Web,
    status: StatusCode,
    extra: serde_json::Value,
) -> Response {
    let due = state
        .storage
        .password_due(web.user.id)
        .await
        .unwrap_or(false);
    let devices = own_devices(state, web).await;
    let mut ctx =
        json!({"due": due, "min": crate::accounts::MIN_PASSWORD_CHARS, "devices": devices});
    if let (Some(m), serde_json::Value::Object(e)) = (ctx.as_object_mut(), extra) {
        m.extend(e);
    }
    let mut r = render(
        state,
        Some(web),
        web.lang,
        "account.html",
        "/account/password",
        ctx,
    );
    *r.status_mut() = status;
    r
}

/// `POST /account/contact`: the signed-in user sets their own mobile number, e-mail
/// address and whether they want messages by e-mail. A refused value is shown on the
/// form, with what was typed kept.
pub async fn set_own_contact(
    State(state): State<AppState>,
    Posted { web, form: f, .. }: Posted<Anyone>,
) -> Response {
    let text = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let opt_in = f.contains_key("email_opt_in");
    let refused = |msg: String| {
        let typed =
            json!({"mobile": text("mobile"), "email": text("email"), "email_opt_in": opt_in});
        (msg, typed)
    };
    let outcome = match (
        web.user.institution,
        crate::people::contact(text("mobile"), text("email"), opt_in),
    ) {
        (None, _) => Err(refused("contact: only for people of an institution".into())),
        (_, Err(e)) => Err(refused(e.to_string())),
        (Some(inst), Ok(c)) => match state.storage.set_contact(inst, web.user.id, &c).await {
            Ok(_) => Ok(()),
            Err(e) => return super::internal(&state, &web, e),
        },
    };
    match outcome {
        Ok(()) => {
            super::audit_action(&state, &web, "contact_set", "").await;
            Redirect::to("/account/password").into_response()
        }
        Err((msg, typed)) => {
            let msg = super::i18n::field_error(web.lang, &msg);
            account_page(
                &state,
                &web,
                StatusCode::BAD_REQUEST,
                json!({"contact_error": msg, "contact": typed}),
            )
            .await
        }
    }
}

/// The signed-in user's devices (phones, and the dashboard's own), newest first.
async fn own_devices(state: &AppState, web: &Web) -> Vec<crate::store::DeviceInfo> {
    let Some(inst) = web.user.institution else {
        return Vec::new();
    };
    let mut d: Vec<_> = state
        .storage
        .devices(inst)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.user_id == web.user.id)
        .collect();
    d.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    d
}

/// `POST /account/devices/revoke`: the signed-in user revokes one of their own devices (a
/// lost phone); anyone else's is "not found".
pub async fn revoke_own_device(
    State(state): State<AppState>,
    Posted { web, form: f, .. }: Posted<Anyone>,
) -> Response {
    let id = f.get("device").cloned().unwrap_or_default();
    let mine = own_devices(&state, &web)
        .await
        .iter()
        .any(|d| d.id == id && d.revoked_at.is_none());
    let revoked = mine
        && state
            .storage
            .revoke_device(web.user.institution, &id)
            .await
            .unwrap_or(false);
    if !revoked {
        return error_page(
            &state,
            web.lang,
            StatusCode::NOT_FOUND,
            "no such active device of yours",
        );
    }
    super::audit_action(&state, &web, "device_revoked", &id).await;
    Redirect::to("/account/password").into_response()
}

/// Sets the signed-in user's new password after checking the current one (through the
/// password throttle, like every password check). Every session and device of the user
/// ends with the old password; this browser gets a new session.
pub async fn change_password(
    State(state): State<AppState>,
    crate::http::ClientAddr(addr): crate::http::ClientAddr,
    Posted { web, form: f, .. }: Posted<Anyone>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (current, new, repeat) = (get("current"), get("new"), get("repeat"));
    let lang = web.lang;
    let refuse = |key: &str, status| {
        let state = state.clone();
        let web = &web;
        let msg = i18n::text(lang, key).to_string();
        async move { password_form(&state, web, status, Some(&msg)).await }
    };
    if new != repeat {
        return refuse("passwords_differ", StatusCode::BAD_REQUEST).await;
    }
    let login = web.user.login.clone();
    if let Some(p) = crate::accounts::password_problem(&new, &login) {
        return password_form(&state, &web, StatusCode::BAD_REQUEST, Some(&p)).await;
    }
    if new == current {
        return refuse("password_unchanged", StatusCode::BAD_REQUEST).await;
    }
    let hash = match state.storage.user_by_login(&login).await {
        Ok(Some(u)) => u.password_hash,
        _ => {
            return error_page(
                &state,
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "no such user",
            );
        }
    };
    let ok =
        match crate::throttle::check(state.storage.as_ref(), &login, addr, &current, hash).await {
            Ok(crate::throttle::Checked::Right) => true,
            Ok(crate::throttle::Checked::Wrong) => false,
            Ok(crate::throttle::Checked::Throttled(_)) => {
                return refuse("login_locked", StatusCode::TOO_MANY_REQUESTS).await;
            }
            Ok(crate::throttle::Checked::Busy(busy)) => {
                return error_page(&state, lang, StatusCode::SERVICE_UNAVAILABLE, &busy);
            }
            Err(e) => {
                return error_page(
                    &state,
                    lang,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                );
            }
        };
    if !ok {
        super::audit_action(&state, &web, "password_change_failed", "").await;
        return refuse("wrong_password", StatusCode::FORBIDDEN).await;
    }
    let hash = match crate::accounts::hash_password_async(new).await {
        Ok(h) => h,
        Err(busy) => {
            return error_page(
                &state,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &busy.to_string(),
            );
        }
    };
    if let Err(e) = state.storage.set_password(&login, &hash).await {
        return error_page(
            &state,
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        );
    }
    super::audit_action(&state, &web, "password_changed", "").await;
    start_session(&state, lang, &web.user, "/ledger?msg=password_changed").await
}

pub async fn logout(State(state): State<AppState>, Posted { web, .. }: Posted<Anyone>) -> Response {
    if let Err(e) = state.storage.delete_session(web.token_hash).await {
        return error_page(
            &state,
            web.lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        );
    }
    super::audit_action(&state, &web, "logout", "").await;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    r
}

/// `/lang/en` or `/lang/zh`: remembers the language in a cookie and goes back.
pub async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = if code == "en" { "en" } else { "zh" };
    // Back to the page the switch was on, when it is one of ours: a Referer naming this
    // host, and only its path (never `//host` or `/\host`, which browsers take for
    // another site).
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|r| {
            let i = r.find('/')?;
            (Some(&r[..i]) == host).then(|| r[i..].to_string())
        })
        .filter(|p| {
            p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 2000
        })
        .unwrap_or_else(|| "/ledger".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={lang}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
