//! The command line: every command and its flags (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use saferound_core::doc::DocKind;
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::ids::{DepartmentId, DocId, InstitutionId, LocalDate, Timestamp, UserId};
use saferound_core::model::{HazardCategory, HazardStatus, Lang, RiskGrade, Role};

#[derive(Parser)]
#[command(
    name = "saferound",
    version,
    about = "SafeRound inspector tool: record campus safety inspections offline"
)]
pub struct Cli {
    /// The device store (a SQLite file).
    #[arg(
        long,
        global = true,
        env = "SAFEROUND_STORE",
        default_value = "saferound.db"
    )]
    pub store: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Label language: zh (default) or en.
    #[arg(long, global = true, env = "SAFEROUND_LANG", default_value = "zh")]
    pub lang: Lang,
    /// Pretend the time is this RFC 3339 instant (for demos and tests).
    #[arg(long, global = true, env = "SAFEROUND_NOW", hide = true)]
    pub now: Option<Timestamp>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Set up this store for a user (or as a person of the demo institution).
    Init(InitArgs),
    /// Checklist templates (newest versions), or one template's items.
    Templates {
        /// Show the items of this template.
        id: Option<String>,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Sites of the institution.
    Sites,
    /// Record an inspection.
    #[command(subcommand)]
    Inspect(InspectCmd),
    /// Inspections, newest first.
    Inspections {
        #[arg(long)]
        site: Option<String>,
    },
    /// Hazards in the local ledger, with filters.
    Hazards(HazardFilterArgs),
    /// Act on a hazard: assign, rectify, verify, …
    #[command(subcommand)]
    Hazard(HazardCmd),
    /// File the department's weekly report (an all-clear is a report too).
    Weekly {
        #[arg(long)]
        department: Option<DepartmentId>,
        /// ISO week, e.g. 2026-W48 (default: this week).
        #[arg(long)]
        week: Option<IsoWeek>,
        /// Nothing happened: 无事报平安.
        #[arg(long)]
        all_clear: bool,
        #[arg(long, default_value = "")]
        content: String,
    },
    /// Report an incident at once.
    Incident {
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: String,
        #[arg(long)]
        category: HazardCategory,
        #[arg(long)]
        severity: RiskGrade,
        #[arg(long)]
        site: Option<String>,
        #[arg(long, default_value = "")]
        location: String,
        #[arg(long, default_value = "")]
        actions_taken: String,
        #[arg(long)]
        occurred_at: Option<Timestamp>,
    },
    /// Documents of a kind: weekly_report, incident_report, …
    Documents { kind: DocKind },
    /// A document as JSON.
    Show { id: DocId },
    /// Writes a photo to a file, downloading it from the server if this device lacks it.
    Photo {
        hash: saferound_core::ids::BlobHash,
        /// Where to write it.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Who this device is and what it holds.
    Status,
    /// Enrol this device with a server (creates the store).
    Enroll {
        #[arg(long, env = "SAFEROUND_SERVER")]
        server: String,
        #[arg(long)]
        login: String,
        /// Read from SAFEROUND_PASSWORD when not given.
        #[arg(long, env = "SAFEROUND_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "saferound CLI")]
        device_name: String,
    },
    /// Sync with the server: push what it lacks, receive what others changed.
    Sync,
    /// Documents the server refused, kept with the reason.
    Quarantine,
}

#[derive(Args)]
pub struct InitArgs {
    /// Set up as a person of the demo institution: inspector, inspector2, owner, office.
    #[arg(long, conflicts_with_all = ["institution", "user", "name"])]
    pub demo: Option<String>,
    #[arg(long, required_unless_present = "demo")]
    pub institution: Option<InstitutionId>,
    #[arg(long, required_unless_present = "demo")]
    pub user: Option<UserId>,
    #[arg(long, required_unless_present = "demo")]
    pub name: Option<String>,
    /// Comma-separated: inspector, responsible_person, safety_office, administrator.
    #[arg(long, value_delimiter = ',', default_value = "inspector")]
    pub roles: Vec<Role>,
    #[arg(long)]
    pub department: Option<DepartmentId>,
}

#[derive(Subcommand)]
pub enum InspectCmd {
    /// Start an inspection of a site (id or exact name).
    Start {
        #[arg(long)]
        site: String,
        /// Template id (default: the site kind's template).
        #[arg(long)]
        template: Option<String>,
    },
    /// Answer one checklist item: pass, fail or na.
    Answer {
        inspection: DocId,
        item: String,
        result: String,
        #[arg(long, default_value = "")]
        note: String,
        /// A photo file (repeatable).
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
        /// Needed to change an answer after submission.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record a finding (a hazard) from this inspection.
    Finding {
        inspection: DocId,
        /// The failed checklist item; its category and grade are the defaults.
        #[arg(long)]
        item: Option<String>,
        #[arg(long)]
        category: Option<HazardCategory>,
        #[arg(long)]
        risk: Option<RiskGrade>,
        #[arg(long)]
        description: String,
        #[arg(long, default_value = "")]
        location: String,
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// Set the inspection's notes.
    Notes { inspection: DocId, text: String },
    /// Submit: answers are frozen afterwards.
    Submit { inspection: DocId },
}

#[derive(Args)]
pub struct HazardFilterArgs {
    #[arg(long)]
    pub status: Option<HazardStatus>,
    /// Only hazards still open.
    #[arg(long)]
    pub open: bool,
    #[arg(long)]
    pub overdue: bool,
    /// Deadline within 3 days.
    #[arg(long)]
    pub due_soon: bool,
    /// Assigned to me as responsible person.
    #[arg(long)]
    pub mine: bool,
    /// I am the named re-inspector.
    #[arg(long)]
    pub to_verify: bool,
    #[arg(long)]
    pub category: Option<HazardCategory>,
    #[arg(long)]
    pub min_risk: Option<RiskGrade>,
    #[arg(long)]
    pub site: Option<String>,
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Subcommand)]
pub enum HazardCmd {
    /// 交办 (safety office).
    Assign {
        id: DocId,
        #[arg(long)]
        measure: String,
        /// User id of the responsible person.
        #[arg(long)]
        responsible: UserId,
        #[arg(long)]
        deadline: LocalDate,
        #[arg(long, default_value = "")]
        funds: String,
        #[arg(long, default_value = "")]
        contingency: String,
        #[arg(long)]
        reinspector: Option<UserId>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// 整改完成 with after-photos.
    Rectify {
        id: DocId,
        #[arg(long)]
        note: String,
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// 复核通过: close and write off.
    Verify {
        id: DocId,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// 复核未通过: back to rectification.
    Fail {
        id: DocId,
        #[arg(long)]
        note: String,
    },
    /// 暂缓 with interim controls and a designated person.
    Defer {
        id: DocId,
        #[arg(long)]
        controls: String,
        #[arg(long)]
        designated: UserId,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// 回头看: reopen a closed hazard.
    Reopen {
        id: DocId,
        #[arg(long)]
        note: String,
    },
    /// 挂牌督办 a major hazard.
    Supervise {
        id: DocId,
        #[arg(long)]
        plan: String,
    },
    /// Change the risk grade.
    Regrade {
        id: DocId,
        risk: RiskGrade,
        #[arg(long)]
        note: String,
    },
}
