//! `SafeRoundStore`: one phone's store and everything the app does with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use saferound_core::device::{self, HazardQuery};
use saferound_core::doc::DocKind;
use saferound_core::ids::{BlobHash, DocId, LocalDate, SiteId, Timestamp, UserId};
use saferound_core::store::blobs::DEFAULT_MAX_PHOTO_BYTES;
use saferound_core::sync::client;
use saferound_core::{Device, SystemClock};

use crate::error::{Result, SafeRoundError, parse_id};
use crate::types::*;
use crate::work::{CancelToken, off_thread};

/// The app's secret store (Android Keystore, iOS Keychain): it keeps this phone's device
/// token, which never goes into the store file. Called from any thread.
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync {
    /// Keeps `token` as the secret of device `device_id`, replacing any.
    fn save_token(&self, device_id: String, token: String) -> Result<()>;
    /// The secret of device `device_id`, or nothing if there is none.
    fn load_token(&self, device_id: String) -> Option<String>;
    /// Forgets the secret of device `device_id` (signing out).
    fn delete_token(&self, device_id: String);
}

/// The app's listener for sync progress. Called on the sync's worker thread.
#[uniffi::export(with_foreign)]
pub trait SyncProgressListener: Send + Sync {
    /// Called after every request and once at the end (`phase` is `Done`).
    fn on_progress(&self, progress: SyncProgress);
}

/// One phone's SafeRound store: its records, photos and identity in one SQLite file.
/// Methods other than `sync` and `enroll` are local and quick (a few milliseconds);
/// call them off the UI thread all the same (Kotlin `Dispatchers.IO`, a Swift `Task`).
#[derive(uniffi::Object)]
pub struct SafeRoundStore {
    device: Arc<Device>,
    secrets: Option<Arc<dyn SecretStore>>,
    syncing: Arc<AtomicBool>,
}

/// Enrolls this phone with the server: signs in with the user's login and password,
/// creates the store at `path` (which must not exist yet) and hands the device token to
/// `secrets`. Runs off the caller's thread. A wrong login or password is
/// `NotAuthenticated`; no signal is `Network`.
#[uniffi::export]
pub async fn enroll(
    path: String,
    server_url: String,
    login: String,
    password: String,
    device_name: String,
    secrets: Arc<dyn SecretStore>,
) -> Result<Arc<SafeRoundStore>> {
    check_url(&server_url)?;
    if login.trim().is_empty() {
        return Err(invalid("login", "is required"));
    }
    let path = PathBuf::from(path);
    if path.exists() {
        return Err(SafeRoundError::Conflict {
            reason: "a store already exists at this path; open it, or enroll into a new path"
                .into(),
        });
    }
    let cancel = Arc::new(AtomicBool::new(false));
    off_thread("enroll", cancel, move || {
        let (device, token) = client::enroll_returning_token(
            &path,
            &server_url,
            &login,
            &password,
            &device_name,
            Arc::new(SystemClock),
        )?;
        let device_id = device.device_id().to_string();
        if let Err(e) = secrets.save_token(device_id, token) {
            // Without its token the store is useless: remove it so enrolling can be retried.
            drop(device);
            remove_store_files(&path);
            return Err(e);
        }
        tracing::info!("device enrolled");
        Ok(Arc::new(SafeRoundStore {
            device: Arc::new(device),
            secrets: Some(secrets),
            syncing: Default::default(),
        }))
    })
    .await
}

/// The largest photo accepted, in bytes; bigger ones are refused with `InvalidInput`
/// (field `photo`).
#[uniffi::export]
pub fn max_photo_bytes() -> u64 {
    DEFAULT_MAX_PHOTO_BYTES as u64
}

/// The label of a hazard category in the given language.
#[uniffi::export]
pub fn hazard_category_label(category: HazardCategory, language: Language) -> String {
    saferound_core::model::HazardCategory::from(category)
        .label(language.into())
        .to_string()
}

/// The label of a risk grade in the given language.
#[uniffi::export]
pub fn risk_grade_label(grade: RiskGrade, language: Language) -> String {
    saferound_core::model::RiskGrade::from(grade)
        .label(language.into())
        .to_string()
}

/// The label of a hazard status in the given language.
#[uniffi::export]
pub fn hazard_status_label(status: HazardStatus, language: Language) -> String {
    saferound_core::model::HazardStatus::from(status)
        .label(language.into())
        .to_string()
}

/// The label of a site kind in the given language.
#[uniffi::export]
pub fn site_kind_label(kind: SiteKind, language: Language) -> String {
    saferound_core::model::SiteKind::from(kind)
        .label(language.into())
        .to_string()
}

fn invalid(field: &str, reason: &str) -> SafeRoundError {
    SafeRoundError::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_url(url: &str) -> Result<()> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(invalid("server_url", "must start with https:// or http://"))
    }
}

fn remove_store_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn doc_id(field: &str, id: &str) -> Result<DocId> {
    parse_id(field, id)
}

fn photos(hashes: &[String]) -> Result<Vec<BlobHash>> {
    hashes.iter().map(|h| parse_id("photos", h)).collect()
}

fn date(field: &str, s: &str) -> Result<LocalDate> {
    s.trim()
        .parse()
        .map_err(|_| invalid(field, "is not a date (YYYY-MM-DD)"))
}

#[uniffi::export]
impl SafeRoundStore {
    /// Opens the store at `path`, enrolled before by `enroll`, for the user `user_id` of
    /// institution `institution_id`, syncing with `server_url`. A store that is missing is
    /// `NotFound`; one enrolled by someone else is `NotAllowed` (a shared phone must not
    /// open another user's records).
    #[uniffi::constructor]
    pub fn open(
        path: String,
        institution_id: String,
        user_id: String,
        server_url: String,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<Self>> {
        check_url(&server_url)?;
        let institution: saferound_core::ids::InstitutionId =
            parse_id("institution_id", &institution_id)?;
        let user: UserId = parse_id("user_id", &user_id)?;
        if !Path::new(&path).exists() {
            return Err(SafeRoundError::NotFound {
                what: "store".into(),
                id: "(enroll this phone first)".into(),
            });
        }
        let device = Device::open(&path, Arc::new(SystemClock))?;
        let me = device.identity();
        if me.institution != institution || me.user.user_id != user {
            return Err(SafeRoundError::NotAllowed {
                action: "opening this store".into(),
                who: "the user who enrolled it".into(),
            });
        }
        // A token left in the file (a store enrolled by the CLI) moves to the secret store.
        let settings = device.store().sync_settings()?;
        if let Some(token) = settings.token
            && secrets.load_token(device.device_id().to_string()).is_none()
        {
            secrets.save_token(device.device_id().to_string(), token)?;
        }
        device.store().set_server(&server_url, None)?;
        Ok(Arc::new(SafeRoundStore {
            device: Arc::new(device),
            secrets: Some(secrets),
            syncing: Default::default(),
        }))
    }

    /// Opens (creating if needed) an offline store as a person of the demo college
    /// (`inspector`, `inspector2`, `owner`, `office`), with its sites and people: for
    /// trying the app and for tests. It cannot sync.
    #[uniffi::constructor]
    pub fn open_demo(path: String, login: String) -> Result<Arc<Self>> {
        let clock = Arc::new(SystemClock);
        let device = if Path::new(&path).exists() {
            Device::open(&path, clock)?
        } else {
            let identity = saferound_core::demo::identity(&login)
                .ok_or_else(|| invalid("login", "is not a demo person"))?;
            let device = Device::init(&path, identity, clock)?;
            device.import_directory(&saferound_core::demo::directory())?;
            device
        };
        Ok(Arc::new(SafeRoundStore {
            device: Arc::new(device),
            secrets: None,
            syncing: Default::default(),
        }))
    }

    /// Who is signed in, and where this phone syncs.
    pub fn me(&self) -> Result<UserInfo> {
        let d = &self.device;
        let id = d.identity();
        let settings = d.store().sync_settings()?;
        Ok(UserInfo {
            user_id: id.user.user_id.to_string(),
            name: id.user.name.clone(),
            roles: d.roles()?.into_iter().map(Into::into).collect(),
            institution_id: id.institution.to_string(),
            institution_name: d.directory()?.map(|x| x.institution_name),
            department_id: id.department.map(|x| x.to_string()),
            device_id: d.device_id().to_string(),
            server_url: settings.server_url,
        })
    }

    /// Points this phone at another server address (the server moved).
    pub fn set_server_url(&self, server_url: String) -> Result<()> {
        check_url(&server_url)?;
        Ok(self.device.store().set_server(&server_url, None)?)
    }

    // ----- reference data ------------------------------------------------------------

    /// The sites to inspect (empty until the first sync brings the directory).
    pub fn sites(&self) -> Result<Vec<SiteInfo>> {
        Ok(self
            .device
            .sites()?
            .into_iter()
            .map(|s| SiteInfo {
                id: s.id.to_string(),
                name: s.name,
                kind: s.kind.into(),
                building: s.building,
                floor_room: s.floor_room,
                department_id: s.department.to_string(),
            })
            .collect())
    }

    /// The newest version of every checklist template.
    pub fn templates(&self) -> Result<Vec<TemplateInfo>> {
        Ok(self
            .device
            .templates()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The institution's people, to pick a responsible person or re-inspector.
    pub fn people(&self) -> Result<Vec<DirectoryPerson>> {
        Ok(self
            .device
            .directory()?
            .map(|d| {
                d.people
                    .into_values()
                    .map(|p| DirectoryPerson {
                        user_id: p.user_id.to_string(),
                        name: p.name,
                        department_id: p.department.map(|x| x.to_string()),
                        roles: p.roles.into_iter().map(Into::into).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    // ----- photos ----------------------------------------------------------------------

    /// Stores a photo (JPEG, PNG, WebP or HEIC, at most `max_photo_bytes()`) and returns
    /// its hash, to attach to answers, findings and events. Anything else is
    /// `InvalidInput` with field `photo`.
    pub fn add_photo(&self, bytes: Vec<u8>) -> Result<String> {
        Ok(self.device.add_photo(&bytes)?.to_string())
    }

    /// The bytes of a stored photo.
    pub fn photo(&self, hash: String) -> Result<Vec<u8>> {
        let h: BlobHash = parse_id("hash", &hash)?;
        Ok(self.device.photo(&h)?)
    }

    /// The bytes of a photo, downloaded from the server when this phone does not have it
    /// (a record synced from another phone refers to photos taken there); the download is
    /// checked against the hash and kept. Runs off the caller's thread. Not on the server
    /// either: `NotFound`; no signal: `Network`.
    pub async fn fetch_photo(&self, hash: String) -> Result<Vec<u8>> {
        let h: BlobHash = parse_id("hash", &hash)?;
        if let Some(bytes) = self.device.store().blob(&h)? {
            return Ok(bytes);
        }
        let server = self
            .device
            .store()
            .sync_settings()?
            .server_url
            .ok_or_else(|| SafeRoundError::NotFound {
                what: "photo".into(),
                id: hash.clone(),
            })?;
        let token = self
            .secrets
            .as_ref()
            .and_then(|s| s.load_token(self.device.device_id().to_string()))
            .ok_or_else(|| SafeRoundError::NotAuthenticated {
                reason: "no device token in the secret store; enroll again".into(),
            })?;
        let device = self.device.clone();
        off_thread("photo", Default::default(), move || {
            Ok(client::fetch_photo_with(&device, &server, &token, &h)?)
        })
        .await
    }

    // ----- inspections -----------------------------------------------------------------

    /// Starts an inspection of a site with a template (default: the newest one for the
    /// site's kind); returns its id.
    pub fn start_inspection(&self, site_id: String, template_id: Option<String>) -> Result<String> {
        let site: SiteId = parse_id("site_id", &site_id)?;
        Ok(self
            .device
            .start_inspection(site, template_id.as_deref(), None)?
            .to_string())
    }

    /// Answers one checklist item. After submission a change needs `amend_reason`, which
    /// stays on the record.
    pub fn answer(
        &self,
        inspection_id: String,
        item: String,
        result: AnswerResult,
        note: String,
        photo_hashes: Vec<String>,
        amend_reason: Option<String>,
    ) -> Result<()> {
        let id = doc_id("inspection_id", &inspection_id)?;
        Ok(self.device.answer(
            id,
            &item,
            result.into(),
            &note,
            &photos(&photo_hashes)?,
            amend_reason.as_deref(),
        )?)
    }

    /// Sets the inspection's free-text notes.
    pub fn set_inspection_notes(&self, inspection_id: String, notes: String) -> Result<()> {
        let id = doc_id("inspection_id", &inspection_id)?;
        Ok(self.device.set_inspection_notes(id, &notes)?)
    }

    /// Records a finding of an inspection: a new hazard in the ledger. Returns its id.
    pub fn add_finding(&self, inspection_id: String, finding: NewFinding) -> Result<String> {
        let id = doc_id("inspection_id", &inspection_id)?;
        let f = core_finding(finding)?;
        Ok(self.device.add_finding(id, &f)?.to_string())
    }

    /// Reports a hazard seen outside an inspection (category and risk required).
    pub fn report_hazard(&self, site_id: String, finding: NewFinding) -> Result<String> {
        let site: SiteId = parse_id("site_id", &site_id)?;
        let f = core_finding(finding)?;
        Ok(self.device.report_hazard(site, None, &f)?.to_string())
    }

    /// Submits the inspection; its answers are frozen afterwards.
    pub fn submit_inspection(&self, inspection_id: String) -> Result<()> {
        let id = doc_id("inspection_id", &inspection_id)?;
        Ok(self.device.submit_inspection(id)?)
    }

    /// One inspection with its answers.
    pub fn inspection(&self, inspection_id: String) -> Result<InspectionDetail> {
        let id = doc_id("inspection_id", &inspection_id)?;
        let i = self.device.inspection(id)?;
        Ok(InspectionDetail {
            id: i.id.to_string(),
            site_id: i.site.id.to_string(),
            site_name: i.site.name,
            template_id: i.template.id,
            template_version: i.template.version,
            inspectors: i.inspectors.into_iter().map(Into::into).collect(),
            started_at: time(i.started_at),
            submitted_at: i.submitted.map(|s| time(s.at)),
            answers: i
                .answers
                .into_iter()
                .map(|(item, a)| AnswerInfo {
                    item,
                    result: a.result.into(),
                    note: a.note,
                    photos: a.photos.iter().map(ToString::to_string).collect(),
                    by: a.by.into(),
                    at: time(a.at),
                })
                .collect(),
            notes: i.notes,
            findings: i.findings.iter().map(ToString::to_string).collect(),
            conflicts: conflicts(i.conflicts),
        })
    }

    /// Inspections, newest first; optionally of one site, or only (un)submitted ones.
    pub fn inspections(
        &self,
        site_id: Option<String>,
        submitted: Option<bool>,
    ) -> Result<Vec<InspectionSummary>> {
        let site = site_id
            .map(|s| parse_id::<SiteId>("site_id", &s))
            .transpose()?;
        Ok(self
            .device
            .inspections(site, submitted, None)?
            .into_iter()
            .map(|s| InspectionSummary {
                id: s.id,
                title: s.title,
                site_id: s.site_id,
                site_name: s.site_name,
                submitted: s.submitted,
                created_at: parse_time(&s.created_at),
            })
            .collect())
    }

    // ----- hazards -----------------------------------------------------------------------

    /// Hazards on this phone matching `filter`, newest first.
    pub fn hazards(&self, filter: HazardFilter) -> Result<Vec<HazardSummary>> {
        let q = HazardQuery {
            status: filter.status.map(Into::into),
            open_only: filter.open_only,
            category: filter.category.map(Into::into),
            min_risk: filter.min_risk.map(Into::into),
            site: filter
                .site_id
                .map(|s| parse_id::<SiteId>("site_id", &s))
                .transpose()?,
            overdue: filter.overdue,
            limit: filter.limit.map(|l| l as usize),
            ..Default::default()
        };
        self.query(&q)
    }

    /// One hazard with its plan, history and conflicts.
    pub fn hazard(&self, hazard_id: String) -> Result<HazardDetail> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self.device.hazard(id)?.into())
    }

    /// Open hazards assigned to me: as the responsible person or as the re-inspector.
    pub fn assigned_to_me(&self) -> Result<Vec<HazardSummary>> {
        let mine = |responsible: bool| HazardQuery {
            open_only: true,
            responsible_is_me: responsible,
            reinspector_is_me: !responsible,
            ..Default::default()
        };
        let mut all = self.query(&mine(true))?;
        all.extend(self.query(&mine(false))?);
        Ok(dedup(all))
    }

    /// Hazards in rectification that I am responsible for or re-inspect whose deadline is
    /// past (overdue, first) or within `days` days (3 if not given).
    pub fn due_soon(&self, days: Option<u32>) -> Result<Vec<HazardSummary>> {
        let days = i64::from(days.unwrap_or(saferound_core::model::deadline::DUE_SOON_DAYS as u32));
        let mut all = Vec::new();
        for overdue in [true, false] {
            for responsible in [true, false] {
                all.extend(self.query(&HazardQuery {
                    overdue,
                    due_within_days: (!overdue).then_some(days),
                    responsible_is_me: responsible,
                    reinspector_is_me: !responsible,
                    ..Default::default()
                })?);
            }
        }
        Ok(dedup(all))
    }

    /// 交办 (safety office): sets the rectification plan; the hazard goes into
    /// rectification and reaches the responsible person and re-inspector on their next sync.
    pub fn assign(&self, hazard_id: String, assignment: Assignment, note: String) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        let a = device::Assignment {
            measure: assignment.measure,
            responsible: parse_id("responsible_id", &assignment.responsible_id)?,
            funds: assignment.funds,
            deadline: date("deadline", &assignment.deadline)?,
            contingency: assignment.contingency,
            reinspector: assignment
                .reinspector_id
                .map(|r| parse_id::<UserId>("reinspector_id", &r))
                .transpose()?,
        };
        Ok(self.device.assign(id, &a, &note)?)
    }

    /// 整改完成 (the responsible person named in the assignment, or the safety office):
    /// reports the rectification done, with after-photos.
    pub fn report_rectification(
        &self,
        hazard_id: String,
        note: String,
        photo_hashes: Vec<String>,
    ) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self
            .device
            .report_rectification(id, &note, &photos(&photo_hashes)?)?)
    }

    /// 复核 (the re-inspector named in the assignment, or the safety office): `passed`
    /// closes the hazard 销号; otherwise it goes back to rectification (a note is required).
    pub fn reinspect(
        &self,
        hazard_id: String,
        passed: bool,
        note: String,
        photo_hashes: Vec<String>,
    ) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self
            .device
            .reinspect(id, passed, &note, &photos(&photo_hashes)?)?)
    }

    /// 暂缓 (safety office): cannot be fixed now; interim controls and a designated person.
    pub fn defer(
        &self,
        hazard_id: String,
        interim_controls: String,
        designated_person_id: String,
        note: String,
    ) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        let person: UserId = parse_id("designated_person_id", &designated_person_id)?;
        Ok(self.device.defer(id, &interim_controls, person, &note)?)
    }

    /// 回头看 (inspector, safety office): reopens a closed hazard.
    pub fn reopen(&self, hazard_id: String, note: String) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self.device.reopen(id, &note)?)
    }

    /// 挂牌督办 (safety office): lists a major hazard 重大隐患 for supervision with its
    /// treatment plan (goal, measures, funds, responsible people, deadline, safety
    /// measures, contingency plan).
    pub fn list_for_supervision(&self, hazard_id: String, treatment_plan: String) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self.device.list_for_supervision(id, &treatment_plan)?)
    }

    /// Changes the risk grade (the safety office; the inspector until it is assigned).
    pub fn regrade(&self, hazard_id: String, risk: RiskGrade, note: String) -> Result<()> {
        let id = doc_id("hazard_id", &hazard_id)?;
        Ok(self.device.regrade(id, risk.into(), &note)?)
    }

    // ----- reports -----------------------------------------------------------------------

    /// Files this week's report 周报 of my department (an all-clear 报平安 needs no text);
    /// two phones filing the same week edit one report. Returns its id.
    pub fn file_weekly_report(&self, all_clear: bool, content: String) -> Result<String> {
        Ok(self
            .device
            .file_weekly_report(None, None, all_clear, &content)?
            .to_string())
    }

    /// One weekly report.
    pub fn weekly_report(&self, report_id: String) -> Result<WeeklyReportInfo> {
        let id = doc_id("report_id", &report_id)?;
        let r = self.device.weekly_report(id)?;
        Ok(WeeklyReportInfo {
            id: r.id.to_string(),
            department_id: r.department.to_string(),
            department_name: r.department_name,
            year: r.week.year,
            week: r.week.week,
            all_clear: r.all_clear,
            content: r.content,
            filings: u32::try_from(r.filings.len()).unwrap_or(u32::MAX),
        })
    }

    /// Reports an incident at once; returns its id.
    pub fn file_incident(&self, incident: NewIncident) -> Result<String> {
        let i = device::NewIncidentInput {
            occurred_at: incident
                .occurred_at
                .map(|t| Timestamp(chrono::DateTime::<chrono::Utc>::from(t))),
            site: incident
                .site_id
                .map(|s| parse_id::<SiteId>("site_id", &s))
                .transpose()?,
            location: incident.location,
            category: incident.category.into(),
            severity: incident.severity.into(),
            title: incident.title,
            description: incident.description,
            actions_taken: incident.actions_taken,
        };
        Ok(self.device.file_incident(&i)?.to_string())
    }

    /// One incident report.
    pub fn incident(&self, report_id: String) -> Result<IncidentInfo> {
        let id = doc_id("report_id", &report_id)?;
        let r = self.device.incident(id)?;
        Ok(IncidentInfo {
            id: r.id.to_string(),
            title: r.title,
            category: r.category.into(),
            severity: r.severity.into(),
            occurred_at: time(r.occurred_at),
            location: r.location,
            description: r.description,
            reported_by: r.reported_by.into(),
        })
    }

    /// Weekly and incident reports on this phone, newest first.
    pub fn reports(&self) -> Result<Vec<ReportSummary>> {
        let mut out = Vec::new();
        for (kind, doc_kind) in [
            (ReportKind::Weekly, DocKind::WeeklyReport),
            (ReportKind::Incident, DocKind::IncidentReport),
        ] {
            out.extend(
                self.device
                    .documents(doc_kind, None)?
                    .into_iter()
                    .map(|s| ReportSummary {
                        id: s.id,
                        kind,
                        title: s.title,
                        week: s.week,
                        created_at: parse_time(&s.created_at),
                    }),
            );
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(out)
    }

    // ----- sync ----------------------------------------------------------------------------

    /// How many records wait to be synced.
    pub fn unsynced_count(&self) -> Result<u64> {
        let directory = saferound_core::doc::directory::id_for(self.device.identity().institution);
        Ok(self
            .device
            .store()
            .unsynced()?
            .into_iter()
            .filter(|id| *id != directory)
            .count() as u64)
    }

    /// Records the server refused, kept on the phone with the reason, newest first.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedRecord>> {
        Ok(self
            .device
            .store()
            .quarantined()?
            .into_iter()
            .map(|q| QuarantinedRecord {
                record_id: q.doc_id,
                kind: q.kind,
                code: q.code,
                reason: q.reason,
            })
            .collect())
    }

    /// Syncs with the server: sends what it has not acknowledged, receives what others
    /// changed (the directory, assignments), then uploads photos. Runs off the caller's
    /// thread (Kotlin `suspend`, Swift `async`); reports to `progress`; stops with
    /// `Cancelled` when `cancel` is cancelled or the awaiting coroutine/task is. Safe to
    /// retry at any time: nothing is lost or doubled. One sync at a time per store
    /// (`Conflict` otherwise).
    pub async fn sync(
        &self,
        progress: Option<Arc<dyn SyncProgressListener>>,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<SyncSummary> {
        let settings = self.device.store().sync_settings()?;
        let server = settings
            .server_url
            .ok_or_else(|| SafeRoundError::NotAuthenticated {
                reason: "this phone is not enrolled with a server".into(),
            })?;
        let token = self
            .secrets
            .as_ref()
            .and_then(|s| s.load_token(self.device.device_id().to_string()))
            .ok_or_else(|| SafeRoundError::NotAuthenticated {
                reason: "no device token in the secret store; enroll again".into(),
            })?;
        if self.syncing.swap(true, Ordering::SeqCst) {
            return Err(SafeRoundError::Conflict {
                reason: "a sync is already running".into(),
            });
        }
        let flag = cancel.map(|c| c.flag()).unwrap_or_default();
        let device = self.device.clone();
        let syncing = self.syncing.clone();
        let worker_flag = flag.clone();
        off_thread("sync", flag, move || {
            struct Done(Arc<AtomicBool>);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::SeqCst);
                }
            }
            let _done = Done(syncing);
            tracing::info!("sync started");
            let mut report = |p: &client::Progress| {
                if let Some(l) = &progress {
                    l.on_progress(SyncProgress {
                        phase: p.phase.into(),
                        docs_done: p.docs_done as u64,
                        docs_total: p.docs_total as u64,
                        bytes_up: p.bytes_up as u64,
                        bytes_down: p.bytes_down as u64,
                    });
                }
            };
            let r = client::sync_cancellable(&device, &server, &token, &mut report, &worker_flag);
            match &r {
                Ok(s) => tracing::info!(
                    requests = s.requests,
                    pushed = s.pushed_docs,
                    received = s.received_docs,
                    rejected = s.rejected.len(),
                    "sync finished"
                ),
                Err(e) => tracing::warn!("sync stopped: {e}"),
            }
            Ok(SyncSummary::from(r?))
        })
        .await
    }

    /// Signs this phone out: forgets the device token (the records stay in the store).
    pub fn sign_out(&self) {
        if let Some(s) = &self.secrets {
            s.delete_token(self.device.device_id().to_string());
        }
    }
}

impl SafeRoundStore {
    fn query(&self, q: &HazardQuery) -> Result<Vec<HazardSummary>> {
        Ok(self
            .device
            .hazards(q)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

fn dedup(rows: Vec<HazardSummary>) -> Vec<HazardSummary> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|r| seen.insert(r.id.clone()))
        .collect()
}

fn core_finding(f: NewFinding) -> Result<device::NewFinding> {
    Ok(device::NewFinding {
        item: f.item,
        category: f.category.map(Into::into),
        risk: f.risk.map(Into::into),
        location: f.location,
        description: f.description,
        photos: photos(&f.photos)?,
    })
}
