//! The device's sync client: enrolment, and one `sync` that pushes what the server has
//! not acknowledged, applies what the server sends, and pages until nothing is left.
//! Nothing leaves the pending set before the server acknowledged it durably; a retried
//! request is harmless (changes are content-addressed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

use super::wire::{self, PushDoc, RejectCode, SyncRequest, SyncResponse};
use crate::clock::Clock;
use crate::device::{Device, Identity};
use crate::doc::{DocKind, PersonRef};
use crate::error::{Error, Result};
use crate::ids::{BlobHash, DepartmentId, DocId, InstitutionId, UserId};
use crate::model::Role;

/// Bytes of changes per request before the client starts another.
const REQUEST_BUDGET: usize = 4 * 1024 * 1024;

/// Attempts per request on network failures or 5xx answers, with backoff between.
const ATTEMPTS: u32 = 4;

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pushing,
    Receiving,
    Done,
}

/// Progress, reported after every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub docs_done: usize,
    pub docs_total: usize,
    pub bytes_up: usize,
    pub bytes_down: usize,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub requests: usize,
    pub pushed_docs: usize,
    pub acknowledged: usize,
    pub received_docs: usize,
    pub bytes_up: usize,
    pub bytes_down: usize,
    /// Documents the server refused: quarantined with the reason.
    pub rejected: Vec<(String, String)>,
    pub photos_uploaded: usize,
    /// Photo bytes sent (an interrupted upload resumes: only what was left is sent).
    pub photo_bytes_up: usize,
    /// The server's quota of photos not yet used by a synced record was reached: some
    /// photos (and the records naming them) wait for the next sync.
    pub photos_waiting: bool,
    /// Milliseconds spent in the document exchanges themselves (sending, the server's
    /// work, the network, reading the answer); the rest of a sync is this device's own
    /// work of storing what it pushed and applying what it received.
    pub exchange_ms: u64,
}

/// Photo upload chunk: small enough that a dropped connection loses little.
const PHOTO_CHUNK: usize = 256 * 1024;

/// Uploads every photo the server does not have yet, resuming partial uploads.
fn upload_photos(
    device: &Device,
    server: &str,
    token: &str,
    report: &mut SyncReport,
    cancel: &AtomicBool,
) -> Result<()> {
    let store = device.store();
    let agent = agent();
    for (hash, size) in store.pending_blobs()? {
        check_cancelled(cancel)?;
        let url = endpoint(server, &format!("/api/v1/blobs/{hash}"));
        let auth = format!("Bearer {token}");
        let head = agent
            .head(&url)
            .header("Authorization", &auth)
            .call()
            .map_err(|e| Error::Network(e.to_string()))?;
        let mut offset = match head.status().as_u16() {
            200 => {
                store.mark_blob_uploaded(&hash)?;
                report.photos_uploaded += 1;
                continue;
            }
            204 => head
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0),
            404 => 0,
            s => {
                return Err(Error::Server {
                    status: s,
                    message: "photo upload refused".into(),
                });
            }
        };
        let bytes = store
            .blob(&hash)?
            .ok_or_else(|| Error::not_found("photo", &hash))?;
        if offset > bytes.len() as u64 {
            offset = 0;
        }
        loop {
            check_cancelled(cancel)?;
            let start = offset as usize;
            let end = (start + PHOTO_CHUNK).min(bytes.len());
            let mut resp = agent
                .put(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/octet-stream")
                .header("Upload-Offset", offset.to_string())
                .header("Upload-Length", size.to_string())
                .send(&bytes[start..end])
                .map_err(|e| Error::Network(e.to_string()))?;
            report.photo_bytes_up += end - start;
            match resp.status().as_u16() {
                200 | 201 => {
                    store.mark_blob_uploaded(&hash)?;
                    report.photos_uploaded += 1;
                    break;
                }
                202 => offset = end as u64,
                // Past the quota of photos no synced record uses yet: push the records
                // whose photos are in first, the rest follow at the next sync.
                507 => {
                    let message = resp.body_mut().read_to_string().unwrap_or_default();
                    tracing::warn!(%message, "photo quota reached; the other photos wait");
                    report.photos_waiting = true;
                    return Ok(());
                }
                s => {
                    let message = resp.body_mut().read_to_string().unwrap_or_default();
                    return Err(Error::Server { status: s, message });
                }
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct EnrollRequest<'a> {
    login: &'a str,
    password: &'a str,
    actor: String,
    name: &'a str,
}

#[derive(Deserialize)]
struct EnrollResponse {
    token: String,
    institution: InstitutionId,
    user_id: UserId,
    name: String,
    roles: Vec<Role>,
    department: Option<DepartmentId>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn endpoint(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

/// POSTs `body`, retrying network failures and 5xx with backoff; 4xx is final.
fn post(
    server: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
    limit: u64,
    cancel: &AtomicBool,
) -> Result<Vec<u8>> {
    let agent = agent();
    let mut last = Error::Network("no attempt made".into());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * 2u64.pow(attempt)));
        }
        check_cancelled(cancel)?;
        let mut req = agent
            .post(endpoint(server, path))
            .header("Content-Type", content_type);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        match req.send(body) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let bytes: Result<Vec<u8>> = resp
                    .body_mut()
                    .with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|e| Error::Network(e.to_string()));
                let message = |b: &[u8]| {
                    serde_json::from_slice::<serde_json::Value>(b)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_string))
                        .unwrap_or_else(|| String::from_utf8_lossy(b).chars().take(200).collect())
                };
                match (status, bytes) {
                    (200, Ok(b)) => return Ok(b),
                    (s, Ok(b)) if s < 500 => {
                        return Err(Error::Server {
                            status: s,
                            message: message(&b),
                        });
                    }
                    // Kept for the caller: a full disk on the server says so (503), and
                    // `Error::retryable` tells the app to try again later.
                    (s, Ok(b)) => {
                        let m = message(&b);
                        last = Error::Server {
                            status: s,
                            message: if m.is_empty() {
                                "server error".into()
                            } else {
                                m
                            },
                        }
                    }
                    (_, Err(e)) => last = e,
                }
            }
            Err(e) => last = Error::Network(e.to_string()),
        }
        tracing::warn!(attempt, "sync request failed: {last}");
    }
    Err(last)
}

/// Enrolls a new device with the user's password and creates its store at `path`, with
/// the device token kept in the store (the CLI). A phone keeps the token in its own secret
/// store instead: `enroll_returning_token`.
pub fn enroll(
    path: impl AsRef<std::path::Path>,
    server: &str,
    login: &str,
    password: &str,
    device_name: &str,
    clock: std::sync::Arc<dyn Clock>,
) -> Result<Device> {
    let (device, token) =
        enroll_returning_token(path, server, login, password, device_name, clock)?;
    device.store().set_server(server, Some(&token))?;
    Ok(device)
}

/// Enrolls a new device and creates its store at `path` with the server's URL but without
/// the token, which is returned for the caller's secret store (Android Keystore, iOS
/// Keychain); sync with it through `sync_with`.
pub fn enroll_returning_token(
    path: impl AsRef<std::path::Path>,
    server: &str,
    login: &str,
    password: &str,
    device_name: &str,
    clock: std::sync::Arc<dyn Clock>,
) -> Result<(Device, String)> {
    if path.as_ref().exists() {
        return Err(Error::State(format!(
            "{} already exists; enrol into a new store",
            path.as_ref().display()
        )));
    }
    let actor = automerge::ActorId::random();
    let body = serde_json::to_vec(&EnrollRequest {
        login,
        password,
        actor: actor.to_hex_string(),
        name: device_name,
    })
    .map_err(|e| Error::invalid("enrolment", e.to_string()))?;
    let bytes = post(
        server,
        "/api/v1/devices",
        None,
        "application/json",
        &body,
        1 << 20,
        &AtomicBool::new(false),
    )?;
    let r: EnrollResponse = serde_json::from_slice(&bytes).map_err(|e| Error::Server {
        status: 200,
        message: format!("unexpected enrolment answer: {e}"),
    })?;
    let device = Device::init_with_actor(
        path,
        Identity {
            institution: r.institution,
            user: PersonRef {
                user_id: r.user_id,
                name: r.name,
            },
            roles: r.roles,
            department: r.department,
        },
        actor,
        clock,
    )?;
    device.store().set_server(server, None)?;
    Ok((device, r.token))
}

/// Syncs with the server the device enrolled with.
pub fn sync(device: &Device, progress: &mut dyn FnMut(&Progress)) -> Result<SyncReport> {
    let settings = device.store().sync_settings()?;
    let (Some(server), Some(token)) = (settings.server_url, settings.token) else {
        return Err(Error::State(
            "this device is not enrolled with a server; run `saferound enroll`".into(),
        ));
    };
    sync_with(device, &server, &token, progress)
}

/// A photo by its hash: from the store, or else downloaded from the server the device
/// enrolled with (a record synced from another phone refers to photos this one never
/// took), verified against the hash and kept.
pub fn fetch_photo(device: &Device, hash: &BlobHash) -> Result<Vec<u8>> {
    if let Some(b) = device.store().blob(hash)? {
        return Ok(b);
    }
    let settings = device.store().sync_settings()?;
    let (Some(server), Some(token)) = (settings.server_url, settings.token) else {
        return Err(Error::not_found("photo", hash));
    };
    fetch_photo_with(device, &server, &token, hash)
}

/// `fetch_photo` with the server and token given (a phone keeps the token in its secret
/// store). The download is refused if it is larger than a photo may be or its bytes do
/// not hash to `hash`.
pub fn fetch_photo_with(
    device: &Device,
    server: &str,
    token: &str,
    hash: &BlobHash,
) -> Result<Vec<u8>> {
    let store = device.store();
    if let Some(b) = store.blob(hash)? {
        return Ok(b);
    }
    let url = endpoint(server, &format!("/api/v1/blobs/{hash}"));
    let mut last = Error::Network("no attempt made".into());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * 2u64.pow(attempt)));
        }
        let mut resp = match agent()
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .call()
        {
            Ok(r) => r,
            Err(e) => {
                last = Error::Network(e.to_string());
                continue;
            }
        };
        match resp.status().as_u16() {
            200 => {}
            404 => return Err(Error::not_found("photo", hash)),
            s if s < 500 => {
                return Err(Error::Server {
                    status: s,
                    message: "the photo download was refused".into(),
                });
            }
            s => {
                last = Error::Server {
                    status: s,
                    message: "server error".into(),
                };
                continue;
            }
        }
        let bytes = match resp
            .body_mut()
            .with_config()
            .limit(device.max_photo_bytes() as u64)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(e) => {
                last = Error::Network(e.to_string());
                continue;
            }
        };
        if BlobHash::of(&bytes) != *hash {
            return Err(Error::Server {
                status: 200,
                message: format!("the server sent bytes that are not photo {hash}"),
            });
        }
        let stored = device.add_photo(&bytes)?;
        store.mark_blob_uploaded(&stored)?;
        return Ok(bytes);
    }
    Err(last)
}

/// Syncs with `server` using `token` (a phone keeps the token in its secret store).
pub fn sync_with(
    device: &Device,
    server: &str,
    token: &str,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SyncReport> {
    sync_cancellable(device, server, token, progress, &AtomicBool::new(false))
}

/// The error a sync stops with once `cancel` is set.
pub const CANCELLED: &str = "the sync was cancelled; nothing is lost, the next sync continues";

fn check_cancelled(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::State(CANCELLED.into()))
    } else {
        Ok(())
    }
}

/// `sync_with` that stops at the next step (before a request, a retry or a photo chunk)
/// once `cancel` is set, with `Error::State(CANCELLED)`. What was acknowledged stays
/// acknowledged; the rest waits for the next sync.
pub fn sync_cancellable(
    device: &Device,
    server: &str,
    token: &str,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<SyncReport> {
    let store = device.store();
    let mut report = SyncReport::default();
    let pending: Vec<DocId> = store
        .unsynced()?
        .into_iter()
        .filter(|id| *id != crate::doc::directory::id_for(device.identity().institution))
        .collect();
    let total = pending.len();
    // Photos first: the server refuses a record naming a photo it does not have yet.
    upload_photos(device, server, token, &mut report, cancel)?;
    let mut queue = pending.into_iter().peekable();
    // A document read for a request that was already full: the next request's first.
    let mut carried: Option<PushDoc> = None;
    let mut first = true;
    loop {
        check_cancelled(cancel)?;
        // One request: as many pending documents as fit, plus whatever the server sends.
        let mut docs: Vec<PushDoc> = Vec::new();
        let (mut bytes, mut changes, mut ops) = (0usize, 0usize, 0u64);
        loop {
            let doc = match carried.take() {
                Some(d) => d,
                None => {
                    let Some(id) = queue.next() else { break };
                    let Some((heads, pending)) = store.pending_push(id)? else {
                        continue;
                    };
                    PushDoc {
                        id: id.0,
                        heads: wire::heads_to_bytes(&heads),
                        changes: pending
                            .into_iter()
                            .map(serde_bytes::ByteBuf::from)
                            .collect(),
                    }
                }
            };
            // The server's per-request limits (wire.rs), so it never refuses a whole page.
            let doc_ops: u64 = doc
                .changes
                .iter()
                .map(|c| crate::codec::claimed_ops(c))
                .sum();
            let full = docs.len() >= wire::MAX_DOCS_PER_REQUEST
                || bytes >= REQUEST_BUDGET
                || changes + doc.changes.len() > wire::MAX_CHANGES_PER_REQUEST
                || ops + doc_ops > wire::MAX_OPS_PER_REQUEST;
            if full && !docs.is_empty() {
                carried = Some(doc);
                break;
            }
            bytes += doc.changes.iter().map(|c| c.len()).sum::<usize>();
            changes += doc.changes.len();
            ops += doc_ops;
            docs.push(doc);
        }
        let settings = store.sync_settings()?;
        let req = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: settings.cursor,
            docs,
            max_update_bytes: 4 * 1024 * 1024,
        };
        let pushed = req.docs.len();
        let body = wire::encode(&req);
        let exchange = std::time::Instant::now();
        let answer = post(
            server,
            "/api/v1/sync",
            Some(token),
            wire::CONTENT_TYPE,
            &body,
            64 << 20,
            cancel,
        )?;
        report.exchange_ms += exchange.elapsed().as_millis() as u64;
        report.requests += 1;
        report.bytes_up += body.len();
        report.bytes_down += answer.len();
        report.pushed_docs += pushed;
        let resp: SyncResponse = wire::decode(&answer, 64 << 20).map_err(|e| Error::Server {
            status: 200,
            message: e.to_string(),
        })?;
        // A server restored from an older backup has a new epoch: it may have lost what
        // it acknowledged, so everything is pushed again (it keeps what it lacks).
        if first {
            first = false;
            if settings.epoch.as_deref().is_some_and(|e| e != resp.epoch) {
                tracing::warn!("the server's data was restored; pushing everything again");
                store.forget_acknowledgements()?;
                store.set_cursor(0, &resp.epoch)?;
                return sync_cancellable(device, server, token, progress, cancel);
            }
        }
        apply(device, &resp, &mut report)?;
        store.set_cursor(resp.cursor, &resp.epoch)?;
        let docs_done = total - queue.len() - usize::from(carried.is_some());
        progress(&Progress {
            phase: if queue.peek().is_some() || carried.is_some() {
                Phase::Pushing
            } else {
                Phase::Receiving
            },
            docs_done,
            docs_total: total,
            bytes_up: report.bytes_up,
            bytes_down: report.bytes_down,
        });
        if queue.peek().is_none() && carried.is_none() && !resp.more {
            break;
        }
    }
    progress(&Progress {
        phase: Phase::Done,
        docs_done: total,
        docs_total: total,
        bytes_up: report.bytes_up,
        bytes_down: report.bytes_down,
    });
    Ok(report)
}

fn apply(device: &Device, resp: &SyncResponse, report: &mut SyncReport) -> Result<()> {
    let store = device.store();
    let now = device.now();
    let directory = crate::doc::directory::id_for(device.identity().institution);
    // Everything but the directory is applied at the end, in one transaction.
    let mut received = Vec::new();
    for u in &resp.updates {
        let id = DocId(u.id);
        if u.changes.is_empty() {
            continue;
        }
        let changes: Vec<Vec<u8>> = u.changes.iter().map(|c| c.to_vec()).collect();
        if id == directory || u.kind == DocKind::Directory.code() {
            // The server owns the directory. A copy that came from the server takes the
            // news as changes; none yet, or one imported locally, is replaced by the
            // server's (the first sync brings its whole history).
            let from_server =
                store.load(id)?.is_some() && !store.acknowledged_heads(id)?.is_empty();
            if from_server {
                device.receive_changes(id, &changes)?;
            } else {
                // The same bounded check as every received change before Automerge parses
                // the bytes: `load` would also take other chunk kinds, one of which
                // (found by fuzzing stored documents) allocates 512 MB from a few bytes.
                for c in &changes {
                    crate::codec::check_change_chunk(c).map_err(|e| {
                        Error::Document(format!("a directory change is refused: {e}"))
                    })?;
                }
                let fresh = AutoCommit::load(&changes.concat()).map_err(|e| {
                    Error::Document(format!("directory from the server does not load: {e}"))
                });
                match fresh {
                    Ok(mut d) => store.replace(id, &d.save(), device.actor(), now)?,
                    // Only part of its history: ask for all of it from the start.
                    Err(e) => {
                        tracing::warn!("{e}; resyncing from the start");
                        store.set_cursor(0, &resp.epoch)?;
                        continue;
                    }
                }
            }
            let heads = store
                .load(id)?
                .map(|mut d| d.get_heads())
                .unwrap_or_default();
            store.set_acknowledged_heads(id, &heads)?;
        } else {
            received.push((id, changes));
        }
        report.received_docs += 1;
    }
    device.receive_from_server(&received)?;
    // Acknowledged: the server holds these heads durably.
    let acks = resp
        .acks
        .iter()
        .map(|a| {
            wire::heads_from_bytes(&a.heads)
                .map(|h| (DocId(a.id), h))
                .map_err(|e| Error::Server {
                    status: 200,
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    store.acknowledge(&acks)?;
    report.acknowledged += acks.len();
    for r in &resp.rejections {
        let id = DocId(r.id);
        if r.code == RejectCode::MissingDependencies {
            // Resend everything of this document next time, after the photos the server
            // lacks.
            store.set_acknowledged_heads(id, &[])?;
            for h in r.missing_photos.iter().filter_map(|h| h.parse().ok()) {
                store.mark_blob_pending(&h)?;
            }
            continue;
        }
        let code = serde_json::to_value(r.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        tracing::warn!(document = %id, %code, reason = %r.reason, "the server refused a document; quarantined");
        store.quarantine(id, &code, &r.reason, &r.server_doc, device.actor(), now)?;
        report.rejected.push((id.to_string(), r.reason.clone()));
    }
    Ok(())
}
