//! The `inspect …` and `hazard …` commands.

use saferound_core::Error;
use saferound_core::device::{Assignment, NewFinding};
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::ids::DocId;
use serde_json::json;

use super::args::*;
use super::output::print_json;
use super::{find_site, open, read_photos};

pub(super) fn inspect(cli: &Cli, cmd: &InspectCmd) -> Result<(), Error> {
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

pub(super) fn hazard(cli: &Cli, cmd: &HazardCmd) -> Result<(), Error> {
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

pub(super) fn done(cli: &Cli, id: DocId, what: &str) -> Result<(), Error> {
    if cli.json {
        out!("{}", json!({"id": id.to_string(), "result": what}));
    } else {
        out!("{what}: {id}");
    }
    Ok(())
}
