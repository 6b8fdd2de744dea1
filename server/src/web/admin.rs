//! Administration: users and roles, departments, sites, devices (revoke), the audit log.
//! Administrators of an institution only; every change is audit-logged and reaches the
//! phones through the directory document.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use saferound_core::ids::{DepartmentId, SiteId, UserId};
use saferound_core::model::{Role, SiteKind};
use serde_json::json;

use super::form::{Acting as _, Admin, Posted};
use super::{Web, error_page, render};
use crate::state::AppState;
use crate::store::{Department, Site};

pub async fn page(State(state): State<AppState>, web: Web) -> Response {
    let Some(inst) = Admin::acts_for(&web) else {
        return super::forbidden(&state, &web);
    };
    let s = state.storage.as_ref();
    let (offset, tz_name) = s.institution_tz(inst).await.ok().flatten().unwrap_or((
        saferound_core::clock::DEFAULT_UTC_OFFSET_MINUTES,
        saferound_core::clock::DEFAULT_TIME_ZONE.into(),
    ));
    let (users, depts, sites, devices, audit, contacts) = match (
        s.users(inst).await,
        s.departments(inst).await,
        s.sites(inst).await,
        s.devices(inst).await,
        s.audit_log(Some(inst), &Default::default(), 200).await,
        s.contacts(inst).await,
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e), Ok(f)) => (a, b, c, d, e, f),
        _ => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the institution",
            );
        }
    };
    // Times as the institution reads them, not UTC.
    let tz = crate::time_zone::offset(offset).unwrap_or_else(saferound_core::clock::default_tz);
    let local = |t: &str| crate::export::local_time(t, tz);
    let name_of = |id: &UserId| {
        users
            .iter()
            .find(|u| u.id == *id)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    };
    let dept_name = |id: &DepartmentId| {
        depts
            .iter()
            .find(|d| d.id == *id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    render(
        &state,
        Some(&web),
        web.lang,
        "admin.html",
        "/admin",
        json!({
            "users": users.iter().map(|u| json!({
                "id": u.id.to_string(), "login": u.login, "name": u.name, "active": u.active,
                "contact": contacts.get(&u.id).cloned().unwrap_or_default(),
                "roles": u.roles.iter().map(|r| r.code()).collect::<Vec<_>>(),
                "department": u.department.as_ref().map(dept_name),
                "department_id": u.department.map(|d| d.to_string()),
            })).collect::<Vec<_>>(),
            "departments": depts.iter().map(|d| json!({"id": d.id.to_string(), "name": d.name})).collect::<Vec<_>>(),
            "sites": sites.iter().map(|x| json!({"id": x.id.to_string(), "name": x.name, "kind": x.kind.code(), "building": x.building, "floor_room": x.floor_room, "department": dept_name(&x.department)})).collect::<Vec<_>>(),
            "devices": devices.iter().map(|d| json!({"id": d.id, "user": name_of(&d.user_id), "name": d.name, "created_at": local(&d.created_at), "revoked_at": d.revoked_at.as_deref().map(local), "last_sync_at": d.last_sync_at.as_deref().map(local)})).collect::<Vec<_>>(),
            "audit": audit.iter().map(|a| json!({"at": local(&a.at), "login": a.login, "action": super::i18n::audit_action(web.lang, &a.action), "code": a.action, "detail": a.detail})).collect::<Vec<_>>(),
            "utc_offset": crate::time_zone::offset(offset).map(|o| o.to_string()).unwrap_or_default(),
            "time_zone": tz_name,
            "role_codes": Role::ALL.iter().filter(|r| **r != Role::ProvincialReviewer).map(|r| r.code()).collect::<Vec<_>>(),
            "site_kinds": SiteKind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        }),
    )
}

fn field(f: &HashMap<String, String>, k: &str, max: usize) -> Result<String, String> {
    crate::people::required(k, f.get(k).map(String::as_str).unwrap_or(""), max)
        .map_err(|e| e.to_string())
}

/// The roles ticked on a user form (`role_<code>` fields): at least one, and never the
/// provincial reviewer's, which only the server's operator gives.
fn ticked_roles(f: &HashMap<String, String>) -> Vec<Role> {
    Role::ALL
        .iter()
        .filter(|r| f.contains_key(&format!("role_{}", r.code())))
        .copied()
        .collect()
}

fn roles_of(f: &HashMap<String, String>) -> Result<Vec<Role>, String> {
    crate::people::roles(&ticked_roles(f)).map_err(|e| e.to_string())
}

/// The department chosen on a form, if any: one of the institution's.
async fn department_of(
    s: &crate::store::Store,
    inst: saferound_core::ids::InstitutionId,
    f: &HashMap<String, String>,
) -> Result<Option<DepartmentId>, (StatusCode, String)> {
    let Some(d) = f
        .get("department")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
    else {
        return Ok(None);
    };
    let id: DepartmentId = d
        .parse()
        .map_err(|_| (StatusCode::BAD_REQUEST, "department: not an id".to_string()))?;
    let known = s
        .departments(inst)
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .iter()
        .any(|x| x.id == id);
    if !known {
        return Err((
            StatusCode::BAD_REQUEST,
            "department: not in this institution".into(),
        ));
    }
    Ok(Some(id))
}

/// `POST /admin/{department|site|user|roles|timezone|revoke|deactivate|activate}`: an
/// administrator's change to their institution, audited.
pub async fn post(
    State(state): State<AppState>,
    Path(what): Path<String>,
    Posted {
        web,
        form: f,
        acting_for: inst,
        ..
    }: Posted<Admin>,
) -> Response {
    let s = state.storage.as_ref();
    let result: Result<String, (StatusCode, String)> = async {
        let bad = |e: String| (StatusCode::BAD_REQUEST, e);
        let internal = |e: crate::store::StoreError| match e {
            crate::store::StoreError::Conflict(m) => (StatusCode::CONFLICT, m),
            other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        };
        match what.as_str() {
            "department" => {
                let name = field(&f, "name", 100).map_err(bad)?;
                let d = Department {
                    id: DepartmentId::new(),
                    institution: inst,
                    name,
                };
                s.create_department(&d).await.map_err(internal)?;
                crate::directory::refresh(&state, inst)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                Ok(format!("department {} {}", d.id, d.name))
            }
            "site" => {
                let department = department_of(s, inst, &f)
                    .await?
                    .ok_or_else(|| bad("department: required".into()))?;
                let site = Site {
                    id: SiteId::new(),
                    institution: inst,
                    department,
                    name: field(&f, "name", 100).map_err(bad)?,
                    kind: field(&f, "kind", 40)
                        .map_err(bad)?
                        .parse::<SiteKind>()
                        .map_err(|e| bad(e.to_string()))?,
                    building: f
                        .get("building")
                        .map(|b| b.trim().chars().take(100).collect())
                        .unwrap_or_default(),
                    floor_room: f
                        .get("floor_room")
                        .map(|b| b.trim().chars().take(100).collect())
                        .unwrap_or_default(),
                };
                s.create_site(&site).await.map_err(internal)?;
                crate::directory::refresh(&state, inst)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                Ok(format!("site {} {}", site.id, site.name))
            }
            "user" => {
                let ticked = ticked_roles(&f);
                let text = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
                let department = department_of(s, inst, &f).await?;
                let new = crate::people::NewUser {
                    login: text("login"),
                    name: text("name"),
                    password: text("password"),
                    roles: &ticked,
                    department,
                };
                let u = crate::people::user(s, inst, new)
                    .await
                    .map_err(|e| match e {
                        crate::people::Refused::Invalid(m) => bad(m),
                        crate::people::Refused::Busy(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
                        crate::people::Refused::Store(e) => internal(e),
                    })?;
                s.create_user(&u).await.map_err(internal)?;
                crate::directory::refresh(&state, inst)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                Ok(format!("user {} {} {:?}", u.id, u.login, u.roles))
            }
            "roles" => {
                let id: UserId = field(&f, "user", 64)
                    .map_err(bad)?
                    .parse()
                    .map_err(|_| bad("user: not an id".into()))?;
                let roles = roles_of(&f).map_err(bad)?;
                if id == web.user.id && !roles.contains(&Role::Administrator) {
                    return Err(bad(
                        "you cannot take the administrator role from yourself".into()
                    ));
                }
                let department = department_of(s, inst, &f).await?;
                if !s
                    .set_user_roles(inst, id, &roles, department)
                    .await
                    .map_err(internal)?
                {
                    return Err((StatusCode::NOT_FOUND, "no such user".into()));
                }
                crate::directory::refresh(&state, inst)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                Ok(format!("user {id} {roles:?}"))
            }
            "contact" => {
                let id: UserId = field(&f, "user", 64)
                    .map_err(bad)?
                    .parse()
                    .map_err(|_| bad("user: not an id".into()))?;
                let text = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
                // The administrator sets the numbers; the opt-in stays the person's own.
                let kept = s.contact(id).await.map_err(internal)?.email_opt_in;
                let c = crate::people::contact(text("mobile"), text("email"), false)
                    .map_err(|e| bad(e.to_string()))?;
                let c = crate::store::Contact {
                    email_opt_in: kept && c.email.is_some(),
                    ..c
                };
                if !s.set_contact(inst, id, &c).await.map_err(internal)? {
                    return Err((StatusCode::NOT_FOUND, "no such user".into()));
                }
                Ok(format!("user {id} contact"))
            }
            "timezone" => {
                let offset = field(&f, "utc_offset", 10).map_err(bad)?;
                let minutes = crate::time_zone::parse_offset(&offset)
                    .ok_or_else(|| bad("utc_offset: like +08:00, within ±14:00".into()))?;
                let name = f
                    .get("time_zone")
                    .map(|n| n.trim().chars().take(60).collect::<String>())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| format!("UTC{offset}"));
                crate::directory::set_time_zone(&state, inst, minutes, &name)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                Ok(format!("time zone {offset} {name}"))
            }
            "revoke" => {
                let id = field(&f, "device", 64).map_err(bad)?;
                if s.revoke_device(Some(inst), &id).await.map_err(internal)? {
                    Ok(format!("device {id}"))
                } else {
                    Err((StatusCode::NOT_FOUND, "no such active device".into()))
                }
            }
            "deactivate" | "activate" => {
                let id: UserId = field(&f, "user", 64)
                    .map_err(bad)?
                    .parse()
                    .map_err(|_| bad("user: not an id".into()))?;
                if id == web.user.id {
                    return Err(bad("you cannot deactivate yourself".into()));
                }
                if s.set_user_active(inst, id, what == "activate")
                    .await
                    .map_err(internal)?
                {
                    // Only active people are in the directory: nobody assigns work to
                    // someone who left, on a phone or here.
                    crate::directory::refresh(&state, inst)
                        .await
                        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                    Ok(format!("user {id}"))
                } else {
                    Err((StatusCode::NOT_FOUND, "no such user".into()))
                }
            }
            _ => Err((StatusCode::NOT_FOUND, "not found".into())),
        }
    }
    .await;
    super::finish_action(&state, &web, result, &format!("admin_{what}"), "/admin").await
}

/// `/metrics` in Prometheus text format. Read by a scraper with the bearer token of
/// `--metrics-token`, or by an administrator signed in to the dashboard; anyone else gets
/// a 401. The counters name no institution, but failed logins and sync volumes are still
/// nobody else's business.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Result<Web, Response>,
) -> Response {
    let scraper = match (&state.metrics_token, crate::http::bearer_token(&headers)) {
        (Some(expected), Some(sent)) => {
            crate::accounts::same_secret(expected, &crate::accounts::token_hash(sent))
        }
        _ => false,
    };
    let admin = session.is_ok_and(|w| w.is(Role::Administrator));
    if !(scraper || admin) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the bearer token of --metrics-token, or an administrator's session\n",
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
