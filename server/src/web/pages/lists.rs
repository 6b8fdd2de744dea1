//! The ledger list with its filters, the overdue board, and the ledger exports.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use saferound_core::model::role::Named;
use saferound_core::model::{Action, HazardCategory, HazardStatus, Lang, RiskGrade};
use serde_json::json;

use crate::export;
use crate::state::AppState;
use crate::web::{Web, error_page, render};
use saferound_core::model::deadline::{DUE_SOON_DAYS, ESCALATE_AFTER_DAYS};

use super::*;

pub async fn ledger(State(state): State<AppState>, web: Web, Query(f): Query<Filter>) -> Response {
    let (q, tz, today) = match resolve(&state, &web, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (rows, total) = match state.storage.hazards(&q).await {
        Ok(x) => x,
        Err(e) => return crate::web::internal(&state, &web, e),
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
        Err(e) => return crate::web::internal(&state, &web, e),
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
    if !web.reads_all() {
        return Err(crate::web::forbidden(state, web));
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
            out.push(export::cells(h, today, web.lang, tz));
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
    export_ledger(state, web, f, crate::web::tables::TableFile::Csv).await
}

pub async fn export_xlsx(
    State(state): State<AppState>,
    web: Web,
    Query(f): Query<Filter>,
) -> Response {
    export_ledger(state, web, f, crate::web::tables::TableFile::Xlsx).await
}

/// The ledger, as the filter shows it, in the customary columns.
async fn export_ledger(
    state: AppState,
    web: Web,
    f: Filter,
    file: crate::web::tables::TableFile,
) -> Response {
    let rows = match export_rows(&state, &web, &f).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    crate::web::audit_action(
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
    crate::web::tables::table_download(&state, &web, file, &name, sheet, header, rows).await
}
