//! The hazard document: one entry of the hazard ledger 隐患台账.
//!
//! ```text
//! { schema, kind: "hazard", id, institution, campaign,
//!   inspection, site {id,name,kind}, category, risk, location, description (text),
//!   photos [hash], reported_by {user_id,name}, reported_at,
//!   plan { measure, responsible, funds, deadline, contingency, reinspector,
//!          interim_controls, designated_person, treatment_plan },
//!   events [ {id, kind, by, at, note, photos, risk, plan} ],   // append-only
//!   authors { actor: person } }
//! ```
//!
//! Plan fields are separate keys, so the office setting the deadline and someone else
//! editing the measure both survive a merge. The status is derived from `events`.

use super::json::DocText;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use super::conflicts::{self, Conflict};
use super::{DocKind, PersonRef, SiteRef, object, put_header, put_text, read_text};
use crate::error::{Error, Result};
use crate::ids::{BlobHash, CampaignId, DocId, InstitutionId, LocalDate, Timestamp};
use crate::model::deadline;
use crate::model::lifecycle::{self, EventKind, HazardStatus};
use crate::model::{HazardCategory, HazardGrade, RiskGrade};

/// The rectification plan (五定/六定) and, when deferred, the interim controls.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile,
)]
pub struct Plan {
    /// 整改措施
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub measure: String,
    /// 责任人
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub responsible: Option<PersonRef>,
    /// 整改资金, as written (e.g. "3000 元").
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub funds: String,
    /// 完成时限, a date in the institution's time zone.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub deadline: Option<LocalDate>,
    /// 预案
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub contingency: String,
    /// 复查人
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub reinspector: Option<PersonRef>,
    /// 安全防控措施 while deferred.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub interim_controls: String,
    /// The person designated to watch a deferred hazard.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub designated_person: Option<PersonRef>,
    /// Treatment plan of a major hazard listed for supervision 挂牌督办.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub treatment_plan: String,
}

/// One entry of the hazard's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Event {
    pub id: DocId,
    pub kind: EventKind,
    pub by: PersonRef,
    pub at: Timestamp,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub note: String,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub photos: Vec<BlobHash>,
    /// The grade set by a `regraded` event.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub risk: Option<RiskGrade>,
    /// The plan as set by an `assigned` or `deferred` event, kept for the record.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub plan: Option<Plan>,
    /// What a `corrected` (or `regraded`) event changed: each field's old and new value.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub corrections: Vec<Correction>,
}

/// One field a correction changed, its values as canonical JSON text (so a site or a
/// photo list is kept whole, and the policy can compare them with the document's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Correction {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The stored shape, as autosurgeon reads it; `Hazard` is what callers get.
#[derive(Debug, PartialEq, Hydrate, serde::Deserialize)]
struct Stored {
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    inspection: Option<DocId>,
    site: SiteRef,
    category: HazardCategory,
    location: String,
    description: DocText,
    photos: Vec<BlobHash>,
    reported_by: PersonRef,
    reported_at: Timestamp,
    plan: Plan,
    events: Vec<Event>,
}

/// A hazard as read from its document, with the derived status and the domain's
/// resolution of conflicts applied.
#[derive(Debug, Clone, Serialize)]
pub struct Hazard {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub inspection: Option<DocId>,
    pub site: SiteRef,
    pub category: HazardCategory,
    /// The risk grade: the highest of any concurrent values.
    pub risk: RiskGrade,
    pub hazard_grade: HazardGrade,
    pub location: String,
    pub description: String,
    pub photos: Vec<BlobHash>,
    pub reported_by: PersonRef,
    pub reported_at: Timestamp,
    /// The plan; its deadline is the earliest of any concurrent values.
    pub plan: Plan,
    pub events: Vec<Event>,
    /// `None` only for a history that does not start with "reported".
    pub status: Option<HazardStatus>,
    pub supervised: bool,
    /// Events that were not legal where they stand in the merged history.
    pub skipped_events: Vec<usize>,
    pub conflicts: Vec<Conflict>,
}

/// What the reporter supplies.
#[derive(Debug, Clone)]
pub struct NewHazard {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub inspection: Option<DocId>,
    pub site: SiteRef,
    pub category: HazardCategory,
    pub risk: RiskGrade,
    pub location: String,
    pub description: String,
    pub photos: Vec<BlobHash>,
}

pub fn create(doc: &mut AutoCommit, new: &NewHazard, by: &PersonRef, at: Timestamp) -> Result<()> {
    put_header(doc, DocKind::Hazard, new.id, new.institution, new.campaign)?;
    autosurgeon::reconcile_prop(doc, ROOT, "inspection", new.inspection)?;
    autosurgeon::reconcile_prop(doc, ROOT, "site", &new.site)?;
    doc.put(ROOT, "category", new.category.code())?;
    doc.put(ROOT, "risk", new.risk.code())?;
    doc.put(ROOT, "location", new.location.as_str())?;
    put_text(doc, &ROOT, "description", &new.description)?;
    autosurgeon::reconcile_prop(doc, ROOT, "photos", &new.photos)?;
    autosurgeon::reconcile_prop(doc, ROOT, "reported_by", by)?;
    doc.put(ROOT, "reported_at", at.to_string())?;
    autosurgeon::reconcile_prop(doc, ROOT, "plan", Plan::default())?;
    doc.put_object(ROOT, "events", ObjType::List)?;
    append_event(
        doc,
        &Event {
            id: DocId::new(),
            kind: EventKind::Reported,
            by: by.clone(),
            at,
            note: String::new(),
            photos: new.photos.clone(),
            risk: Some(new.risk),
            plan: None,
            corrections: Vec::new(),
        },
    )
}

/// Reads the hazard with its conflicts.
pub fn read(doc: &AutoCommit) -> Result<Hazard> {
    read_with(doc, true)
}

/// Reads the hazard; `with_conflicts: false` skips the scan of every field for
/// concurrent values (the costly part) and reports only skipped events.
pub fn read_with(doc: &AutoCommit, with_conflicts: bool) -> Result<Hazard> {
    let (h, s): (_, Stored) = super::json::read_headed(doc, DocKind::Hazard)?;
    let folded = lifecycle::fold(s.events.iter().map(|e| e.kind));
    let risk = resolved_risk(doc)?;
    let mut plan = s.plan;
    plan.deadline = resolved_deadline(doc)?;
    let mut conflicts = if with_conflicts {
        conflicts::scan(doc)
    } else {
        Vec::new()
    };
    for c in &mut conflicts {
        match c.field.as_str() {
            "risk" => c.resolution = format!("the higher grade stands: {}", risk.code()),
            "plan.deadline" => {
                c.resolution = match plan.deadline {
                    Some(d) => format!("the earlier deadline stands: {d}"),
                    None => "no deadline".into(),
                }
            }
            _ => {}
        }
    }
    for &i in &folded.skipped {
        let e = &s.events[i];
        conflicts.push(Conflict {
            field: format!("events[{i}]"),
            values: vec![conflicts::CompetingValue {
                value: serde_json::json!({"kind": e.kind.code(), "at": e.at.to_string(), "note": e.note}),
                written_by: Some(e.by.clone()),
                actor: String::new(),
            }],
            resolution: format!(
                "skipped: '{}' is not legal at this point of the merged history",
                e.kind.code()
            ),
        });
    }
    Ok(Hazard {
        id: h.id,
        institution: h.institution,
        campaign: h.campaign,
        inspection: s.inspection,
        site: s.site,
        category: s.category,
        hazard_grade: risk.hazard_grade(),
        risk,
        location: s.location,
        description: s.description.0,
        photos: s.photos,
        reported_by: s.reported_by,
        reported_at: s.reported_at,
        plan,
        events: s.events,
        status: folded.status,
        supervised: folded.supervised,
        skipped_events: folded.skipped,
        conflicts,
    })
}

/// The risk grade after merging: the highest of the concurrent values (safety first).
pub fn resolved_risk(doc: &AutoCommit) -> Result<RiskGrade> {
    doc.get_all(ROOT, "risk")?
        .iter()
        .filter_map(|(v, _)| v.as_str().and_then(|s| s.parse::<RiskGrade>().ok()))
        .max()
        .ok_or_else(|| Error::Document("hazard has no risk grade".into()))
}

/// The deadline after merging: the earliest of the concurrent values.
pub fn resolved_deadline(doc: &AutoCommit) -> Result<Option<LocalDate>> {
    let plan = object(doc, &ROOT, "plan")?;
    Ok(doc
        .get_all(&plan, "deadline")?
        .iter()
        .filter_map(|(v, _)| v.as_str().and_then(|s| s.parse::<LocalDate>().ok()))
        .min())
}

/// The status as the fold of the events, without reading the rest of the document.
pub fn status(doc: &AutoCommit) -> Result<Option<HazardStatus>> {
    let events = object(doc, &ROOT, "events")?;
    let kinds: Vec<EventKind> = (0..doc.length(&events))
        .filter_map(|i| {
            let (_, e) = doc.get(&events, i).ok()??;
            doc.get(&e, "kind").ok()??.0.as_str()?.parse().ok()
        })
        .collect();
    Ok(lifecycle::fold(kinds).status)
}

/// Appends an event at the end of the history. Events are never edited or removed.
pub fn append_event(doc: &mut AutoCommit, event: &Event) -> Result<()> {
    let events = object(doc, &ROOT, "events")?;
    let len = doc.length(&events);
    autosurgeon::reconcile_insert(doc, events, len, event)?;
    Ok(())
}

/// Sets the plan fields that differ from the current plan; untouched fields write nothing,
/// so they cannot conflict with someone else's edit.
/// Which plan fields an action sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanPart {
    /// 交办: measure, responsible person, funds, deadline, contingency, re-inspector.
    Assignment,
    /// 暂缓: interim controls and the designated person.
    Deferral,
    /// 挂牌督办: the treatment plan.
    Supervision,
}

/// Writes the plan fields of `part`. A field is written when it differs from the current
/// value or is in conflict (the person acting has now decided it, which settles the
/// conflict); the other parts are left alone, conflicts and all.
pub fn update_plan(doc: &mut AutoCommit, new: &Plan, part: PlanPart) -> Result<()> {
    let plan = object(doc, &ROOT, "plan")?;
    let mut current: Plan = autosurgeon::hydrate_prop(doc, ROOT, "plan")?;
    current.deadline = resolved_deadline(doc)?;
    macro_rules! set {
        ($field:ident) => {
            if current.$field != new.$field || doc.get_all(&plan, stringify!($field))?.len() > 1 {
                autosurgeon::reconcile_prop(doc, &plan, stringify!($field), &new.$field)?;
            }
        };
    }
    // People are written as new objects, so two concurrent assignments never pair one
    // person's id with another's name.
    macro_rules! set_person {
        ($field:ident) => {
            if current.$field != new.$field || doc.get_all(&plan, stringify!($field))?.len() > 1 {
                if new.$field.is_some() {
                    doc.put_object(&plan, stringify!($field), ObjType::Map)?;
                }
                autosurgeon::reconcile_prop(doc, &plan, stringify!($field), &new.$field)?;
            }
        };
    }
    match part {
        PlanPart::Assignment => {
            set!(measure);
            set_person!(responsible);
            set!(funds);
            set!(deadline);
            set!(contingency);
            set_person!(reinspector);
        }
        PlanPart::Deferral => {
            set!(interim_controls);
            set_person!(designated_person);
        }
        PlanPart::Supervision => set!(treatment_plan),
    }
    Ok(())
}

/// Whether the hazard was ever assigned: from then on only the office regrades it.
pub fn ever_assigned(h: &Hazard) -> bool {
    h.events.iter().any(|e| e.kind == EventKind::Assigned)
}

/// The fields of the report 上报 that a correction may change (`Action::Correct`).
pub const CORRECTABLE: &[&str] = &["site", "category", "location", "description", "photos"];

/// New values for the correctable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Corrected {
    pub site: Option<SiteRef>,
    pub category: Option<HazardCategory>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub photos: Option<Vec<BlobHash>>,
}

/// Writes a correction's new values (only those that differ).
pub fn correct(doc: &mut AutoCommit, h: &Hazard, c: &Corrected) -> Result<()> {
    if let Some(site) = c.site.as_ref().filter(|s| **s != h.site) {
        doc.put_object(ROOT, "site", ObjType::Map)?;
        autosurgeon::reconcile_prop(doc, ROOT, "site", site)?;
    }
    if let Some(cat) = c.category.filter(|x| *x != h.category) {
        doc.put(ROOT, "category", cat.code())?;
    }
    if let Some(l) = c.location.as_ref().filter(|l| **l != h.location) {
        doc.put(ROOT, "location", l.as_str())?;
    }
    if let Some(t) = c.description.as_ref().filter(|t| **t != h.description) {
        set_description(doc, t)?;
    }
    if let Some(p) = c.photos.as_ref().filter(|p| **p != h.photos) {
        autosurgeon::reconcile_prop(doc, ROOT, "photos", p)?;
    }
    Ok(())
}

/// What changed between two versions of a hazard in `fields`, each field's old and new
/// value as canonical JSON text: what a `corrected` event records.
pub fn corrections(before: &Hazard, after: &Hazard, fields: &[&str]) -> Vec<Correction> {
    let (b, a) = (
        serde_json::to_value(before).unwrap_or_default(),
        serde_json::to_value(after).unwrap_or_default(),
    );
    let text = |v: Option<&serde_json::Value>| {
        serde_json::to_string(v.unwrap_or(&serde_json::Value::Null)).unwrap_or_default()
    };
    fields
        .iter()
        .filter(|f| b.get(**f) != a.get(**f))
        .map(|f| Correction {
            field: f.to_string(),
            old: text(b.get(*f)),
            new: text(a.get(*f)),
        })
        .collect()
}

/// Sets the risk grade, settling any conflict on it.
pub fn set_risk(doc: &mut AutoCommit, risk: RiskGrade) -> Result<()> {
    doc.put(ROOT, "risk", risk.code())?;
    Ok(())
}

impl Hazard {
    /// Past its deadline (end of that day in the institution's time zone) and not
    /// rectified (`model::deadline`). Computed when asked, never stored.
    pub fn is_overdue(&self, now: DateTime<Utc>, tz: FixedOffset) -> bool {
        deadline::overdue(
            self.status,
            self.plan.deadline.map(|d| d.0),
            deadline::local_today(now, tz),
        )
    }

    /// Not overdue, and the deadline is within `days` days.
    pub fn is_due_soon(&self, now: DateTime<Utc>, tz: FixedOffset, days: i64) -> bool {
        deadline::due_soon(
            self.status,
            self.plan.deadline.map(|d| d.0),
            deadline::local_today(now, tz),
            days,
        )
    }

    /// The description, for lists: its first line, bounded.
    pub fn title(&self) -> String {
        title_of(&self.description)
    }
}

/// A hazard's title in lists, from its description: the first line, at most 80
/// characters, "…" when shortened. The one rule for the phone and the dashboard.
pub fn title_of(description: &str) -> String {
    let first = description.lines().next().unwrap_or("").trim();
    let mut t: String = first.chars().take(80).collect();
    if first.chars().count() > 80 {
        t.push('…');
    }
    t
}

/// Rewrites the description as a minimal splice, keeping concurrent edits elsewhere.
pub fn set_description(doc: &mut AutoCommit, text: &str) -> Result<()> {
    super::update_text(doc, &ROOT, "description", text)
}

/// The description text at the root, for callers that only need it.
pub fn description(doc: &AutoCommit) -> String {
    read_text(doc, &ROOT, "description")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_the_first_line_shortened_with_a_mark() {
        assert_eq!(title_of("  楼梯扶手松动  \n详见照片"), "楼梯扶手松动");
        let t = title_of(&"安".repeat(81));
        assert_eq!(t.chars().count(), 81);
        assert!(t.ends_with('…'));
        assert_eq!(
            title_of(&"安".repeat(80)),
            "安".repeat(80),
            "80 characters stay whole"
        );
        assert_eq!(title_of(""), "");
    }
}
