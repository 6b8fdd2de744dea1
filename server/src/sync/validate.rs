//! What a device may change. The merged document must still be a valid document of its
//! kind, in the device's institution, and every difference from the server's copy must be
//! allowed to the change's author — the user the device's actor is bound to, never the
//! name written inside the document.

use automerge::{AutoCommit, Change, ROOT, ReadDoc};
use saferound_core::doc::{self, DocKind};
use saferound_core::ids::{DocId, InstitutionId};
use saferound_core::model::lifecycle::{self, EventKind};
use saferound_core::model::role::Named;
use saferound_core::model::{Action, RiskGrade, Role};
use saferound_core::sync::wire::RejectCode;

use crate::ledger::Read;
use crate::store::User;

pub type Refusal = (RejectCode, String);

fn forbid(action: Action) -> Refusal {
    (
        RejectCode::Forbidden,
        format!("{action:?} is for {}", action.who()),
    )
}

fn schema(msg: impl Into<String>) -> Refusal {
    (RejectCode::SchemaViolation, msg.into())
}

/// Checks the trial merge `after` of the server's `before` (None: a new document) with
/// the device's `new` changes. Role rules are judged per change, against the document as
/// its author saw it (the change's dependencies), so an edit made offline while it was
/// allowed is not refused because someone else's change reached the server first.
pub fn check(
    before: Option<&AutoCommit>,
    after: &mut AutoCommit,
    new: &[Change],
    author: &User,
    institution: InstitutionId,
    id: DocId,
) -> Result<Read, Refusal> {
    let h = doc::header(after).map_err(|e| schema(e.to_string()))?;
    if h.id != id {
        return Err(schema(format!("the document says its id is {}", h.id)));
    }
    if h.institution != institution {
        return Err(schema("the document names another institution"));
    }
    if let Some(b) = before {
        let hb = doc::header(b).map_err(|e| schema(e.to_string()))?;
        if hb.kind != h.kind || hb.institution != h.institution {
            return Err(schema(
                "the kind and institution of a document never change",
            ));
        }
    }
    let roles = &author.roles;
    let allowed = |a: Action, n: Named| {
        if a.allowed(roles, n) {
            Ok(())
        } else {
            Err(forbid(a))
        }
    };
    match h.kind {
        DocKind::Directory => Err((
            RejectCode::Forbidden,
            "the directory is written by the server".into(),
        )),
        DocKind::Inspection => {
            let a = doc::inspection::read_with(after, false).map_err(|e| schema(e.to_string()))?;
            allowed(Action::Inspect, Named::default())?;
            if let Some(b) = before {
                let b = doc::inspection::read_with(b, false).map_err(|e| schema(e.to_string()))?;
                if b.submitted.is_some() && a.submitted.is_none() {
                    return Err(schema("a submission cannot be undone"));
                }
                let kept = b.amendments.iter().all(|x| a.amendments.contains(x));
                if !kept {
                    return Err(schema("amendments are append-only"));
                }
            }
            Ok(Read::Inspection(Box::new(a)))
        }
        DocKind::Hazard => {
            let heads = after.get_heads();
            let current = read_hazard(after)?;
            // A change without dependencies starts a document: one per hazard. Another
            // (the server has the hazard already, or two in one push) would start a
            // second history beside it, whose event list could win over the real one's.
            let roots = new.iter().filter(|c| c.deps().is_empty()).count();
            for c in new {
                if c.deps().is_empty() && (before.is_some() || roots > 1) {
                    return Err(schema(
                        "a hazard is created once; this change starts another history",
                    ));
                }
                let seen = if c.deps().is_empty() {
                    None
                } else {
                    let d = after.fork_at(c.deps()).map_err(|e| schema(e.to_string()))?;
                    Some(read_hazard(&d)?)
                };
                if heads == [c.hash()] {
                    // The change is the whole document's latest state (a new hazard, or a
                    // device's only edit): no need to rebuild it.
                    check_hazard(seen.as_ref(), &current, author)?;
                } else {
                    let made = after
                        .fork_at(&[c.hash()])
                        .map_err(|e| schema(e.to_string()))?;
                    check_hazard(seen.as_ref(), &read_hazard(&made)?, author)?;
                }
            }
            Ok(Read::Hazard(Box::new(current.hazard)))
        }
        DocKind::WeeklyReport => {
            let r = doc::weekly::read_with(after, false).map_err(|e| schema(e.to_string()))?;
            allowed(Action::FileWeeklyReport, Named::default())?;
            Ok(Read::Weekly(Box::new(r)))
        }
        DocKind::IncidentReport => {
            let r = doc::incident::read_with(after, false).map_err(|e| schema(e.to_string()))?;
            allowed(Action::FileIncident, Named::default())?;
            Ok(Read::Incident(Box::new(r)))
        }
    }
}

/// A hazard as a change's author saw it or made it: its fields, and its raw risk values
/// (every concurrent one, sorted) so a change to any of them counts as regrading.
struct HazardState {
    hazard: doc::hazard::Hazard,
    raw_risk: Vec<String>,
}

fn read_hazard(d: &AutoCommit) -> Result<HazardState, Refusal> {
    let hazard = doc::hazard::read_with(d, false).map_err(|e| schema(e.to_string()))?;
    let mut raw_risk: Vec<String> = d
        .get_all(ROOT, "risk")
        .unwrap_or_default()
        .iter()
        .filter_map(|(v, _)| v.as_str().map(str::to_string))
        .collect();
    raw_risk.sort();
    Ok(HazardState { hazard, raw_risk })
}

fn check_hazard(
    before: Option<&HazardState>,
    after: &HazardState,
    author: &User,
) -> Result<(), Refusal> {
    let a = &after.hazard;
    let roles: &[Role] = &author.roles;
    let Some(before) = before else {
        if !Action::ReportHazard.allowed(roles, Named::default()) {
            return Err(forbid(Action::ReportHazard));
        }
        if a.events.first().map(|e| e.kind) != Some(EventKind::Reported) {
            return Err(schema("a new hazard starts with its 'reported' event"));
        }
        for e in &a.events {
            if e.by.user_id != author.id {
                return Err(schema("an event names someone other than its author"));
            }
        }
        return Ok(());
    };
    let b = &before.hazard;

    // Nobody rewrites or removes past events: the old events, in order, are still there.
    let kept: Vec<_> = a
        .events
        .iter()
        .filter(|e| b.events.iter().any(|o| o.id == e.id))
        .collect();
    if kept.len() != b.events.len() || kept.iter().zip(&b.events).any(|(x, y)| *x != y) {
        return Err(schema("past events may not be changed or removed"));
    }
    let named = Named {
        responsible: b
            .plan
            .responsible
            .as_ref()
            .is_some_and(|p| p.user_id == author.id),
        reinspector: b
            .plan
            .reinspector
            .as_ref()
            .is_some_and(|p| p.user_id == author.id),
        unassigned: !doc::hazard::ever_assigned(b),
    };
    let allowed = |act: Action| {
        if act.allowed(roles, named) {
            Ok(())
        } else {
            Err(forbid(act))
        }
    };
    // A device appends its events after every event it saw, each legal where it lands
    // (the core and the dashboard check `transition` before writing). Judged against the
    // author's own view, so concurrency cannot make an honest change fail here; events
    // that concurrency makes illegal in the merged order are skipped by the fold instead.
    let (seen, new_events) = a.events.split_at(b.events.len().min(a.events.len()));
    if seen.len() != b.events.len() || seen.iter().zip(&b.events).any(|(x, y)| x.id != y.id) {
        return Err(schema("new events go after the events already recorded"));
    }
    for e in new_events {
        if e.by.user_id != author.id {
            return Err(schema("an event names someone other than its author"));
        }
        allowed(match e.kind {
            EventKind::Reported => return Err(schema("a hazard is reported once")),
            EventKind::Assigned => Action::Assign,
            EventKind::RectificationReported => Action::ReportRectification,
            EventKind::Verified | EventKind::VerificationFailed => Action::Verify,
            EventKind::Deferred => Action::Defer,
            EventKind::Reopened => Action::Reopen,
            EventKind::ListedForSupervision => Action::ListForSupervision,
            EventKind::Regraded => Action::Regrade,
        })?;
    }
    let mut status = b.status;
    for e in new_events {
        let Some(next) = lifecycle::transition(status, e.kind) else {
            return Err(schema(format!(
                "'{}' cannot be recorded on a hazard that is {}",
                e.kind.code(),
                status.map(|s| s.code()).unwrap_or("without history")
            )));
        };
        if e.kind == EventKind::ListedForSupervision && a.risk != RiskGrade::Major {
            return Err(schema(
                "only major hazards 重大隐患 are listed for supervision",
            ));
        }
        status = Some(next);
    }
    if before.raw_risk != after.raw_risk {
        allowed(Action::Regrade)?;
    }
    if a.plan != b.plan {
        let only_treatment = saferound_core::doc::hazard::Plan {
            treatment_plan: b.plan.treatment_plan.clone(),
            ..a.plan.clone()
        } == b.plan;
        allowed(if only_treatment {
            Action::ListForSupervision
        } else {
            Action::Assign
        })?;
    }
    let core = |h: &doc::hazard::Hazard| {
        (
            h.site.clone(),
            h.category,
            h.location.clone(),
            h.description.clone(),
            h.photos.clone(),
            h.inspection,
            h.reported_by.clone(),
            h.reported_at,
        )
    };
    if core(a) != core(b) {
        // The report itself: its authors' colleagues may correct it until it is assigned.
        allowed(Action::Regrade)?;
    }
    Ok(())
}
