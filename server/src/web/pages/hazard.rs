//! One hazard: its page with the actions its reader may take, the forms that take them,
//! its printable notice and letter, and its photos.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use saferound_core::ids::{DocId, InstitutionId, UserId};
use saferound_core::model::{Action, EventKind, HazardStatus, Lang, RiskGrade, lifecycle};
use serde_json::json;

use crate::export;
use crate::state::AppState;
use crate::web::action_error::ActionError;
use crate::web::actions::{self, HazardAction};
use crate::web::upload::FormInput;
use crate::web::{Web, error_page, render};

use super::*;

/// The actions `web` may take on this hazard now, by the same rules the documents check.
fn available(web: &Web, h: &crate::store::HazardDetail) -> Vec<&'static str> {
    let user = |s: &Option<String>| s.as_deref().and_then(|s| s.parse().ok());
    let named = saferound_core::policy::named_from(
        h.hazard.reported_by.parse().ok(),
        user(&h.hazard.responsible),
        user(&h.hazard.reinspector),
        h.events.iter().any(|e| e.kind == "assigned"),
        web.user.id,
    );
    let status = h
        .hazard
        .status
        .as_deref()
        .and_then(|s| s.parse::<HazardStatus>().ok());
    let options: [(&str, Action, EventKind); 8] = [
        ("assign", Action::Assign, EventKind::Assigned),
        (
            "rectify",
            Action::ReportRectification,
            EventKind::RectificationReported,
        ),
        ("verify_pass", Action::Verify, EventKind::Verified),
        ("verify_fail", Action::Verify, EventKind::VerificationFailed),
        ("defer", Action::Defer, EventKind::Deferred),
        ("reopen", Action::Reopen, EventKind::Reopened),
        (
            "supervise",
            Action::ListForSupervision,
            EventKind::ListedForSupervision,
        ),
        ("regrade", Action::Regrade, EventKind::Regraded),
    ];
    options
        .iter()
        .filter(|(name, a, k)| {
            a.allowed(&web.user.roles, named)
                && lifecycle::transition(status, *k).is_some()
                && (*name != "supervise" || h.hazard.risk == "major")
        })
        .map(|(n, _, _)| *n)
        .collect()
}

async fn detail(
    state: &AppState,
    web: &Web,
    id: &str,
) -> Result<(crate::store::HazardDetail, InstitutionId), Response> {
    let not_found = || error_page(state, web.lang, StatusCode::NOT_FOUND, "not found");
    let id: DocId = id.parse().map_err(|_| not_found())?;
    let h = state
        .storage
        .hazard(web.scope(), id)
        .await
        .map_err(|e| {
            error_page(
                state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
        })?
        .ok_or_else(not_found)?;
    let inst = h.institution.parse().map_err(|_| not_found())?;
    Ok((h, inst))
}

/// The hazard's photos as its page shows them: the report's (before) and each later
/// event's (after), from the ledger.
async fn photos(
    state: &AppState,
    inst: InstitutionId,
    id: DocId,
) -> (Vec<String>, Vec<serde_json::Value>) {
    match state.storage.hazard_photos(inst, id).await {
        Ok(p) => (p.reported, p.events.iter().map(|e| json!(e)).collect()),
        Err(e) => {
            tracing::warn!(%id, "photos of a hazard: {e}");
            Default::default()
        }
    }
}

pub async fn hazard(
    State(state): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (h, inst) = match detail(&state, &web, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tz = state.tz(Some(inst)).await;
    let today = state.today_in(tz);
    let (before, after) = match h.hazard.id.parse() {
        Ok(id) => photos(&state, inst, id).await,
        Err(_) => Default::default(),
    };
    let people: Vec<serde_json::Value> = state
        .storage
        .users(inst)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|u| u.active)
        .map(|u| json!({"id": u.id.to_string(), "name": u.name, "roles": u.roles.iter().map(|r| r.code()).collect::<Vec<_>>()}))
        .collect();
    let conflicts: Vec<serde_json::Value> = h
        .conflicts
        .iter()
        .map(|c| json!({"field": c.field, "resolution": c.resolution, "values": serde_json::from_str::<serde_json::Value>(&c.competing).unwrap_or_default()}))
        .collect();
    let events: Vec<serde_json::Value> = h
        .events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["at_local"] = json!(export::local_time(&e.at, tz));
            v
        })
        .collect();
    // Times the reporting phone claimed ahead of the server's receipt (kept, flagged).
    let clock_ahead: Vec<serde_json::Value> = state
        .storage
        .audit_log(
            Some(inst),
            &crate::store::AuditFilter {
                action: Some("clock_ahead".into()),
                detail_prefix: Some(format!("{}:", h.hazard.id)),
            },
            20,
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let detail = e
                .detail
                .split_once(": ")
                .map_or(e.detail.as_str(), |(_, d)| d);
            let at = chrono::DateTime::parse_from_rfc3339(&e.at)
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|_| e.at.clone());
            json!({"at": at, "login": e.login, "detail": detail})
        })
        .collect();
    let available = available(&web, &h);
    render(
        &state,
        Some(&web),
        web.lang,
        "hazard.html",
        "/ledger",
        json!({
            "h": view(&h.hazard, today, tz),
            "institution": h.institution,
            "reviewer_scope": web.scope().is_none(),
            "events": events,
            "conflicts": conflicts,
            "clock_ahead": clock_ahead,
            "before": before,
            "after": after,
            "people": people,
            "available": available,
            "risks": RiskGrade::ALL.iter().rev().map(|c| c.code()).collect::<Vec<_>>(),
            "today": today.to_string(),
            "default_deadline": (today + Duration::days(14)).to_string(),
            "msg": q.get("msg").map(|m| m.chars().take(200).collect::<String>()),
        }),
    )
}

fn form_text(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

fn form_user(f: &HashMap<String, String>, k: &str) -> Result<Option<UserId>, ActionError> {
    match f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ActionError::Invalid(format!("{k}: not a person"))),
    }
}

/// Parses a dashboard action form.
pub fn parse_action(f: &HashMap<String, String>) -> Result<HazardAction, ActionError> {
    let note = form_text(f, "note");
    let required = |k: &str| -> Result<UserId, ActionError> {
        form_user(f, k)?.ok_or_else(|| ActionError::Invalid(format!("{k}: is required")))
    };
    Ok(match f.get("action").map(String::as_str).unwrap_or("") {
        "assign" => HazardAction::Assign {
            measure: form_text(f, "measure"),
            responsible: required("responsible")?,
            funds: form_text(f, "funds"),
            deadline: form_text(f, "deadline")
                .parse()
                .map_err(|_| ActionError::Invalid("deadline: not a date (YYYY-MM-DD)".into()))?,
            contingency: form_text(f, "contingency"),
            reinspector: form_user(f, "reinspector")?,
            note,
        },
        "rectify" => HazardAction::Rectify { note },
        "verify_pass" => HazardAction::Verify { passed: true, note },
        "verify_fail" => HazardAction::Verify {
            passed: false,
            note,
        },
        "defer" => HazardAction::Defer {
            interim_controls: form_text(f, "interim_controls"),
            designated: required("designated_person")?,
            note,
        },
        "reopen" => HazardAction::Reopen { note },
        "supervise" => HazardAction::Supervise {
            treatment_plan: form_text(f, "treatment_plan"),
        },
        "regrade" => HazardAction::Regrade {
            risk: form_text(f, "risk")
                .parse()
                .map_err(|_| ActionError::Invalid("risk: not a risk grade".into()))?,
            note,
        },
        other => {
            return Err(ActionError::Invalid(format!(
                "unknown action '{}'",
                other.chars().take(30).collect::<String>()
            )));
        }
    })
}

pub(crate) fn action_error(state: &AppState, lang: Lang, e: ActionError) -> Response {
    let status = match &e {
        ActionError::Forbidden(_) => StatusCode::FORBIDDEN,
        ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
        ActionError::State(_) => StatusCode::CONFLICT,
        ActionError::NotFound => StatusCode::NOT_FOUND,
        ActionError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_page(state, lang, status, &e.to_string())
}

/// `POST /hazards/{id}/act`: one action, through the hazard document.
pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    input: FormInput,
) -> Response {
    let FormInput {
        web,
        fields,
        photos,
    } = input;
    let f = &fields;
    let Ok(doc_id) = id.parse::<DocId>() else {
        return error_page(&state, web.lang, StatusCode::NOT_FOUND, "not found");
    };
    let action = match parse_action(f) {
        Ok(a) => a,
        Err(e) => return action_error(&state, web.lang, e),
    };
    let what = f.get("action").cloned().unwrap_or_default();
    match actions::apply(&state, &web.user, doc_id, action, photos).await {
        Ok(()) => {
            tracing::info!(user = %web.user.id, hazard = %doc_id, action = %what, "dashboard action");
            Redirect::to(&format!("/hazards/{doc_id}?msg=ok")).into_response()
        }
        Err(e) => action_error(&state, web.lang, e),
    }
}

/// `POST /hazards/new`: the office reports a hazard 上报 from the dashboard.
pub async fn new_hazard(State(state): State<AppState>, input: FormInput) -> Response {
    let FormInput {
        web,
        fields,
        photos,
    } = input;
    let f = &fields;
    let parsed = (|| -> Result<actions::NewReport, ActionError> {
        Ok(actions::NewReport {
            site: form_text(f, "site")
                .parse()
                .map_err(|_| ActionError::Invalid("site: choose a site".into()))?,
            category: form_text(f, "category")
                .parse()
                .map_err(|_| ActionError::Invalid("category: choose a category".into()))?,
            risk: form_text(f, "risk")
                .parse()
                .map_err(|_| ActionError::Invalid("risk: choose a grade".into()))?,
            location: form_text(f, "location"),
            description: form_text(f, "description"),
            photos: Vec::new(),
        })
    })();
    let r = match parsed {
        Ok(r) => r,
        Err(e) => return action_error(&state, web.lang, e),
    };
    match actions::report(&state, &web.user, r, photos).await {
        Ok(id) => Redirect::to(&format!("/hazards/{id}?msg=ok")).into_response(),
        Err(e) => action_error(&state, web.lang, e),
    }
}

async fn printable(state: AppState, web: Web, id: String, template: &str) -> Response {
    let (h, inst) = match detail(&state, &web, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = state
        .storage
        .institutions()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|(i, _)| *i == inst)
        .map(|(_, n)| n)
        .unwrap_or_default();
    let tz = state.tz(Some(inst)).await;
    let today = state.today_in(tz);
    // The campaign the hazard belongs to (tagged with it, or untagged and reported in its
    // dates), whose plan the supervision letter cites; none, and it cites none.
    let campaign = state
        .storage
        .campaigns(inst)
        .await
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|c| {
            let scope = crate::web::campaigns::scope(c, tz);
            match &h.hazard.campaign {
                Some(tag) => *tag == scope.id,
                None => h.hazard.reported_at >= scope.from && h.hazard.reported_at < scope.before,
            }
        })
        .map(|c| c.name);
    render(
        &state,
        Some(&web),
        web.lang,
        template,
        "",
        json!({"h": view(&h.hazard, today, tz), "institution_name": name, "today": today.to_string(), "events": h.events, "campaign": campaign}),
    )
}

/// 整改通知单: the rectification notice for the responsible person.
pub async fn notice(State(state): State<AppState>, web: Web, Path(id): Path<String>) -> Response {
    printable(state, web, id, "notice.html").await
}

/// 督办函: the supervision letter for an overdue (major) hazard.
pub async fn letter(State(state): State<AppState>, web: Web, Path(id): Path<String>) -> Response {
    printable(state, web, id, "letter.html").await
}

/// A photo, to a signed-in user of the institution that holds it.
pub async fn photo(
    State(state): State<AppState>,
    web: Web,
    Path(hash): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    if hash.len() != 64
        || !hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return not_found();
    }
    let inst = match web.scope() {
        Some(i) => i,
        None => match q.get("institution").and_then(|i| i.parse().ok()) {
            Some(i) => i,
            None => return not_found(),
        },
    };
    let Ok(Some((_, content_type))) = state.storage.blob(inst, &hash).await else {
        return not_found();
    };
    match tokio::fs::read(state.blobs.join(&hash[..2]).join(&hash)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "private, max-age=86400".to_string()),
                // The type was judged from the first bytes only: browsers must not
                // sniff another, and a photo is never a page that runs anything.
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "sandbox; default-src 'none'; frame-ancestors 'none'".to_string(),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}
