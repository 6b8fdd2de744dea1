//! The weekly compliance grid (per department and week: on time, late by how much, or
//! missing, judged by when the server received the report), and the incident feed with
//! server-sent events and an optional webhook.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc, Weekday};
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::ids::{InstitutionId, Timestamp};
use serde_json::json;

use super::{Web, error_page, render};
use crate::incidents::{changed, incident_json};
use crate::state::AppState;
use crate::store::{Campaign, ReportOrder, ReportReceipt, WeeklyDue};

/// Weeks the grid shows by default, and at most.
pub const WEEKS: u32 = 8;
pub const MAX_WEEKS: u32 = 26;

/// The deadline of a report for `week`: `due` (weekday and time, by default Friday 12:00
/// for departments) in the institution's time zone.
pub fn deadline(week: IsoWeek, due: WeeklyDue, tz: FixedOffset) -> Option<DateTime<Utc>> {
    NaiveDate::from_isoywd_opt(week.year, week.week, due.weekday())?
        .and_hms_opt(u32::from(due.minute / 60), u32::from(due.minute % 60), 0)?
        .and_local_timezone(tz)
        .single()
        .map(|t| t.to_utc())
}

/// The deadlines (department → institution, institution → province) that hold in `week`:
/// those of the campaign running on that week's Friday (the latest-starting one when
/// campaigns overlap), else the notice's Friday 12:00 and 15:00.
pub fn dues(campaigns: &[Campaign], week: IsoWeek) -> (WeeklyDue, WeeklyDue) {
    let friday = NaiveDate::from_isoywd_opt(week.year, week.week, Weekday::Fri);
    campaigns
        .iter()
        .filter(|c| friday.is_some_and(|f| c.starts <= f && f <= c.ends))
        .max_by_key(|c| c.starts)
        .map(|c| (c.dept_due, c.inst_due))
        .unwrap_or((WeeklyDue::DEPARTMENT, WeeklyDue::INSTITUTION))
}

/// How late, in words: "2d 3h", "5h 10m", "12m".
pub fn lateness(by: chrono::Duration) -> String {
    let m = by.num_minutes().max(1);
    let (d, h, mm) = (m / 1440, (m % 1440) / 60, m % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {mm}m")
    } else {
        format!("{mm}m")
    }
}

/// One cell of the grid.
pub fn judge(
    report: Option<&ReportReceipt>,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> serde_json::Value {
    let Some(due) = due else {
        return json!({"state": "missing"});
    };
    match report {
        Some(r) => {
            let received = r
                .received_at
                .parse::<Timestamp>()
                .map(|t| t.0)
                .unwrap_or(due);
            let state = if received <= due { "on_time" } else { "late" };
            json!({
                "state": state,
                "late_by": (received > due).then(|| lateness(received - due)),
                "received": crate::export::local_time(&r.received_at, tz),
                "phone": r.filed_at.as_deref().map(|t| crate::export::local_time(t, tz)),
                "all_clear": r.all_clear,
                "id": r.id,
            })
        }
        None if now > due => json!({"state": "missing"}),
        None => json!({"state": "pending"}),
    }
}

/// When the institution was set up on this server: no report is owed for a week whose
/// deadline came before (its cells say so instead of "missing").
pub async fn set_up_at(state: &AppState, institution: InstitutionId) -> Option<DateTime<Utc>> {
    let at = state
        .storage
        .institution_created_at(institution)
        .await
        .ok()
        .flatten()?;
    at.parse::<Timestamp>().ok().map(|t| t.0)
}

/// A cell for a week whose deadline `due` came before the institution was set up.
pub fn before_setup(due: Option<DateTime<Utc>>, set_up: Option<DateTime<Utc>>) -> bool {
    matches!((due, set_up), (Some(d), Some(s)) if d < s)
}

/// The grid's weeks (oldest first), its rows (departments) and cells.
pub async fn grid(
    state: &AppState,
    institution: InstitutionId,
    end: NaiveDate,
    weeks: u32,
) -> Result<serde_json::Value, crate::store::StoreError> {
    let now = state.now();
    let tz = state.tz(Some(institution)).await;
    let set_up = set_up_at(state, institution).await;
    let campaigns = state.storage.campaigns(institution).await?;
    let list = week_list(end, weeks);
    let depts = state.storage.departments(institution).await?;
    let reports = state
        .storage
        .reports(
            Some(institution),
            "weekly_report",
            0,
            100_000,
            ReportOrder::NewestFirst,
        )
        .await?;
    let by: HashMap<(String, String), &ReportReceipt> = reports
        .iter()
        .filter_map(|r| Some(((r.department.clone()?, r.week.clone()?), r)))
        .collect();
    // Per week: (department → institution, institution → province) deadlines.
    type Dues = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let due: Vec<Dues> = list
        .iter()
        .map(|w| {
            let (dept, inst) = dues(&campaigns, *w);
            (deadline(*w, dept, tz), deadline(*w, inst, tz))
        })
        .collect();
    let local = |d: Option<DateTime<Utc>>| {
        d.map(|d| crate::export::local_time(&Timestamp(d).to_string(), tz))
    };
    let rows: Vec<serde_json::Value> = depts
        .iter()
        .map(|d| {
            let cells: Vec<serde_json::Value> = list
                .iter()
                .zip(&due)
                .map(|(w, (dept_due, _))| {
                    if before_setup(*dept_due, set_up) {
                        return json!({"state": "before_setup"});
                    }
                    judge(
                        by.get(&(d.id.to_string(), w.to_string())).copied(),
                        *dept_due,
                        now,
                        tz,
                    )
                })
                .collect();
            json!({"department": d.name, "id": d.id.to_string(), "cells": cells})
        })
        .collect();
    Ok(json!({
        "weeks": list.iter().zip(&due).map(|(w, (dept, inst))| json!({"code": w.to_string(), "deadline": local(*dept), "province_deadline": local(*inst)})).collect::<Vec<_>>(),
        "rows": rows,
    }))
}

/// The grid's weeks, oldest first, ending with `end`'s week; `end` and `weeks` come from
/// the query string, so a date at the edge of the calendar yields fewer weeks, not a panic.
pub fn week_list(end: NaiveDate, weeks: u32) -> Vec<IsoWeek> {
    (0..weeks.clamp(1, MAX_WEEKS))
        .rev()
        .filter_map(|i| end.checked_sub_signed(chrono::Duration::weeks(i64::from(i))))
        .map(IsoWeek::of)
        .collect()
}

fn institution_of(web: &Web, q: &HashMap<String, String>) -> Option<InstitutionId> {
    web.scope()
        .or_else(|| q.get("institution").and_then(|i| i.parse().ok()))
}

pub async fn weekly(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !web.reads_all() {
        return super::forbidden(&state, &web);
    }
    let institutions = state.storage.institutions().await.unwrap_or_default();
    let Some(inst) = institution_of(&web, &q).or_else(|| institutions.first().map(|i| i.0)) else {
        return error_page(&state, web.lang, StatusCode::NOT_FOUND, "no institution");
    };
    let end = match q.get("end").and_then(|d| d.parse::<NaiveDate>().ok()) {
        Some(d) => d,
        None => state.today_in(state.tz(Some(inst)).await),
    };
    let weeks = q.get("weeks").and_then(|w| w.parse().ok()).unwrap_or(WEEKS);
    match grid(&state, inst, end, weeks).await {
        Ok(g) => render(
            &state,
            Some(&web),
            web.lang,
            "weekly.html",
            "/weekly",
            json!({
                "grid": g,
                "institution": inst.to_string(),
                "institutions": if web.scope().is_none() {
                    institutions.iter().map(|(i, n)| json!({"id": i.to_string(), "name": n})).collect::<Vec<_>>()
                } else { Vec::new() },
                "end": end.to_string(),
            }),
        ),
        Err(e) => error_page(
            &state,
            web.lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        ),
    }
}

/// The grid as CSV (UTF-8 with BOM): one line per department, one column per week.
pub async fn weekly_csv(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    weekly_export(state, web, q, false).await
}

/// `GET /export/weekly.xlsx`: the same grid as an Excel workbook.
pub async fn weekly_xlsx(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    weekly_export(state, web, q, true).await
}

async fn weekly_export(
    state: AppState,
    web: Web,
    q: HashMap<String, String>,
    xlsx: bool,
) -> Response {
    if !web.reads_all() {
        return super::forbidden(&state, &web);
    }
    let Some(inst) = institution_of(&web, &q) else {
        return error_page(
            &state,
            web.lang,
            StatusCode::BAD_REQUEST,
            "institution: required",
        );
    };
    let end = match q.get("end").and_then(|d| d.parse::<NaiveDate>().ok()) {
        Some(d) => d,
        None => state.today_in(state.tz(Some(inst)).await),
    };
    let g = match grid(
        &state,
        inst,
        end,
        q.get("weeks").and_then(|w| w.parse().ok()).unwrap_or(WEEKS),
    )
    .await
    {
        Ok(g) => g,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let en = web.lang == saferound_core::model::Lang::En;
    let mut header = vec![if en { "Department" } else { "部门" }.to_string()];
    for w in g["weeks"].as_array().into_iter().flatten() {
        header.push(w["code"].as_str().unwrap_or("").to_string());
    }
    let rows: Vec<Vec<String>> = g["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut line = vec![r["department"].as_str().unwrap_or("").to_string()];
            for c in r["cells"].as_array().into_iter().flatten() {
                let s = match c["state"].as_str() {
                    Some("on_time") => if en { "on time" } else { "按时" }.to_string(),
                    Some("late") => format!(
                        "{} {}",
                        if en { "late" } else { "迟报" },
                        c["late_by"].as_str().unwrap_or("")
                    ),
                    Some("pending") => String::new(),
                    _ => if en { "missing" } else { "漏报" }.to_string(),
                };
                line.push(s);
            }
            line
        })
        .collect();
    let file = if xlsx {
        super::tables::TableFile::Xlsx
    } else {
        super::tables::TableFile::Csv
    };
    super::audit_action(
        &state,
        &web,
        &format!("export_weekly_{}", file.ext()),
        &end.to_string(),
    )
    .await;
    let sheet = if en { "Weekly reports" } else { "周报" };
    super::tables::table_download(
        &state,
        &web,
        file,
        &format!("weekly-{end}"),
        sheet,
        header,
        rows,
    )
    .await
}

pub async fn incidents(State(state): State<AppState>, web: Web) -> Response {
    let tz = state.tz(web.scope()).await;
    match state
        .storage
        .reports(
            web.scope(),
            "incident_report",
            0,
            200,
            ReportOrder::NewestFirst,
        )
        .await
    {
        Ok(list) => {
            let last = list.first().map(|r| r.first_seq).unwrap_or(0);
            render(
                &state,
                Some(&web),
                web.lang,
                "incidents.html",
                "/incidents",
                json!({"items": list.iter().map(|r| incident_json(r, tz)).collect::<Vec<_>>(), "last": last}),
            )
        }
        Err(e) => error_page(
            &state,
            web.lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        ),
    }
}

/// Server-sent events: each incident first received after `after`, within about a second
/// of the sync that carried it (the ledger is polled; cheap, indexed, and it works the
/// same with several server replicas).
pub async fn incident_stream(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(slot) = state.web.stream_slot(web.token_hash) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many incident streams open for one session",
        )
            .into_response();
    };
    let after: i64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let scope = web.scope();
    let tz = state.tz(scope).await;
    // Subscribed before the first look, so a commit between a look and the wait that
    // follows it is still heard.
    let notices = state.storage.subscribe_changes();
    let stream = futures_util::stream::unfold(
        (state, after, notices, (slot, web)),
        move |(state, mut last, mut notices, held)| async move {
            loop {
                // A session that ended (logout, password reset, deactivation) ends its
                // stream at the next look.
                if !held.1.still_valid(&state).await {
                    return None;
                }
                match state
                    .storage
                    .reports(scope, "incident_report", last, 50, ReportOrder::OldestFirst)
                    .await
                {
                    Ok(list) if !list.is_empty() => {
                        last = list.iter().map(|r| r.first_seq).max().unwrap_or(last);
                        let items: Vec<serde_json::Value> =
                            list.iter().map(|r| incident_json(r, tz)).collect();
                        let ev = Event::default()
                            .event("incidents")
                            .data(serde_json::Value::Array(items).to_string());
                        return Some((Ok::<Event, Infallible>(ev), (state, last, notices, held)));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("incident stream: {e}");
                        return None;
                    }
                }
                changed(&mut notices, scope).await;
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
