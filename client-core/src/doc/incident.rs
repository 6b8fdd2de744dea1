//! The incident report 事件报告: a major safety incident, reported at once, not weekly.
//!
//! ```text
//! { schema, kind: "incident_report", id, institution, campaign,
//!   occurred_at, site {..} | null, location, category, severity, title,
//!   description (text), actions_taken, reported_by, reported_at }
//! ```

use super::json::DocText;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use autosurgeon::Hydrate;
use serde::Serialize;

use super::conflicts::{self, Conflict};
use super::{DocKind, PersonRef, SiteRef, put_header, put_text};
use crate::error::Result;
use crate::ids::{CampaignId, DocId, InstitutionId, Timestamp};
use crate::model::{HazardCategory, RiskGrade};

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub occurred_at: Timestamp,
    pub site: Option<SiteRef>,
    pub location: String,
    pub category: HazardCategory,
    pub severity: RiskGrade,
    pub title: String,
    pub description: String,
    pub actions_taken: String,
}

#[derive(Debug, PartialEq, Hydrate, serde::Deserialize)]
struct Stored {
    occurred_at: Timestamp,
    site: Option<SiteRef>,
    location: String,
    category: HazardCategory,
    severity: RiskGrade,
    title: String,
    description: DocText,
    actions_taken: String,
    reported_by: PersonRef,
    reported_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub occurred_at: Timestamp,
    pub site: Option<SiteRef>,
    pub location: String,
    pub category: HazardCategory,
    pub severity: RiskGrade,
    pub title: String,
    pub description: String,
    pub actions_taken: String,
    pub reported_by: PersonRef,
    pub reported_at: Timestamp,
    pub conflicts: Vec<Conflict>,
}

pub fn create(
    doc: &mut AutoCommit,
    new: &NewIncident,
    by: &PersonRef,
    at: Timestamp,
) -> Result<()> {
    put_header(
        doc,
        DocKind::IncidentReport,
        new.id,
        new.institution,
        new.campaign,
    )?;
    doc.put(ROOT, "occurred_at", new.occurred_at.to_string())?;
    autosurgeon::reconcile_prop(doc, ROOT, "site", &new.site)?;
    doc.put(ROOT, "location", new.location.as_str())?;
    doc.put(ROOT, "category", new.category.code())?;
    doc.put(ROOT, "severity", new.severity.code())?;
    doc.put(ROOT, "title", new.title.as_str())?;
    put_text(doc, &ROOT, "description", &new.description)?;
    doc.put(ROOT, "actions_taken", new.actions_taken.as_str())?;
    autosurgeon::reconcile_prop(doc, ROOT, "reported_by", by)?;
    doc.put(ROOT, "reported_at", at.to_string())?;
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<IncidentReport> {
    read_with(doc, true)
}

/// Reads the report; `with_conflicts: false` skips the scan for concurrent values.
pub fn read_with(doc: &AutoCommit, with_conflicts: bool) -> Result<IncidentReport> {
    let (h, s): (_, Stored) = super::json::read_headed(doc, DocKind::IncidentReport)?;
    Ok(IncidentReport {
        id: h.id,
        institution: h.institution,
        campaign: h.campaign,
        occurred_at: s.occurred_at,
        site: s.site,
        location: s.location,
        category: s.category,
        severity: s.severity,
        title: s.title,
        description: s.description.0,
        actions_taken: s.actions_taken,
        reported_by: s.reported_by,
        reported_at: s.reported_at,
        conflicts: if with_conflicts {
            conflicts::scan(doc)
        } else {
            Vec::new()
        },
    })
}
