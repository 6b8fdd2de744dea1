//! The server side of `POST /api/v1/sync`: check every pushed change before Automerge
//! sees it, merge on a trial copy, validate, commit durably (compare-and-swap on the
//! document's heads, retried when another request merged the same document meanwhile),
//! then answer with acknowledgements, rejections and the changes the device lacks.

pub mod validate;

#[cfg(test)]
mod policy_props;

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;

use automerge::{AutoCommit, Change, ChangeHash, ReadDoc};
use saferound_core::doc;
use saferound_core::ids::DocId;
use saferound_core::sync::wire::{
    self, Ack, PushDoc, RejectCode, Rejection, SyncRequest, SyncResponse, Update,
};

use crate::ledger;
use crate::store::{DeviceAuth, DocCommit, NewChange, Store, StoreError, StoredDoc};

/// Changes appended after a snapshot before the server compacts the document.
const COMPACT_AFTER: usize = 64;

/// Bytes of updates in one answer, whatever the device asks for.
pub const MAX_UPDATE_BYTES: u64 = 8 * 1024 * 1024;

/// Operations one push may add to a document.
pub const MAX_OPS_PER_PUSH: u64 = 200_000;

/// How deep objects may nest. Reading a document (Automerge's hydrate, the JSON read,
/// the ledger) recurses once per level, and a few thousand levels overflow a thread's
/// stack: an abort of the whole server that no `catch_unwind` stops. The documents'
/// shapes nest at most five deep.
pub const MAX_DEPTH: usize = 32;

/// The depth of the deepest object the new changes create, judged before Automerge
/// applies them: objects made in this push count from their parent's depth, existing
/// ones from the stored document (walked up iteratively, never past `MAX_DEPTH`). The
/// objects are read from the changes' columns (`saferound_core::codec::objects_made`), not by expanding
/// every operation with `Change::decode`.
fn deepest_new_object(before: Option<&AutoCommit>, new: &[Change]) -> Result<usize, String> {
    let mut made: HashMap<(u64, Vec<u8>), usize> = HashMap::new();
    let mut deepest = 0;
    for c in new {
        for o in saferound_core::codec::objects_made(c.raw_bytes())? {
            let parent = match o.parent {
                None => 0,
                Some((counter, actor)) => match made.get(&(counter, actor.to_vec())) {
                    Some(d) => *d,
                    None => before
                        .and_then(|b| {
                            let obj = b
                                .import_obj(&format!("{counter}@{}", hex::encode(actor)))
                                .ok()?;
                            Some(b.parents(obj).ok()?.take(MAX_DEPTH + 1).count())
                        })
                        .unwrap_or(0),
                },
            };
            let depth = parent + 1;
            deepest = deepest.max(depth);
            if deepest > MAX_DEPTH {
                return Ok(deepest);
            }
            made.insert((o.id.0, o.id.1.to_vec()), depth);
        }
    }
    Ok(deepest)
}

pub(crate) enum Outcome {
    Commit(
        Box<DocCommit>,
        Vec<Vec<u8>>,
        saferound_core::policy::Verdict,
    ),
    Unchanged(Vec<u8>, Vec<Vec<u8>>),
    Rejected(Rejection),
}

fn reject(
    id: DocId,
    code: RejectCode,
    reason: impl Into<String>,
    stored: Option<&StoredDoc>,
) -> Outcome {
    let reason = reason.into();
    tracing::info!(document = %id, ?code, %reason, "pushed changes refused");
    let server_doc = stored
        .and_then(|s| saferound_core::codec::load_stored(&s.bytes).ok())
        .map(|mut d| d.save())
        .unwrap_or_default();
    Outcome::Rejected(Rejection {
        id: id.0,
        code,
        reason,
        server_doc,
        missing_photos: Vec::new(),
    })
}

thread_local! {
    static GUARDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs Automerge on device bytes under `catch_unwind`: Automerge 0.12 has panics on
/// crafted input, and one document's panic must refuse that document, not the request.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let r = std::panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    r
}

/// Whether the current thread is inside `guarded`: the fuzzing harness treats a panic
/// there as a handled refusal and any other panic as a crash.
pub fn in_guarded_section() -> bool {
    GUARDED.with(|g| g.get() > 0)
}

/// Parses a change from a device: framing first (bounded: `check_change_chunk`), then
/// Automerge's parser, guarded, so a crafted change that trips a panic is a rejection.
pub(crate) fn parse_change(bytes: &[u8]) -> Result<Change, String> {
    saferound_core::codec::check_change_chunk(bytes)?;
    let owned = bytes.to_vec();
    match guarded(move || Change::from_bytes(owned)) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("not a valid change: {e}")),
        Err(_) => Err("not a valid change".into()),
    }
}

/// The first change of a weekly report, which every device writes identically under an
/// actor derived from the id (see `doc::weekly::genesis`): the only change a device may
/// send under an actor that is not its own.
fn is_genesis(change: &Change, after: &AutoCommit, id: DocId) -> bool {
    if change.actor_id() != &doc::genesis_actor(id) {
        return false;
    }
    let Ok(r) = doc::weekly::read(after) else {
        return false;
    };
    let Ok(mut g) = doc::weekly::genesis(r.institution, r.department, r.week) else {
        return false;
    };
    g.get_heads() == vec![change.hash()]
}

/// Actors of the institution's other devices, whose changes a device may hold but not
/// push on their behalf (see `merge_one`); empty unless the database was ever restored.
type RelayActors = HashSet<Vec<u8>>;

pub(crate) fn merge_one(
    device: &DeviceAuth,
    push: &PushDoc,
    stored: Option<&StoredDoc>,
    relay: &RelayActors,
    judging: &validate::Judging,
) -> Outcome {
    let id = DocId(push.id);
    if push.changes.len() > wire::MAX_CHANGES_PER_DOC {
        return reject(
            id,
            RejectCode::TooLarge,
            format!(
                "more than {} changes in one push",
                wire::MAX_CHANGES_PER_DOC
            ),
            stored,
        );
    }
    let device_heads = match wire::heads_from_bytes(&push.heads) {
        Ok(h) => h,
        Err(e) => return reject(id, RejectCode::InvalidChange, e.to_string(), stored),
    };
    // The budget from the encoded columns, before Automerge's parser expands anything.
    if push
        .changes
        .iter()
        .map(|b| saferound_core::codec::claimed_ops(b))
        .sum::<u64>()
        > MAX_OPS_PER_PUSH
    {
        return reject(
            id,
            RejectCode::TooLarge,
            format!("more than {MAX_OPS_PER_PUSH} operations in one push"),
            stored,
        );
    }
    let mut changes = Vec::with_capacity(push.changes.len());
    let mut new_bytes = 0usize;
    for b in &push.changes {
        match parse_change(b) {
            Ok(c) => {
                new_bytes += b.len();
                changes.push(c);
            }
            Err(e) => return reject(id, RejectCode::InvalidChange, e, stored),
        }
    }
    let stored_bytes = stored.map(|s| s.bytes.len()).unwrap_or(0);
    if stored_bytes + new_bytes > wire::MAX_DOCUMENT_BYTES {
        return reject(
            id,
            RejectCode::TooLarge,
            format!(
                "the document would exceed {} bytes",
                wire::MAX_DOCUMENT_BYTES
            ),
            stored,
        );
    }
    let mut before = match stored {
        Some(s) => match saferound_core::codec::load_stored(&s.bytes) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(%id, "stored document does not load: {e}");
                return reject(
                    id,
                    RejectCode::SchemaViolation,
                    "the server's copy is damaged",
                    None,
                );
            }
        },
        None => None,
    };
    let mut new: Vec<Change> = changes
        .into_iter()
        .filter(|c| {
            before
                .as_mut()
                .is_none_or(|b| b.get_change_meta_by_hash(&c.hash()).is_none())
        })
        .collect();
    // After a restore from a backup the server lacks changes it once acknowledged; a
    // device may hold another device's lost change (it received it before the restore).
    // It cannot push it for its author (nothing proves who wrote a change but the
    // device that sends it), so that change and everything built on it wait until the
    // author's own device pushes it again; the rest of the push lands. Changes arrive
    // in causal order, so one pass finds the descendants.
    if !relay.is_empty() {
        let mut held: HashSet<ChangeHash> = HashSet::new();
        new.retain(|c| {
            let actor = c.actor_id().to_bytes();
            let relayed = actor != device.actor.as_slice() && relay.contains(actor);
            if relayed || c.deps().iter().any(|d| held.contains(d)) {
                held.insert(c.hash());
                false
            } else {
                true
            }
        });
        if !held.is_empty() {
            tracing::info!(
                document = %id,
                held = held.len(),
                "changes by other devices wait for their authors to push them again"
            );
        }
    }
    match deepest_new_object(before.as_ref(), &new) {
        Ok(depth) if depth <= MAX_DEPTH => {}
        Ok(_) => {
            return reject(
                id,
                RejectCode::SchemaViolation,
                format!("objects nest deeper than {MAX_DEPTH} levels"),
                stored,
            );
        }
        Err(e) => return reject(id, RejectCode::InvalidChange, e, stored),
    }
    let mut after = match before.as_mut() {
        Some(b) => b.fork(),
        None => AutoCommit::new(),
    };
    let mut read = None;
    let mut verdict = saferound_core::policy::Verdict::default();
    if !new.is_empty() {
        let applied = guarded(|| after.apply_changes(new.clone()));
        match applied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return reject(
                    id,
                    RejectCode::InvalidChange,
                    format!("changes do not apply: {e}"),
                    stored,
                );
            }
            Err(_) => {
                return reject(
                    id,
                    RejectCode::InvalidChange,
                    "changes do not apply",
                    stored,
                );
            }
        }
        if !after.get_missing_deps(&[]).is_empty() {
            return reject(
                id,
                RejectCode::MissingDependencies,
                "changes depend on changes the server does not have; resend from earlier heads",
                stored,
            );
        }
        for c in &new {
            if c.actor_id().to_bytes() != device.actor.as_slice() && !is_genesis(c, &after, id) {
                return reject(
                    id,
                    RejectCode::ForgedActor,
                    format!(
                        "a change carries actor {} which is not this device's",
                        c.actor_id()
                    ),
                    stored,
                );
            }
        }
        match validate::check(
            before.as_ref(),
            &mut after,
            &new,
            &device.user,
            &device.actor,
            device.institution,
            id,
            judging,
        ) {
            Ok((r, v)) => {
                read = Some(r);
                verdict = v;
            }
            Err((code, reason)) => return reject(id, code, reason, stored),
        }
    }
    // What the device lacks of this document: everything after the heads it sent that the
    // server knows (heads the server does not know are ignored).
    let mut current = after.get_heads();
    current.sort();
    let mut sent = device_heads;
    sent.sort();
    // The device already has everything (the usual case after a push): nothing to find.
    // Checked first because looking a change up by hash rebuilds it (Automerge 0.12).
    let lacking: Vec<Vec<u8>> = if sent == current {
        Vec::new()
    } else {
        let known: Vec<ChangeHash> = sent
            .into_iter()
            .filter(|h| after.get_change_meta_by_hash(h).is_some())
            .collect();
        after
            .get_changes(&known)
            .into_iter()
            .filter(|c| c.actor_id().to_bytes() != device.actor.as_slice() || known.is_empty())
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    };
    let heads = wire::heads_to_bytes(&current);
    if new.is_empty() {
        return Outcome::Unchanged(heads, lacking);
    }
    // Every accepted change went through validation, which read the document.
    let kind = match &read {
        Some(r) => r.kind().code().to_string(),
        None => doc::header(&after)
            .map(|h| h.kind.code().to_string())
            .unwrap_or_default(),
    };
    let ledger = match ledger::derive(&mut after, read) {
        Ok(l) => l,
        Err(e) => return reject(id, RejectCode::SchemaViolation, e.to_string(), stored),
    };
    let pending = stored.map(|s| s.changes_after_snapshot).unwrap_or(0) + new.len();
    let commit = DocCommit {
        institution: device.institution,
        id,
        kind,
        expected_heads: stored.map(|s| s.heads.clone()),
        new_heads: heads,
        changes: new.iter().map(NewChange::from).collect(),
        snapshot: (pending > COMPACT_AFTER).then(|| after.save()),
        bytes: stored_bytes + new_bytes,
        ledger,
    };
    Outcome::Commit(Box::new(commit), lacking, verdict)
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("too many documents in one request (at most {0})")]
    TooManyDocuments(usize),
    #[error("too many operations in one request (at most {0}); send fewer documents at once")]
    TooManyOperations(u64),
}

/// Handles one sync request of an authenticated device.
pub async fn handle(
    storage: &Store,
    device: &DeviceAuth,
    req: SyncRequest,
    received: saferound_core::ids::Timestamp,
) -> Result<SyncResponse, SyncError> {
    if req.docs.len() > wire::MAX_DOCS_PER_REQUEST {
        return Err(SyncError::TooManyDocuments(wire::MAX_DOCS_PER_REQUEST));
    }
    let claimed: u64 = req
        .docs
        .iter()
        .flat_map(|p| &p.changes)
        .map(|b| saferound_core::codec::claimed_ops(b))
        .sum();
    if claimed > wire::MAX_OPS_PER_REQUEST {
        return Err(SyncError::TooManyOperations(wire::MAX_OPS_PER_REQUEST));
    }
    let Accepted {
        acks,
        rejections,
        mut updates,
    } = accept_changes(storage, device, req.docs, received).await?;
    // Everything else of the institution that changed since the device's cursor.
    let budget = req.max_update_bytes.clamp(64 * 1024, MAX_UPDATE_BYTES) as usize;
    let page = storage
        .feed(device.institution, req.cursor, device.actor.clone(), budget)
        .await?;
    let mut by_doc: HashMap<DocId, usize> = HashMap::new();
    for item in page.items {
        let slot = *by_doc.entry(item.doc_id).or_insert_with(|| {
            updates.push(Update {
                id: item.doc_id.0,
                kind: item.kind.clone(),
                changes: Vec::new(),
                heads: Vec::new(),
            });
            updates.len() - 1
        });
        updates[slot]
            .changes
            .push(serde_bytes::ByteBuf::from(item.bytes));
    }
    storage.touch_device(&device.device_id).await?;
    Ok(SyncResponse {
        protocol: wire::PROTOCOL_VERSION,
        acks,
        rejections,
        updates,
        cursor: page.cursor,
        more: page.more,
        epoch: storage.epoch().await?,
    })
}

/// What `accept_changes` answers: the documents committed (with the server's heads), those
/// refused (with why), and what each pushed document lacks for its device.
pub struct Accepted {
    pub acks: Vec<Ack>,
    pub rejections: Vec<Rejection>,
    pub updates: Vec<Update>,
}

/// Merges the changes `device` made to the documents of `docs` and commits them with
/// their ledger rows: every check of a phone's sync (the actor is the device's, each run
/// of changes judged as its author saw the record, photos named must be held), nothing
/// of a refused document kept. The write path of a phone's sync (`handle`) and of the
/// dashboard's actions, which write as a device of their own (`web::actions`).
pub async fn accept_changes(
    storage: &Store,
    device: &DeviceAuth,
    docs: Vec<PushDoc>,
    received: saferound_core::ids::Timestamp,
) -> Result<Accepted, SyncError> {
    // The same document twice in one request: the later entry wins.
    let mut pushes: HashMap<DocId, PushDoc> = HashMap::new();
    for p in docs {
        pushes.insert(DocId(p.id), p);
    }
    let mut acks = Vec::new();
    let mut rejections = Vec::new();
    let mut updates = Vec::new();
    let mut todo: Vec<DocId> = pushes.keys().copied().collect();
    todo.sort();
    let pushes = std::sync::Arc::new(pushes);
    let relay: RelayActors = if !todo.is_empty() && storage.restored().await? {
        storage
            .institution_actors(device.institution)
            .await?
            .into_iter()
            .filter(|a| *a != device.actor)
            .collect()
    } else {
        RelayActors::new()
    };
    let relay = std::sync::Arc::new(relay);
    let judging = validate::Judging {
        directory: if todo.is_empty() {
            None
        } else {
            directory(storage, device.institution).await?
        },
        received,
    };
    let mut flags: Vec<(DocId, saferound_core::policy::Flag)> = Vec::new();
    for attempt in 0..5 {
        if todo.is_empty() {
            break;
        }
        // A pipeline: while one part's commit is written (one writer thread), the next
        // part is merged on the cores.
        let mut stale: Vec<DocId> = Vec::new();
        let mut previous = Batch::default();
        for part in todo.chunks(PIPELINE_PART) {
            let stored = storage
                .load_documents(device.institution, part.to_vec())
                .await?;
            let merging = merge_part(device, &pushes, part.to_vec(), stored, &relay, &judging);
            let committing = commit_part(storage, std::mem::take(&mut previous));
            let (outcomes, committed) = tokio::join!(merging, committing);
            stale.extend(committed?.finish(&mut acks, &mut updates));
            for (id, o) in outcomes? {
                let o = known_photos(storage, device, id, o).await?;
                match o {
                    Outcome::Commit(c, lacking, verdict) => {
                        flags.extend(verdict.flags.into_iter().map(|f| (id, f)));
                        previous
                            .acks
                            .push((id, c.new_heads.clone(), c.kind.clone(), lacking));
                        previous.commits.push(*c);
                    }
                    Outcome::Unchanged(heads, lacking) => {
                        push_update(&mut updates, id, "", &heads, lacking);
                        acks.push(Ack { id: id.0, heads });
                    }
                    Outcome::Rejected(r) => rejections.push(r),
                }
            }
        }
        stale.extend(
            commit_part(storage, previous)
                .await?
                .finish(&mut acks, &mut updates),
        );
        todo = stale;
        todo.sort();
        if !todo.is_empty() {
            tracing::debug!(
                attempt,
                n = todo.len(),
                "documents merged concurrently elsewhere; merging again"
            );
        }
    }
    for id in todo {
        rejections.push(Rejection {
            id: id.0,
            code: RejectCode::MissingDependencies,
            reason: "the document is busy; sync again".into(),
            server_doc: Vec::new(),
            missing_photos: Vec::new(),
        });
    }
    // What the office should see about accepted changes: a phone's clock ahead.
    let committed: HashSet<uuid::Uuid> = acks.iter().map(|a| a.id).collect();
    flags.dedup();
    for (id, flag) in flags.iter().filter(|(id, _)| committed.contains(&id.0)) {
        let u = &device.user;
        let detail = format!("{id}: {flag} (device {})", device.device_id);
        storage
            .audit(
                Some(device.institution),
                Some(u),
                &u.login,
                "clock_ahead",
                &detail,
            )
            .await?;
    }
    Ok(Accepted {
        acks,
        rejections,
        updates,
    })
}

/// Documents merged per step of the merge/commit pipeline.
const PIPELINE_PART: usize = 64;

/// Merged documents waiting for their commit, with what to answer once committed.
#[derive(Default)]
struct Batch {
    commits: Vec<DocCommit>,
    acks: Vec<(DocId, Vec<u8>, String, Vec<Vec<u8>>)>,
}

/// A committed batch, and the documents another request changed first.
struct Committed {
    acks: Vec<(DocId, Vec<u8>, String, Vec<Vec<u8>>)>,
    stale: HashSet<DocId>,
}

impl Committed {
    /// Answers for the committed documents; returns the stale ones, to merge again.
    fn finish(self, acks: &mut Vec<Ack>, updates: &mut Vec<Update>) -> Vec<DocId> {
        for (id, heads, kind, lacking) in self.acks {
            if !self.stale.contains(&id) {
                push_update(updates, id, &kind, &heads, lacking);
                acks.push(Ack { id: id.0, heads });
            }
        }
        self.stale.into_iter().collect()
    }
}

async fn commit_part(storage: &Store, batch: Batch) -> Result<Committed, SyncError> {
    let stale = if batch.commits.is_empty() {
        HashSet::new()
    } else {
        storage.commit(batch.commits).await?.into_iter().collect()
    };
    Ok(Committed {
        acks: batch.acks,
        stale,
    })
}

/// Merges one part of a request: CPU work, off the async threads, spread over the cores.
async fn merge_part(
    device: &DeviceAuth,
    pushes: &std::sync::Arc<HashMap<DocId, PushDoc>>,
    ids: Vec<DocId>,
    stored: HashMap<DocId, StoredDoc>,
    relay: &std::sync::Arc<RelayActors>,
    judging: &validate::Judging,
) -> Result<Vec<(DocId, Outcome)>, SyncError> {
    let dev = device.clone();
    let pushes = pushes.clone();
    let relay = relay.clone();
    let judging = judging.clone();
    tokio::task::spawn_blocking(move || {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // Each worker takes the next document when it is done with one, so a thread
        // slowed by a big document (or by the commit running beside it) does not hold
        // up the part.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = workers.min(ids.len().div_ceil(8)).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (dev, stored, pushes, ids, next, relay, judging) =
                        (&dev, &stored, &pushes, &ids, &next, &relay, &judging);
                    s.spawn(move || {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(id) = ids.get(i) else { break };
                            let Some(p) = pushes.get(id) else { continue };
                            // A panic inside Automerge on one document refuses that
                            // document, not the request (nor silently drops it).
                            let outcome =
                                guarded(|| merge_one(dev, p, stored.get(id), relay, judging))
                                    .unwrap_or_else(|_| {
                                        tracing::error!(document = %id, "merging panicked");
                                        reject(
                                            *id,
                                            RejectCode::InvalidChange,
                                            "the server could not process this document",
                                            stored.get(id),
                                        )
                                    });
                            out.push((i, *id, outcome));
                        }
                        out
                    })
                })
                .collect();
            let mut all: Vec<(usize, DocId, Outcome)> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect();
            // In the order of the request, whichever thread merged what.
            all.sort_by_key(|(i, _, _)| *i);
            all.into_iter()
                .map(|(_, id, o)| (id, o))
                .collect::<Vec<_>>()
        })
    })
    .await
    .map_err(|e| SyncError::Store(StoreError::Task(e.to_string())))
}

/// A merged document whose changes name photos the institution does not have is not
/// committed: the device has not uploaded them yet (it uploads before it pushes), so it
/// is told to sync again, as for any other missing dependency; nothing is quarantined.
async fn known_photos(
    storage: &Store,
    device: &DeviceAuth,
    id: DocId,
    o: Outcome,
) -> Result<Outcome, SyncError> {
    let Outcome::Commit(_, _, verdict) = &o else {
        return Ok(o);
    };
    // Marking a photo referenced before the commit lands keeps, at worst, a photo whose
    // record is retried; never expires one a committed record names.
    let mut missing = Vec::new();
    for p in &verdict.new_photos {
        if !storage
            .reference_blob(device.institution, &p.to_string())
            .await?
        {
            missing.push(p.to_string());
        }
    }
    if let Some(first) = missing.first() {
        return Ok(Outcome::Rejected(Rejection {
            id: id.0,
            code: RejectCode::MissingDependencies,
            reason: format!(
                "photo {first} has not been uploaded to the server; upload it, then sync again"
            ),
            server_doc: Vec::new(),
            missing_photos: missing,
        }));
    }
    Ok(o)
}

/// The institution's directory, parsed once per version of it (every sync judges
/// references against it).
pub(crate) async fn directory(
    storage: &Store,
    institution: saferound_core::ids::InstitutionId,
) -> Result<Option<std::sync::Arc<doc::directory::Directory>>, SyncError> {
    type Cache = HashMap<
        saferound_core::ids::InstitutionId,
        (Vec<u8>, std::sync::Arc<doc::directory::Directory>),
    >;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    let id = doc::directory::id_for(institution);
    let Some(stored) = storage
        .load_documents(institution, vec![id])
        .await?
        .remove(&id)
    else {
        return Ok(None);
    };
    {
        let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((heads, dir)) = cache.as_ref().and_then(|c| c.get(&institution))
            && *heads == stored.heads
        {
            return Ok(Some(dir.clone()));
        }
    }
    let d = saferound_core::codec::load_stored(&stored.bytes).map_err(StoreError::Corrupt)?;
    let dir = std::sync::Arc::new(
        doc::directory::read(&d).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    );
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(institution, (stored.heads.clone(), dir.clone()));
    Ok(Some(dir))
}

fn push_update(
    updates: &mut Vec<Update>,
    id: DocId,
    kind: &str,
    heads: &[u8],
    lacking: Vec<Vec<u8>>,
) {
    if lacking.is_empty() {
        return;
    }
    updates.push(Update {
        id: id.0,
        kind: kind.to_string(),
        changes: lacking
            .into_iter()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
        heads: heads.to_vec(),
    });
}

/// Writes a document the server itself maintains (the directory) with the server's
/// actor, bypassing device checks. `edit` may run more than once (when another writer
/// got there first, it is applied again to the newer copy).
pub async fn write_server_document(
    storage: &Store,
    institution: saferound_core::ids::InstitutionId,
    id: DocId,
    actor: &automerge::ActorId,
    edit: impl Fn(&mut AutoCommit) -> saferound_core::Result<()>,
) -> Result<(), SyncError> {
    for _ in 0..5 {
        let stored = storage
            .load_documents(institution, vec![id])
            .await?
            .remove(&id);
        let mut d = match &stored {
            Some(s) => saferound_core::codec::load_stored(&s.bytes).map_err(StoreError::Corrupt)?,
            None => AutoCommit::new(),
        }
        .with_actor(actor.clone());
        let before = d.get_heads();
        edit(&mut d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        d.commit();
        let new: Vec<Change> = d.get_changes(&before);
        if new.is_empty() {
            return Ok(());
        }
        let ledger =
            ledger::derive(&mut d, None).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let kind = doc::header(&d)
            .map(|h| h.kind.code().to_string())
            .unwrap_or_default();
        let snapshot = d.save();
        let commit = DocCommit {
            institution,
            id,
            kind,
            expected_heads: stored.as_ref().map(|s| s.heads.clone()),
            new_heads: wire::heads_to_bytes(&d.get_heads()),
            changes: new.iter().map(NewChange::from).collect(),
            bytes: snapshot.len(),
            snapshot: Some(snapshot),
            ledger,
        };
        if storage.commit(vec![commit]).await?.is_empty() {
            return Ok(());
        }
    }
    Err(SyncError::Store(StoreError::Conflict(
        "the document kept changing concurrently; try again".into(),
    )))
}
