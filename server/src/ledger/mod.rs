//! The ledger projection: relational rows derived from one merged document, the same
//! whatever order its changes arrived in. Storage writes them in the same transaction as
//! the document, replacing the document's previous rows.

use automerge::AutoCommit;
use saferound_core::doc::{self, DocKind};
use saferound_core::model::{EventKind, HazardStatus};
use serde::Serialize;

/// The version of the derivation: a database whose ledger an older one derived is rebuilt
/// from its documents when the server starts (`Store::rebuild_ledger_if_older`), so a
/// table or column the derivation gained is filled for every record, not only for those
/// that change afterwards.
/// (3: hazard numbers; the rebuild numbers the hazards received before them.)
pub const LEDGER_VERSION: i64 = 3;

/// Every ledger row of one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LedgerRows {
    pub hazard: Option<HazardRow>,
    pub events: Vec<EventRow>,
    /// A hazard's photos: the report's, then each later event's.
    pub photos: Vec<PhotoRow>,
    pub inspection: Option<InspectionRow>,
    pub answers: Vec<AnswerRow>,
    pub conflicts: Vec<ConflictRow>,
    pub report: Option<ReportRow>,
    /// A report's text: a weekly report's content, an incident's description.
    pub report_text: Option<String>,
}

/// One photo of a hazard, in the order the page shows them: those of the report
/// (`event` "reported": the state before), then those of each later event (its kind:
/// rectification reported, verified, …; the state after).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoRow {
    pub seq: i64,
    pub event: String,
    pub hash: String,
}

/// A hazard's photos as its page and the API show them: the report's (before), then
/// each later event's with the event's kind (after), in page order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HazardPhotos {
    pub reported: Vec<String>,
    pub events: Vec<EventPhoto>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPhoto {
    pub hash: String,
    pub event: String,
}

impl HazardPhotos {
    /// From the hazard's `ledger_photos` rows, ordered by `seq`.
    pub fn of(rows: Vec<PhotoRow>) -> Self {
        let reported = EventKind::Reported.code();
        let mut out = HazardPhotos::default();
        for p in rows {
            if p.event == reported {
                out.reported.push(p.hash);
            } else {
                out.events.push(EventPhoto {
                    hash: p.hash,
                    event: p.event,
                });
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardRow {
    pub id: String,
    pub campaign: Option<String>,
    pub inspection: Option<String>,
    pub site_id: String,
    pub site_name: String,
    pub site_kind: String,
    pub category: String,
    pub risk: String,
    pub risk_rank: i64,
    pub hazard_grade: String,
    pub status: Option<String>,
    pub supervised: bool,
    pub location: String,
    pub description: String,
    pub reported_by: String,
    pub reported_by_name: String,
    pub reported_at: String,
    pub measure: String,
    pub funds: String,
    pub responsible: Option<String>,
    pub responsible_name: Option<String>,
    pub deadline: Option<String>,
    pub contingency: String,
    pub reinspector: Option<String>,
    pub reinspector_name: Option<String>,
    pub rectified_at: Option<String>,
    pub verified_at: Option<String>,
    pub verification_note: Option<String>,
    pub conflicts: i64,
    /// The hazard's number (2026-0042), given by the server at first receipt
    /// (`store::serials`): not derived, so `None` here and read beside the row.
    pub serial: Option<String>,
    /// The department the site belongs to (the directory's, read beside the row).
    pub department_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub idx: i64,
    pub kind: String,
    pub by_user: String,
    pub by_name: String,
    pub at: String,
    pub note: String,
    pub skipped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectionRow {
    pub id: String,
    pub campaign: Option<String>,
    pub site_id: String,
    pub site_name: String,
    pub site_kind: String,
    pub template: String,
    pub template_version: i64,
    pub inspectors: String,
    pub started_at: String,
    pub submitted_at: Option<String>,
    pub answers: i64,
    pub failed: i64,
    pub findings: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRow {
    pub item: String,
    pub result: String,
    pub note: String,
    pub by_user: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictRow {
    pub field: String,
    pub competing: String,
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub id: String,
    pub kind: String,
    pub department: Option<String>,
    pub week: Option<String>,
    pub all_clear: Option<bool>,
    pub title: String,
    pub filed_at: Option<String>,
}

fn conflict_rows(c: &[doc::conflicts::Conflict]) -> Vec<ConflictRow> {
    let mut rows: Vec<ConflictRow> = c
        .iter()
        .map(|c| ConflictRow {
            field: c.field.clone(),
            competing: serde_json::to_string(&c.values).unwrap_or_default(),
            resolution: c.resolution.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.field.cmp(&b.field));
    rows.dedup_by(|a, b| a.field == b.field);
    rows
}

/// A document as read for validation, so the ledger need not read it again.
pub use saferound_core::doc::Record as Read;

/// Derives the ledger rows of a document. `read`: the document as already read at its
/// current heads without the conflict scan; used unless it had concurrent edits.
pub fn derive(d: &mut AutoCommit, read: Option<Read>) -> saferound_core::Result<LedgerRows> {
    let concurrent = doc::conflicts::had_concurrency(d);
    let read = match read {
        Some(r) if !concurrent => Some(r),
        _ => Read::of(d, doc::header(d)?.kind, concurrent)?,
    };
    let mut rows = LedgerRows::default();
    match read {
        None => {}
        Some(Read::Hazard(hz)) => {
            let last = |k: EventKind| hz.events.iter().rev().find(|e| e.kind == k);
            let closed = hz.status == Some(HazardStatus::Closed);
            rows.events = hz
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| EventRow {
                    idx: i as i64,
                    kind: e.kind.code().into(),
                    by_user: e.by.user_id.to_string(),
                    by_name: e.by.name.clone(),
                    at: e.at.to_string(),
                    note: e.note.clone(),
                    skipped: hz.skipped_events.contains(&i),
                })
                .collect();
            rows.conflicts = conflict_rows(&hz.conflicts);
            // The report's own event carries the report's photos again: listed once.
            let reported = hz
                .photos
                .iter()
                .map(|p| (EventKind::Reported.code(), p.to_string()));
            let later = hz
                .events
                .iter()
                .filter(|e| e.kind != EventKind::Reported)
                .flat_map(|e| e.photos.iter().map(move |p| (e.kind.code(), p.to_string())));
            rows.photos = reported
                .chain(later)
                .enumerate()
                .map(|(i, (event, hash))| PhotoRow {
                    seq: i as i64,
                    event: event.into(),
                    hash,
                })
                .collect();
            rows.hazard = Some(HazardRow {
                id: hz.id.to_string(),
                campaign: hz.campaign.map(|c| c.to_string()),
                inspection: hz.inspection.map(|i| i.to_string()),
                site_id: hz.site.id.to_string(),
                site_name: hz.site.name.clone(),
                site_kind: hz.site.kind.code().into(),
                category: hz.category.code().into(),
                risk: hz.risk.code().into(),
                risk_rank: hz.risk as i64,
                hazard_grade: hz.hazard_grade.code().into(),
                status: hz.status.map(|s| s.code().into()),
                supervised: hz.supervised,
                location: hz.location.clone(),
                description: hz.description.clone(),
                reported_by: hz.reported_by.user_id.to_string(),
                reported_by_name: hz.reported_by.name.clone(),
                reported_at: hz.reported_at.to_string(),
                measure: hz.plan.measure.clone(),
                funds: hz.plan.funds.clone(),
                responsible: hz.plan.responsible.as_ref().map(|p| p.user_id.to_string()),
                responsible_name: hz.plan.responsible.as_ref().map(|p| p.name.clone()),
                deadline: hz.plan.deadline.map(|d| d.to_string()),
                contingency: hz.plan.contingency.clone(),
                reinspector: hz.plan.reinspector.as_ref().map(|p| p.user_id.to_string()),
                reinspector_name: hz.plan.reinspector.as_ref().map(|p| p.name.clone()),
                rectified_at: last(EventKind::RectificationReported).map(|e| e.at.to_string()),
                verified_at: if closed {
                    last(EventKind::Verified).map(|e| e.at.to_string())
                } else {
                    None
                },
                verification_note: last(EventKind::Verified)
                    .or(last(EventKind::VerificationFailed))
                    .map(|e| e.note.clone()),
                conflicts: rows.conflicts.len() as i64,
                serial: None,
                department_name: None,
            });
        }
        Some(Read::Inspection(i)) => {
            rows.answers = i
                .answers
                .iter()
                .map(|(code, a)| AnswerRow {
                    item: code.clone(),
                    result: a.result.code().into(),
                    note: a.note.clone(),
                    by_user: a.by.user_id.to_string(),
                    at: a.at.to_string(),
                })
                .collect();
            rows.conflicts = conflict_rows(&i.conflicts);
            rows.inspection = Some(InspectionRow {
                id: i.id.to_string(),
                campaign: i.campaign.map(|c| c.to_string()),
                site_id: i.site.id.to_string(),
                site_name: i.site.name.clone(),
                site_kind: i.site.kind.code().into(),
                template: i.template.id.clone(),
                template_version: i.template.version as i64,
                inspectors: i
                    .inspectors
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
                started_at: i.started_at.to_string(),
                submitted_at: i.submitted.as_ref().map(|s| s.at.to_string()),
                answers: i.answers.len() as i64,
                failed: i
                    .answers
                    .values()
                    .filter(|a| a.result == doc::inspection::AnswerResult::Fail)
                    .count() as i64,
                findings: i.findings.len() as i64,
            });
        }
        Some(Read::Weekly(r)) => {
            rows.conflicts = conflict_rows(&r.conflicts);
            rows.report = Some(ReportRow {
                id: r.id.to_string(),
                kind: DocKind::WeeklyReport.code().into(),
                department: Some(r.department.to_string()),
                week: Some(r.week.to_string()),
                all_clear: Some(r.all_clear),
                title: format!("{} {}", r.department_name, r.week),
                filed_at: r.filings.first().map(|f| f.at.to_string()),
            });
            rows.report_text = Some(r.content.clone());
        }
        Some(Read::Incident(r)) => {
            rows.conflicts = conflict_rows(&r.conflicts);
            rows.report = Some(ReportRow {
                id: r.id.to_string(),
                kind: DocKind::IncidentReport.code().into(),
                department: None,
                week: None,
                all_clear: None,
                title: r.title.clone(),
                filed_at: Some(r.reported_at.to_string()),
            });
            rows.report_text = Some(r.description.clone());
        }
    }
    Ok(rows)
}
