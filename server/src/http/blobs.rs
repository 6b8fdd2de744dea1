//! Photos: uploaded separately from documents, addressed by SHA-256, verified on
//! arrival, resumable. `HEAD` tells how much of an upload the server holds; `PUT` with
//! `Upload-Offset` appends from there; once `Upload-Length` bytes are in, the hash and
//! the image type are checked and the photo becomes visible to the institution.

use std::io::Write;
use std::path::PathBuf;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use saferound_core::ids::BlobHash;
use saferound_core::store::blobs::{DEFAULT_MAX_PHOTO_BYTES, sniff_image};

use super::{ApiError, AuthDevice};
use crate::metrics::Metrics;
use crate::state::AppState;

pub fn parse_hash(s: &str) -> Result<String, ApiError> {
    s.parse::<BlobHash>()
        .map(|h| h.to_string())
        .map_err(|_| ApiError::BadRequest("a blob is named by its SHA-256 in lowercase hex".into()))
}

fn final_path(state: &AppState, hash: &str) -> PathBuf {
    state.blobs.join(&hash[..2]).join(hash)
}

/// A phone's upload in progress, keyed by its device: one device cannot append to (or
/// learn about) another's partial upload of the same photo.
fn partial_path(state: &AppState, me: &crate::store::DeviceAuth, hash: &str) -> PathBuf {
    partial_dir(state).join(format!("{}-{}-{hash}", me.institution, me.device_id))
}

/// Where photos wait while they arrive (a phone's resumable uploads, a dashboard form's
/// photos): beside the store, on the same file system, so moving one into place is a
/// rename.
pub fn partial_dir(state: &AppState) -> PathBuf {
    state.blobs.join("partial")
}

/// A photo no document references is kept this long after it arrived whole (the phone
/// pushes the record naming it right after uploading it), then removed.
pub const UNREFERENCED_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A partial upload nobody appended to for this long is removed.
pub const PARTIAL_EXPIRY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Serializes putting a file in place with removing one: an expired photo's file is never
/// removed while an upload of the same bytes (another institution's) is placing it.
static PLACING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Moves a photo that arrived whole and was checked (hash, image type) from `partial` to
/// its place under its hash; a photo already there (same hash, same bytes) is kept,
/// marked as just used, and `partial` removed. Blocking file work: call it off the async
/// threads.
pub fn move_into_place(
    state: &AppState,
    partial: &std::path::Path,
    hash: &str,
) -> std::io::Result<()> {
    let fin = final_path(state, hash);
    let _placing = PLACING.lock().unwrap_or_else(|p| p.into_inner());
    if fin.exists() {
        // The sweeper leaves files used recently alone (other servers sharing the folder
        // do not share the lock).
        std::fs::File::options()
            .append(true)
            .open(&fin)?
            .set_modified(std::time::SystemTime::now())?;
        return std::fs::remove_file(partial);
    }
    if let Some(dir) = fin.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::rename(partial, &fin)
}

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Photos no document referenced within `UNREFERENCED_GRACE`, whose files went.
    pub unreferenced: usize,
    /// Partial uploads untouched for `PARTIAL_EXPIRY`.
    pub partial: usize,
}

/// Removes photos nothing references after their grace, and stale partial uploads.
/// Judged by the system clock (how long files have really been kept), not `--now`.
pub async fn sweep(state: &AppState) -> Result<Swept, crate::store::StoreError> {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(UNREFERENCED_GRACE).unwrap_or(chrono::Duration::MAX);
    let orphans = state
        .storage
        .expire_blobs(&saferound_core::ids::Timestamp(cutoff).to_string())
        .await?;
    let st = state.clone();
    let swept = tokio::task::spawn_blocking(move || {
        let stale = |p: &std::path::Path, age: std::time::Duration| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|e| e >= age)
        };
        let mut swept = Swept::default();
        for h in orphans {
            let fin = final_path(&st, &h);
            let _placing = PLACING.lock().unwrap_or_else(|p| p.into_inner());
            if stale(&fin, UNREFERENCED_GRACE) && std::fs::remove_file(&fin).is_ok() {
                swept.unreferenced += 1;
            }
        }
        for entry in std::fs::read_dir(partial_dir(&st))
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = entry.path();
            if stale(&p, PARTIAL_EXPIRY) && std::fs::remove_file(&p).is_ok() {
                swept.partial += 1;
            }
        }
        swept
    })
    .await
    .map_err(|e| crate::store::StoreError::Task(e.to_string()))?;
    if swept != Swept::default() {
        tracing::info!(?swept, "photos swept");
    }
    Ok(swept)
}

/// Sweeps now and then every `period`, for as long as the server runs.
pub async fn sweep_every(state: AppState, period: std::time::Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&state).await {
            tracing::warn!("sweeping photos: {e}");
        }
    }
}

/// Bytes of partial uploads waiting in `dir`: of `device`, and of its whole institution.
fn partial_bytes(dir: &std::path::Path, me: &crate::store::DeviceAuth) -> (u64, u64) {
    let (inst, mine) = (
        format!("{}-", me.institution),
        format!("{}-{}-", me.institution, me.device_id),
    );
    let (mut of_device, mut of_institution) = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(&inst) {
            continue;
        }
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        of_institution += len;
        if name.starts_with(&mine) {
            of_device += len;
        }
    }
    (of_device, of_institution)
}

/// Refuses `more` bytes of upload past the device's or the institution's quota of photos
/// no document references yet (arrived or arriving).
async fn within_quota(
    state: &AppState,
    me: &crate::store::DeviceAuth,
    more: u64,
) -> Result<(), ApiError> {
    let (done_mine, done_all) = state
        .storage
        .unreferenced_blob_bytes(me.institution, &me.device_id.to_string())
        .await?;
    let (dir, who) = (partial_dir(state), me.clone());
    let (part_mine, part_all) = tokio::task::spawn_blocking(move || partial_bytes(&dir, &who))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mib = |b: u64| b / (1024 * 1024);
    let quota = state.photo_quota;
    if done_mine + part_mine + more > quota.device {
        return Err(ApiError::Quota(format!(
            "this device's photos not yet used by a synced record reach its quota of {} MiB: sync the records that use them, then upload the rest",
            mib(quota.device)
        )));
    }
    if done_all + part_all + more > quota.institution {
        return Err(ApiError::Quota(format!(
            "the institution's photos not yet used by a synced record reach its quota of {} MiB: try again later",
            mib(quota.institution)
        )));
    }
    Ok(())
}

/// Where an upload's body goes and how long the whole photo is, from `Upload-Offset`
/// (default 0) and `Upload-Length`; refused past the photo size limit. The headers are
/// the device's: an offset near `u64::MAX` must be a refusal, not an overflow.
pub fn upload_range(headers: &HeaderMap, body_len: usize) -> Result<(u64, Option<u64>), ApiError> {
    let offset = header_u64(headers, "upload-offset")?.unwrap_or(0);
    let total = header_u64(headers, "upload-length")?;
    let max = DEFAULT_MAX_PHOTO_BYTES as u64;
    let end = offset.checked_add(body_len as u64);
    if total.is_some_and(|t| t > max) || end.is_none_or(|e| e > max) {
        return Err(ApiError::TooLarge);
    }
    if let (Some(t), Some(e)) = (total, end)
        && e > t
    {
        return Err(ApiError::BadRequest(
            "the body goes past Upload-Length".into(),
        ));
    }
    Ok((offset, total))
}

fn header_u64(h: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a number"))),
    }
}

fn offset_response(status: StatusCode, offset: u64, complete: bool) -> Response {
    let mut r = (
        status,
        Json(serde_json::json!({"offset": offset, "complete": complete})),
    )
        .into_response();
    r.headers_mut()
        .insert("upload-offset", HeaderValue::from(offset));
    r
}

/// `HEAD /api/v1/blobs/{hash}`: 200 when complete, 204 with `Upload-Offset` while partial,
/// 404 when nothing arrived yet.
pub async fn head(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    if let Some((size, _)) = state.storage.blob(me.institution, &hash).await? {
        return Ok(offset_response(StatusCode::OK, size, true));
    }
    match std::fs::metadata(partial_path(&state, &me, &hash)) {
        Ok(m) => Ok(offset_response(StatusCode::NO_CONTENT, m.len(), false)),
        Err(_) => Err(ApiError::NotFound),
    }
}

/// `PUT /api/v1/blobs/{hash}`: appends the body at `Upload-Offset` (default 0).
pub async fn put(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    if let Some((size, _)) = state.storage.blob(me.institution, &hash).await? {
        return Ok(offset_response(StatusCode::OK, size, true));
    }
    let (offset, total) = upload_range(&headers, body.len())?;
    within_quota(&state, &me, body.len() as u64).await?;
    let partial = partial_path(&state, &me, &hash);
    let (hash2, state2) = (hash.clone(), state.clone());
    // File work is blocking: off the async threads.
    let outcome =
        tokio::task::spawn_blocking(move || -> Result<(u64, Option<&'static str>), ApiError> {
            let io = |e: std::io::Error| ApiError::Internal(format!("blob storage: {e}"));
            if let Some(dir) = partial.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
            if have != offset {
                return Err(ApiError::Conflict(format!(
                    "the server holds {have} bytes of this upload; resume from there"
                )));
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&partial)
                .map_err(io)?;
            f.write_all(&body).map_err(io)?;
            f.sync_all().map_err(io)?;
            let now = have + body.len() as u64;
            if total != Some(now) {
                return Ok((now, None));
            }
            let bytes = std::fs::read(&partial).map_err(io)?;
            if BlobHash::of(&bytes).to_string() != hash2 {
                let _ = std::fs::remove_file(&partial);
                return Err(ApiError::BadRequest(
                    "the bytes do not match their SHA-256; upload again".into(),
                ));
            }
            let ct = match sniff_image(&bytes) {
                Ok(ct) => ct,
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    return Err(ApiError::BadRequest(e.to_string()));
                }
            };
            move_into_place(&state2, &partial, &hash2).map_err(io)?;
            Ok((now, Some(ct)))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Metrics::add(
        &state.metrics.blob_bytes_in,
        outcome.0.saturating_sub(offset),
    );
    match outcome {
        (n, Some(ct)) => {
            state
                .storage
                .record_blob(me.institution, &hash, n, ct, &me.device_id.to_string())
                .await?;
            Ok(offset_response(StatusCode::CREATED, n, true))
        }
        (n, None) => Ok(offset_response(StatusCode::ACCEPTED, n, false)),
    }
}

/// `GET /api/v1/blobs/{hash}`: the photo, if the caller's institution holds it.
pub async fn get(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let (_, ct) = state
        .storage
        .blob(me.institution, &hash)
        .await?
        .ok_or(ApiError::NotFound)?;
    let bytes = tokio::fs::read(final_path(&state, &hash))
        .await
        .map_err(|_| ApiError::NotFound)?;
    use axum::http::header;
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            // Judged from the first bytes only: nothing may sniff another type.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; frame-ancestors 'none'".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
