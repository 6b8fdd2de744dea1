//! The document index: one row per document with what lists and filters need, derived
//! from the document alone and written in the same transaction as the document.

use automerge::{AutoCommit, ROOT, ReadDoc};
use rusqlite::{Transaction, params};
use serde::Serialize;

use crate::doc::{self, DocKind};
use crate::error::Result;
use crate::ids::DocId;

/// A document as lists show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub id: String,
    pub kind: String,
    pub campaign: Option<String>,
    pub site_id: Option<String>,
    pub site_name: Option<String>,
    pub site_kind: Option<String>,
    pub category: Option<String>,
    pub risk: Option<String>,
    pub status: Option<String>,
    pub deadline: Option<String>,
    pub title: String,
    pub responsible: Option<String>,
    pub reinspector: Option<String>,
    pub inspection: Option<String>,
    pub department: Option<String>,
    pub week: Option<String>,
    pub submitted: bool,
    pub created_at: String,
    pub conflicts: usize,
}

fn str_at(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<String> {
    let (v, _) = doc.get(obj, key).ok()??;
    v.as_str().map(str::to_string)
}

fn nested(doc: &AutoCommit, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut obj = ROOT;
    for p in parents {
        let (_, id) = doc.get(&obj, *p).ok()??;
        obj = id;
    }
    str_at(doc, &obj, last)
}

/// Derives the index row of a document whose header `h` the caller has read (the store
/// reads it once per write, to check the id). Counting conflicts walks every field, so it
/// is done only when `count_conflicts`; otherwise the row keeps `previous_conflicts`. The
/// store counts after merging others' changes, and while a document has conflicts: a
/// local edit cannot create one (only concurrent edits do), it can only settle one.
pub fn summarize(
    doc: &mut AutoCommit,
    h: &doc::Header,
    count_conflicts: bool,
    previous_conflicts: usize,
) -> Result<Summary> {
    let mut s = Summary {
        id: h.id.to_string(),
        kind: h.kind.code().to_string(),
        campaign: h.campaign.map(|c| c.to_string()),
        ..Default::default()
    };
    match h.kind {
        DocKind::Inspection => {
            s.site_id = nested(doc, &["site", "id"]);
            s.site_name = nested(doc, &["site", "name"]);
            s.site_kind = nested(doc, &["site", "kind"]);
            s.submitted = doc::inspection::is_submitted(doc)?;
            s.created_at = str_at(doc, &ROOT, "started_at").unwrap_or_default();
            s.title = format!(
                "{} · {}",
                s.site_name.clone().unwrap_or_default(),
                nested(doc, &["template", "id"]).unwrap_or_default()
            );
            s.conflicts = if count_conflicts {
                doc::conflicts::scan(doc).len()
            } else {
                previous_conflicts
            };
        }
        DocKind::Hazard => {
            let hz = doc::hazard::read_with(doc, count_conflicts)?;
            s.site_id = Some(hz.site.id.to_string());
            s.site_name = Some(hz.site.name.clone());
            s.site_kind = Some(hz.site.kind.code().to_string());
            s.category = Some(hz.category.code().to_string());
            s.risk = Some(hz.risk.code().to_string());
            s.status = hz.status.map(|x| x.code().to_string());
            s.deadline = hz.plan.deadline.map(|d| d.to_string());
            s.title = hz.title();
            s.responsible = hz.plan.responsible.as_ref().map(|p| p.user_id.to_string());
            s.reinspector = hz.plan.reinspector.as_ref().map(|p| p.user_id.to_string());
            s.inspection = hz.inspection.map(|i| i.to_string());
            s.created_at = hz.reported_at.to_string();
            s.conflicts = if count_conflicts {
                hz.conflicts.len()
            } else {
                previous_conflicts
            };
        }
        DocKind::WeeklyReport => {
            s.department = str_at(doc, &ROOT, "department");
            s.week = str_at(doc, &ROOT, "week");
            s.title = format!(
                "{} {}",
                str_at(doc, &ROOT, "department_name").unwrap_or_default(),
                s.week.clone().unwrap_or_default()
            );
            let r = doc::weekly::read(doc)?;
            s.submitted = !r.filings.is_empty();
            s.created_at = r
                .filings
                .first()
                .map(|f| f.at.to_string())
                .unwrap_or_default();
            s.conflicts = if count_conflicts {
                r.conflicts.len()
            } else {
                previous_conflicts
            };
        }
        DocKind::IncidentReport => {
            s.site_id = nested(doc, &["site", "id"]);
            s.site_name = nested(doc, &["site", "name"]);
            s.category = str_at(doc, &ROOT, "category");
            s.risk = str_at(doc, &ROOT, "severity");
            s.title = str_at(doc, &ROOT, "title").unwrap_or_default();
            s.created_at = str_at(doc, &ROOT, "reported_at").unwrap_or_default();
            s.submitted = true;
        }
        DocKind::Directory => {
            s.title = nested(doc, &["directory", "institution_name"]).unwrap_or_default();
        }
    }
    Ok(s)
}

pub(crate) fn risk_rank(risk: Option<&str>) -> Option<i64> {
    risk.and_then(|r| r.parse::<crate::model::RiskGrade>().ok())
        .map(|r| r as i64)
}

pub(crate) fn write(tx: &Transaction<'_>, id: DocId, s: &Summary) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO doc_index (id, kind, campaign, site_id, site_name, site_kind,
            category, risk, risk_rank, status, deadline, title, responsible, reinspector,
            inspection, department, week, submitted, created_at, conflicts)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)",
    )?
    .execute(params![
        id.to_string(),
        s.kind,
        s.campaign,
        s.site_id,
        s.site_name,
        s.site_kind,
        s.category,
        s.risk,
        risk_rank(s.risk.as_deref()),
        s.status,
        s.deadline,
        s.title,
        s.responsible,
        s.reinspector,
        s.inspection,
        s.department,
        s.week,
        s.submitted,
        s.created_at,
        s.conflicts as i64,
    ])?;
    Ok(())
}

pub(crate) const COLUMNS: &str =
    "id, kind, campaign, site_id, site_name, site_kind, category, risk,
    status, deadline, title, responsible, reinspector, inspection, department, week, submitted,
    created_at, conflicts";

pub(crate) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Summary> {
    Ok(Summary {
        id: r.get(0)?,
        kind: r.get(1)?,
        campaign: r.get(2)?,
        site_id: r.get(3)?,
        site_name: r.get(4)?,
        site_kind: r.get(5)?,
        category: r.get(6)?,
        risk: r.get(7)?,
        status: r.get(8)?,
        deadline: r.get(9)?,
        title: r.get(10)?,
        responsible: r.get(11)?,
        reinspector: r.get(12)?,
        inspection: r.get(13)?,
        department: r.get(14)?,
        week: r.get(15)?,
        submitted: r.get(16)?,
        created_at: r.get(17)?,
        conflicts: r.get::<_, i64>(18)? as usize,
    })
}
