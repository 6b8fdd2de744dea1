//! The institution's directory: departments, sites, people with their roles, the
//! institution's own checklist templates and its campaigns. The server writes it; every device of the
//! institution receives it by sync and reads it offline, so a phone can pick a site or a
//! responsible person in a basement. Collections are maps keyed by id, so additions from
//! two places merge; template versions sit side by side under `id@version`.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};

use super::{DocKind, derived_id, expect_kind, put_header};
use crate::error::{Error, Result};
use crate::ids::{CampaignId, DepartmentId, DocId, InstitutionId, LocalDate, SiteId, UserId};
use crate::model::templates::Template;
use crate::model::{Role, SiteKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub kind: SiteKind,
    pub building: String,
    /// Floor and room, e.g. "3F 301".
    pub floor_room: String,
    /// The owning department.
    pub department: DepartmentId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Person {
    pub user_id: UserId,
    pub name: String,
    pub department: Option<DepartmentId>,
    pub roles: Vec<Role>,
}

/// A campaign 专项行动 of the institution: a phone tags what it records while one runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct CampaignEntry {
    pub id: CampaignId,
    pub name: String,
    /// First and last day, in the institution's time zone.
    pub starts: LocalDate,
    pub ends: LocalDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Directory {
    pub institution: InstitutionId,
    pub institution_name: String,
    /// IANA name, for people; deadlines are judged with `utc_offset_minutes`.
    pub time_zone: String,
    pub utc_offset_minutes: i32,
    pub departments: BTreeMap<String, Department>,
    pub sites: BTreeMap<String, Site>,
    pub people: BTreeMap<String, Person>,
    /// The institution's own templates, every version, keyed `id@version`.
    pub templates: BTreeMap<String, Template>,
    /// The institution's campaigns, keyed by id. Absent from directories written before
    /// campaigns reached phones.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub campaigns: BTreeMap<String, CampaignEntry>,
    /// When the institution was set up on its server (RFC 3339, the server's clock):
    /// nothing recorded for it can be older. Absent from directories written before.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub created_at: Option<String>,
}

impl Directory {
    pub fn new(institution: InstitutionId, name: &str) -> Self {
        Directory {
            institution,
            institution_name: name.to_string(),
            time_zone: crate::clock::DEFAULT_TIME_ZONE.into(),
            utc_offset_minutes: crate::clock::DEFAULT_UTC_OFFSET_MINUTES,
            departments: BTreeMap::new(),
            sites: BTreeMap::new(),
            people: BTreeMap::new(),
            templates: BTreeMap::new(),
            campaigns: BTreeMap::new(),
            created_at: None,
        }
    }

    pub fn tz(&self) -> FixedOffset {
        self.utc_offset_minutes
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .unwrap_or_else(crate::clock::default_tz)
    }

    pub fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.get(&id.to_string())
    }

    pub fn person(&self, id: UserId) -> Option<&Person> {
        self.people.get(&id.to_string())
    }

    pub fn department(&self, id: DepartmentId) -> Option<&Department> {
        self.departments.get(&id.to_string())
    }

    pub fn add_department(&mut self, d: Department) {
        self.departments.insert(d.id.to_string(), d);
    }

    pub fn add_site(&mut self, s: Site) {
        self.sites.insert(s.id.to_string(), s);
    }

    pub fn add_person(&mut self, p: Person) {
        self.people.insert(p.user_id.to_string(), p);
    }

    pub fn add_campaign(&mut self, c: CampaignEntry) {
        self.campaigns.insert(c.id.to_string(), c);
    }

    /// The campaign running on `day`: of those whose dates hold it, the one that started
    /// last (a short drive inside a long campaign is the more specific).
    pub fn campaign_on(&self, day: chrono::NaiveDate) -> Option<&CampaignEntry> {
        self.campaigns
            .values()
            .filter(|c| c.starts.0 <= day && day <= c.ends.0)
            .max_by_key(|c| (c.starts.0, c.id.to_string()))
    }

    /// Adds a template version; an existing version is never replaced.
    pub fn add_template(&mut self, t: Template) -> Result<()> {
        let key = t.key();
        if self.templates.contains_key(&key) {
            return Err(Error::State(format!(
                "template {key} already exists; publish a new version instead"
            )));
        }
        self.templates.insert(key, t);
        Ok(())
    }
}

/// The directory's document id, derived from the institution.
pub fn id_for(institution: InstitutionId) -> DocId {
    derived_id(&["directory", &institution.to_string()])
}

/// Writes `dir` into `doc`, creating the header on first write. Reconciling writes only
/// what differs.
pub fn write(doc: &mut AutoCommit, dir: &Directory) -> Result<()> {
    if expect_kind(doc, DocKind::Directory).is_err() {
        put_header(
            doc,
            DocKind::Directory,
            id_for(dir.institution),
            dir.institution,
            None,
        )?;
    }
    autosurgeon::reconcile_prop(doc, automerge::ROOT, "directory", dir)?;
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<Directory> {
    expect_kind(doc, DocKind::Directory)?;
    Ok(autosurgeon::hydrate_prop(
        doc,
        automerge::ROOT,
        "directory",
    )?)
}
