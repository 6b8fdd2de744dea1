//! `/`, the week at a glance: open hazards by risk grade and by the notice's six areas,
//! overdue and due soon, major hazards under supervision, this week's weekly reports,
//! this week's incidents, the running campaign's rectification rate, and hazards found,
//! closed and turned overdue per ISO week over the last twelve weeks — each figure
//! linking to the page that lists it. Charts are SVG drawn here (`charts`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, FixedOffset, NaiveDate, Weekday};
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::ids::{InstitutionId, Timestamp};
use saferound_core::model::deadline::DUE_SOON_DAYS;
use saferound_core::model::{HazardCategory, Lang, RiskGrade, SafetyArea};
use serde::Serialize;
use serde_json::json;

use super::charts::{self, Series};
use super::{Web, i18n, render};
use crate::state::AppState;
use crate::store::{HazardDates, HazardQuery, ReportOrder, StoreError};

/// Weeks the home page's chart shows.
pub const WEEKS: u32 = 12;

/// Hazards listed under each heading at most (the heading's link shows them all).
const LISTED: u32 = 5;

/// One ISO week's flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekFlow {
    pub week: String,
    /// Reported that week (the report's time, in the institution's time zone).
    pub found: i64,
    /// Verified and written off 销号 that week.
    pub closed: i64,
    /// Turned overdue that week: the deadline passed (the day after it fell in the week,
    /// and is not after today) with no rectification reported by the deadline; deferred
    /// hazards 暂缓 excepted, as on the overdue board.
    pub overdue: i64,
}

fn local_date(utc: &str, tz: FixedOffset) -> Option<NaiveDate> {
    utc.parse::<Timestamp>()
        .ok()
        .map(|t| t.0.with_timezone(&tz).date_naive())
}

/// The flows of `weeks` (oldest first) from the hazards' dates; `today` bounds the
/// current week's overdue count.
pub fn week_flows(
    dates: &[HazardDates],
    weeks: &[IsoWeek],
    tz: FixedOffset,
    today: NaiveDate,
) -> Vec<WeekFlow> {
    let index: BTreeMap<IsoWeek, usize> = weeks.iter().enumerate().map(|(i, w)| (*w, i)).collect();
    let mut out: Vec<WeekFlow> = weeks
        .iter()
        .map(|w| WeekFlow {
            week: w.to_string(),
            found: 0,
            closed: 0,
            overdue: 0,
        })
        .collect();
    let slot = |d: NaiveDate| index.get(&IsoWeek::of(d)).copied();
    for h in dates {
        if let Some(i) = local_date(&h.reported_at, tz).and_then(slot) {
            out[i].found += 1;
        }
        let closed = h.status.as_deref() == Some("closed");
        if let Some(i) = h
            .verified_at
            .as_deref()
            .filter(|_| closed)
            .and_then(|v| local_date(v, tz))
            .and_then(slot)
        {
            out[i].closed += 1;
        }
        let Some(due) = h
            .deadline
            .as_deref()
            .and_then(|d| d.parse::<NaiveDate>().ok())
        else {
            continue;
        };
        let Some(first_overdue) = due.succ_opt() else {
            continue;
        };
        let rectified_in_time = h
            .rectified_at
            .as_deref()
            .and_then(|r| local_date(r, tz))
            .is_some_and(|r| r <= due);
        if first_overdue > today || rectified_in_time || h.status.as_deref() == Some("deferred") {
            continue;
        }
        if let Some(i) = slot(first_overdue) {
            out[i].overdue += 1;
        }
    }
    out
}

/// The start of `day` in the institution's zone, as a stored UTC time (RFC 3339).
fn start_of(day: NaiveDate, tz: FixedOffset) -> String {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).single())
        .map(|t| Timestamp(t.to_utc()).to_string())
        .unwrap_or_default()
}

/// The Monday the oldest of `weeks` starts on.
fn first_monday(weeks: &[IsoWeek]) -> Option<NaiveDate> {
    let w = weeks.first()?;
    NaiveDate::from_isoywd_opt(w.year, w.week, Weekday::Mon)
}

/// `GET /`: the home page of the signed-in user's institution; provincial reviewers,
/// who span institutions, start at the province's grid.
pub async fn home(State(state): State<AppState>, web: Web) -> Response {
    let Some(inst) = web.scope() else {
        return Redirect::to("/province/weekly").into_response();
    };
    match context(&state, &web, inst).await {
        Ok(ctx) => render(&state, Some(&web), web.lang, "home.html", "/", ctx),
        Err(e) => super::internal(&state, &web, e),
    }
}

async fn context(
    state: &AppState,
    web: &Web,
    inst: InstitutionId,
) -> Result<serde_json::Value, StoreError> {
    let s = state.storage.as_ref();
    let lang = web.lang;
    let tz = state.tz(Some(inst)).await;
    let today = state.today_in(tz);
    let label = |k: &str| i18n::text(lang, k);

    // Open hazards by risk grade and by area.
    let groups = s.open_by_risk_and_category(inst).await?;
    let mut by_risk: BTreeMap<RiskGrade, i64> = RiskGrade::ALL.iter().map(|r| (*r, 0)).collect();
    let mut by_area: BTreeMap<SafetyArea, i64> = SafetyArea::ALL.iter().map(|a| (*a, 0)).collect();
    for (risk, category, n) in &groups {
        if let Ok(r) = risk.parse::<RiskGrade>() {
            *by_risk.entry(r).or_default() += n;
        }
        let area = category
            .parse::<HazardCategory>()
            .map(HazardCategory::area)
            .unwrap_or(SafetyArea::Other);
        *by_area.entry(area).or_default() += n;
    }
    let open: i64 = groups.iter().map(|g| g.2).sum();
    let risk_rows: Vec<(String, i64, String)> = RiskGrade::ALL
        .iter()
        .rev()
        .map(|r| {
            (
                r.label(lang).to_string(),
                by_risk[r],
                format!("risk-bar risk-{}", r.code()),
            )
        })
        .collect();
    let area_rows: Vec<(String, i64, String)> = SafetyArea::ALL
        .iter()
        .map(|a| {
            (
                a.label(lang).to_string(),
                by_area[a],
                "area-bar".to_string(),
            )
        })
        .collect();

    // Overdue, due soon, under supervision: the ledger's own filters, so the figures are
    // those of the pages they link to.
    let base = HazardQuery {
        institution: Some(inst),
        by_deadline: true,
        limit: LISTED,
        ..Default::default()
    };
    let (overdue, overdue_total) = s
        .hazards(&HazardQuery {
            overdue_before: Some(today.to_string()),
            ..base.clone()
        })
        .await?;
    let (soon, soon_total) = s
        .hazards(&HazardQuery {
            due_from: Some(today.to_string()),
            due_until: Some((today + Duration::days(DUE_SOON_DAYS)).to_string()),
            ..base.clone()
        })
        .await?;
    let (supervised, supervised_total) = s
        .hazards(&HazardQuery {
            supervised: Some(true),
            open: true,
            ..base.clone()
        })
        .await?;
    let view = |rows: &[crate::ledger::HazardRow]| {
        rows.iter()
            .map(|h| super::pages::view(h, today, tz))
            .collect::<Vec<_>>()
    };

    // This week's weekly reports, as the weekly grid judges them.
    let grid = super::reports::grid(state, inst, today, 1).await?;
    let mut reports: BTreeMap<String, i64> = BTreeMap::new();
    for row in grid["rows"].as_array().into_iter().flatten() {
        for cell in row["cells"].as_array().into_iter().flatten() {
            let st = cell["state"].as_str().unwrap_or("missing").to_string();
            *reports.entry(st).or_default() += 1;
        }
    }

    // This week's incidents (received since Monday, institution time).
    let week = IsoWeek::of(today);
    let monday = first_monday(&[week]).unwrap_or(today);
    let monday_utc = start_of(monday, tz);
    let incidents = s
        .reports(
            Some(inst),
            "incident_report",
            0,
            1000,
            ReportOrder::NewestFirst,
        )
        .await?;
    let next_monday_utc = start_of(monday + Duration::days(7), tz);
    let incidents: Vec<serde_json::Value> = incidents
        .iter()
        .filter(|r| r.received_at >= monday_utc && r.received_at < next_monday_utc)
        .map(|r| json!({"id": r.id, "title": r.title, "received": crate::export::local_time(&r.received_at, tz)}))
        .collect();

    // The running campaign's rectification rate (the latest-starting one running today).
    let campaigns = s.campaigns(inst).await?;
    let running = campaigns
        .iter()
        .filter(|c| c.starts <= today && today <= c.ends)
        .max_by_key(|c| c.starts);
    let campaign = match running {
        Some(c) => match super::campaigns::figures(state, web, c, tz).await {
            Ok((_, total, _, _)) => Some(json!({
                "id": c.id, "name": c.name, "rate": total.rate_text(),
                "found": total.hazards, "rectified": total.rectified,
            })),
            Err(_) => None,
        },
        None => None,
    };

    // Twelve weeks of flows.
    let weeks = super::reports::week_list(today, WEEKS);
    let first = first_monday(&weeks).unwrap_or(today);
    // A day early: the reads bucket by local date, and a zone may put the Monday's first
    // hours on the Sunday in UTC.
    let since = start_of(first - Duration::days(1), tz);
    let dates = s
        .hazard_dates_since(inst, &since, &(first - Duration::days(1)).to_string())
        .await?;
    let flows = week_flows(&dates, &weeks, tz, today);
    let week_labels: Vec<String> = flows
        .iter()
        .map(|f| {
            f.week
                .split_once('-')
                .map_or(f.week.clone(), |(_, w)| w.to_string())
        })
        .collect();
    let flow_chart = charts::grouped_bars(
        "flows",
        label("home_flows"),
        &week_labels,
        &[
            Series {
                name: label("home_found"),
                class: "bar-found",
                values: flows.iter().map(|f| f.found).collect(),
            },
            Series {
                name: label("home_closed"),
                class: "bar-closed",
                values: flows.iter().map(|f| f.closed).collect(),
            },
            Series {
                name: label("home_turned_overdue"),
                class: "bar-overdue",
                values: flows.iter().map(|f| f.overdue).collect(),
            },
        ],
    );
    Ok(json!({
        "today": today.to_string(),
        "week": week.to_string(),
        "open": open,
        "by_risk": RiskGrade::ALL.iter().rev().map(|r| json!({"code": r.code(), "label": r.label(lang), "n": by_risk[r]})).collect::<Vec<_>>(),
        "by_area": SafetyArea::ALL.iter().map(|a| json!({"code": a.code(), "label": a.label(lang), "n": by_area[a]})).collect::<Vec<_>>(),
        "risk_chart": charts::horizontal_bars("by-risk", label("home_by_risk"), &risk_rows),
        "area_chart": charts::horizontal_bars("by-area", label("home_by_area"), &area_rows),
        "overdue": view(&overdue),
        "overdue_total": overdue_total,
        "soon": view(&soon),
        "soon_total": soon_total,
        "due_soon_days": DUE_SOON_DAYS,
        "supervised": view(&supervised),
        "supervised_total": supervised_total,
        "reports": reports,
        "incidents": incidents,
        "campaign": campaign,
        "flows": flows,
        "flow_chart": flow_chart,
        "en": lang == Lang::En,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(
        reported: &str,
        deadline: Option<&str>,
        rectified: Option<&str>,
        status: &str,
    ) -> HazardDates {
        HazardDates {
            reported_at: reported.into(),
            verified_at: None,
            deadline: deadline.map(str::to_string),
            rectified_at: rectified.map(str::to_string),
            status: Some(status.into()),
        }
    }

    #[test]
    fn flows_count_by_the_institutions_weeks_and_overdue_from_the_day_after_the_deadline() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let today: NaiveDate = "2026-03-11".parse().unwrap(); // Wednesday of W11
        let weeks = crate::web::reports::week_list(today, 2); // W10, W11
        let rows = [
            // Sunday 23:30 UTC is Monday in +08:00: W11.
            dates("2026-03-08T23:30:00Z", None, None, "reported"),
            // Due Sunday of W10: overdue from Monday of W11.
            dates(
                "2026-03-02T01:00:00Z",
                Some("2026-03-08"),
                None,
                "in_rectification",
            ),
            // Rectified on its deadline day: never overdue.
            dates(
                "2026-03-02T01:00:00Z",
                Some("2026-03-05"),
                Some("2026-03-05T10:00:00Z"),
                "awaiting_verification",
            ),
            // Rectified the day after: it was overdue (W10).
            dates(
                "2026-03-02T01:00:00Z",
                Some("2026-03-04"),
                Some("2026-03-05T10:00:00Z"),
                "awaiting_verification",
            ),
            // Due today: overdue only from tomorrow.
            dates(
                "2026-03-02T01:00:00Z",
                Some("2026-03-11"),
                None,
                "in_rectification",
            ),
            // Deferred: not counted.
            dates("2026-03-02T01:00:00Z", Some("2026-03-03"), None, "deferred"),
        ];
        let f = week_flows(&rows, &weeks, tz, today);
        assert_eq!(
            f.iter()
                .map(|w| (w.week.as_str(), w.found, w.overdue))
                .collect::<Vec<_>>(),
            [("2026-W10", 5, 1), ("2026-W11", 1, 1)]
        );
    }
}
