//! What a device may change: every pushed change is judged by the core's write policy
//! (`saferound_core::policy`, the phone's own judgement), against the record as the
//! change's author saw it, by the user the device's actor is bound to — never the name
//! written inside the document.

use std::sync::Arc;

use automerge::{AutoCommit, Change, ChangeHash};
use saferound_core::doc::directory::Directory;
use saferound_core::doc::{self, DocKind};
use saferound_core::ids::{DocId, InstitutionId, Timestamp};
use saferound_core::policy::{self, Verdict, Version};
use saferound_core::sync::wire::RejectCode;

use crate::ledger::Read;
use crate::store::User;

pub type Refusal = (RejectCode, String);

fn schema(msg: impl Into<String>) -> Refusal {
    (RejectCode::SchemaViolation, msg.into())
}

fn refusal(r: policy::Refusal) -> Refusal {
    let code = if r.forbidden {
        RejectCode::Forbidden
    } else {
        RejectCode::SchemaViolation
    };
    (code, r.to_string())
}

/// What the server judges a request's changes against.
#[derive(Clone)]
pub struct Judging {
    /// The institution's directory as the server last wrote it.
    pub directory: Option<Arc<Directory>>,
    /// When the request arrived.
    pub received: Timestamp,
}

/// Checks the trial merge `after` of the server's `before` (None: a new document) with
/// the device's `new` changes, made under `actor`. Each run of changes that build one on
/// the other (the usual push: a device's edits since its last sync) is judged as one
/// step, from the record as its author saw it (the run's first dependencies) to the
/// record the run leaves: a device can reorder its own unsynced changes at will, so
/// judging them one by one would refuse nothing more, and costs a rebuild of the
/// document per change. A change that also depends on someone else's starts a new run.
#[allow(clippy::too_many_arguments)]
pub fn check(
    before: Option<&AutoCommit>,
    after: &mut AutoCommit,
    new: &[Change],
    author: &User,
    actor: &[u8],
    institution: InstitutionId,
    id: DocId,
    judging: &Judging,
) -> Result<(Read, Verdict), Refusal> {
    let h = doc::header(after).map_err(|e| schema(e.to_string()))?;
    if h.id != id {
        return Err(schema(format!("the document says its id is {}", h.id)));
    }
    if h.institution != institution {
        return Err(schema("the document names another institution"));
    }
    if h.kind == DocKind::Directory {
        return Err((
            RejectCode::Forbidden,
            "the directory is written by the server".into(),
        ));
    }
    let genesis = doc::genesis_actor(id);
    // A change without dependencies starts a document: one per record. Another (the
    // server has the record already, or two in one push) would start a second history
    // beside it, whose values could win over the real one's. A weekly report's shared
    // first change (checked byte for byte by the caller) is the one allowed root.
    let roots: Vec<&Change> = new
        .iter()
        .filter(|c| c.deps().is_empty() && *c.actor_id() != genesis)
        .collect();
    if !roots.is_empty() && (before.is_some() || roots.len() > 1) {
        return Err(schema(
            "a record is created once; this change starts another history",
        ));
    }
    let mut runs: Vec<(Vec<ChangeHash>, ChangeHash)> = Vec::new();
    for c in new.iter().filter(|c| *c.actor_id() != genesis) {
        match runs.last_mut() {
            Some((_, last)) if c.deps() == [*last] => *last = c.hash(),
            _ => runs.push((c.deps().to_vec(), c.hash())),
        }
    }
    let roles = &author.roles;
    let who = policy::Author {
        user: author.id,
        roles,
        department: author.department,
        actor: hex::encode(actor),
    };
    let ctx = policy::Context {
        institution,
        directory: judging.directory.as_deref(),
        received: judging.received,
    };
    let read = |d: &AutoCommit| Version::read(d).map_err(refusal);
    let heads = after.get_heads();
    let mut current: Option<Version> = None;
    let mut verdict = Verdict::default();
    for (deps, last) in &runs {
        let seen = if deps.is_empty() {
            None
        } else {
            let d = after.fork_at(deps).map_err(|e| schema(e.to_string()))?;
            Some(read(&d)?)
        };
        let made = if heads == [*last] {
            // The run ends at the whole document's latest state: no need to rebuild it.
            let c = match current.take() {
                Some(c) => c,
                None => read(after)?,
            };
            current = Some(c.clone());
            c
        } else {
            read(&after.fork_at(&[*last]).map_err(|e| schema(e.to_string()))?)?
        };
        let v = policy::judge(seen.as_ref(), &made, &who, &ctx).map_err(refusal)?;
        verdict.flags.extend(v.flags);
        for p in v.new_photos {
            if !verdict.new_photos.contains(&p) {
                verdict.new_photos.push(p);
            }
        }
    }
    let current = match current {
        Some(c) => c,
        None => read(after)?,
    };
    Ok((current.record, verdict))
}
