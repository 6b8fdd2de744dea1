//! Campaigns 专项行动: a name, a date range, phases with their dates, and the weekly
//! report deadlines that hold while the campaign runs. The hundred-day campaign of the
//! notice ships as a template. Progress and the summary 工作总结 are figures of the
//! ledger, computed at request time.
//!
//! Membership: a record tagged with the campaign's id belongs to it; a record with no
//! campaign tag (phones record none unless told one) belongs to every campaign whose dates
//! hold the moment it was reported (hazards) or started (inspections), judged in the
//! institution's time zone. So campaigns need no change to the documents and a campaign
//! created after the fact still gathers what was found in its dates.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, FixedOffset, NaiveDate};
use saferound_core::ids::{CampaignId, InstitutionId, Timestamp};
use saferound_core::model::{HazardCategory, Lang, RiskGrade, SiteKind};
use serde_json::json;

use super::form::{Acting as _, Office, Posted};
use super::{Web, error_page, internal, render};
use crate::state::AppState;

mod figures;
use crate::store::{Campaign, CampaignScope, Phase, WeeklyDue};
use figures::figures_json;
pub use figures::{Figures, summarize, summary_table};

/// A campaign lasts at most this many days, and has at most this many phases.
pub const MAX_DAYS: i64 = 731;
pub const MAX_PHASES: usize = 20;

/// The hundred-day campaign of notice 赣教稳定字〔2020〕13号, with its own dates, or
/// moved so that it starts on `start` (every phase keeps its place relative to the start).
// The notice's dates are real calendar dates.
#[allow(clippy::expect_used)]
pub fn hundred_day(institution: InstitutionId, start: Option<NaiveDate>) -> Campaign {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("a calendar date");
    let base = d(2020, 12, 21);
    let shift = start.map(|s| s - base).unwrap_or_default();
    let at = |x: NaiveDate| x + shift;
    let phase = |zh: &str, en: &str, a: NaiveDate, b: NaiveDate| Phase {
        name_zh: zh.into(),
        name_en: en.into(),
        starts: at(a),
        ends: at(b),
    };
    Campaign {
        id: CampaignId::new(),
        institution,
        name: "岁末年初安全集中治理百日行动".into(),
        starts: at(base),
        ends: at(d(2021, 3, 31)),
        // The college's summary is due by 20 March (the province's by 24 March).
        summary_due: Some(at(d(2021, 3, 20))),
        phases: vec![
            // 2020年12月下旬
            phase("动员部署", "Mobilisation", base, d(2020, 12, 31)),
            // 2020年12月底至2021年1月上旬, before the winter break
            phase(
                "隐患排查",
                "Hazard inspection",
                d(2020, 12, 28),
                d(2021, 1, 10),
            ),
            // 2021年1月下旬至2月底
            phase(
                "整改复查",
                "Rectification and re-check",
                d(2021, 1, 21),
                d(2021, 2, 28),
            ),
            // 2021年3月: look-back 回头看
            phase(
                "集中攻坚",
                "Concentrated tackling and look-back",
                d(2021, 3, 1),
                d(2021, 3, 31),
            ),
        ],
        dept_due: WeeklyDue::DEPARTMENT,
        inst_due: WeeklyDue::INSTITUTION,
    }
}

/// The campaign's records (see the module comment): its id, and its first local midnight
/// to the one after its last day as UTC instants.
pub fn scope(c: &Campaign, tz: FixedOffset) -> CampaignScope {
    let midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).single())
            .map(|t| Timestamp(t.to_utc()).to_string())
            .unwrap_or_default()
    };
    CampaignScope {
        id: c.id.to_string(),
        from: midnight(c.starts),
        before: midnight(c.ends.succ_opt().unwrap_or(c.ends)),
    }
}

fn institution_of(web: &Web, q: &HashMap<String, String>) -> Option<InstitutionId> {
    web.scope()
        .or_else(|| q.get("institution").and_then(|i| i.parse().ok()))
}

fn phase_name(p: &Phase, lang: Lang) -> &str {
    if lang == Lang::En {
        &p.name_en
    } else {
        &p.name_zh
    }
}

fn campaign_json(c: &Campaign, today: NaiveDate, lang: Lang) -> serde_json::Value {
    let total = (c.ends - c.starts).num_days() + 1;
    let elapsed = ((today - c.starts).num_days() + 1).clamp(0, total);
    let state = |a: NaiveDate, b: NaiveDate| {
        if today < a {
            "upcoming"
        } else if today > b {
            "done"
        } else {
            "current"
        }
    };
    json!({
        "id": c.id.to_string(),
        "name": c.name,
        "starts": c.starts.to_string(),
        "ends": c.ends.to_string(),
        "summary_due": c.summary_due.map(|d| d.to_string()),
        "state": state(c.starts, c.ends),
        "days_total": total,
        "days_elapsed": elapsed,
        "percent": if total > 0 { elapsed * 100 / total } else { 0 },
        "phases": c.phases.iter().map(|p| json!({
            "name": phase_name(p, lang),
            "starts": p.starts.to_string(),
            "ends": p.ends.to_string(),
            "state": state(p.starts, p.ends),
        })).collect::<Vec<_>>(),
        "dept_due": {"day": c.dept_due.day, "time": c.dept_due.time()},
        "inst_due": {"day": c.inst_due.day, "time": c.inst_due.time()},
    })
}

/// `GET /campaigns`: the institution's campaigns and the forms to start one.
pub async fn list(
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
    let tz = state.tz(Some(inst)).await;
    let today = state.today_in(tz);
    let list = match state.storage.campaigns(inst).await {
        Ok(l) => l,
        Err(e) => return internal(&state, &web, e),
    };
    render(
        &state,
        Some(&web),
        web.lang,
        "campaigns.html",
        "/campaigns",
        json!({
            "campaigns": list.iter().rev().map(|c| campaign_json(c, today, web.lang)).collect::<Vec<_>>(),
            "can_manage": Office::acts_for(&web).is_some(),
            "institution": inst.to_string(),
            "institutions": if web.scope().is_none() {
                institutions.iter().map(|(i, n)| json!({"id": i.to_string(), "name": n})).collect::<Vec<_>>()
            } else { Vec::new() },
            "today": today.to_string(),
        }),
    )
}

fn text(
    f: &HashMap<String, String>,
    k: &str,
    max: usize,
    required: bool,
) -> Result<String, String> {
    let v = f.get(k).map(|v| v.trim()).unwrap_or("");
    if (required && v.is_empty()) || v.chars().count() > max {
        return Err(format!("{k}: required, at most {max} characters"));
    }
    Ok(v.to_string())
}

fn date(f: &HashMap<String, String>, k: &str) -> Result<Option<NaiveDate>, String> {
    match f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{k}: not a date (YYYY-MM-DD)")),
    }
}

/// A weekday (1–7) and a time "HH:MM" from the form.
fn due(f: &HashMap<String, String>, prefix: &str, default: WeeklyDue) -> Result<WeeklyDue, String> {
    let day = match f.get(&format!("{prefix}_day")).map(|v| v.trim()) {
        None | Some("") => default.day,
        Some(d) => d
            .parse::<u8>()
            .ok()
            .filter(|d| (1..=7).contains(d))
            .ok_or_else(|| format!("{prefix}_day: 1 (Monday) to 7 (Sunday)"))?,
    };
    let minute = match f.get(&format!("{prefix}_time")).map(|v| v.trim()) {
        None | Some("") => default.minute,
        Some(t) => chrono::NaiveTime::parse_from_str(t, "%H:%M")
            .map(|t| {
                use chrono::Timelike;
                (t.hour() * 60 + t.minute()) as u16
            })
            .map_err(|_| format!("{prefix}_time: HH:MM"))?,
    };
    Ok(WeeklyDue { day, minute })
}

/// Phases, one per line: `name | YYYY-MM-DD | YYYY-MM-DD` (an English name after a `/`).
pub fn parse_phases(s: &str, starts: NaiveDate, ends: NaiveDate) -> Result<Vec<Phase>, String> {
    let mut out = Vec::new();
    for (n, line) in s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let bad = |why: &str| format!("phases, line {}: {why}", n + 1);
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, a, b] = parts[..] else {
            return Err(bad("name | start | end"));
        };
        let (zh, en) = name.split_once('/').unwrap_or((name, name));
        let (zh, en) = (zh.trim(), en.trim());
        if zh.is_empty() || zh.chars().count() > 100 || en.chars().count() > 100 {
            return Err(bad("a name of 1 to 100 characters"));
        }
        let a: NaiveDate = a.parse().map_err(|_| bad("start: YYYY-MM-DD"))?;
        let b: NaiveDate = b.parse().map_err(|_| bad("end: YYYY-MM-DD"))?;
        if a > b || a < starts || b > ends {
            return Err(bad("dates must lie within the campaign, start before end"));
        }
        out.push(Phase {
            name_zh: zh.into(),
            name_en: if en.is_empty() { zh.into() } else { en.into() },
            starts: a,
            ends: b,
        });
        if out.len() > MAX_PHASES {
            return Err(format!("phases: at most {MAX_PHASES}"));
        }
    }
    out.sort_by_key(|p| p.starts);
    Ok(out)
}

/// `POST /campaigns`: `template=hundred_day` (optionally `start`), or a campaign of the
/// Stores the campaign and rewrites the institution's directory, through which phones
/// learn of it (a directory that fails to refresh is logged: the campaign is kept and the
/// next refresh carries it).
async fn save(state: &AppState, c: &Campaign) -> Result<(), crate::store::StoreError> {
    state.storage.save_campaign(c).await?;
    if let Err(e) = crate::directory::refresh(state, c.institution).await {
        tracing::error!("directory not refreshed after a campaign was saved: {e}");
    }
    Ok(())
}

/// office's own (`name`, `starts`, `ends`, `phases`), with optional weekly deadlines.
pub async fn create(
    State(state): State<AppState>,
    Posted {
        web,
        form: f,
        acting_for: inst,
        ..
    }: Posted<Office>,
) -> Response {
    let built = (|| -> Result<Campaign, String> {
        let mut c = if f.get("template").map(String::as_str) == Some("hundred_day") {
            hundred_day(inst, date(&f, "start")?)
        } else {
            let starts = date(&f, "starts")?.ok_or("starts: required")?;
            let ends = date(&f, "ends")?.ok_or("ends: required")?;
            if ends < starts || (ends - starts).num_days() >= MAX_DAYS {
                return Err(format!("ends: after starts, within {MAX_DAYS} days"));
            }
            Campaign {
                id: CampaignId::new(),
                institution: inst,
                name: text(&f, "name", 200, true)?,
                starts,
                ends,
                summary_due: date(&f, "summary_due")?,
                phases: parse_phases(
                    f.get("phases").map(String::as_str).unwrap_or(""),
                    starts,
                    ends,
                )?,
                dept_due: WeeklyDue::DEPARTMENT,
                inst_due: WeeklyDue::INSTITUTION,
            }
        };
        let name = text(&f, "name", 200, false)?;
        if !name.is_empty() {
            c.name = name;
        }
        c.dept_due = due(&f, "dept", c.dept_due)?;
        c.inst_due = due(&f, "inst", c.inst_due)?;
        Ok(c)
    })();
    let c = match built {
        Ok(c) => c,
        Err(e) => return error_page(&state, web.lang, StatusCode::BAD_REQUEST, &e),
    };
    if let Err(e) = save(&state, &c).await {
        return internal(&state, &web, e);
    }
    super::audit_action(
        &state,
        &web,
        "campaign_create",
        &format!("{} {} {}..{}", c.id, c.name, c.starts, c.ends),
    )
    .await;
    Redirect::to(&format!("/campaigns/{}", c.id)).into_response()
}

/// The campaign `id` of the institution the user may read.
async fn find(
    state: &AppState,
    web: &Web,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<(Campaign, FixedOffset), Response> {
    if !web.reads_all() {
        return Err(super::forbidden(state, web));
    }
    let not_found = || error_page(state, web.lang, StatusCode::NOT_FOUND, "not found");
    let (Some(inst), Ok(id)) = (institution_of(web, q), id.parse::<CampaignId>()) else {
        return Err(not_found());
    };
    let list = state
        .storage
        .campaigns(inst)
        .await
        .map_err(|e| internal(state, web, e))?;
    let c = list
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    Ok((c, state.tz(Some(inst)).await))
}

/// A campaign with its summary's figures, as of today in its institution.
struct Summary {
    c: Campaign,
    rows: Vec<Figures>,
    total: Figures,
    today: NaiveDate,
    institution_name: String,
}

/// The campaign `id` the user may read, with its figures (`find`, then `figures`).
async fn summary_of(
    state: &AppState,
    web: &Web,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<Summary, Response> {
    let (c, tz) = find(state, web, id, q).await?;
    let (rows, total, today, institution_name) = figures(state, web, &c, tz).await?;
    Ok(Summary {
        c,
        rows,
        total,
        today,
        institution_name,
    })
}

/// The summary's figures for the campaign, and today's date in its institution.
pub(crate) async fn figures(
    state: &AppState,
    web: &Web,
    c: &Campaign,
    tz: FixedOffset,
) -> Result<(Vec<Figures>, Figures, NaiveDate, String), Response> {
    let today = state.today_in(tz);
    let s = state.storage.as_ref();
    let (h, i) = s
        .campaign_figures(c.institution, &scope(c, tz), &today.to_string())
        .await
        .map_err(|e| internal(state, web, e))?;
    let depts = s
        .departments(c.institution)
        .await
        .map_err(|e| internal(state, web, e))?;
    let name = s
        .institutions()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|(i, _)| *i == c.institution)
        .map(|(_, n)| n)
        .unwrap_or_default();
    let other = super::i18n::text(web.lang, "other_units");
    let total_name = if web.lang == Lang::En {
        "Institution total".to_string()
    } else {
        format!("{name}（全校合计）")
    };
    let (rows, total) = summarize(&depts, &h, &i, other, &total_name);
    Ok((rows, total, today, name))
}

fn summary_context(s: &Summary, lang: Lang) -> serde_json::Value {
    let Summary {
        c,
        rows,
        total,
        today,
        ..
    } = s;
    let today = *today;
    json!({
        "c": campaign_json(c, today, lang),
        "rows": rows.iter().map(figures_json).collect::<Vec<_>>(),
        "total": figures_json(total),
        "all": rows.iter().chain([total]).map(figures_json).collect::<Vec<_>>(),
        "site_kinds": SiteKind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "categories": HazardCategory::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "risks": RiskGrade::ALL.iter().rev().map(|k| k.code()).collect::<Vec<_>>(),
        "today": today.to_string(),
    })
}

/// `GET /campaigns/{id}`: phases, progress and the figures so far.
pub async fn progress(
    State(state): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sum = match summary_of(&state, &web, &id, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let c = &sum.c;
    let mut ctx = summary_context(&sum, web.lang);
    ctx["can_manage"] = json!(Office::acts_for(&web) == Some(c.institution));
    ctx["qs"] = json!(if web.scope().is_none() {
        format!("?institution={}", c.institution)
    } else {
        String::new()
    });
    render(
        &state,
        Some(&web),
        web.lang,
        "campaign.html",
        "/campaigns",
        ctx,
    )
}

/// `GET /campaigns/{id}/summary`: the 工作总结 as a print-styled page.
pub async fn summary(
    State(state): State<AppState>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sum = match summary_of(&state, &web, &id, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut ctx = summary_context(&sum, web.lang);
    ctx["institution_name"] = json!(sum.institution_name);
    render(&state, Some(&web), web.lang, "summary.html", "", ctx)
}

/// `POST /campaigns/{id}/deadlines`: the weekly report deadlines of this campaign.
pub async fn deadlines(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted {
        web,
        form: f,
        acting_for: inst,
        ..
    }: Posted<Office>,
) -> Response {
    let (mut c, _) = match find(&state, &web, &id, &HashMap::new()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if c.institution != inst {
        return super::forbidden(&state, &web);
    }
    match (due(&f, "dept", c.dept_due), due(&f, "inst", c.inst_due)) {
        (Ok(d), Ok(i)) => {
            c.dept_due = d;
            c.inst_due = i;
        }
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&state, web.lang, StatusCode::BAD_REQUEST, &e);
        }
    }
    if let Err(e) = save(&state, &c).await {
        return internal(&state, &web, e);
    }
    super::audit_action(
        &state,
        &web,
        "campaign_deadlines",
        &format!(
            "{} dept {} {} inst {} {}",
            c.id,
            c.dept_due.day,
            c.dept_due.time(),
            c.inst_due.day,
            c.inst_due.time()
        ),
    )
    .await;
    Redirect::to(&format!("/campaigns/{}", c.id)).into_response()
}

/// `GET /export/campaigns/{id}/summary.{csv|xlsx}`
pub async fn export(
    State(state): State<AppState>,
    web: Web,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let file = match file.as_str() {
        "summary.csv" => super::tables::TableFile::Csv,
        "summary.xlsx" => super::tables::TableFile::Xlsx,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Summary {
        c,
        rows,
        total,
        today,
        ..
    } = match summary_of(&state, &web, &id, &q).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (header, cells) = summary_table(&rows, &total, web.lang);
    super::audit_action(
        &state,
        &web,
        &format!("export_campaign_{}", file.ext()),
        &c.id.to_string(),
    )
    .await;
    let sheet = if web.lang == Lang::En {
        "Campaign summary"
    } else {
        "工作总结"
    };
    let name = format!("campaign-summary-{}-{today}", c.starts.year());
    super::tables::table_download(&state, &web, file, &name, sheet, header, cells).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hundred_day_template_keeps_the_notice_dates_or_moves_them_together() {
        let inst = InstitutionId::new();
        let c = hundred_day(inst, None);
        assert_eq!(c.starts.to_string(), "2020-12-21");
        assert_eq!(c.ends.to_string(), "2021-03-31");
        assert_eq!(c.phases.len(), 4);
        assert_eq!(
            c.dept_due,
            WeeklyDue {
                day: 5,
                minute: 720
            }
        );
        assert_eq!(
            c.inst_due,
            WeeklyDue {
                day: 5,
                minute: 900
            }
        );
        let moved = hundred_day(inst, NaiveDate::from_ymd_opt(2026, 1, 5));
        assert_eq!(moved.starts.to_string(), "2026-01-05");
        assert_eq!(moved.ends - moved.starts, c.ends - c.starts);
        for (a, b) in moved.phases.iter().zip(&c.phases) {
            assert_eq!(a.starts - moved.starts, b.starts - c.starts);
            assert_eq!(a.ends - a.starts, b.ends - b.starts);
        }
    }

    #[test]
    fn phases_are_parsed_and_checked_against_the_campaign() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = parse_phases(
            "排查 / Inspection | 2026-01-05 | 2026-01-20\n\n整改|2026-01-21|2026-02-10",
            d("2026-01-01"),
            d("2026-02-28"),
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name_zh.as_str(), p[0].name_en.as_str()),
            ("排查", "Inspection")
        );
        assert_eq!(p[1].name_en, "整改");
        for bad in [
            "x | 2025-12-31 | 2026-01-02",
            "x | 2026-01-10 | 2026-01-02",
            "x | 2026-01-10",
            "x | soon | 2026-01-12",
        ] {
            assert!(
                parse_phases(bad, d("2026-01-01"), d("2026-02-28")).is_err(),
                "{bad}"
            );
        }
    }
}
