//! `saferound`: the inspector's command-line tool, on the same core API as the phone.
//! Tables for people, `--json` for scripts. Every command takes `--store <path>`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use saferound_core::device::{Assignment, HazardQuery, NewFinding, NewIncidentInput};
use saferound_core::doc::DocKind;
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::doc::weekly::IsoWeek;
use saferound_core::ids::{
    BlobHash, DepartmentId, DocId, InstitutionId, LocalDate, SiteId, Timestamp, UserId,
};
use saferound_core::model::{HazardCategory, HazardStatus, Lang, RiskGrade, Role};
use saferound_core::{Clock, Device, Error, FixedClock, Identity, SystemClock, demo};
use serde_json::json;

/// Prints a line; a closed pipe (`saferound hazards | head`) is not an error.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

#[derive(Parser)]
#[command(
    name = "saferound",
    version,
    about = "SafeRound inspector tool: record campus safety inspections offline"
)]
struct Cli {
    /// The device store (a SQLite file).
    #[arg(
        long,
        global = true,
        env = "SAFEROUND_STORE",
        default_value = "saferound.db"
    )]
    store: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Label language: zh (default) or en.
    #[arg(long, global = true, env = "SAFEROUND_LANG", default_value = "zh")]
    lang: Lang,
    /// Pretend the time is this RFC 3339 instant (for demos and tests).
    #[arg(long, global = true, env = "SAFEROUND_NOW", hide = true)]
    now: Option<Timestamp>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
struct InitArgs {
    /// Set up as a person of the demo institution: inspector, inspector2, owner, office.
    #[arg(long, conflicts_with_all = ["institution", "user", "name"])]
    demo: Option<String>,
    #[arg(long, required_unless_present = "demo")]
    institution: Option<InstitutionId>,
    #[arg(long, required_unless_present = "demo")]
    user: Option<UserId>,
    #[arg(long, required_unless_present = "demo")]
    name: Option<String>,
    /// Comma-separated: inspector, responsible_person, safety_office, administrator.
    #[arg(long, value_delimiter = ',', default_value = "inspector")]
    roles: Vec<Role>,
    #[arg(long)]
    department: Option<DepartmentId>,
}

#[derive(Subcommand)]
enum InspectCmd {
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
struct HazardFilterArgs {
    #[arg(long)]
    status: Option<HazardStatus>,
    /// Only hazards still open.
    #[arg(long)]
    open: bool,
    #[arg(long)]
    overdue: bool,
    /// Deadline within 3 days.
    #[arg(long)]
    due_soon: bool,
    /// Assigned to me as responsible person.
    #[arg(long)]
    mine: bool,
    /// I am the named re-inspector.
    #[arg(long)]
    to_verify: bool,
    #[arg(long)]
    category: Option<HazardCategory>,
    #[arg(long)]
    min_risk: Option<RiskGrade>,
    #[arg(long)]
    site: Option<String>,
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Subcommand)]
enum HazardCmd {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                out!("{}", json!({"error": e.to_string()}));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(match e {
                Error::NotFound { .. } => 3,
                Error::NotAllowed { .. } => 4,
                _ => 1,
            })
        }
    }
}

fn clock(cli: &Cli) -> Arc<dyn Clock> {
    match cli.now {
        Some(t) => Arc::new(FixedClock::new(t.0)),
        None => Arc::new(SystemClock),
    }
}

fn open(cli: &Cli) -> Result<Device, Error> {
    Device::open(&cli.store, clock(cli))
}

fn read_photos(device: &Device, files: &[PathBuf]) -> Result<Vec<BlobHash>, Error> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).map_err(|e| {
                Error::invalid("photo", format!("cannot read {}: {e}", f.display()))
            })?;
            device.add_photo(&bytes)
        })
        .collect()
}

fn find_site(device: &Device, s: &str) -> Result<SiteId, Error> {
    if let Ok(id) = s.parse::<SiteId>() {
        return Ok(id);
    }
    device
        .sites()?
        .into_iter()
        .find(|x| x.name == s)
        .map(|x| x.id)
        .ok_or_else(|| Error::not_found("site", s))
}

fn run(cli: &Cli) -> Result<(), Error> {
    let lang = cli.lang;
    match &cli.command {
        Command::Init(a) => {
            let (identity, directory) = match &a.demo {
                Some(login) => (
                    demo::identity(login).ok_or_else(|| {
                        Error::invalid(
                            "demo",
                            "use one of: inspector, inspector2, owner, office, admin",
                        )
                    })?,
                    Some(demo::directory()),
                ),
                None => (
                    Identity {
                        institution: a
                            .institution
                            .ok_or_else(|| Error::invalid("institution", "is required"))?,
                        user: saferound_core::doc::PersonRef {
                            user_id: a
                                .user
                                .ok_or_else(|| Error::invalid("user", "is required"))?,
                            name: a.name.clone().unwrap_or_default(),
                        },
                        roles: a.roles.clone(),
                        department: a.department,
                    },
                    None,
                ),
            };
            let device = Device::init(&cli.store, identity, clock(cli))?;
            if let Some(d) = directory {
                device.import_directory(&d)?;
            }
            print_status(cli, &device)
        }
        Command::Status => print_status(cli, &open(cli)?),
        Command::Enroll {
            server,
            login,
            password,
            device_name,
        } => {
            let device = saferound_core::sync::client::enroll(
                &cli.store,
                server,
                login,
                password,
                device_name,
                clock(cli),
            )?;
            let report = saferound_core::sync::client::sync(&device, &mut |_| {})?;
            if !cli.json {
                out!(
                    "enrolled with {server}; received {} documents",
                    report.received_docs
                );
            }
            print_status(cli, &device)
        }
        Command::Sync => {
            let device = open(cli)?;
            let json = cli.json;
            let report = saferound_core::sync::client::sync(&device, &mut |p| {
                if !json {
                    eprintln!(
                        "{:?}: {}/{} documents, {} bytes up, {} bytes down",
                        p.phase, p.docs_done, p.docs_total, p.bytes_up, p.bytes_down
                    );
                }
            })?;
            if json {
                return print_json(&report);
            }
            out!(
                "synced: {} pushed, {} acknowledged, {} received, {} refused ({} requests, {} bytes up, {} bytes down)",
                report.pushed_docs,
                report.acknowledged,
                report.received_docs,
                report.rejected.len(),
                report.requests,
                report.bytes_up,
                report.bytes_down
            );
            for (id, reason) in &report.rejected {
                out!("refused {id}: {reason} (kept in quarantine)");
            }
            Ok(())
        }
        Command::Quarantine => {
            let device = open(cli)?;
            let rows = device.store().quarantined()?;
            if cli.json {
                return print_json(&rows);
            }
            table(
                &["when", "document", "kind", "code", "reason"],
                rows.iter()
                    .map(|q| {
                        vec![
                            q.created_at.clone(),
                            q.doc_id.clone(),
                            q.kind.clone(),
                            q.code.clone(),
                            q.reason.clone(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Templates { id: None, .. } => {
            let device = open(cli)?;
            let ts = device.templates()?;
            if cli.json {
                return print_json(&ts);
            }
            table(
                &["id", "version", "site kind", "items", "title"],
                ts.iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.version.to_string(),
                            t.site_kind.label(lang).to_string(),
                            t.items.len().to_string(),
                            t.title(lang).to_string(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Templates {
            id: Some(id),
            version,
        } => {
            let device = open(cli)?;
            let t = match version {
                Some(v) => device.template(id, *v)?,
                None => device
                    .templates()?
                    .into_iter()
                    .find(|t| &t.id == id)
                    .ok_or_else(|| Error::not_found("template", id))?,
            };
            if cli.json {
                return print_json(&t);
            }
            out!("{} ({}@{})", t.title(lang), t.id, t.version);
            table(
                &["code", "category", "failure suggests", "item"],
                t.items
                    .iter()
                    .map(|i| {
                        vec![
                            i.code.clone(),
                            i.category.label(lang).to_string(),
                            i.suggested_risk.label(lang).to_string(),
                            i.text(lang).to_string(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Sites => {
            let device = open(cli)?;
            let sites = device.sites()?;
            if cli.json {
                return print_json(&sites);
            }
            table(
                &["id", "kind", "name", "building", "floor/room"],
                sites
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.to_string(),
                            s.kind.label(lang).to_string(),
                            s.name.clone(),
                            s.building.clone(),
                            s.floor_room.clone(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Inspect(cmd) => inspect(cli, cmd),
        Command::Inspections { site } => {
            let device = open(cli)?;
            let site = site.as_deref().map(|s| find_site(&device, s)).transpose()?;
            let rows = device.inspections(site, None, None)?;
            if cli.json {
                return print_json(&rows);
            }
            table(
                &["id", "started", "site", "submitted"],
                rows.iter()
                    .map(|r| {
                        vec![
                            r.id.clone(),
                            r.created_at.clone(),
                            r.site_name.clone().unwrap_or_default(),
                            if r.submitted { "yes" } else { "no" }.into(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Hazards(f) => {
            let device = open(cli)?;
            let q = HazardQuery {
                status: f.status,
                open_only: f.open,
                category: f.category,
                min_risk: f.min_risk,
                site: f
                    .site
                    .as_deref()
                    .map(|s| find_site(&device, s))
                    .transpose()?,
                overdue: f.overdue,
                due_within_days: f
                    .due_soon
                    .then_some(saferound_core::model::deadline::DUE_SOON_DAYS),
                responsible_is_me: f.mine,
                reinspector_is_me: f.to_verify,
                limit: f.limit,
                ..Default::default()
            };
            let rows = device.hazards(&q)?;
            if cli.json {
                return print_json(&rows);
            }
            let label = |code: &Option<String>, f: fn(&str, Lang) -> Option<&'static str>| {
                code.as_deref()
                    .and_then(|c| f(c, lang))
                    .unwrap_or("")
                    .to_string()
            };
            table(
                &[
                    "id",
                    "risk",
                    "status",
                    "deadline",
                    "site",
                    "category",
                    "description",
                ],
                rows.iter()
                    .map(|r| {
                        let s = &r.summary;
                        let mut deadline = s.deadline.clone().unwrap_or_default();
                        if r.overdue {
                            deadline.push_str(if lang == Lang::Zh {
                                " 已逾期"
                            } else {
                                " OVERDUE"
                            });
                        } else if r.due_soon {
                            deadline.push_str(if lang == Lang::Zh {
                                " 即将到期"
                            } else {
                                " due soon"
                            });
                        }
                        vec![
                            s.id.clone(),
                            label(&s.risk, |c, l| {
                                c.parse::<RiskGrade>().ok().map(|x| x.label(l))
                            }),
                            label(&s.status, |c, l| {
                                c.parse::<HazardStatus>().ok().map(|x| x.label(l))
                            }),
                            deadline,
                            s.site_name.clone().unwrap_or_default(),
                            label(&s.category, |c, l| {
                                c.parse::<HazardCategory>().ok().map(|x| x.label(l))
                            }),
                            s.title.clone() + if s.conflicts > 0 { " ⚠" } else { "" },
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        Command::Hazard(cmd) => hazard(cli, cmd),
        Command::Weekly {
            department,
            week,
            all_clear,
            content,
        } => {
            let device = open(cli)?;
            let id = device.file_weekly_report(*department, *week, *all_clear, content)?;
            done(cli, id, "weekly report filed")
        }
        Command::Incident {
            title,
            description,
            category,
            severity,
            site,
            location,
            actions_taken,
            occurred_at,
        } => {
            let device = open(cli)?;
            let site = site.as_deref().map(|s| find_site(&device, s)).transpose()?;
            let id = device.file_incident(&NewIncidentInput {
                occurred_at: *occurred_at,
                site,
                location: location.clone(),
                category: *category,
                severity: *severity,
                title: title.clone(),
                description: description.clone(),
                actions_taken: actions_taken.clone(),
            })?;
            done(cli, id, "incident reported")
        }
        Command::Documents { kind } => {
            let device = open(cli)?;
            let rows = device.documents(*kind, None)?;
            if cli.json {
                return print_json(&rows);
            }
            table(
                &["id", "created", "title"],
                rows.iter()
                    .map(|r| vec![r.id.clone(), r.created_at.clone(), r.title.clone()])
                    .collect(),
            );
            Ok(())
        }
        Command::Show { id } => {
            let device = open(cli)?;
            let v = device.show(*id)?;
            out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        Command::Photo { hash, out } => {
            let device = open(cli)?;
            let bytes = saferound_core::sync::client::fetch_photo(&device, hash)?;
            std::fs::write(out, &bytes).map_err(|e| {
                saferound_core::Error::invalid("out", format!("{}: {e}", out.display()))
            })?;
            out!("{} bytes → {}", bytes.len(), out.display());
            Ok(())
        }
    }
}

fn inspect(cli: &Cli, cmd: &InspectCmd) -> Result<(), Error> {
    let device = open(cli)?;
    match cmd {
        InspectCmd::Start { site, template } => {
            let site = find_site(&device, site)?;
            let id = device.start_inspection(site, template.as_deref(), None)?;
            done(cli, id, "inspection started")
        }
        InspectCmd::Answer {
            inspection,
            item,
            result,
            note,
            photos,
            reason,
        } => {
            let result = match result.as_str() {
                "pass" | "ok" => AnswerResult::Pass,
                "fail" => AnswerResult::Fail,
                "na" | "n/a" | "not_applicable" => AnswerResult::NotApplicable,
                other => {
                    return Err(Error::invalid(
                        "result",
                        format!("'{other}': use pass, fail or na"),
                    ));
                }
            };
            let photos = read_photos(&device, photos)?;
            device.answer(*inspection, item, result, note, &photos, reason.as_deref())?;
            done(cli, *inspection, "answered")
        }
        InspectCmd::Finding {
            inspection,
            item,
            category,
            risk,
            description,
            location,
            photos,
        } => {
            let photos = read_photos(&device, photos)?;
            let id = device.add_finding(
                *inspection,
                &NewFinding {
                    item: item.clone(),
                    category: *category,
                    risk: *risk,
                    location: location.clone(),
                    description: description.clone(),
                    photos,
                },
            )?;
            done(cli, id, "finding recorded as hazard")
        }
        InspectCmd::Notes { inspection, text } => {
            device.set_inspection_notes(*inspection, text)?;
            done(cli, *inspection, "notes saved")
        }
        InspectCmd::Submit { inspection } => {
            device.submit_inspection(*inspection)?;
            done(cli, *inspection, "inspection submitted")
        }
    }
}

fn hazard(cli: &Cli, cmd: &HazardCmd) -> Result<(), Error> {
    let device = open(cli)?;
    let (id, what) = match cmd {
        HazardCmd::Assign {
            id,
            measure,
            responsible,
            deadline,
            funds,
            contingency,
            reinspector,
            note,
        } => {
            device.assign(
                *id,
                &Assignment {
                    measure: measure.clone(),
                    responsible: *responsible,
                    funds: funds.clone(),
                    deadline: *deadline,
                    contingency: contingency.clone(),
                    reinspector: *reinspector,
                },
                note,
            )?;
            (id, "assigned")
        }
        HazardCmd::Rectify { id, note, photos } => {
            let photos = read_photos(&device, photos)?;
            device.report_rectification(*id, note, &photos)?;
            (id, "rectification reported")
        }
        HazardCmd::Verify { id, note, photos } => {
            let photos = read_photos(&device, photos)?;
            device.reinspect(*id, true, note, &photos)?;
            (id, "verified and closed")
        }
        HazardCmd::Fail { id, note } => {
            device.reinspect(*id, false, note, &[])?;
            (id, "verification failed; back to rectification")
        }
        HazardCmd::Defer {
            id,
            controls,
            designated,
            note,
        } => {
            device.defer(*id, controls, *designated, note)?;
            (id, "deferred")
        }
        HazardCmd::Reopen { id, note } => {
            device.reopen(*id, note)?;
            (id, "reopened")
        }
        HazardCmd::Supervise { id, plan } => {
            device.list_for_supervision(*id, plan)?;
            (id, "listed for supervision")
        }
        HazardCmd::Regrade { id, risk, note } => {
            device.regrade(*id, *risk, note)?;
            (id, "regraded")
        }
    };
    let h = device.hazard(*id)?;
    if cli.json {
        return print_json(&h);
    }
    out!(
        "{what}: {id} is now {}",
        h.status.map(|s| s.label(cli.lang)).unwrap_or("-")
    );
    Ok(())
}

fn done(cli: &Cli, id: DocId, what: &str) -> Result<(), Error> {
    if cli.json {
        out!("{}", json!({"id": id.to_string(), "result": what}));
    } else {
        out!("{what}: {id}");
    }
    Ok(())
}

fn print_status(cli: &Cli, device: &Device) -> Result<(), Error> {
    let i = device.identity();
    let counts = device.store().counts()?;
    let roles: Vec<&str> = device.roles()?.iter().map(|r| r.code()).collect();
    let v = json!({
        "store": cli.store.display().to_string(),
        "device_id": device.device_id(),
        "actor": device.actor_hex(),
        "institution": i.institution.to_string(),
        "user": i.user,
        "roles": roles,
        "documents": counts.iter().map(|(k, n)| json!({"kind": k, "count": n})).collect::<Vec<_>>(),
    });
    if cli.json {
        out!("{v}");
    } else {
        out!("store       {}", cli.store.display());
        out!("user        {} ({})", i.user.name, i.user.user_id);
        out!("roles       {}", roles.join(", "));
        out!("institution {}", i.institution);
        out!("device      {}", device.device_id());
        for (k, n) in counts {
            out!("{k:<12}{n}");
        }
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Error> {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    Ok(())
}

/// Display width: CJK and full-width characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            if (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - width(c) + 2));
            }
        }
        out!("{}", out.trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}
