//! The core API: what the phone facade and the `saferound` CLI call. A `Device` is one
//! installation: its store, its identity (institution, user, roles, Automerge actor) and
//! the clock it is given. Every method checks its input, the user's role and the record's
//! state before writing, and writes in one transaction, so a refused call changes nothing.

use std::path::Path;
use std::sync::Arc;

use automerge::{ActorId, AutoCommit};
use chrono::{FixedOffset, NaiveDate};
use serde::Serialize;

use crate::clock::Clock;
use crate::doc::directory::{self, Directory, Site};
use crate::doc::hazard::{self, Event, Hazard, NewHazard, Plan, PlanPart};
use crate::doc::incident::{self, IncidentReport, NewIncident};
use crate::doc::inspection::{
    self, Amendment, Answer, AnswerResult, Inspection, NewInspection, TemplateRef,
};
use crate::doc::weekly::{self, IsoWeek, WeeklyReport};
use crate::doc::{DocKind, PersonRef, SiteRef, limits, record_author, short_text};
use crate::error::{Error, Result};
use crate::ids::{
    BlobHash, CampaignId, DepartmentId, DocId, InstitutionId, LocalDate, SiteId, Timestamp, UserId,
};
use crate::model::deadline;
use crate::model::lifecycle::{self, EventKind, HazardStatus};
use crate::model::role::Named;
use crate::model::templates::{self, Template};
use crate::model::{Action, HazardCategory, RiskGrade, Role};
use crate::policy;
use crate::store::{DeviceRow, ListFilter, Store, Summary, blobs::DEFAULT_MAX_PHOTO_BYTES};

/// Who is using this installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub institution: InstitutionId,
    pub user: PersonRef,
    /// Roles given at enrolment; the directory's entry for the user, once it arrives,
    /// takes precedence.
    pub roles: Vec<Role>,
    pub department: Option<DepartmentId>,
}

/// A finding recorded during an inspection, which becomes a hazard in the ledger.
#[derive(Debug, Clone, Default)]
pub struct NewFinding {
    /// The checklist item that failed; its category and suggested grade are the defaults.
    pub item: Option<String>,
    pub category: Option<HazardCategory>,
    pub risk: Option<RiskGrade>,
    pub location: String,
    pub description: String,
    pub photos: Vec<BlobHash>,
}

/// The safety office's assignment 交办 of a hazard.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub measure: String,
    pub responsible: UserId,
    pub funds: String,
    pub deadline: LocalDate,
    pub contingency: String,
    pub reinspector: Option<UserId>,
}

/// An incident to report at once.
#[derive(Debug, Clone)]
pub struct NewIncidentInput {
    pub occurred_at: Option<Timestamp>,
    pub site: Option<SiteId>,
    pub location: String,
    pub category: HazardCategory,
    pub severity: RiskGrade,
    pub title: String,
    pub description: String,
    pub actions_taken: String,
}

/// Filters for `Device::hazards`; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct HazardQuery {
    pub status: Option<HazardStatus>,
    /// Only hazards that still need work.
    pub open_only: bool,
    pub category: Option<HazardCategory>,
    pub min_risk: Option<RiskGrade>,
    pub site: Option<SiteId>,
    pub campaign: Option<CampaignId>,
    pub overdue: bool,
    /// In rectification with a deadline within this many days (not yet overdue).
    pub due_within_days: Option<i64>,
    /// Assigned to me as the responsible person.
    pub responsible_is_me: bool,
    /// I am the named re-inspector.
    pub reinspector_is_me: bool,
    pub reported_from: Option<NaiveDate>,
    pub reported_before: Option<NaiveDate>,
    pub limit: Option<usize>,
}

/// A hazard in a list, with the time-dependent facts computed now.
#[derive(Debug, Clone, Serialize)]
pub struct HazardRow {
    #[serde(flatten)]
    pub summary: Summary,
    pub overdue: bool,
    pub due_soon: bool,
}

pub struct Device {
    store: Store,
    actor: ActorId,
    device_id: String,
    identity: Identity,
    clock: Arc<dyn Clock>,
    max_photo_bytes: usize,
    /// The parsed directory and the heads it was parsed at: every call checks roles and
    /// templates against it, and it changes rarely (only when the server sends a new one).
    directory_cache: std::sync::Mutex<Option<(Vec<u8>, Arc<Option<Directory>>)>>,
}

impl Device {
    /// Creates the store at `path` for a new installation with a fresh Automerge actor.
    pub fn init(
        path: impl AsRef<Path>,
        identity: Identity,
        clock: Arc<dyn Clock>,
    ) -> Result<Device> {
        Self::init_with_actor(path, identity, ActorId::random(), clock)
    }

    /// Creates the store with a given actor: enrolment binds the actor on the server
    /// before the store exists.
    pub fn init_with_actor(
        path: impl AsRef<Path>,
        identity: Identity,
        actor: ActorId,
        clock: Arc<dyn Clock>,
    ) -> Result<Device> {
        short_text("user name", &identity.user.name, true, limits::NAME)?;
        let store = Store::open(path)?;
        store.init_device(&DeviceRow {
            device_id: uuid::Uuid::now_v7().to_string(),
            actor: actor.to_bytes().to_vec(),
            institution: identity.institution.to_string(),
            user_id: identity.user.user_id.to_string(),
            user_name: identity.user.name.clone(),
            roles: identity
                .roles
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(","),
            department: identity.department.map(|d| d.to_string()),
            server_url: None,
            sync_cursor: 0,
            created_at: Timestamp(clock.now()).to_string(),
        })?;
        Self::from_store(store, clock)
    }

    /// Opens the store of an existing installation.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Device> {
        Self::from_store(Store::open(path)?, clock)
    }

    fn from_store(store: Store, clock: Arc<dyn Clock>) -> Result<Device> {
        let row = store.device()?.ok_or(Error::NotInitialized)?;
        let bad = |f: &str| Error::Corrupt {
            path: store.path().to_path_buf(),
            reason: format!("device identity has a bad {f}"),
        };
        let roles = row
            .roles
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Role>())
            .collect::<Result<Vec<_>>>()
            .map_err(|_| bad("role"))?;
        let identity = Identity {
            institution: row.institution.parse().map_err(|_| bad("institution"))?,
            user: PersonRef {
                user_id: row.user_id.parse().map_err(|_| bad("user id"))?,
                name: row.user_name.clone(),
            },
            roles,
            department: match &row.department {
                Some(d) => Some(d.parse().map_err(|_| bad("department"))?),
                None => None,
            },
        };
        Ok(Device {
            actor: ActorId::from(row.actor.as_slice()),
            device_id: row.device_id,
            identity,
            store,
            clock,
            max_photo_bytes: DEFAULT_MAX_PHOTO_BYTES,
            directory_cache: Default::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// This installation's Automerge actor (hex).
    pub fn actor_hex(&self) -> String {
        self.actor.to_hex_string()
    }

    /// Lowers or raises the photo size limit (the server's limit is the one that counts).
    /// The largest photo this device accepts, in bytes.
    pub fn max_photo_bytes(&self) -> usize {
        self.max_photo_bytes
    }

    pub fn set_max_photo_bytes(&mut self, max: usize) {
        self.max_photo_bytes = max;
    }

    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp(self.clock.now())
    }

    /// Roles of the user: the directory's entry if the directory knows the user.
    pub fn roles(&self) -> Result<Vec<Role>> {
        let dir = self.cached_directory()?;
        Ok(
            match dir
                .as_ref()
                .as_ref()
                .and_then(|d| d.person(self.identity.user.user_id))
            {
                Some(p) => p.roles.clone(),
                None => self.identity.roles.clone(),
            },
        )
    }

    fn require(&self, action: Action, named: Named) -> Result<()> {
        if action.allowed(&self.roles()?, named) {
            Ok(())
        } else {
            Err(Error::NotAllowed {
                action: format!("{action:?}"),
                who: action.who().to_string(),
            })
        }
    }

    /// What the write policy judges this device's edits with, read before the write
    /// transaction starts (the store allows one at a time). `photos`: the photos the
    /// call checked are in the store, the only ones its edit may newly reference.
    fn judge(&self, photos: &[BlobHash]) -> Result<Judge> {
        let dir = self.cached_directory()?;
        let me = self.identity.user.user_id;
        let department = match dir.as_ref().as_ref().and_then(|d| d.person(me)) {
            Some(p) => p.department,
            None => self.identity.department,
        };
        Ok(Judge {
            roles: self.roles()?,
            dir,
            user: me,
            department,
            actor: self.actor.to_hex_string(),
            institution: self.identity.institution,
            now: self.now(),
            photos: photos.to_vec(),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&mut crate::store::Tx<'_>) -> Result<T>) -> Result<T> {
        self.store.write(&self.actor, self.now(), f)
    }

    fn me(&self) -> &PersonRef {
        &self.identity.user
    }

    // ----- reference data -------------------------------------------------------------

    /// The institution's directory, once it has arrived (or been imported).
    pub fn directory(&self) -> Result<Option<Directory>> {
        Ok(Option::clone(&*self.cached_directory()?))
    }

    /// The directory, parsed once per version of it.
    fn cached_directory(&self) -> Result<Arc<Option<Directory>>> {
        let id = directory::id_for(self.identity.institution);
        let heads = self.store.heads(id)?.unwrap_or_default();
        let mut cache = self
            .directory_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((h, dir)) = cache.as_ref()
            && *h == heads
        {
            return Ok(dir.clone());
        }
        let dir = Arc::new(match self.store.load(id)? {
            Some(d) => Some(directory::read(&d)?),
            None => None,
        });
        *cache = Some((heads, dir.clone()));
        Ok(dir)
    }

    /// Writes the directory into the local store. The server normally sends it; this is
    /// for a device set up by hand and for tests.
    pub fn import_directory(&self, dir: &Directory) -> Result<()> {
        if dir.institution != self.identity.institution {
            return Err(Error::invalid(
                "directory",
                "belongs to another institution",
            ));
        }
        // The directory decides roles: a user may not rewrite their own.
        if self.directory()?.is_some() && !self.roles()?.contains(&Role::Administrator) {
            return Err(Error::NotAllowed {
                action: "ImportDirectory".into(),
                who: "administrators (the directory already exists)".into(),
            });
        }
        let id = directory::id_for(dir.institution);
        self.write(|tx| {
            tx.create_or_edit(id, || Ok(AutoCommit::new()), |d| directory::write(d, dir))
        })
    }

    /// The institution's time zone (UTC+8 until the directory says otherwise).
    pub fn time_zone(&self) -> Result<FixedOffset> {
        Ok(match self.directory()? {
            Some(d) => d.tz(),
            None => crate::clock::default_tz(),
        })
    }

    /// Today's date in the institution's time zone.
    pub fn today(&self) -> Result<NaiveDate> {
        Ok(self
            .clock
            .now()
            .with_timezone(&self.time_zone()?)
            .date_naive())
    }

    /// Every template version: built in, and the institution's own.
    pub fn all_templates(&self) -> Result<Vec<Template>> {
        let mut all = templates::builtin().to_vec();
        if let Some(d) = self.directory()? {
            all.extend(d.templates.into_values());
        }
        Ok(all)
    }

    /// The newest version of each template.
    pub fn templates(&self) -> Result<Vec<Template>> {
        Ok(templates::latest(&self.all_templates()?))
    }

    /// One exact template version.
    pub fn template(&self, id: &str, version: u32) -> Result<Template> {
        self.all_templates()?
            .into_iter()
            .find(|t| t.id == id && t.version == version)
            .ok_or_else(|| Error::not_found("template", format!("{id}@{version}")))
    }

    pub fn sites(&self) -> Result<Vec<Site>> {
        Ok(self
            .directory()?
            .map(|d| d.sites.into_values().collect())
            .unwrap_or_default())
    }

    /// A site of the directory, as a record names it.
    fn site_ref(&self, id: SiteId) -> Result<SiteRef> {
        let site = self
            .sites()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::not_found("site", id))?;
        Ok(SiteRef {
            id: site.id,
            name: site.name,
            kind: site.kind,
        })
    }

    fn person(&self, dir: &Option<Directory>, id: UserId, field: &str) -> Result<PersonRef> {
        if id == self.identity.user.user_id {
            return Ok(self.me().clone());
        }
        dir.as_ref()
            .and_then(|d| d.person(id))
            .map(|p| PersonRef {
                user_id: p.user_id,
                name: p.name.clone(),
            })
            .ok_or_else(|| Error::invalid(field, format!("no person {id} in the directory")))
    }

    // ----- photos ---------------------------------------------------------------------

    /// Stores a photo and returns its hash to reference from records.
    pub fn add_photo(&self, bytes: &[u8]) -> Result<BlobHash> {
        self.store.put_blob(bytes, self.max_photo_bytes, self.now())
    }

    pub fn photo(&self, hash: &BlobHash) -> Result<Vec<u8>> {
        self.store
            .blob(hash)?
            .ok_or_else(|| Error::not_found("photo", hash))
    }

    fn check_photos(tx: &crate::store::Tx<'_>, photos: &[BlobHash]) -> Result<()> {
        if photos.len() > limits::PHOTOS_PER_ENTRY {
            return Err(Error::invalid(
                "photos",
                format!("at most {} per entry", limits::PHOTOS_PER_ENTRY),
            ));
        }
        for p in photos {
            if !tx.blob_exists(p)? {
                return Err(Error::invalid(
                    "photos",
                    format!("unknown photo {p}; add it first"),
                ));
            }
        }
        Ok(())
    }

    /// The institution's campaigns, as the directory last brought them, by start.
    pub fn campaigns(&self) -> Result<Vec<crate::doc::directory::CampaignEntry>> {
        let mut all: Vec<_> = self
            .cached_directory()?
            .as_ref()
            .as_ref()
            .map(|d| d.campaigns.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|c| (c.starts.0, c.id.to_string()));
        Ok(all)
    }

    /// The campaign running today in the institution, if any.
    pub fn current_campaign(&self) -> Result<Option<CampaignId>> {
        let today = self.today()?;
        Ok(self
            .cached_directory()?
            .as_ref()
            .as_ref()
            .and_then(|d| d.campaign_on(today))
            .map(|c| c.id))
    }

    /// What a new record is tagged with: the campaign asked for, else the one running.
    fn campaign_or_current(&self, asked: Option<CampaignId>) -> Result<Option<CampaignId>> {
        match asked {
            Some(c) => Ok(Some(c)),
            None => self.current_campaign(),
        }
    }

    // ----- inspections ----------------------------------------------------------------

    /// Starts an inspection of `site` with the given template (default: the newest
    /// template for the site's kind, the institution's own before the built-in one),
    /// tagged with `campaign` or else the campaign running today.
    pub fn start_inspection(
        &self,
        site: SiteId,
        template: Option<&str>,
        campaign: Option<CampaignId>,
    ) -> Result<DocId> {
        self.require(Action::Inspect, Named::default())?;
        let site = self.site_ref(site)?;
        let latest = self.templates()?;
        let t = match template {
            Some(id) => latest
                .iter()
                .find(|t| t.id == id)
                .ok_or_else(|| Error::not_found("template", id))?,
            None => latest
                .iter()
                .filter(|t| t.site_kind == site.kind)
                .min_by_key(|t| t.builtin)
                .ok_or_else(|| Error::not_found("template for site kind", site.kind))?,
        };
        let new = NewInspection {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.campaign_or_current(campaign)?,
            site,
            template: TemplateRef {
                id: t.id.clone(),
                version: t.version,
            },
        };
        let now = self.now();
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    /// The exact template version the inspection in `d` was made with, from `all`.
    fn template_of<'t>(d: &AutoCommit, all: &'t [Template]) -> Result<&'t Template> {
        let r = inspection::template_ref(d)?;
        all.iter()
            .find(|t| t.id == r.id && t.version == r.version)
            .ok_or_else(|| Error::not_found("template", format!("{}@{}", r.id, r.version)))
    }

    /// The inspection in `d` and the exact template version it was made with, from
    /// `all` (read before the write transaction starts: the store allows one at a time).
    fn inspection_template(d: &AutoCommit, all: &[Template]) -> Result<(Inspection, Template)> {
        // Only the fields are needed here, not the scan for concurrent values.
        let i = inspection::read_with(d, false)?;
        let t = all
            .iter()
            .find(|t| t.id == i.template.id && t.version == i.template.version)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(
                    "template",
                    format!("{}@{}", i.template.id, i.template.version),
                )
            })?;
        Ok((i, t))
    }

    /// Answers one item. After submission an answer needs `amend_reason`, and the
    /// amendment stays on the record.
    pub fn answer(
        &self,
        inspection_id: DocId,
        item: &str,
        result: AnswerResult,
        note: &str,
        photos: &[BlobHash],
        amend_reason: Option<&str>,
    ) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let note = short_text("note", note, false, limits::NOTE)?;
        let reason = amend_reason
            .map(|r| short_text("reason", r, true, limits::NOTE))
            .transpose()?;
        let now = self.now();
        let all = self.all_templates()?;
        let j = self.judge(photos)?;
        self.write(|tx| {
            Self::check_photos(tx, photos)?;
            tx.edit(inspection_id, |d| {
                j.edit(d, |d| {
                    let t = Self::template_of(d, &all)?;
                    if t.item(item).is_none() {
                        return Err(Error::invalid(
                            "item",
                            format!("{item} is not on checklist {}@{}", t.id, t.version),
                        ));
                    }
                    if inspection::is_submitted(d)? && reason.is_none() {
                        return Err(Error::State(
                            "the inspection was submitted; changing an answer needs a reason"
                                .into(),
                        ));
                    }
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::put_answer(
                        d,
                        item,
                        &Answer {
                            result,
                            note,
                            photos: photos.to_vec(),
                            by: self.me().clone(),
                            at: now,
                        },
                    )?;
                    if let Some(reason) = reason {
                        inspection::add_amendment(
                            d,
                            &Amendment {
                                by: self.me().clone(),
                                at: now,
                                reason,
                                item: item.to_string(),
                            },
                        )?;
                    }
                    Ok(())
                })
            })
        })
    }

    /// Sets the inspection's free-text notes (an Automerge text: co-inspectors may edit
    /// it at once).
    pub fn set_inspection_notes(&self, inspection_id: DocId, notes: &str) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let notes = short_text("notes", notes, false, limits::LONG_TEXT)?;
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.edit(inspection_id, |d| {
                crate::doc::expect_kind(d, DocKind::Inspection)?;
                if inspection::is_submitted(d)? {
                    return Err(Error::State("the inspection was submitted".into()));
                }
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::set_notes(d, &notes)
                })
            })
        })
    }

    /// Records a finding: a new hazard in the ledger, linked to the inspection.
    pub fn add_finding(&self, inspection_id: DocId, f: &NewFinding) -> Result<DocId> {
        self.require(Action::ReportHazard, Named::default())?;
        let location = short_text("location", &f.location, false, limits::NAME)?;
        let description = short_text("description", &f.description, true, limits::LONG_TEXT)?;
        let now = self.now();
        let id = DocId::new();
        let all = self.all_templates()?;
        let j = self.judge(&f.photos)?;
        self.write(|tx| {
            Self::check_photos(tx, &f.photos)?;
            let d = tx
                .load(inspection_id)?
                .ok_or_else(|| Error::not_found("inspection", inspection_id))?;
            let (i, t) = Self::inspection_template(&d, &all)?;
            if i.submitted.is_some() {
                return Err(Error::State(
                    "the inspection was submitted; report the hazard on its own".into(),
                ));
            }
            let item = match &f.item {
                Some(code) => Some(t.item(code).ok_or_else(|| {
                    Error::invalid(
                        "item",
                        format!("{code} is not on checklist {}@{}", t.id, t.version),
                    )
                })?),
                None => None,
            };
            let category = f.category.or(item.map(|i| i.category)).ok_or_else(|| {
                Error::invalid("category", "is required without a checklist item")
            })?;
            let risk = f
                .risk
                .or(item.map(|i| i.suggested_risk))
                .ok_or_else(|| Error::invalid("risk", "is required without a checklist item"))?;
            let new = NewHazard {
                id,
                institution: self.identity.institution,
                campaign: i.campaign,
                inspection: Some(inspection_id),
                site: i.site.clone(),
                category,
                risk,
                location,
                description,
                photos: f.photos.clone(),
            };
            tx.create(id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    hazard::create(d, &new, self.me(), now)
                })
            })?;
            tx.edit(inspection_id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::add_finding(d, id)
                })
            })
        })?;
        Ok(id)
    }

    /// Reports a hazard seen outside an inspection.
    pub fn report_hazard(
        &self,
        site: SiteId,
        campaign: Option<CampaignId>,
        f: &NewFinding,
    ) -> Result<DocId> {
        self.require(Action::ReportHazard, Named::default())?;
        let new = NewHazard {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.campaign_or_current(campaign)?,
            inspection: None,
            site: self.site_ref(site)?,
            category: f
                .category
                .ok_or_else(|| Error::invalid("category", "is required"))?,
            risk: f
                .risk
                .ok_or_else(|| Error::invalid("risk", "is required"))?,
            location: short_text("location", &f.location, false, limits::NAME)?,
            description: short_text("description", &f.description, true, limits::LONG_TEXT)?,
            photos: f.photos.clone(),
        };
        let now = self.now();
        let j = self.judge(&new.photos)?;
        self.write(|tx| {
            Self::check_photos(tx, &new.photos)?;
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    hazard::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    /// Submits the inspection; its answers are frozen afterwards.
    pub fn submit_inspection(&self, inspection_id: DocId) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let now = self.now();
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.edit(inspection_id, |d| {
                let i = inspection::read_with(d, false)?;
                if let Some(s) = &i.submitted {
                    return Err(Error::State(format!(
                        "the inspection was already submitted at {}",
                        s.at
                    )));
                }
                if i.answers.is_empty() {
                    return Err(Error::invalid("answers", "no item answered yet"));
                }
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::submit(d, self.me(), now)
                })
            })
        })
    }

    pub fn inspection(&self, id: DocId) -> Result<Inspection> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("inspection", id))?;
        inspection::read(&d)
    }

    /// Inspections, newest first, optionally of one site or only (un)submitted ones.
    pub fn inspections(
        &self,
        site: Option<SiteId>,
        submitted: Option<bool>,
        limit: Option<usize>,
    ) -> Result<Vec<Summary>> {
        self.store.list(
            DocKind::Inspection,
            &ListFilter {
                site_id: site.map(|s| s.to_string()),
                submitted,
                limit,
                ..Default::default()
            },
        )
    }

    // ----- hazards --------------------------------------------------------------------

    pub fn hazard(&self, id: DocId) -> Result<Hazard> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("hazard", id))?;
        hazard::read(&d)
    }

    /// Hazards matching `q`, newest first, with overdue and due-soon computed now.
    pub fn hazards(&self, q: &HazardQuery) -> Result<Vec<HazardRow>> {
        let tz = self.time_zone()?;
        let now = self.clock.now();
        let today = now.with_timezone(&tz).date_naive();
        let me = self.identity.user.user_id.to_string();
        let mut f = ListFilter {
            site_id: q.site.map(|s| s.to_string()),
            category: q.category.map(|c| c.code().to_string()),
            min_risk: q.min_risk.map(|r| r.code().to_string()),
            campaign: q.campaign.map(|c| c.to_string()),
            responsible: q.responsible_is_me.then(|| me.clone()),
            reinspector: q.reinspector_is_me.then(|| me.clone()),
            created_from: q.reported_from.map(|d| local_midnight_utc(d, tz)),
            created_before: q.reported_before.map(|d| local_midnight_utc(d, tz)),
            limit: q.limit,
            ..Default::default()
        };
        let open: Vec<HazardStatus> = HazardStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect();
        f.statuses = match (q.status, q.open_only) {
            (Some(s), _) => Some(vec![s]),
            (None, true) => Some(open),
            (None, false) => None,
        };
        if q.overdue || q.due_within_days.is_some() {
            f.statuses = Some(vec![HazardStatus::InRectification]);
        }
        if q.overdue {
            f.deadline_before = Some(LocalDate(today).to_string());
        }
        if let Some(days) = q.due_within_days.map(|d| d.clamp(0, 3650)) {
            f.deadline_on_or_before =
                Some(LocalDate(today + chrono::Duration::days(days)).to_string());
        }
        let rows = self.store.list(DocKind::Hazard, &f)?;
        Ok(rows
            .into_iter()
            .filter_map(|s| {
                let status = s.status.as_deref().and_then(|x| x.parse().ok());
                let deadline = s.deadline.as_deref().and_then(|x| x.parse().ok());
                let today = deadline::local_today(now, tz);
                let overdue = deadline::overdue(status, deadline, today);
                let due_soon = deadline::due_soon(
                    status,
                    deadline,
                    today,
                    q.due_within_days.unwrap_or(deadline::DUE_SOON_DAYS),
                );
                if q.due_within_days.is_some() && !due_soon {
                    return None;
                }
                Some(HazardRow {
                    summary: s,
                    overdue,
                    due_soon,
                })
            })
            .collect())
    }

    /// Appends a lifecycle event after checking the user may take `action` on this
    /// hazard and that the event is legal in its current status; `edit` makes the field
    /// changes that go with it, in the same transaction.
    fn hazard_event(
        &self,
        id: DocId,
        action: Action,
        kind: EventKind,
        note: &str,
        photos: &[BlobHash],
        edit: impl FnOnce(&mut AutoCommit, &Hazard, &mut Event) -> Result<()>,
    ) -> Result<()> {
        let note = short_text("note", note, false, limits::NOTE)?;
        let now = self.now();
        let j = self.judge(photos)?;
        let roles = &j.roles;
        self.write(|tx| {
            Self::check_photos(tx, photos)?;
            let d = tx.load(id)?.ok_or_else(|| Error::not_found("hazard", id))?;
            let h = hazard::read_with(&d, false)?;
            let named = policy::named(&h, self.identity.user.user_id);
            if !action.allowed(roles, named) {
                return Err(Error::NotAllowed {
                    action: format!("{action:?}"),
                    who: action.who().to_string(),
                });
            }
            if lifecycle::transition(h.status, kind).is_none() {
                return Err(Error::State(format!(
                    "cannot record '{}' on a hazard that is {}",
                    kind.code(),
                    h.status.map(|s| s.code()).unwrap_or("without history")
                )));
            }
            tx.edit(id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    let mut event = Event {
                        id: DocId::new(),
                        kind,
                        by: self.me().clone(),
                        at: now,
                        note,
                        photos: photos.to_vec(),
                        risk: None,
                        plan: None,
                        corrections: Vec::new(),
                    };
                    edit(d, &h, &mut event)?;
                    hazard::append_event(d, &event)
                })
            })
        })
    }

    /// 交办: sets the rectification plan and puts the hazard in rectification.
    pub fn assign(&self, id: DocId, a: &Assignment, note: &str) -> Result<()> {
        let dir = self.directory()?;
        let measure = short_text("measure", &a.measure, true, limits::NOTE)?;
        let responsible = self.person(&dir, a.responsible, "responsible")?;
        let reinspector = a
            .reinspector
            .map(|r| self.person(&dir, r, "reinspector"))
            .transpose()?;
        if a.deadline.0 < self.today()? {
            return Err(Error::invalid(
                "deadline",
                format!("{} is in the past", a.deadline),
            ));
        }
        let funds = short_text("funds", &a.funds, false, limits::NAME)?;
        let contingency = short_text("contingency", &a.contingency, false, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Assign,
            EventKind::Assigned,
            note,
            &[],
            |d, h, e| {
                let plan = Plan {
                    measure,
                    responsible: Some(responsible),
                    funds,
                    deadline: Some(a.deadline),
                    contingency,
                    reinspector,
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Assignment)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// 整改完成: the responsible person (or the office) reports the rectification done,
    /// with after-photos.
    pub fn report_rectification(&self, id: DocId, note: &str, photos: &[BlobHash]) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::ReportRectification,
            EventKind::RectificationReported,
            note,
            photos,
            |_, _, _| Ok(()),
        )
    }

    /// 复核: pass writes the hazard off 销号; fail sends it back to rectification.
    pub fn reinspect(
        &self,
        id: DocId,
        passed: bool,
        note: &str,
        photos: &[BlobHash],
    ) -> Result<()> {
        let kind = if passed {
            EventKind::Verified
        } else {
            EventKind::VerificationFailed
        };
        if !passed {
            short_text("note", note, true, limits::NOTE)?;
        }
        self.hazard_event(id, Action::Verify, kind, note, photos, |_, _, _| Ok(()))
    }

    /// 暂缓: cannot be fixed now; interim controls and a designated person.
    pub fn defer(
        &self,
        id: DocId,
        interim_controls: &str,
        designated: UserId,
        note: &str,
    ) -> Result<()> {
        let dir = self.directory()?;
        let controls = short_text("interim_controls", interim_controls, true, limits::NOTE)?;
        let person = self.person(&dir, designated, "designated_person")?;
        self.hazard_event(
            id,
            Action::Defer,
            EventKind::Deferred,
            note,
            &[],
            |d, h, e| {
                let plan = Plan {
                    interim_controls: controls,
                    designated_person: Some(person),
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Deferral)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// 回头看: reopens a closed hazard.
    pub fn reopen(&self, id: DocId, note: &str) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Reopen,
            EventKind::Reopened,
            note,
            &[],
            |_, _, _| Ok(()),
        )
    }

    /// 挂牌督办: lists a major hazard for supervision with its treatment plan.
    pub fn list_for_supervision(&self, id: DocId, treatment_plan: &str) -> Result<()> {
        let tp = short_text("treatment_plan", treatment_plan, true, limits::LONG_TEXT)?;
        self.hazard_event(
            id,
            Action::ListForSupervision,
            EventKind::ListedForSupervision,
            "",
            &[],
            |d, h, e| {
                if h.risk != RiskGrade::Major {
                    return Err(Error::State(
                        "only major hazards 重大隐患 are listed for supervision".into(),
                    ));
                }
                let plan = Plan {
                    treatment_plan: tp,
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Supervision)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// Changes the risk grade (settling any conflict on it).
    pub fn regrade(&self, id: DocId, risk: RiskGrade, note: &str) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Regrade,
            EventKind::Regraded,
            note,
            &[],
            |d, h, e| {
                hazard::set_risk(d, risk)?;
                e.risk = Some(risk);
                e.corrections = hazard::corrections(h, &hazard::read_with(d, false)?, &["risk"]);
                Ok(())
            },
        )
    }

    /// Corrects the report 上报 (site, category, location, description, photos): its
    /// reporter until the hazard is assigned, the safety office at any time. The event
    /// keeps each changed field's old and new value.
    pub fn correct_hazard(&self, id: DocId, c: &HazardCorrection, note: &str) -> Result<()> {
        let corrected = hazard::Corrected {
            site: c.site.map(|s| self.site_ref(s)).transpose()?,
            category: c.category,
            location: c
                .location
                .as_deref()
                .map(|l| short_text("location", l, false, limits::NAME))
                .transpose()?,
            description: c
                .description
                .as_deref()
                .map(|t| short_text("description", t, true, limits::LONG_TEXT))
                .transpose()?,
            photos: c.photos.clone(),
        };
        let photos = c.photos.clone().unwrap_or_default();
        self.hazard_event(
            id,
            Action::Correct,
            EventKind::Corrected,
            note,
            &photos,
            |d, h, e| {
                hazard::correct(d, h, &corrected)?;
                let after = hazard::read_with(d, false)?;
                e.corrections = hazard::corrections(h, &after, hazard::CORRECTABLE);
                if e.corrections.is_empty() {
                    return Err(Error::invalid("correction", "changes nothing"));
                }
                Ok(())
            },
        )
    }

    // ----- reports --------------------------------------------------------------------

    /// Files (or adds to) a department's weekly report. An all-clear 报平安 needs no text.
    pub fn file_weekly_report(
        &self,
        department: Option<DepartmentId>,
        week: Option<IsoWeek>,
        all_clear: bool,
        content: &str,
    ) -> Result<DocId> {
        self.require(Action::FileWeeklyReport, Named::default())?;
        let content = short_text("content", content, !all_clear, limits::LONG_TEXT)?;
        let j = self.judge(&[])?;
        let department = department
            .or(j.department)
            .ok_or_else(|| Error::invalid("department", "is required (the user has none)"))?;
        if Some(department) != j.department {
            return Err(Error::NotAllowed {
                action: "FileWeeklyReport".into(),
                who: "the department's own people".into(),
            });
        }
        let dir = self.directory()?;
        let department_name = match &dir {
            Some(d) => d
                .department(department)
                .map(|x| x.name.clone())
                .ok_or_else(|| Error::not_found("department", department))?,
            None => String::new(),
        };
        let week = match week {
            Some(w) => w,
            None => IsoWeek::of(self.today()?),
        };
        let inst = self.identity.institution;
        let id = weekly::id_for(inst, department, week);
        let now = self.now();
        self.write(|tx| {
            tx.create_or_edit(
                id,
                || weekly::genesis(inst, department, week),
                |d| {
                    j.edit(d, |d| {
                        record_author(d, self.me())?;
                        weekly::file(
                            d,
                            &weekly::Filed {
                                campaign: None,
                                department_name: &department_name,
                                all_clear,
                                content: &content,
                            },
                            self.me(),
                            now,
                        )
                    })
                },
            )
        })?;
        Ok(id)
    }

    pub fn weekly_report(&self, id: DocId) -> Result<WeeklyReport> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("weekly report", id))?;
        weekly::read(&d)
    }

    /// Reports an incident at once.
    pub fn file_incident(&self, i: &NewIncidentInput) -> Result<DocId> {
        self.require(Action::FileIncident, Named::default())?;
        let site = i.site.map(|s| self.site_ref(s)).transpose()?;
        let now = self.now();
        let new = NewIncident {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.current_campaign()?,
            occurred_at: i.occurred_at.unwrap_or(now),
            site,
            location: short_text("location", &i.location, false, limits::NAME)?,
            category: i.category,
            severity: i.severity,
            title: short_text("title", &i.title, true, limits::NAME)?,
            description: short_text("description", &i.description, true, limits::LONG_TEXT)?,
            actions_taken: short_text("actions_taken", &i.actions_taken, false, limits::NOTE)?,
        };
        if new.occurred_at > now {
            return Err(Error::invalid("occurred_at", "is in the future"));
        }
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    incident::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    pub fn incident(&self, id: DocId) -> Result<IncidentReport> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("incident report", id))?;
        incident::read(&d)
    }

    /// Lists documents of one kind (reports, incidents), newest first.
    pub fn documents(&self, kind: DocKind, limit: Option<usize>) -> Result<Vec<Summary>> {
        self.store.list(
            kind,
            &ListFilter {
                limit,
                ..Default::default()
            },
        )
    }

    /// Merges Automerge bytes (a saved document or changes) received from the server
    /// into the local copy; the sync client calls this with data it has checked.
    pub fn receive(&self, id: DocId, bytes: &[u8]) -> Result<()> {
        self.write(|tx| tx.merge(id, bytes))
    }

    /// Applies changes received from the server, each an Automerge change chunk.
    pub fn receive_changes(&self, id: DocId, changes: &[Vec<u8>]) -> Result<()> {
        self.write(|tx| tx.apply_changes(id, changes))
    }

    /// Applies the changes a sync brought for many documents, and records that the server
    /// holds them, in one transaction: one durable commit for a page of documents instead
    /// of two per document. Any failure keeps none of it (the sync retries the page).
    pub fn receive_from_server(&self, docs: &[(DocId, Vec<Vec<u8>>)]) -> Result<()> {
        self.write(|tx| {
            for (id, changes) in docs {
                tx.receive(*id, changes)?;
            }
            Ok(())
        })
    }

    /// Any document as JSON.
    pub fn show(&self, id: DocId) -> Result<serde_json::Value> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("document", id))?;
        Ok(crate::doc::json::to_json(&d))
    }
}

/// A correction of a hazard's report; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct HazardCorrection {
    pub site: Option<SiteId>,
    pub category: Option<HazardCategory>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub photos: Option<Vec<BlobHash>>,
}

/// The write policy's view of this device's user, for judging its edits.
struct Judge {
    roles: Vec<Role>,
    dir: Arc<Option<Directory>>,
    user: UserId,
    department: Option<DepartmentId>,
    actor: String,
    institution: InstitutionId,
    now: Timestamp,
    photos: Vec<BlobHash>,
}

impl Judge {
    /// Runs `edit` on the record in `d`, then judges the result by the write policy
    /// (`policy::judge`, the server's own judgement) before the write commits: a refused
    /// edit writes nothing.
    fn edit<T>(
        &self,
        d: &mut AutoCommit,
        edit: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let before = match crate::doc::header(d) {
            Ok(_) => Some(policy::Version::read(d)?),
            Err(_) => None,
        };
        let out = edit(d)?;
        let after = policy::Version::read(d)?;
        let author = policy::Author {
            user: self.user,
            roles: &self.roles,
            department: self.department,
            actor: self.actor.clone(),
        };
        let ctx = policy::Context {
            institution: self.institution,
            directory: self.dir.as_ref().as_ref(),
            received: self.now,
        };
        let verdict = policy::judge(before.as_ref(), &after, &author, &ctx)?;
        if let Some(p) = verdict.new_photos.iter().find(|p| !self.photos.contains(p)) {
            return Err(Error::invalid(
                "photos",
                format!("unknown photo {p}; add it first"),
            ));
        }
        Ok(out)
    }
}

fn local_midnight_utc(d: NaiveDate, tz: FixedOffset) -> String {
    use chrono::TimeZone;
    let local = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&local).single() {
        Some(t) => Timestamp(t.with_timezone(&chrono::Utc)).to_string(),
        None => Timestamp(local.and_utc()).to_string(),
    }
}
