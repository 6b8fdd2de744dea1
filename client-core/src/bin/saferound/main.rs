//! `saferound`: the inspector's command-line tool, on the same core API as the phone.
//! Tables for people, `--json` for scripts. Every command takes `--store <path>`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use saferound_core::device::{HazardQuery, NewIncidentInput};
use saferound_core::ids::{BlobHash, SiteId};
use saferound_core::model::{HazardCategory, HazardStatus, Lang, RiskGrade};
use saferound_core::{Clock, Device, Error, FixedClock, Identity, SystemClock, demo};
use serde_json::json;

use args::*;
use commands::{done, hazard, inspect};
use output::{print_json, print_status, table};

/// Prints a line; a closed pipe (`saferound hazards | head`) is not an error.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

// After `out!`: the modules print with it.
mod args;
mod commands;
mod output;

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
