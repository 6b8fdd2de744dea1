//! The data the phone sees: records and enums in the app's terms, converted from the
//! core's types. Ids are strings (UUIDs), instants are `SystemTime` (Kotlin `Instant`,
//! Swift `Date`), local dates are `YYYY-MM-DD` strings in the institution's time zone.

use std::time::SystemTime;

use saferound_core::doc::PersonRef;
use saferound_core::doc::conflicts::Conflict;
use saferound_core::ids::Timestamp;
use saferound_core::model;

/// Declares an enum that mirrors a core enum variant for variant, with conversions both
/// ways (a new core variant fails to compile here until the phone knows it).
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident => $core:path {
        $($(#[$vdoc:meta])* $v:ident),+ $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name { $($(#[$vdoc])* $v),+ }

        const _: () = {
            type Core = $core;

            impl From<$name> for Core {
                fn from(v: $name) -> Self {
                    match v { $($name::$v => Core::$v),+ }
                }
            }

            impl From<Core> for $name {
                fn from(v: Core) -> Self {
                    match v { $(Core::$v => $name::$v),+ }
                }
            }
        };
    };
}

mirror_enum!(
    /// The kind of a site; decides which checklist applies.
    SiteKind => saferound_core::model::SiteKind {
        /// 宿舍 dormitory.
        Dorm,
        /// 实验室 laboratory.
        Laboratory,
        /// 危化品仓库 hazardous-chemical store.
        HazardousChemicalStore,
        /// 食堂后厨 kitchen / canteen.
        Kitchen,
        /// 教学楼/校舍 teaching building.
        TeachingBuilding,
        /// 电动车停放充电场所 e-bike parking and charging.
        EbikeParking,
        /// 校车 school bus.
        SchoolBus,
        /// 门卫/校园周边 gate and perimeter.
        GatePerimeter,
        /// 其他 other.
        Other,
    }
);

mirror_enum!(
    /// The risk point a hazard belongs to (查风险).
    HazardCategory => saferound_core::model::HazardCategory {
        /// 消防安全 fire safety.
        FireSafety,
        /// 实验室危化品 laboratory and hazardous chemicals.
        LabChemicals,
        /// 校车安全 school bus.
        SchoolBus,
        /// 校舍安全 buildings.
        Buildings,
        /// 食品安全 food safety.
        FoodSafety,
        /// 校园暴力欺凌 campus violence and bullying.
        ViolenceBullying,
        /// 电信网络诈骗 telecom fraud.
        TelecomFraud,
        /// 防盗窃 theft.
        Theft,
        /// 非法校园贷 illegal campus loans.
        CampusLoans,
        /// 交通安全 traffic safety.
        Traffic,
        /// 校园周边治安 campus perimeter order.
        PerimeterOrder,
        /// 门卫查验/值班巡逻 gate control and patrols.
        GateControl,
        /// 心理危机 mental health and extreme incidents.
        MentalHealth,
        /// 其他 other.
        Other,
    }
);

mirror_enum!(
    /// The four-colour risk grade, lowest first; when people disagree the higher stands.
    RiskGrade => saferound_core::model::RiskGrade {
        /// 低风险, blue.
        Low,
        /// 一般风险, yellow.
        General,
        /// 较大风险, orange.
        Significant,
        /// 重大风险, red (a major hazard 重大隐患).
        Major,
    }
);

mirror_enum!(
    /// Where a hazard stands in its closed loop (derived from its events).
    HazardStatus => saferound_core::model::HazardStatus {
        /// 待交办: reported, waiting for the safety office to assign it.
        Reported,
        /// 整改中: assigned and being rectified.
        InRectification,
        /// 待复核: rectification reported, waiting for re-inspection.
        AwaitingVerification,
        /// 已销号: verified and closed.
        Closed,
        /// 暂缓整改: cannot be fixed now; interim controls in place.
        Deferred,
    }
);

mirror_enum!(
    /// One entry of a hazard's history.
    EventKind => saferound_core::model::EventKind {
        /// 上报 reported.
        Reported,
        /// 交办 assigned by the safety office.
        Assigned,
        /// 整改完成 rectification reported.
        RectificationReported,
        /// 复核通过 verified: closed.
        Verified,
        /// 复核未通过 verification failed: back to rectification.
        VerificationFailed,
        /// 暂缓 deferred with interim controls.
        Deferred,
        /// 回头看 reopened during the look-back.
        Reopened,
        /// 挂牌督办 listed for supervision.
        ListedForSupervision,
        /// 调整风险等级 risk grade changed.
        Regraded,
        /// 更正 the report corrected (old and new values kept).
        Corrected,
    }
);

mirror_enum!(
    /// What a person does in the system; a person may hold several roles.
    Role => saferound_core::model::Role {
        /// 巡查员 inspector.
        Inspector,
        /// 责任人 responsible person.
        ResponsiblePerson,
        /// 安全办 safety office.
        SafetyOffice,
        /// 管理员 administrator.
        Administrator,
        /// 校领导 school leader: reads everything, lists for supervision.
        Leader,
        /// 省级审阅 provincial reviewer (read-only).
        ProvincialReviewer,
    }
);

mirror_enum!(
    /// The answer to one checklist item.
    AnswerResult => saferound_core::doc::inspection::AnswerResult {
        /// 合格: compliant.
        Pass,
        /// 不合格: not compliant; usually becomes a finding.
        Fail,
        /// 不适用: does not apply here.
        NotApplicable,
    }
);

mirror_enum!(
    /// Where a running sync is.
    SyncPhase => saferound_core::sync::client::Phase {
        /// Sending this phone's changes.
        Pushing,
        /// Receiving others' changes (and uploading photos after).
        Receiving,
        /// Finished.
        Done,
    }
);

/// The language of labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Language {
    /// 简体中文 (the primary language).
    Zh,
    /// English.
    En,
}

impl From<Language> for model::Lang {
    fn from(l: Language) -> Self {
        match l {
            Language::Zh => model::Lang::Zh,
            Language::En => model::Lang::En,
        }
    }
}

pub(crate) fn time(t: Timestamp) -> SystemTime {
    t.0.into()
}

pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    s.parse::<Timestamp>().ok().map(time)
}

/// A person as a record names them: user id and the name at the time of writing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Person {
    /// The user's id.
    pub user_id: String,
    /// The display name as it was when written.
    pub name: String,
}

impl From<PersonRef> for Person {
    fn from(p: PersonRef) -> Self {
        Person {
            user_id: p.user_id.to_string(),
            name: p.name,
        }
    }
}

/// The user signed in on this phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserInfo {
    /// The user's id.
    pub user_id: String,
    /// The user's display name.
    pub name: String,
    /// The user's roles (from the institution's directory once it has synced).
    pub roles: Vec<Role>,
    /// The institution's id.
    pub institution_id: String,
    /// The institution's name, once the directory has synced.
    pub institution_name: Option<String>,
    /// The user's department, if any.
    pub department_id: Option<String>,
    /// This installation's device id.
    pub device_id: String,
    /// The server this phone syncs with, if enrolled.
    pub server_url: Option<String>,
}

/// A place to inspect.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SiteInfo {
    /// The site's id.
    pub id: String,
    /// The site's name.
    pub name: String,
    /// What kind of site it is.
    pub kind: SiteKind,
    /// The building.
    pub building: String,
    /// Floor or room.
    pub floor_room: String,
    /// The department that owns the site.
    pub department_id: String,
}

/// A person of the institution, to pick a responsible person or re-inspector.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectoryPerson {
    /// The user's id.
    pub user_id: String,
    /// The display name.
    pub name: String,
    /// The department, if any.
    pub department_id: Option<String>,
    /// The person's roles.
    pub roles: Vec<Role>,
}

/// One question of a checklist; "pass" means compliant.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChecklistItem {
    /// The item's code (e.g. `DORM-02`), used to answer it.
    pub code: String,
    /// The question in Chinese.
    pub text_zh: String,
    /// The question in English.
    pub text_en: String,
    /// The category a failure is filed under.
    pub category: HazardCategory,
    /// The grade a failure suggests.
    pub suggested_risk: RiskGrade,
}

/// A checklist template (one version of it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TemplateInfo {
    /// The template's id.
    pub id: String,
    /// The version; an inspection keeps the version it started with.
    pub version: u32,
    /// The kind of site it is for.
    pub site_kind: SiteKind,
    /// The title in Chinese.
    pub title_zh: String,
    /// The title in English.
    pub title_en: String,
    /// True for the built-in templates, false for the institution's own.
    pub builtin: bool,
    /// The questions, in order.
    pub items: Vec<ChecklistItem>,
}

impl From<saferound_core::model::templates::Template> for TemplateInfo {
    fn from(t: saferound_core::model::templates::Template) -> Self {
        TemplateInfo {
            id: t.id,
            version: t.version,
            site_kind: t.site_kind.into(),
            title_zh: t.title_zh,
            title_en: t.title_en,
            builtin: t.builtin,
            items: t
                .items
                .into_iter()
                .map(|i| ChecklistItem {
                    code: i.code,
                    text_zh: i.text_zh,
                    text_en: i.text_en,
                    category: i.category.into(),
                    suggested_risk: i.suggested_risk.into(),
                })
                .collect(),
        }
    }
}

/// A field where people wrote different values at the same time, and which value stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictInfo {
    /// The field's path, e.g. `risk` or `plan.deadline`.
    pub field: String,
    /// The competing values as JSON, with who wrote them when known.
    pub values: Vec<CompetingValue>,
    /// The value that stands and why.
    pub resolution: String,
}

/// One of the values of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CompetingValue {
    /// The value as JSON.
    pub value_json: String,
    /// Who wrote it, when known.
    pub written_by: Option<Person>,
}

pub(crate) fn conflicts(c: Vec<Conflict>) -> Vec<ConflictInfo> {
    c.into_iter()
        .map(|c| ConflictInfo {
            field: c.field,
            values: c
                .values
                .into_iter()
                .map(|v| CompetingValue {
                    value_json: v.value.to_string(),
                    written_by: v.written_by.map(Person::from),
                })
                .collect(),
            resolution: c.resolution,
        })
        .collect()
}

/// An answered checklist item.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AnswerInfo {
    /// The item's code.
    pub item: String,
    /// Pass, fail or not applicable.
    pub result: AnswerResult,
    /// The inspector's note.
    pub note: String,
    /// Photo hashes.
    pub photos: Vec<String>,
    /// Who answered.
    pub by: Person,
    /// When.
    pub at: SystemTime,
}

/// An inspection with its answers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InspectionDetail {
    /// The inspection's id.
    pub id: String,
    /// The site's id.
    pub site_id: String,
    /// The site's name.
    pub site_name: String,
    /// The checklist template's id.
    pub template_id: String,
    /// The exact template version used.
    pub template_version: u32,
    /// Everyone who answered.
    pub inspectors: Vec<Person>,
    /// When it started.
    pub started_at: SystemTime,
    /// When it was submitted, if it was.
    pub submitted_at: Option<SystemTime>,
    /// The answers, by item code order.
    pub answers: Vec<AnswerInfo>,
    /// Free-text notes.
    pub notes: String,
    /// Ids of the hazards found.
    pub findings: Vec<String>,
    /// Conflicting concurrent edits.
    pub conflicts: Vec<ConflictInfo>,
}

/// An inspection in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InspectionSummary {
    /// The inspection's id.
    pub id: String,
    /// A title for lists.
    pub title: String,
    /// The site's id.
    pub site_id: Option<String>,
    /// The site's name.
    pub site_name: Option<String>,
    /// Whether it was submitted.
    pub submitted: bool,
    /// When it was created.
    pub created_at: Option<SystemTime>,
}

/// A finding to record during an inspection (or a hazard reported on its own).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewFinding {
    /// The failed checklist item; its category and suggested grade are the defaults.
    pub item: Option<String>,
    /// The category (required without an item).
    pub category: Option<HazardCategory>,
    /// The risk grade (required without an item).
    pub risk: Option<RiskGrade>,
    /// Where exactly (room, corridor).
    pub location: String,
    /// What is wrong.
    pub description: String,
    /// Photo hashes from `add_photo`.
    pub photos: Vec<String>,
}

/// A hazard in a list, with overdue and due-soon computed now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HazardSummary {
    /// The hazard's id.
    pub id: String,
    /// A title for lists (the start of the description).
    pub title: String,
    /// The site's id.
    pub site_id: Option<String>,
    /// The site's name.
    pub site_name: Option<String>,
    /// The category.
    pub category: Option<HazardCategory>,
    /// The risk grade that stands.
    pub risk: Option<RiskGrade>,
    /// Where the hazard stands.
    pub status: Option<HazardStatus>,
    /// The rectification deadline (`YYYY-MM-DD`), once assigned.
    pub deadline: Option<String>,
    /// The responsible person's user id, once assigned.
    pub responsible_id: Option<String>,
    /// The re-inspector's user id, once assigned.
    pub reinspector_id: Option<String>,
    /// The inspection that found it.
    pub inspection_id: Option<String>,
    /// Past its deadline and not rectified.
    pub overdue: bool,
    /// Deadline within the next few days.
    pub due_soon: bool,
    /// How many unresolved conflicts it has.
    pub conflicts: u32,
    /// When it was reported.
    pub created_at: Option<SystemTime>,
}

impl From<saferound_core::device::HazardRow> for HazardSummary {
    fn from(r: saferound_core::device::HazardRow) -> Self {
        let s = r.summary;
        HazardSummary {
            id: s.id,
            title: s.title,
            site_id: s.site_id,
            site_name: s.site_name,
            category: s
                .category
                .and_then(|c| c.parse::<model::HazardCategory>().ok())
                .map(Into::into),
            risk: s
                .risk
                .and_then(|c| c.parse::<model::RiskGrade>().ok())
                .map(Into::into),
            status: s
                .status
                .and_then(|c| c.parse::<model::HazardStatus>().ok())
                .map(Into::into),
            deadline: s.deadline,
            responsible_id: s.responsible,
            reinspector_id: s.reinspector,
            inspection_id: s.inspection,
            overdue: r.overdue,
            due_soon: r.due_soon,
            conflicts: u32::try_from(s.conflicts).unwrap_or(u32::MAX),
            created_at: parse_time(&s.created_at),
        }
    }
}

/// The rectification plan of a hazard (the "five fixes" 五定 and more).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RectificationPlan {
    /// 整改措施 the measure.
    pub measure: String,
    /// 责任人 the responsible person.
    pub responsible: Option<Person>,
    /// 整改资金 funds.
    pub funds: String,
    /// 完成时限 the deadline, `YYYY-MM-DD`.
    pub deadline: Option<String>,
    /// 预案 contingency plan.
    pub contingency: String,
    /// 复查人 the re-inspector.
    pub reinspector: Option<Person>,
    /// Interim controls while deferred.
    pub interim_controls: String,
    /// The designated person while deferred.
    pub designated_person: Option<Person>,
    /// The treatment plan of a major hazard listed for supervision.
    pub treatment_plan: String,
}

/// One event of a hazard's history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HazardEvent {
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub by: Person,
    /// When.
    pub at: SystemTime,
    /// Their note.
    pub note: String,
    /// Photo hashes (e.g. after-photos of a rectification).
    pub photos: Vec<String>,
}

/// A hazard with its plan, history and conflicts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HazardDetail {
    /// The hazard's id.
    pub id: String,
    /// The inspection that found it.
    pub inspection_id: Option<String>,
    /// The site's id.
    pub site_id: String,
    /// The site's name.
    pub site_name: String,
    /// The category.
    pub category: HazardCategory,
    /// The risk grade that stands.
    pub risk: RiskGrade,
    /// Where exactly.
    pub location: String,
    /// What is wrong.
    pub description: String,
    /// Photo hashes of the report (before).
    pub photos: Vec<String>,
    /// Who reported it.
    pub reported_by: Person,
    /// When.
    pub reported_at: SystemTime,
    /// Where it stands.
    pub status: Option<HazardStatus>,
    /// Listed for supervision 挂牌督办.
    pub supervised: bool,
    /// The rectification plan.
    pub plan: RectificationPlan,
    /// The history, in order.
    pub events: Vec<HazardEvent>,
    /// Unresolved conflicts.
    pub conflicts: Vec<ConflictInfo>,
}

impl From<saferound_core::doc::hazard::Hazard> for HazardDetail {
    fn from(h: saferound_core::doc::hazard::Hazard) -> Self {
        let p = h.plan;
        HazardDetail {
            id: h.id.to_string(),
            inspection_id: h.inspection.map(|i| i.to_string()),
            site_id: h.site.id.to_string(),
            site_name: h.site.name,
            category: h.category.into(),
            risk: h.risk.into(),
            location: h.location,
            description: h.description,
            photos: h.photos.iter().map(ToString::to_string).collect(),
            reported_by: h.reported_by.into(),
            reported_at: time(h.reported_at),
            status: h.status.map(Into::into),
            supervised: h.supervised,
            plan: RectificationPlan {
                measure: p.measure,
                responsible: p.responsible.map(Into::into),
                funds: p.funds,
                deadline: p.deadline.map(|d| d.to_string()),
                contingency: p.contingency,
                reinspector: p.reinspector.map(Into::into),
                interim_controls: p.interim_controls,
                designated_person: p.designated_person.map(Into::into),
                treatment_plan: p.treatment_plan,
            },
            events: h
                .events
                .into_iter()
                .map(|e| HazardEvent {
                    kind: e.kind.into(),
                    by: e.by.into(),
                    at: time(e.at),
                    note: e.note,
                    photos: e.photos.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            conflicts: conflicts(h.conflicts),
        }
    }
}

/// Filters for `hazards`; every field set narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct HazardFilter {
    /// Only this status.
    #[uniffi(default = None)]
    pub status: Option<HazardStatus>,
    /// Only hazards that still need work.
    #[uniffi(default = false)]
    pub open_only: bool,
    /// Only this category.
    #[uniffi(default = None)]
    pub category: Option<HazardCategory>,
    /// Only this grade or higher.
    #[uniffi(default = None)]
    pub min_risk: Option<RiskGrade>,
    /// Only at this site.
    #[uniffi(default = None)]
    pub site_id: Option<String>,
    /// Only overdue ones.
    #[uniffi(default = false)]
    pub overdue: bool,
    /// At most this many, newest first.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

/// The safety office's assignment 交办 of a hazard.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Assignment {
    /// 整改措施 the measure.
    pub measure: String,
    /// 责任人 the responsible person's user id.
    pub responsible_id: String,
    /// 整改资金 funds (free text).
    pub funds: String,
    /// 完成时限 the deadline, `YYYY-MM-DD`, today or later.
    pub deadline: String,
    /// 预案 the contingency plan.
    pub contingency: String,
    /// 复查人 the re-inspector's user id.
    pub reinspector_id: Option<String>,
}

/// An incident to report at once.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewIncident {
    /// When it happened (now if not given).
    pub occurred_at: Option<SystemTime>,
    /// The site, if at one.
    pub site_id: Option<String>,
    /// Where exactly.
    pub location: String,
    /// The category.
    pub category: HazardCategory,
    /// How severe.
    pub severity: RiskGrade,
    /// A short title.
    pub title: String,
    /// What happened.
    pub description: String,
    /// What was done about it.
    pub actions_taken: String,
}

/// A weekly report 周报 (one per department and ISO week).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WeeklyReportInfo {
    /// The report's id (derived from department and week).
    pub id: String,
    /// The department's id.
    pub department_id: String,
    /// The department's name.
    pub department_name: String,
    /// ISO year.
    pub year: i32,
    /// ISO week number.
    pub week: u32,
    /// 报平安: nothing to report.
    pub all_clear: bool,
    /// The report's text.
    pub content: String,
    /// How many times it was filed (by anyone).
    pub filings: u32,
}

/// An incident report.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncidentInfo {
    /// The report's id.
    pub id: String,
    /// A short title.
    pub title: String,
    /// The category.
    pub category: HazardCategory,
    /// How severe.
    pub severity: RiskGrade,
    /// When it happened.
    pub occurred_at: SystemTime,
    /// Where.
    pub location: String,
    /// What happened.
    pub description: String,
    /// Who reported it.
    pub reported_by: Person,
}

/// The kind of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportKind {
    /// A department's weekly report 周报.
    Weekly,
    /// An incident report 重大安全事件.
    Incident,
}

/// A report in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportSummary {
    /// The report's id.
    pub id: String,
    /// Weekly or incident.
    pub kind: ReportKind,
    /// A title for lists.
    pub title: String,
    /// The ISO week of a weekly report, e.g. `2026-W48`.
    pub week: Option<String>,
    /// When it was created.
    pub created_at: Option<SystemTime>,
}

/// A record the server refused, kept on the phone with the reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuarantinedRecord {
    /// The record's id.
    pub record_id: String,
    /// Its kind (inspection, hazard, …).
    pub kind: String,
    /// The server's reason code.
    pub code: String,
    /// The server's reason.
    pub reason: String,
}

/// Progress of a running sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Where the sync is.
    pub phase: SyncPhase,
    /// Records sent so far.
    pub docs_done: u64,
    /// Records to send in all.
    pub docs_total: u64,
    /// Bytes sent so far.
    pub bytes_up: u64,
    /// Bytes received so far.
    pub bytes_down: u64,
}

/// A record the server refused in a sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedRecord {
    /// The record's id.
    pub record_id: String,
    /// Why.
    pub reason: String,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Requests made.
    pub requests: u64,
    /// Records sent.
    pub pushed: u64,
    /// Records the server acknowledged as stored.
    pub acknowledged: u64,
    /// Records received from others.
    pub received: u64,
    /// Bytes sent (records).
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Photos uploaded.
    pub photos_uploaded: u64,
    /// The server's quota of photos not yet used by a synced record was reached: some
    /// photos, and the records naming them, wait for the next sync.
    pub photos_waiting: bool,
    /// Records the server refused (kept in the quarantine with the reason).
    pub rejected: Vec<RejectedRecord>,
}

impl From<saferound_core::sync::client::SyncReport> for SyncSummary {
    fn from(r: saferound_core::sync::client::SyncReport) -> Self {
        SyncSummary {
            requests: r.requests as u64,
            pushed: r.pushed_docs as u64,
            acknowledged: r.acknowledged as u64,
            received: r.received_docs as u64,
            bytes_up: r.bytes_up as u64,
            bytes_down: r.bytes_down as u64,
            photos_uploaded: r.photos_uploaded as u64,
            photos_waiting: r.photos_waiting,
            rejected: r
                .rejected
                .into_iter()
                .map(|(record_id, reason)| RejectedRecord { record_id, reason })
                .collect(),
        }
    }
}
