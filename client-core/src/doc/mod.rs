//! One Automerge document per record people edit. This module holds what every document
//! shares: the header (`schema`, `kind`, `id`, `institution`, `campaign`), references to
//! people and sites, the record of which actor wrote as whom, conflict reporting and a
//! JSON view. Each kind has its own module with its shape, its reader and its edits.
//!
//! Shapes are chosen for merging: fields two people may edit at once are separate map keys;
//! collections that several devices add to are maps keyed by id or append-only lists; long
//! free text that two people may edit at once is an Automerge text, every other string a
//! plain string (text costs ~10× the operations).

pub mod conflicts;
pub mod directory;
pub mod hazard;
pub mod incident;
pub mod inspection;
pub mod json;
pub mod weekly;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{CampaignId, DocId, InstitutionId, SiteId, UserId};
use crate::model::{SiteKind, code_enum};

/// The version of the document shapes this code writes. A reader refuses newer schemas
/// rather than misreading them.
pub const SCHEMA: u64 = 1;

code_enum!(
    /// What a document records.
    DocKind {
        Inspection = "inspection", "检查记录", "Inspection";
        Hazard = "hazard", "隐患", "Hazard";
        WeeklyReport = "weekly_report", "周报", "Weekly report";
        IncidentReport = "incident_report", "事件报告", "Incident report";
        Directory = "directory", "机构名录", "Directory";
    }
);

/// The fields every document carries at its root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate)]
pub struct Header {
    pub schema: u64,
    pub kind: DocKind,
    pub id: DocId,
    pub institution: InstitutionId,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub campaign: Option<CampaignId>,
}

/// A person as written into a record: the user id, and the display name at the time, so
/// a ledger stays readable after people leave.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct PersonRef {
    pub user_id: UserId,
    pub name: String,
}

/// A site as written into a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct SiteRef {
    pub id: SiteId,
    pub name: String,
    pub kind: SiteKind,
}

/// Reads the header and checks it is one this code understands.
pub fn header(doc: &AutoCommit) -> Result<Header> {
    let h: Header = autosurgeon::hydrate(doc)?;
    check_schema(&h)?;
    Ok(h)
}

fn check_schema(h: &Header) -> Result<()> {
    if h.schema > SCHEMA {
        return Err(Error::Document(format!(
            "document {} has schema {} but this version understands up to {SCHEMA}; update the app",
            h.id, h.schema
        )));
    }
    Ok(())
}

/// A header this code understands, of the expected kind.
fn check_header(h: &Header, kind: DocKind) -> Result<()> {
    check_schema(h)?;
    if h.kind != kind {
        return Err(Error::invalid(
            "document",
            format!("{} is a {}, not a {}", h.id, h.kind, kind),
        ));
    }
    Ok(())
}

/// Header of a document of an expected kind.
pub fn expect_kind(doc: &AutoCommit, kind: DocKind) -> Result<Header> {
    let h = header(doc)?;
    check_header(&h, kind)?;
    Ok(h)
}

/// Writes the header of a new document.
pub fn put_header(
    doc: &mut AutoCommit,
    kind: DocKind,
    id: DocId,
    institution: InstitutionId,
    campaign: Option<CampaignId>,
) -> Result<()> {
    doc.put(ROOT, "schema", SCHEMA)?;
    doc.put(ROOT, "kind", kind.code())?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "institution", institution.to_string())?;
    autosurgeon::reconcile_prop(doc, ROOT, "campaign", campaign)?;
    Ok(())
}

/// Records that this document's current actor writes as `person`, once per actor, so a
/// conflict can say who wrote each competing value. The server checks the binding of
/// actor to device to user itself; this is for people reading the record.
pub fn record_author(doc: &mut AutoCommit, person: &PersonRef) -> Result<()> {
    let authors = match doc.get(ROOT, "authors")? {
        Some((automerge::Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(ROOT, "authors", ObjType::Map)?,
    };
    let actor = doc.get_actor().to_hex_string();
    if doc.get(&authors, actor.as_str())?.is_none() {
        autosurgeon::reconcile_prop(doc, &authors, actor.as_str(), person)?;
    }
    Ok(())
}

/// The person an actor wrote as, if the document records it.
pub fn author_of(doc: &AutoCommit, actor_hex: &str) -> Option<PersonRef> {
    let (_, authors) = doc.get(ROOT, "authors").ok()??;
    autosurgeon::hydrate_prop(doc, &authors, actor_hex).ok()
}

/// A name-based id (UUID v8 from SHA-256), for documents that two devices must create as
/// the same document without talking to each other (a department's weekly report for a
/// week, an institution's directory).
pub fn derived_id(parts: &[&str]) -> DocId {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The actor that writes the shared first change of a derived-id document. Every device
/// writes that change byte for byte the same (same actor, time 0, same operations), so
/// Automerge sees one change, not two competing roots.
pub fn genesis_actor(id: DocId) -> automerge::ActorId {
    automerge::ActorId::from(id.0.as_bytes().as_slice())
}

/// Validates a short free-text field: trimmed, not empty when required, bounded.
pub fn short_text(field: &str, value: &str, required: bool, max_chars: usize) -> Result<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(v.to_string())
}

/// Limits on what a person may type, so one record cannot grow without bound.
pub mod limits {
    pub const NAME: usize = 200;
    pub const NOTE: usize = 4_000;
    pub const LONG_TEXT: usize = 20_000;
    pub const PHOTOS_PER_ENTRY: usize = 20;
}

/// Makes a text object at `key` holding `value`.
pub(crate) fn put_text(
    doc: &mut AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    value: &str,
) -> Result<automerge::ObjId> {
    let t = doc.put_object(obj, key, ObjType::Text)?;
    if !value.is_empty() {
        doc.splice_text(&t, 0, 0, value)?;
    }
    Ok(t)
}

/// Replaces the content of the text at `key` with `value`, as a minimal splice so that
/// concurrent edits elsewhere in the text survive.
pub(crate) fn update_text(
    doc: &mut AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    value: &str,
) -> Result<()> {
    let t = match doc.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Text), id)) => id,
        _ => return put_text(doc, obj, key, value).map(|_| ()),
    };
    let old: Vec<char> = doc.text(&t)?.chars().collect();
    let new: Vec<char> = value.chars().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let del = old.len() - prefix - suffix;
    let ins: String = new[prefix..new.len() - suffix].iter().collect();
    if del > 0 || !ins.is_empty() {
        doc.splice_text(&t, prefix, del as isize, &ins)?;
    }
    Ok(())
}

/// Reads the text (or plain string) at `key`, empty when absent.
pub(crate) fn read_text(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> String {
    match doc.get(obj, key) {
        Ok(Some((automerge::Value::Object(ObjType::Text), id))) => {
            doc.text(&id).unwrap_or_default()
        }
        Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
            automerge::ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// The object at `key` of `obj`, if it is a map or list.
pub(crate) fn object(
    doc: &AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
) -> Result<automerge::ObjId> {
    match doc.get(obj, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(Error::Document(format!("missing object '{key}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_separate_their_parts() {
        let a = derived_id(&["weekly", "dept", "2026-W48"]);
        assert_eq!(a, derived_id(&["weekly", "dept", "2026-W48"]));
        assert_ne!(a, derived_id(&["weekly", "dep", "t2026-W48"]));
        assert_eq!(a.0.get_version_num(), 8);
    }

    #[test]
    fn text_updates_are_minimal_splices_that_keep_concurrent_edits() {
        let mut a = AutoCommit::new();
        put_text(&mut a, &ROOT, "notes", "fire door blocked").unwrap();
        a.commit();
        let mut b = a.fork();
        update_text(&mut a, &ROOT, "notes", "North fire door blocked").unwrap();
        update_text(&mut b, &ROOT, "notes", "fire door blocked by boxes").unwrap();
        a.merge(&mut b).unwrap();
        assert_eq!(
            read_text(&a, &ROOT, "notes"),
            "North fire door blocked by boxes"
        );
    }

    #[test]
    fn short_text_trims_bounds_and_requires() {
        assert_eq!(short_text("f", "  x ", true, 5).unwrap(), "x");
        assert!(short_text("f", "   ", true, 5).is_err());
        assert!(short_text("f", "abcdef", false, 5).is_err());
        assert!(short_text("f", "a\u{0}b", false, 5).is_err());
    }
}

/// Every `authors` entry: actor (hex) → the person that actor wrote as. The write policy
/// accepts a new entry only when it names the change's own actor and author.
pub fn authors(doc: &AutoCommit) -> std::collections::BTreeMap<String, PersonRef> {
    let Ok(Some((automerge::Value::Object(ObjType::Map), obj))) = doc.get(ROOT, "authors") else {
        return Default::default();
    };
    doc.keys(&obj)
        .filter_map(|k| {
            let p: PersonRef = autosurgeon::hydrate_prop(doc, &obj, k.as_str()).ok()?;
            Some((k, p))
        })
        .collect()
}

/// A record of any kind people write (not the directory), as read for validation and
/// for the ledger: its merged state, with or without the scan for concurrent values.
#[derive(Debug, Clone)]
pub enum Record {
    Hazard(Box<hazard::Hazard>),
    Inspection(Box<inspection::Inspection>),
    Weekly(Box<weekly::WeeklyReport>),
    Incident(Box<incident::IncidentReport>),
}

impl Record {
    /// Reads a document of any kind but the directory (`None`: it has no record).
    pub fn of(d: &AutoCommit, kind: DocKind, conflicts: bool) -> Result<Option<Record>> {
        Ok(Some(match kind {
            DocKind::Hazard => Record::Hazard(Box::new(hazard::read_with(d, conflicts)?)),
            DocKind::Inspection => {
                Record::Inspection(Box::new(inspection::read_with(d, conflicts)?))
            }
            DocKind::WeeklyReport => Record::Weekly(Box::new(weekly::read_with(d, conflicts)?)),
            DocKind::IncidentReport => {
                Record::Incident(Box::new(incident::read_with(d, conflicts)?))
            }
            DocKind::Directory => return Ok(None),
        }))
    }

    /// The kind of document this was read from.
    pub fn kind(&self) -> DocKind {
        match self {
            Record::Hazard(_) => DocKind::Hazard,
            Record::Inspection(_) => DocKind::Inspection,
            Record::Weekly(_) => DocKind::WeeklyReport,
            Record::Incident(_) => DocKind::IncidentReport,
        }
    }

    /// The record's fields as JSON, the form the write policy's table names them in.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Record::Hazard(r) => serde_json::to_value(r),
            Record::Inspection(r) => serde_json::to_value(r),
            Record::Weekly(r) => serde_json::to_value(r),
            Record::Incident(r) => serde_json::to_value(r),
        }
        .unwrap_or_default()
    }
}
