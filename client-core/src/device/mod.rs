//! The core API: what the phone facade and the `saferound` CLI call. A `Device` is one
//! installation: its store, its identity (institution, user, roles, Automerge actor) and
//! the clock it is given. Every method checks its input, the user's role and the record's
//! state before writing, and writes in one transaction, so a refused call changes nothing.
//! Here: the inputs, the device itself, its reference data and photos; the verbs of each
//! kind of record in `inspections.rs`, `hazards.rs` and `reports.rs`.

use std::path::Path;
use std::sync::Arc;

use automerge::{ActorId, AutoCommit};
use chrono::{FixedOffset, NaiveDate};
use serde::Serialize;

mod hazards;
mod inspections;
mod reports;

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

/// A correction of a hazard's report; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct HazardCorrection {
    pub site: Option<SiteId>,
    pub category: Option<HazardCategory>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub photos: Option<Vec<BlobHash>>,
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
    let local = d.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&local).single() {
        Some(t) => Timestamp(t.with_timezone(&chrono::Utc)).to_string(),
        None => Timestamp(local.and_utc()).to_string(),
    }
}
