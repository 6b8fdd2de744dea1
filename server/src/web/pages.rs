//! The ledger, one hazard with its actions, printable documents, the overdue board,
//! photos and the ledger exports.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, FixedOffset, NaiveDate};
use saferound_core::ids::{DocId, InstitutionId, SiteId, UserId};
use saferound_core::model::role::Named;
use saferound_core::model::{
    Action, EventKind, HazardCategory, HazardStatus, Lang, RiskGrade, lifecycle,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::action_error::ActionError;
use super::actions::{self, HazardAction};
use super::upload::FormInput;
use super::{Web, error_page, render};
use crate::export;
use crate::ledger::HazardRow;
use crate::state::AppState;
use crate::store::HazardQuery;
use saferound_core::model::deadline::{self, DUE_SOON_DAYS, ESCALATE_AFTER_DAYS};

pub const PAGE_SIZE: u32 = 50;
/// Rows in one export, at most.
pub const MAX_EXPORT_ROWS: usize = 200_000;

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("style.css"),
    )
}

/// The dashboard's few lines of script (the Content-Security-Policy allows no inline
/// script): print buttons, the incident feed.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.js"),
    )
}

/// The ledger's filters, from the query string; shared by the page and the exports.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Filter {
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub risk: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub page: Option<u32>,
    /// Provincial reviewers: one institution.
    #[serde(default)]
    pub institution: String,
    /// A campaign's hazards: tagged with it, or untagged and reported in its dates.
    #[serde(default)]
    pub campaign: String,
}

impl Filter {
    /// The ledger query this filter means; a malformed value is an error naming it.
    pub fn query(
        &self,
        web: &Web,
        today: NaiveDate,
        tz: FixedOffset,
    ) -> Result<HazardQuery, String> {
        self.query_in(web.scope(), today, tz)
    }

    /// The same for a reader confined to `scope` (`None`: a provincial reviewer, who may
    /// name one institution).
    pub fn query_in(
        &self,
        scope: Option<InstitutionId>,
        today: NaiveDate,
        tz: FixedOffset,
    ) -> Result<HazardQuery, String> {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let date = |s: &str, f: &str| -> Result<Option<NaiveDate>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<NaiveDate>()
                .map(Some)
                .map_err(|_| format!("{f}: not a date (YYYY-MM-DD)"))
        };
        if let Some(s) = some(&self.site) {
            s.parse::<SiteId>()
                .map_err(|_| "site: not a site id".to_string())?;
        }
        if let Some(s) = some(&self.department) {
            s.parse::<uuid::Uuid>()
                .map_err(|_| "department: not a department id".to_string())?;
        }
        if let Some(s) = some(&self.category) {
            s.parse::<HazardCategory>().map_err(|e| e.to_string())?;
        }
        if let Some(s) = some(&self.risk) {
            s.parse::<RiskGrade>().map_err(|e| e.to_string())?;
        }
        if let Some(s) = some(&self.status) {
            s.parse::<HazardStatus>().map_err(|e| e.to_string())?;
        }
        let mut institution = scope;
        if institution.is_none() && !self.institution.is_empty() {
            institution = Some(
                self.institution
                    .parse::<InstitutionId>()
                    .map_err(|_| "institution: not an id".to_string())?,
            );
        }
        // Stored instants are UTC; a local date starts at its local midnight.
        let midnight = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(tz).single())
                .map(|t| saferound_core::ids::Timestamp(t.to_utc()).to_string())
        };
        Ok(HazardQuery {
            institution,
            site: some(&self.site),
            category: some(&self.category),
            risk: some(&self.risk),
            status: some(&self.status),
            department: some(&self.department),
            overdue_before: (self.overdue == "1").then(|| today.to_string()),
            reported_from: date(&self.from, "from")?.and_then(midnight),
            reported_before: date(&self.to, "to")?
                .and_then(|d| d.succ_opt())
                .and_then(midnight),
            limit: PAGE_SIZE,
            offset: self.page.unwrap_or(0).min(100_000) * PAGE_SIZE,
            ..Default::default()
        })
    }

    /// The filter as a query string (values are validated ids, codes and dates).
    pub fn qs(&self) -> String {
        [
            ("site", &self.site),
            ("department", &self.department),
            ("category", &self.category),
            ("risk", &self.risk),
            ("status", &self.status),
            ("overdue", &self.overdue),
            ("from", &self.from),
            ("to", &self.to),
            ("institution", &self.institution),
            ("campaign", &self.campaign),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// The time zone and today's date a page judges by: the user's institution's, or for a
/// provincial reviewer the institution the filter picked (else the default).
pub(crate) async fn local(state: &AppState, web: &Web, picked: &str) -> (FixedOffset, NaiveDate) {
    let inst = web.scope().or_else(|| picked.parse().ok());
    let tz = state.tz(inst).await;
    (tz, state.today_in(tz))
}

/// The query the filter means, with its campaign resolved (a campaign of the institution
/// in scope), and the time zone and date it was judged in.
pub(crate) async fn resolve(
    state: &AppState,
    web: &Web,
    f: &Filter,
) -> Result<(HazardQuery, FixedOffset, NaiveDate), Response> {
    let (tz, today) = local(state, web, &f.institution).await;
    let bad = |e: &str| error_page(state, web.lang, StatusCode::BAD_REQUEST, e);
    let mut q = f.query(web, today, tz).map_err(|e| bad(&e))?;
    if !f.campaign.is_empty() {
        let id: saferound_core::ids::CampaignId =
            f.campaign.parse().map_err(|_| bad("campaign: not an id"))?;
        let inst = q
            .institution
            .ok_or_else(|| bad("campaign: choose an institution"))?;
        let c = state
            .storage
            .campaigns(inst)
            .await
            .map_err(|e| {
                error_page(
                    state,
                    web.lang,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                )
            })?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| bad("campaign: no such campaign"))?;
        q.in_campaign = Some(super::campaigns::scope(&c, tz));
    }
    Ok((q, tz, today))
}

/// A ledger row as pages show it.
fn view(h: &HazardRow, today: NaiveDate, tz: FixedOffset) -> serde_json::Value {
    let (status, due, risk) = export::deadline_terms(h);
    let days_overdue = deadline::days_overdue(status, due, today);
    let mut v = serde_json::to_value(h).unwrap_or_default();
    v["overdue"] = json!(days_overdue.is_some());
    v["days_overdue"] = json!(days_overdue.unwrap_or(0));
    v["escalated"] = json!(deadline::escalated(status, due, today, risk));
    v["due_soon"] = json!(deadline::due_soon(status, due, today, DUE_SOON_DAYS));
    v["reported_local"] = json!(export::local_time(&h.reported_at, tz));
    v["title"] = json!(saferound_core::doc::hazard::title_of(&h.description));
    v
}

/// Site and department choices of the filters.
async fn choices(state: &AppState, web: &Web) -> serde_json::Value {
    let Some(inst) = web.scope() else {
        let insts = state.storage.institutions().await.unwrap_or_default();
        return json!({"institutions": insts.iter().map(|(i, n)| json!({"id": i.to_string(), "name": n})).collect::<Vec<_>>()});
    };
    let sites = state.storage.sites(inst).await.unwrap_or_default();
    let depts = state.storage.departments(inst).await.unwrap_or_default();
    json!({
        "sites": sites.iter().map(|s| json!({"id": s.id.to_string(), "name": s.name})).collect::<Vec<_>>(),
        "departments": depts.iter().map(|d| json!({"id": d.id.to_string(), "name": d.name})).collect::<Vec<_>>(),
        "categories": HazardCategory::ALL.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "risks": RiskGrade::ALL.iter().rev().map(|c| c.code()).collect::<Vec<_>>(),
        "statuses": HazardStatus::ALL.iter().map(|c| c.code()).collect::<Vec<_>>(),
    })
}

pub async fn ledger(State(state): State<AppState>, web: Web, Query(f): Query<Filter>) -> Response {
    let (q, tz, today) = match resolve(&state, &web, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (rows, total) = match state.storage.hazards(&q).await {
        Ok(x) => x,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let page = f.page.unwrap_or(0);
    let pages = (total as u32).div_ceil(PAGE_SIZE).max(1);
    let mut choices = choices(&state, &web).await;
    if web.scope().is_none() {
        choices["categories"] = json!(
            HazardCategory::ALL
                .iter()
                .map(|c| c.code())
                .collect::<Vec<_>>()
        );
        choices["risks"] = json!(
            RiskGrade::ALL
                .iter()
                .rev()
                .map(|c| c.code())
                .collect::<Vec<_>>()
        );
        choices["statuses"] = json!(
            HazardStatus::ALL
                .iter()
                .map(|c| c.code())
                .collect::<Vec<_>>()
        );
    }
    let can_report = web.user.institution.is_some()
        && Action::ReportHazard.allowed(&web.user.roles, Named::default());
    render(
        &state,
        Some(&web),
        web.lang,
        "ledger.html",
        "/ledger",
        json!({
            "rows": rows.iter().map(|h| view(h, today, tz)).collect::<Vec<_>>(),
            "total": total,
            "page": page,
            "pages": pages,
            "prev": page.checked_sub(1),
            "next": (page + 1 < pages).then_some(page + 1),
            "f": f,
            "qs": f.qs(),
            "choices": choices,
            "today": today.to_string(),
            "can_report": can_report,
        }),
    )
}

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
    let rows = match state.storage.hazard_photos(inst, id).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(%id, "photos of a hazard: {e}");
            return Default::default();
        }
    };
    let reported = saferound_core::model::lifecycle::EventKind::Reported.code();
    let (before, after): (Vec<_>, Vec<_>) = rows.into_iter().partition(|p| p.event == reported);
    (
        before.into_iter().map(|p| p.hash).collect(),
        after
            .into_iter()
            .map(|p| json!({"hash": p.hash, "event": p.event}))
            .collect(),
    )
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
    render(
        &state,
        Some(&web),
        web.lang,
        template,
        "",
        json!({"h": view(&h.hazard, today, tz), "institution_name": name, "today": today.to_string(), "events": h.events}),
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

/// The overdue board: overdue hazards, longest overdue first; escalated ones marked.
pub async fn overdue(State(state): State<AppState>, web: Web, Query(f): Query<Filter>) -> Response {
    let (mut q, tz, today) = match resolve(&state, &web, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    q.overdue_before = Some(today.to_string());
    q.by_deadline = true;
    q.limit = 500;
    q.offset = 0;
    let (rows, total) = match state.storage.hazards(&q).await {
        Ok(x) => x,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let views: Vec<serde_json::Value> = rows.iter().map(|h| view(h, today, tz)).collect();
    let escalated = views
        .iter()
        .filter(|v| v["escalated"] == json!(true))
        .count();
    // Due soon: in rectification, deadline today or within DUE_SOON_DAYS, so the office
    // can chase them before they turn overdue.
    q.overdue_before = None;
    q.due_from = Some(today.to_string());
    q.due_until = Some((today + Duration::days(DUE_SOON_DAYS)).to_string());
    let (soon, soon_total) = match state.storage.hazards(&q).await {
        Ok(x) => x,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let soon: Vec<serde_json::Value> = soon
        .iter()
        .map(|h| {
            let mut v = view(h, today, tz);
            v["days_left"] = json!(
                h.deadline
                    .as_deref()
                    .and_then(|d| d.parse::<NaiveDate>().ok())
                    .map(|d| (d - today).num_days())
            );
            v
        })
        .collect();
    render(
        &state,
        Some(&web),
        web.lang,
        "overdue.html",
        "/overdue",
        json!({"rows": views, "total": total, "soon": soon, "soon_total": soon_total, "due_soon_days": DUE_SOON_DAYS, "escalated_count": escalated, "today": today.to_string(), "escalate_after": ESCALATE_AFTER_DAYS}),
    )
}

/// Every row the filter shows (all pages), as export cells.
async fn export_rows(
    state: &AppState,
    web: &Web,
    f: &Filter,
) -> Result<Vec<Vec<String>>, Response> {
    if !web.is_office() {
        return Err(super::forbidden(state, web));
    }
    let (mut q, tz, today) = resolve(state, web, f).await?;
    q.limit = 5000;
    q.offset = 0;
    let mut out = Vec::new();
    loop {
        let (rows, _) = state.storage.hazards(&q).await.map_err(|e| {
            error_page(
                state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
        })?;
        let n = rows.len();
        for h in &rows {
            out.push(export::cells(out.len() + 1, h, today, web.lang, tz));
        }
        if n < q.limit as usize || out.len() >= MAX_EXPORT_ROWS {
            break;
        }
        q.offset += q.limit;
    }
    Ok(out)
}

pub async fn export_csv(
    State(state): State<AppState>,
    web: Web,
    Query(f): Query<Filter>,
) -> Response {
    export_ledger(state, web, f, super::tables::TableFile::Csv).await
}

pub async fn export_xlsx(
    State(state): State<AppState>,
    web: Web,
    Query(f): Query<Filter>,
) -> Response {
    export_ledger(state, web, f, super::tables::TableFile::Xlsx).await
}

/// The ledger, as the filter shows it, in the customary columns.
async fn export_ledger(
    state: AppState,
    web: Web,
    f: Filter,
    file: super::tables::TableFile,
) -> Response {
    let rows = match export_rows(&state, &web, &f).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    super::audit_action(
        &state,
        &web,
        &format!("export_{}", file.ext()),
        &format!("{} rows; {}", rows.len(), f.qs()),
    )
    .await;
    let sheet = if web.lang == Lang::En {
        "Hazard ledger"
    } else {
        "隐患台账"
    };
    let header = export::columns(web.lang)
        .iter()
        .map(|c| c.to_string())
        .collect();
    let name = format!(
        "ledger-{}",
        state.today_in(saferound_core::clock::default_tz())
    );
    super::tables::table_download(&state, &web, file, &name, sheet, header, rows).await
}
