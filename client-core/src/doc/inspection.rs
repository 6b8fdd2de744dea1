//! The inspection document: one visit to one site, following one version of a checklist.
//!
//! ```text
//! { schema, kind: "inspection", id, institution, campaign,
//!   site {id,name,kind}, template {id, version}, inspectors [person],
//!   started_at, ended_at, submitted {by, at} | null,
//!   answers { item_code: {result, note, photos, by, at} },
//!   notes (text), findings [hazard id], amendments [ {by, at, reason, item} ] }
//! ```
//!
//! Answers are keyed by item code, so two inspectors answering different items merge
//! cleanly; the same item answered twice concurrently is a reported conflict.

use std::collections::BTreeMap;

use super::json::DocText;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};
use serde::Serialize;

use super::conflicts::{self, Conflict};
use super::{DocKind, PersonRef, SiteRef, expect_kind, object, put_header, put_text, update_text};
use crate::error::Result;
use crate::ids::{BlobHash, CampaignId, DocId, InstitutionId, Timestamp};
use crate::model::code_enum;

code_enum!(
    /// The answer to one checklist item.
    AnswerResult {
        Pass = "pass", "合格", "Pass";
        Fail = "fail", "不合格", "Fail";
        NotApplicable = "not_applicable", "不适用", "Not applicable";
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct TemplateRef {
    pub id: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Answer {
    pub result: AnswerResult,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub note: String,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub photos: Vec<BlobHash>,
    pub by: PersonRef,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Submission {
    pub by: PersonRef,
    pub at: Timestamp,
}

/// A change made after submission: it needs a reason and stays on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Amendment {
    pub by: PersonRef,
    pub at: Timestamp,
    pub reason: String,
    pub item: String,
}

#[derive(Debug, PartialEq, Hydrate, serde::Deserialize)]
struct Stored {
    site: SiteRef,
    template: TemplateRef,
    inspectors: Vec<PersonRef>,
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
    submitted: Option<Submission>,
    answers: BTreeMap<String, Answer>,
    notes: DocText,
    findings: Vec<DocId>,
    amendments: Vec<Amendment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub site: SiteRef,
    pub template: TemplateRef,
    pub inspectors: Vec<PersonRef>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub submitted: Option<Submission>,
    pub answers: BTreeMap<String, Answer>,
    pub notes: String,
    pub findings: Vec<DocId>,
    pub amendments: Vec<Amendment>,
    pub conflicts: Vec<Conflict>,
}

pub struct NewInspection {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub site: SiteRef,
    pub template: TemplateRef,
}

pub fn create(
    doc: &mut AutoCommit,
    new: &NewInspection,
    by: &PersonRef,
    at: Timestamp,
) -> Result<()> {
    put_header(
        doc,
        DocKind::Inspection,
        new.id,
        new.institution,
        new.campaign,
    )?;
    autosurgeon::reconcile_prop(doc, ROOT, "site", &new.site)?;
    autosurgeon::reconcile_prop(doc, ROOT, "template", &new.template)?;
    autosurgeon::reconcile_prop(doc, ROOT, "inspectors", vec![by.clone()])?;
    doc.put(ROOT, "started_at", at.to_string())?;
    autosurgeon::reconcile_prop(doc, ROOT, "ended_at", None::<Timestamp>)?;
    autosurgeon::reconcile_prop(doc, ROOT, "submitted", None::<Submission>)?;
    doc.put_object(ROOT, "answers", ObjType::Map)?;
    put_text(doc, &ROOT, "notes", "")?;
    doc.put_object(ROOT, "findings", ObjType::List)?;
    doc.put_object(ROOT, "amendments", ObjType::List)?;
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<Inspection> {
    read_with(doc, true)
}

/// Reads the inspection; `with_conflicts: false` skips the scan for concurrent values.
pub fn read_with(doc: &AutoCommit, with_conflicts: bool) -> Result<Inspection> {
    let (h, s): (_, Stored) = super::json::read_headed(doc, DocKind::Inspection)?;
    Ok(Inspection {
        id: h.id,
        institution: h.institution,
        campaign: h.campaign,
        site: s.site,
        template: s.template,
        inspectors: s.inspectors,
        started_at: s.started_at,
        ended_at: s.ended_at,
        submitted: s.submitted,
        answers: s.answers,
        notes: s.notes.0,
        findings: s.findings,
        amendments: s.amendments,
        conflicts: if with_conflicts {
            conflicts::scan(doc)
        } else {
            Vec::new()
        },
    })
}

/// The template version the inspection follows, without reading the rest.
pub fn template_ref(doc: &AutoCommit) -> Result<TemplateRef> {
    expect_kind(doc, DocKind::Inspection)?;
    Ok(autosurgeon::hydrate_prop(doc, ROOT, "template")?)
}

/// Whether the inspection was submitted, without reading the rest.
pub fn is_submitted(doc: &AutoCommit) -> Result<bool> {
    Ok(matches!(
        doc.get(ROOT, "submitted")?,
        Some((automerge::Value::Object(_), _))
    ))
}

pub fn put_answer(doc: &mut AutoCommit, code: &str, answer: &Answer) -> Result<()> {
    let answers = object(doc, &ROOT, "answers")?;
    // A new object per answer: writing into the old one would mix two concurrent
    // answers field by field ("fail" from one inspector, "by" from the other).
    doc.put_object(&answers, code, ObjType::Map)?;
    autosurgeon::reconcile_prop(doc, &answers, code, answer)?;
    Ok(())
}

pub fn add_finding(doc: &mut AutoCommit, hazard: DocId) -> Result<()> {
    let findings = object(doc, &ROOT, "findings")?;
    let len = doc.length(&findings);
    doc.insert(&findings, len, hazard.to_string())?;
    Ok(())
}

pub fn add_inspector(doc: &mut AutoCommit, person: &PersonRef) -> Result<()> {
    let current: Vec<PersonRef> = autosurgeon::hydrate_prop(doc, ROOT, "inspectors")?;
    if current.iter().any(|p| p.user_id == person.user_id) {
        return Ok(());
    }
    let list = object(doc, &ROOT, "inspectors")?;
    let len = doc.length(&list);
    autosurgeon::reconcile_insert(doc, list, len, person)?;
    Ok(())
}

pub fn set_notes(doc: &mut AutoCommit, notes: &str) -> Result<()> {
    update_text(doc, &ROOT, "notes", notes)
}

pub fn submit(doc: &mut AutoCommit, by: &PersonRef, at: Timestamp) -> Result<()> {
    autosurgeon::reconcile_prop(doc, ROOT, "ended_at", Some(at))?;
    autosurgeon::reconcile_prop(
        doc,
        ROOT,
        "submitted",
        Some(Submission { by: by.clone(), at }),
    )?;
    Ok(())
}

pub fn add_amendment(doc: &mut AutoCommit, amendment: &Amendment) -> Result<()> {
    let list = object(doc, &ROOT, "amendments")?;
    let len = doc.length(&list);
    autosurgeon::reconcile_insert(doc, list, len, amendment)?;
    Ok(())
}
