//! The duty roster 值班: slots (a time range, the duty officer and the leader on duty with
//! their phone numbers), who is on duty now by the server's settable clock, and holiday
//! periods (New Year, Spring Festival, the Two Sessions) with any hours no slot covers.
//! Everyone of the institution may read it (someone must be reachable); the safety office
//! and administrators edit it, every edit audited.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use saferound_core::ids::Timestamp;
use serde_json::json;

use super::form::{Acting as _, Office, Posted};
use super::{Web, error_page, internal, render};
use crate::state::AppState;
use crate::store::{DutySlot, Holiday};

/// A slot lasts at most this long; a holiday period at most `MAX_HOLIDAY_DAYS`.
pub const MAX_SLOT_DAYS: i64 = 31;
pub const MAX_HOLIDAY_DAYS: i64 = 60;
/// The roster page shows slots from a day ago to this many days ahead.
pub const AHEAD_DAYS: i64 = 90;

fn utc(t: &str) -> Option<DateTime<Utc>> {
    t.parse::<Timestamp>().ok().map(|t| t.0)
}

/// The parts of [from, before) that no slot covers.
pub fn gaps(
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    slots: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut s: Vec<_> = slots
        .iter()
        .filter(|(a, b)| a < &before && b > &from)
        .copied()
        .collect();
    s.sort();
    let mut out = Vec::new();
    let mut at = from;
    for (a, b) in s {
        if a > at {
            out.push((at, a.min(before)));
        }
        at = at.max(b);
        if at >= before {
            break;
        }
    }
    if at < before {
        out.push((at, before));
    }
    out
}

fn local_midnight(d: NaiveDate, tz: FixedOffset) -> Option<DateTime<Utc>> {
    d.and_hms_opt(0, 0, 0)?
        .and_local_timezone(tz)
        .single()
        .map(|t| t.to_utc())
}

fn show(t: DateTime<Utc>, tz: FixedOffset) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn slot_json(s: &DutySlot, tz: FixedOffset) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["starts_local"] = json!(utc(&s.starts).map(|t| show(t, tz)));
    v["ends_local"] = json!(utc(&s.ends).map(|t| show(t, tz)));
    // As a `datetime-local` input takes them, for the edit form.
    let input = |t: &str| utc(t).map(|t| t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string());
    v["starts_input"] = json!(input(&s.starts));
    v["ends_input"] = json!(input(&s.ends));
    v
}

/// `GET /duty`
pub async fn page(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(inst) = web
        .scope()
        .or_else(|| q.get("institution").and_then(|i| i.parse().ok()))
    else {
        return error_page(&state, web.lang, StatusCode::NOT_FOUND, "no institution");
    };
    let tz = state.tz(Some(inst)).await;
    let now = state.now();
    let s = state.storage.as_ref();
    let holidays = match s.holidays(inst).await {
        Ok(h) => h,
        Err(e) => return internal(&state, &web, e),
    };
    let from = now - Duration::days(1);
    let mut before = now + Duration::days(AHEAD_DAYS);
    // Slots of every listed holiday are needed to find its gaps, however far ahead.
    for h in &holidays {
        if let Some(end) = h.ends.succ_opt().and_then(|d| local_midnight(d, tz)) {
            before = before.max(end);
        }
    }
    let earliest = holidays
        .iter()
        .filter_map(|h| local_midnight(h.starts, tz))
        .min()
        .map_or(from, |h| h.min(from));
    let slots = match s
        .duty_slots(
            inst,
            &Timestamp(earliest).to_string(),
            &Timestamp(before).to_string(),
        )
        .await
    {
        Ok(x) => x,
        Err(e) => return internal(&state, &web, e),
    };
    let ranges: Vec<(DateTime<Utc>, DateTime<Utc>)> = slots
        .iter()
        .filter_map(|s| Some((utc(&s.starts)?, utc(&s.ends)?)))
        .collect();
    let on_duty: Vec<serde_json::Value> = slots
        .iter()
        .filter(|s| {
            utc(&s.starts).is_some_and(|a| a <= now) && utc(&s.ends).is_some_and(|b| now < b)
        })
        .map(|s| slot_json(s, tz))
        .collect();
    let holidays: Vec<serde_json::Value> = holidays
        .iter()
        .map(|h| {
            let (a, b) = (
                local_midnight(h.starts, tz),
                h.ends.succ_opt().and_then(|d| local_midnight(d, tz)),
            );
            let g = match (a, b) {
                (Some(a), Some(b)) => gaps(a, b, &ranges),
                _ => Vec::new(),
            };
            json!({
                "id": h.id, "name": h.name, "starts": h.starts.to_string(), "ends": h.ends.to_string(),
                "gaps": g.iter().map(|(a, b)| json!({"from": show(*a, tz), "to": show(*b, tz)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let uncovered = holidays
        .iter()
        .filter(|h| h["gaps"].as_array().is_some_and(|g| !g.is_empty()))
        .count();
    render(
        &state,
        Some(&web),
        web.lang,
        "duty.html",
        "/duty",
        json!({
            "now": show(now, tz),
            "on_duty": on_duty,
            "slots": slots.iter().filter(|s| utc(&s.ends).is_some_and(|b| b > from)).map(|s| slot_json(s, tz)).collect::<Vec<_>>(),
            "holidays": holidays,
            "uncovered_count": uncovered,
            "can_edit": Office::acts_for(&web) == Some(inst),
            // `?edit=<slot id>` fills the slot form with that slot, to change it.
            "editing": q.get("edit").and_then(|id| slots.iter().find(|s| &s.id == id)).map(|s| slot_json(s, tz)),
            "tz": tz.to_string(),
        }),
    )
}

fn text(f: &HashMap<String, String>, k: &str, max: usize) -> Result<String, String> {
    let v = f.get(k).map(|v| v.trim()).unwrap_or("");
    if v.is_empty() || v.chars().count() > max {
        return Err(format!("{k}: required, at most {max} characters"));
    }
    Ok(v.to_string())
}

/// A phone number: digits with +, -, spaces and parentheses, 3 to 30 characters.
fn phone(f: &HashMap<String, String>, k: &str) -> Result<String, String> {
    let v = text(f, k, 30)?;
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if digits < 3 || !v.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) {
        return Err(format!("{k}: a phone number"));
    }
    Ok(v)
}

/// A local date and time from a form (`YYYY-MM-DDTHH:MM`, as `datetime-local` sends it).
fn local_instant(
    f: &HashMap<String, String>,
    k: &str,
    tz: FixedOffset,
) -> Result<DateTime<Utc>, String> {
    let v = f.get(k).map(|v| v.trim()).unwrap_or("");
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M"))
        .ok()
        .and_then(|t| t.and_local_timezone(tz).single())
        .map(|t| t.to_utc())
        .ok_or_else(|| format!("{k}: a local date and time (YYYY-MM-DDTHH:MM)"))
}

fn date(f: &HashMap<String, String>, k: &str) -> Result<NaiveDate, String> {
    f.get(k)
        .map(|v| v.trim())
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("{k}: a date (YYYY-MM-DD)"))
}

/// `POST /duty/{slot|slot_delete|holiday|holiday_delete}`
pub async fn post(
    State(state): State<AppState>,
    Path(what): Path<String>,
    Posted {
        web,
        form: f,
        acting_for: inst,
        ..
    }: Posted<Office>,
) -> Response {
    let tz = state.tz(Some(inst)).await;
    let s = state.storage.as_ref();
    let result: Result<String, (StatusCode, String)> = async {
        let bad = |e: String| (StatusCode::BAD_REQUEST, e);
        let internal =
            |e: crate::store::StoreError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        match what.as_str() {
            "slot" => {
                let (a, b) = (
                    local_instant(&f, "starts", tz).map_err(bad)?,
                    local_instant(&f, "ends", tz).map_err(bad)?,
                );
                if b <= a || b - a > Duration::days(MAX_SLOT_DAYS) {
                    return Err(bad(format!(
                        "ends: after starts, within {MAX_SLOT_DAYS} days"
                    )));
                }
                // With an `id`, the form edits that slot; without, it adds one.
                let editing = f.get("id").map(|v| v.trim()).filter(|v| !v.is_empty());
                let slot = DutySlot {
                    id: match editing {
                        Some(_) => text(&f, "id", 64).map_err(bad)?,
                        None => uuid::Uuid::new_v4().to_string(),
                    },
                    institution: inst,
                    starts: Timestamp(a).to_string(),
                    ends: Timestamp(b).to_string(),
                    officer: text(&f, "officer", 100).map_err(bad)?,
                    officer_phone: phone(&f, "officer_phone").map_err(bad)?,
                    leader: text(&f, "leader", 100).map_err(bad)?,
                    leader_phone: phone(&f, "leader_phone").map_err(bad)?,
                };
                if editing.is_none() {
                    s.add_duty_slot(&slot).await.map_err(internal)?;
                } else if !s.update_duty_slot(&slot).await.map_err(internal)? {
                    return Err((StatusCode::NOT_FOUND, "no such duty slot".into()));
                }
                Ok(format!(
                    "slot {}{} {}..{} {} / {}",
                    if editing.is_some() { "edited " } else { "" },
                    slot.id,
                    show(a, tz),
                    show(b, tz),
                    slot.officer,
                    slot.leader
                ))
            }
            "holiday" => {
                let (a, b) = (
                    date(&f, "starts").map_err(bad)?,
                    date(&f, "ends").map_err(bad)?,
                );
                if b < a || (b - a).num_days() >= MAX_HOLIDAY_DAYS {
                    return Err(bad(format!(
                        "ends: not before starts, within {MAX_HOLIDAY_DAYS} days"
                    )));
                }
                let h = Holiday {
                    id: uuid::Uuid::new_v4().to_string(),
                    institution: inst,
                    name: text(&f, "name", 100).map_err(bad)?,
                    starts: a,
                    ends: b,
                };
                s.add_holiday(&h).await.map_err(internal)?;
                Ok(format!("holiday {} {} {a}..{b}", h.id, h.name))
            }
            "slot_delete" | "holiday_delete" => {
                let id = text(&f, "id", 64).map_err(bad)?;
                let gone = if what == "slot_delete" {
                    s.delete_duty_slot(inst, &id).await
                } else {
                    s.delete_holiday(inst, &id).await
                }
                .map_err(internal)?;
                if gone {
                    Ok(id)
                } else {
                    Err((StatusCode::NOT_FOUND, "not found".into()))
                }
            }
            _ => Err((StatusCode::NOT_FOUND, "not found".into())),
        }
    }
    .await;
    super::finish_action(&state, &web, result, &format!("duty_{what}"), "/duty").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn gaps_are_what_no_slot_covers() {
        // Holiday [0, 48): slots 0–10, 8–20, 30–50 leave 20–30.
        assert_eq!(
            gaps(t(0), t(48), &[(t(30), t(50)), (t(0), t(10)), (t(8), t(20))]),
            vec![(t(20), t(30))]
        );
        assert_eq!(gaps(t(0), t(24), &[]), vec![(t(0), t(24))]);
        assert_eq!(gaps(t(0), t(24), &[(t(-5), t(30))]), vec![]);
        // Uncovered at both ends; a slot outside the period does not count.
        assert_eq!(
            gaps(t(0), t(24), &[(t(4), t(20)), (t(30), t(40))]),
            vec![(t(0), t(4)), (t(20), t(24))]
        );
    }
}
