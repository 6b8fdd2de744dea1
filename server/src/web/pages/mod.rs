//! The ledger's pages: the list with its filters and exports, and the overdue board
//! (`lists.rs`); one hazard with its actions, its printable notice and letter, and its
//! photos (`hazard.rs`). Here: what they share — the filter, a hazard's view in a list,
//! the stylesheet and the script.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{FixedOffset, NaiveDate};
use saferound_core::ids::{InstitutionId, SiteId};
use saferound_core::model::{HazardCategory, HazardStatus, RiskGrade};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Web, error_page};
use crate::export;
use crate::ledger::HazardRow;
use crate::state::AppState;
use crate::store::HazardQuery;
use saferound_core::model::deadline::{self, DUE_SOON_DAYS};

mod hazard;
mod lists;
pub use hazard::{act, hazard, letter, new_hazard, notice, parse_action, photo};
pub use lists::{export_csv, export_xlsx, ledger, overdue};

pub const PAGE_SIZE: u32 = 50;
/// Rows in one export, at most.
pub const MAX_EXPORT_ROWS: usize = 200_000;

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../style.css"),
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
        include_str!("../app.js"),
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
pub(crate) fn view(h: &HazardRow, today: NaiveDate, tz: FixedOffset) -> serde_json::Value {
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
