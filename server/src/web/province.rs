//! The institution's weekly report to the province 报省厅 and the province's view of it.
//!
//! An institution's week gathers its departments' reports (on time, late by how much or
//! missing, judged by server receipt against Friday 12:00 or the campaign's deadline) and
//! the week's ledger figures, computed in SQL (`Store::week_figures`). The safety office
//! files it — a summary or an all-clear 报平安 — and the filing is a server row, not a
//! document: only the dashboard writes it and phones never need it. Each filing is kept
//! with a JSON snapshot of what it said; the first filing's receipt time (the server's
//! clock) is judged against the institution's deadline (Friday 15:00 unless a campaign
//! says otherwise), like a department report whose later edits keep its first receipt.
//!
//! Provincial reviewers see every institution's weeks on one grid and each report
//! read-only; they never file.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc, Weekday};
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::doc::{limits, short_text};
use saferound_core::ids::{InstitutionId, Timestamp};
use saferound_core::model::{HazardCategory, Lang, RiskGrade, SiteKind};
use serde_json::json;

use super::campaigns::{Figures, summarize};
use super::form::{Acting as _, Office, Posted};
use super::reports::{WEEKS, deadline, dues, judge, week_list};
use super::{Web, error_page, internal, render};
use crate::state::AppState;
use crate::store::{InstitutionFiling, ReportReceipt, WeekFigures, WeekRange};

fn not_found(state: &AppState, web: &Web) -> Response {
    error_page(state, web.lang, StatusCode::NOT_FOUND, "not found")
}

/// The institution whose report `web` asks for, and its name. Office users read their
/// own; users without an institution (provincial reviewers, a server operator) name one
/// with `?institution=`. Naming another institution than one's own gets the same answer
/// as an unknown one (404), so nobody learns which institutions exist.
async fn institution_for(
    state: &AppState,
    web: &Web,
    asked: Option<&String>,
) -> Result<(InstitutionId, String), Response> {
    if !web.reads_all() {
        return Err(super::forbidden(state, web));
    }
    let asked = asked.filter(|a| !a.is_empty());
    let parsed = asked.map(|a| a.parse::<InstitutionId>().ok());
    let inst = match (web.scope(), parsed) {
        (Some(own), None) => own,
        (Some(own), Some(Some(a))) if a == own => own,
        (None, Some(Some(a))) => a,
        _ => return Err(not_found(state, web)),
    };
    let institutions = state
        .storage
        .institutions()
        .await
        .map_err(|e| internal(state, web, e))?;
    let name = institutions
        .into_iter()
        .find(|(i, _)| *i == inst)
        .map(|(_, n)| n)
        .ok_or_else(|| not_found(state, web))?;
    Ok((inst, name))
}

/// May file the institution's report: its safety office and administrators (never the
/// provincial reviewer, who receives it).
/// The week's first local midnight and the next Monday's, and the date overdue is judged
/// on: the week's end once it is over, else today (a running week's figures are "now").
pub fn week_range(week: IsoWeek, tz: FixedOffset, now: DateTime<Utc>) -> Option<WeekRange> {
    let monday = NaiveDate::from_isoywd_opt(week.year, week.week, Weekday::Mon)?;
    let next = monday.checked_add_days(chrono::Days::new(7))?;
    let midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)?
            .and_local_timezone(tz)
            .single()
            .map(|t| t.to_utc())
    };
    let (from, before) = (midnight(monday)?, midnight(next)?);
    let judged_on = if now < before {
        now.with_timezone(&tz).date_naive()
    } else {
        next
    };
    Some(WeekRange {
        week: week.to_string(),
        from: Timestamp(from).to_string(),
        before: Timestamp(before).to_string(),
        overdue_before: judged_on.to_string(),
    })
}

fn figures_json(f: &Figures) -> serde_json::Value {
    let mut v = serde_json::to_value(f).unwrap_or_default();
    v["rate"] = json!(f.rate_text());
    v
}

/// Everything the institution's week says: the page, its CSV, and a filing's snapshot.
struct WeekReport {
    institution: InstitutionId,
    name: String,
    week: IsoWeek,
    range: WeekRange,
    tz: FixedOffset,
    dept_due: Option<DateTime<Utc>>,
    inst_due: Option<DateTime<Utc>>,
    /// Per department: its name, its cell (`judge`), and its content.
    departments: Vec<serde_json::Value>,
    rows: Vec<Figures>,
    total: Figures,
    figures: WeekFigures,
    filings: Vec<InstitutionFiling>,
    /// The filing's cell: on time / late by / missing / pending.
    status: serde_json::Value,
    /// Whether the week has begun: a week ahead has nothing to report yet.
    begun: bool,
}

async fn week_report(
    state: &AppState,
    web: &Web,
    inst: InstitutionId,
    name: String,
    week: IsoWeek,
) -> Result<WeekReport, Response> {
    let now = state.now();
    let tz = state.tz(Some(inst)).await;
    let s = state.storage.as_ref();
    let range = week_range(week, tz, now).ok_or_else(|| not_found(state, web))?;
    let campaigns = s
        .campaigns(inst)
        .await
        .map_err(|e| internal(state, web, e))?;
    let (dd, id) = dues(&campaigns, week);
    let (dept_due, inst_due) = (deadline(week, dd, tz), deadline(week, id, tz));
    let depts = s
        .departments(inst)
        .await
        .map_err(|e| internal(state, web, e))?;
    let reports = s
        .week_reports(inst, &week.to_string())
        .await
        .map_err(|e| internal(state, web, e))?;
    let by_dept: HashMap<String, &ReportReceipt> = reports
        .iter()
        .filter_map(|r| Some((r.department.clone()?, r)))
        .collect();
    // The reports' contents, projected with the ledger.
    let text = s
        .week_report_texts(inst, &week.to_string())
        .await
        .map_err(|e| internal(state, web, e))?;
    let departments = depts
        .iter()
        .map(|d| {
            let r = by_dept.get(&d.id.to_string()).copied();
            let content = r.and_then(|r| text.get(&r.id)).cloned();
            json!({
                "department": d.name,
                "id": d.id.to_string(),
                "cell": judge(r, dept_due, now, tz),
                "content": content,
            })
        })
        .collect();
    let figures = s
        .week_figures(inst, &range)
        .await
        .map_err(|e| internal(state, web, e))?;
    let total_name = if web.lang == Lang::En {
        "Institution total".to_string()
    } else {
        format!("{name}（全校合计）")
    };
    let (rows, total) = summarize(
        &depts,
        &figures.hazards,
        &figures.inspections,
        super::i18n::text(web.lang, "other_units"),
        &total_name,
    );
    let filings = s
        .institution_filings(inst, &week.to_string())
        .await
        .map_err(|e| internal(state, web, e))?;
    // The first filing's receipt judges lateness; the latest one says what holds now.
    let receipt = filings.first().map(|first| ReportReceipt {
        first_seq: first.seq,
        institution: first.institution.clone(),
        id: first.seq.to_string(),
        kind: "institution_report".into(),
        department: None,
        week: Some(first.week.clone()),
        all_clear: filings.last().map(|l| l.all_clear),
        title: String::new(),
        filed_at: None,
        received_at: first.received_at.clone(),
    });
    let status = judge(receipt.as_ref(), inst_due, now, tz);
    let begun = Timestamp(now).to_string() >= range.from;
    Ok(WeekReport {
        institution: inst,
        name,
        week,
        range,
        tz,
        dept_due,
        inst_due,
        departments,
        rows,
        total,
        figures,
        filings,
        status,
        begun,
    })
}

fn local(d: Option<DateTime<Utc>>, tz: FixedOffset) -> Option<String> {
    d.map(|d| crate::export::local_time(&Timestamp(d).to_string(), tz))
}

/// What a filing keeps of the week: the departments' statuses and contents and the
/// figures, as they are when it is filed.
fn snapshot(r: &WeekReport) -> serde_json::Value {
    json!({
        "institution": r.institution.to_string(),
        "week": r.week.to_string(),
        "from": r.range.from,
        "before": r.range.before,
        "department_deadline": local(r.dept_due, r.tz),
        "deadline": local(r.inst_due, r.tz),
        "departments": r.departments,
        "figures": {
            "rows": r.rows.iter().map(figures_json).collect::<Vec<_>>(),
            "total": figures_json(&r.total),
            "rectified_in_week": r.figures.rectified,
            "verified_in_week": r.figures.verified,
            "overdue": r.figures.overdue,
            "overdue_judged_before": r.range.overdue_before,
            "incidents": r.figures.incidents,
        },
    })
}

fn context(r: &WeekReport, web: &Web) -> serde_json::Value {
    let tz = r.tz;
    let monday = NaiveDate::from_isoywd_opt(r.week.year, r.week.week, Weekday::Mon);
    let sunday = NaiveDate::from_isoywd_opt(r.week.year, r.week.week, Weekday::Sun);
    let filings: Vec<serde_json::Value> = r
        .filings
        .iter()
        .map(|f| {
            // What this filing sent, from its snapshot (the ledger may have moved since).
            let sent: serde_json::Value = serde_json::from_str(&f.snapshot).unwrap_or_default();
            let states = |s: &str| {
                sent["departments"]
                    .as_array()
                    .map(|d| d.iter().filter(|d| d["cell"]["state"] == s).count())
                    .unwrap_or(0)
            };
            json!({
                "as_filed": {
                    "hazards": sent["figures"]["total"]["hazards"],
                    "on_time": states("on_time"),
                    "late": states("late"),
                    "missing": states("missing"),
                },
                "seq": f.seq,
                "received": crate::export::local_time(&f.received_at, tz),
                "by": f.by_name,
                "all_clear": f.all_clear,
                "summary": f.summary,
            })
        })
        .collect();
    let mut all: Vec<serde_json::Value> = r.rows.iter().map(figures_json).collect();
    all.push(figures_json(&r.total));
    json!({
        "institution": r.institution.to_string(),
        "institution_name": r.name,
        "week": r.week.to_string(),
        "monday": monday.map(|d| d.to_string()),
        "sunday": sunday.map(|d| d.to_string()),
        "dept_deadline_at": local(r.dept_due, tz),
        "inst_deadline_at": local(r.inst_due, tz),
        "departments": r.departments,
        "rows": r.rows.iter().map(figures_json).collect::<Vec<_>>(),
        "total": figures_json(&r.total),
        "all": all,
        "week_events": {
            "rectified": r.figures.rectified,
            "verified": r.figures.verified,
            "overdue": r.figures.overdue,
            "incidents": r.figures.incidents,
        },
        "site_kinds": SiteKind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "categories": HazardCategory::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "risks": RiskGrade::ALL.iter().rev().map(|k| k.code()).collect::<Vec<_>>(),
        "filings": filings,
        "latest": filings.last(),
        "status": r.status,
        "can_file": Office::acts_for(web) == Some(r.institution) && r.begun,
        "qs": if web.scope().is_none() { format!("?institution={}", r.institution) } else { String::new() },
    })
}

/// The week from the path and the institution from the query, resolved and gathered.
async fn resolve(
    state: &AppState,
    web: &Web,
    week: &str,
    q: &HashMap<String, String>,
) -> Result<WeekReport, Response> {
    let (inst, name) = institution_for(state, web, q.get("institution")).await?;
    let week: IsoWeek = week.parse().map_err(|_| not_found(state, web))?;
    week_report(state, web, inst, name, week).await
}

/// `GET /weekly/{week}/institution`: the institution's week, print-styled, with the
/// filing form for its safety office.
pub async fn page(
    State(state): State<AppState>,
    web: Web,
    Path(week): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match resolve(&state, &web, &week, &q).await {
        Ok(r) => render(
            &state,
            Some(&web),
            web.lang,
            "institution_week.html",
            "/weekly",
            context(&r, &web),
        ),
        Err(resp) => resp,
    }
}

/// A grid cell in words, for the CSV exports.
fn cell_text(c: &serde_json::Value, en: bool) -> String {
    let clear = if c["all_clear"].as_bool() == Some(true) {
        if en {
            " (all-clear)"
        } else {
            "（报平安）"
        }
    } else {
        ""
    };
    match c["state"].as_str() {
        Some("on_time") => format!("{}{clear}", if en { "on time" } else { "按时" }),
        Some("late") => format!(
            "{} {}{clear}",
            if en { "late" } else { "迟报" },
            c["late_by"].as_str().unwrap_or("")
        ),
        Some("pending") => if en { "not yet due" } else { "未到截止" }.to_string(),
        _ => if en { "missing" } else { "漏报" }.to_string(),
    }
}

fn csv_response(name: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        crate::export::csv(header, rows),
    )
        .into_response()
}

/// `GET /export/weekly/{week}/institution.csv`: the same report as lines of
/// (section, item, value, note).
pub async fn export(
    State(state): State<AppState>,
    web: Web,
    Path((week, file)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if file != "institution.csv" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let r = match resolve(&state, &web, &week, &q).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let en = web.lang == Lang::En;
    let t = |k| super::i18n::text(web.lang, k);
    let line = |a: &str, b: &str, c: String, d: String| vec![a.to_string(), b.to_string(), c, d];
    let mut rows = vec![line(
        t("institution_report"),
        &r.name,
        cell_text(&r.status, en),
        local(r.inst_due, r.tz).unwrap_or_default(),
    )];
    for f in &r.filings {
        rows.push(line(
            t("filings"),
            &crate::export::local_time(&f.received_at, r.tz),
            if f.all_clear {
                t("all_clear").to_string()
            } else {
                String::new()
            },
            f.summary.clone(),
        ));
    }
    for d in &r.departments {
        let c = &d["cell"];
        rows.push(line(
            t("department_reports"),
            d["department"].as_str().unwrap_or(""),
            cell_text(c, en),
            format!(
                "{} {} · {} {} · {}",
                t("received"),
                c["received"].as_str().unwrap_or("—"),
                t("phone_time"),
                c["phone"].as_str().unwrap_or("—"),
                d["content"].as_str().unwrap_or("")
            ),
        ));
    }
    let fig = t("week_figures");
    let total = &r.total;
    for (k, v) in [
        ("reported_this_week", total.hazards),
        ("major_hazards", total.major),
        ("inspections", total.inspections),
        ("rectified_this_week", r.figures.rectified),
        ("verified_this_week", r.figures.verified),
        ("overdue_at_week_end", r.figures.overdue),
        ("incidents_received", r.figures.incidents),
    ] {
        rows.push(line(fig, t(k), v.to_string(), String::new()));
    }
    for c in HazardCategory::ALL {
        let n = total.by_category.get(c.code()).copied().unwrap_or(0);
        rows.push(line(
            t("by_category"),
            c.label(web.lang),
            n.to_string(),
            String::new(),
        ));
    }
    for g in RiskGrade::ALL.iter().rev() {
        let n = total.by_risk.get(g.code()).copied().unwrap_or(0);
        rows.push(line(
            t("by_risk"),
            g.label(web.lang),
            n.to_string(),
            String::new(),
        ));
    }
    for (k, v) in [
        ("rectified", total.rectified),
        ("verified", total.verified),
        ("deferred", total.deferred),
    ] {
        rows.push(line(t("week_status"), t(k), v.to_string(), String::new()));
    }
    let header: Vec<&str> = if en {
        vec!["Section", "Item", "Value", "Note"]
    } else {
        vec!["栏目", "项目", "数值/状态", "说明"]
    };
    super::audit_action(
        &state,
        &web,
        "export_institution_week_csv",
        &format!("{} {}", r.institution, r.week),
    )
    .await;
    csv_response(&format!("institution-weekly-{}", r.week), &header, &rows)
}

/// `POST /weekly/{week}/institution`: files the week to the province (summary text or
/// all-clear). Every filing is kept; the first one's receipt judges lateness.
pub async fn file(
    State(state): State<AppState>,
    Path(week): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    // The reviewer receives reports and never files; nor do other roles.
    Posted { web, form: f, .. }: Posted<Office>,
) -> Response {
    let asked = q.get("institution").or_else(|| f.get("institution"));
    let (inst, name) = match institution_for(&state, &web, asked).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(week) = week.parse::<IsoWeek>() else {
        return not_found(&state, &web);
    };
    let all_clear = f
        .get("all_clear")
        .is_some_and(|v| v == "1" || v == "on" || v == "true");
    let summary = match short_text(
        "summary",
        f.get("summary").map(String::as_str).unwrap_or(""),
        !all_clear,
        limits::LONG_TEXT,
    ) {
        Ok(s) => s,
        Err(e) => return error_page(&state, web.lang, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let r = match week_report(&state, &web, inst, name, week).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let received_at = Timestamp(state.now()).to_string();
    if !r.begun {
        return error_page(
            &state,
            web.lang,
            StatusCode::BAD_REQUEST,
            "week: has not begun",
        );
    }
    let filing = InstitutionFiling {
        seq: 0,
        institution: inst.to_string(),
        week: week.to_string(),
        received_at: received_at.clone(),
        by_user: web.user.id.to_string(),
        by_name: web.user.name.clone(),
        all_clear,
        summary,
        snapshot: snapshot(&r).to_string(),
    };
    let result = state
        .storage
        .add_institution_filing(&filing)
        .await
        .map_err(|e| {
            tracing::error!("institution filing: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        })
        .map(|seq| {
            // The audit line says how this filing stands against the deadline (a
            // re-filing is judged on the first receipt, as the grid judges it).
            let first = r
                .filings
                .first()
                .map(|x| x.received_at.clone())
                .unwrap_or(received_at);
            let late = match (first.parse::<Timestamp>(), r.inst_due) {
                (Ok(t), Some(due)) if t.0 > due => {
                    format!("late {}", super::reports::lateness(t.0 - due))
                }
                (_, Some(_)) => "on time".into(),
                (_, None) => "no deadline".into(),
            };
            format!(
                "{inst} {week} #{seq}{} {late}",
                if all_clear { " all-clear" } else { "" }
            )
        });
    super::finish_action(
        &state,
        &web,
        result,
        "institution_report_file",
        &format!("/weekly/{week}/institution"),
    )
    .await
}

/// The province's grid: every institution × week, judged like the departments' grid.
async fn province_grid(
    state: &AppState,
    end: NaiveDate,
    weeks: u32,
) -> Result<serde_json::Value, crate::store::StoreError> {
    let now = state.now();
    let list = week_list(end, weeks);
    let (Some(first), Some(last)) = (list.first(), list.last()) else {
        return Ok(json!({"weeks": [], "rows": []}));
    };
    let receipts = state
        .storage
        .institution_receipts(&first.to_string(), &last.to_string())
        .await?;
    let by: HashMap<(String, String), ReportReceipt> = receipts
        .into_iter()
        .map(|r| {
            let key = (r.institution.clone(), r.week.clone());
            let receipt = ReportReceipt {
                first_seq: 0,
                institution: r.institution,
                id: String::new(),
                kind: "institution_report".into(),
                department: None,
                week: Some(r.week),
                all_clear: Some(r.all_clear),
                title: String::new(),
                filed_at: None,
                received_at: r.first_received_at,
            };
            (key, receipt)
        })
        .collect();
    let mut rows = Vec::new();
    for (inst, name) in state.storage.institutions().await? {
        // Each institution's own time zone and campaign deadlines.
        let tz = state.tz(Some(inst)).await;
        let set_up = super::reports::set_up_at(state, inst).await;
        let campaigns = state.storage.campaigns(inst).await?;
        let cells: Vec<serde_json::Value> = list
            .iter()
            .map(|w| {
                let due = deadline(*w, dues(&campaigns, *w).1, tz);
                let mut c = if super::reports::before_setup(due, set_up) {
                    json!({"state": "before_setup"})
                } else {
                    judge(by.get(&(inst.to_string(), w.to_string())), due, now, tz)
                };
                c["week"] = json!(w.to_string());
                c["deadline"] = json!(local(due, tz));
                c
            })
            .collect();
        rows.push(json!({"institution": name, "id": inst.to_string(), "cells": cells}));
    }
    Ok(json!({
        "weeks": list.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "rows": rows,
    }))
}

/// The province's pages are for users of the province: provincial reviewers (and a
/// server operator), who belong to no institution.
fn provincial(web: &Web) -> bool {
    web.reads_all() && web.scope().is_none()
}

fn grid_params(state: &AppState, q: &HashMap<String, String>) -> (NaiveDate, u32) {
    let end = q
        .get("end")
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .unwrap_or_else(|| state.today_in(saferound_core::clock::default_tz()));
    let weeks = q.get("weeks").and_then(|w| w.parse().ok()).unwrap_or(WEEKS);
    (end, weeks)
}

/// `GET /province/weekly`: every institution's weekly reports to the province.
pub async fn grid(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !provincial(&web) {
        return super::forbidden(&state, &web);
    }
    let (end, weeks) = grid_params(&state, &q);
    match province_grid(&state, end, weeks).await {
        Ok(g) => render(
            &state,
            Some(&web),
            web.lang,
            "province.html",
            "/province",
            json!({"grid": g, "end": end.to_string(), "weeks": weeks}),
        ),
        Err(e) => internal(&state, &web, e),
    }
}

/// `GET /export/province/weekly.csv`: the grid, one line per institution.
pub async fn grid_csv(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !provincial(&web) {
        return super::forbidden(&state, &web);
    }
    let (end, weeks) = grid_params(&state, &q);
    let g = match province_grid(&state, end, weeks).await {
        Ok(g) => g,
        Err(e) => return internal(&state, &web, e),
    };
    let en = web.lang == Lang::En;
    let mut header = vec![super::i18n::text(web.lang, "institution").to_string()];
    for w in g["weeks"].as_array().into_iter().flatten() {
        header.push(w.as_str().unwrap_or("").to_string());
    }
    let rows: Vec<Vec<String>> = g["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut line = vec![r["institution"].as_str().unwrap_or("").to_string()];
            for c in r["cells"].as_array().into_iter().flatten() {
                line.push(cell_text(c, en));
            }
            line
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    super::audit_action(&state, &web, "export_province_weekly_csv", &end.to_string()).await;
    csv_response(&format!("province-weekly-{end}"), &h, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_runs_from_local_monday_midnight_and_judges_overdue_at_its_end() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let week: IsoWeek = "2026-W10".parse().unwrap();
        let during = "2026-03-04T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let r = week_range(week, tz, during).unwrap();
        // Monday 2 March 00:00 in +08:00 is 1 March 16:00 UTC.
        assert!(r.from.starts_with("2026-03-01T16:00:00"), "{}", r.from);
        assert!(r.before.starts_with("2026-03-08T16:00:00"), "{}", r.before);
        assert_eq!(r.overdue_before, "2026-03-04", "today while the week runs");
        let after = "2026-04-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            week_range(week, tz, after).unwrap().overdue_before,
            "2026-03-09"
        );
    }

    #[test]
    fn cells_in_words() {
        let late = json!({"state": "late", "late_by": "1h 30m", "all_clear": true});
        assert_eq!(cell_text(&late, true), "late 1h 30m (all-clear)");
        assert_eq!(cell_text(&json!({"state": "missing"}), false), "漏报");
        assert_eq!(cell_text(&json!({"state": "on_time"}), false), "按时");
    }
}
