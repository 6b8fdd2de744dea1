//! Dashboard forms that may carry photos (report a hazard, report rectification, verify):
//! the browser sends them as `multipart/form-data` (a file input is on the form), tests
//! and scripts may send a plain urlencoded form. Both arrive here as one `FormInput`: the
//! signed-in user, the text fields, and the photos.
//!
//! Nothing of a form is read before its sender is known to be signed in, and no photo is
//! read before the form's CSRF token (the first field of every form) has been checked.
//! Photos never sit in memory: each streams to a file beside the blob store while its
//! SHA-256 is computed and its first bytes are checked to be an image; a photo over the
//! size limit is refused at the limit. They are moved into the store (`keep_photos`) only
//! once the action is allowed; otherwise their files are removed when the input is
//! dropped.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Form;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use saferound_core::ids::{BlobHash, InstitutionId};
use saferound_core::store::blobs::{DEFAULT_MAX_PHOTO_BYTES, sniff_image};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::action_error::ActionError;
use super::{MAX_FORM_BYTES, Web};
use crate::state::AppState;

/// Photos one dashboard action may carry.
pub const MAX_PHOTOS_PER_ACTION: usize = 6;
/// The body limit of the routes that take photos: every photo at its largest, plus the
/// text fields and the multipart framing. Only the photos may be large, and they go to
/// disk as they arrive.
pub const MAX_UPLOAD_BYTES: usize =
    MAX_PHOTOS_PER_ACTION * DEFAULT_MAX_PHOTO_BYTES + MAX_FORM_BYTES;
/// The name of the file input on the forms.
pub const PHOTO_FIELD: &str = "photos";

/// A photo of a form, arrived whole, checked to be an image, waiting in a file of its own
/// (removed on drop unless kept).
pub struct ArrivedPhoto {
    path: PathBuf,
    hash: BlobHash,
    size: u64,
    content_type: &'static str,
    kept: bool,
}

impl Drop for ArrivedPhoto {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A dashboard form, its CSRF token checked: who sent it, its text fields, its photos.
pub struct FormInput {
    pub web: Web,
    pub fields: HashMap<String, String>,
    pub photos: Vec<ArrivedPhoto>,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

impl FromRequest<AppState> for FormInput {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        // Signed in, or sent to the login before a byte of the body is read.
        let web = Web::from_request_parts(&mut parts, state).await?;
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            // A plain form is small: read up to the form limit, not the photos' one.
            let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
                .await
                .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large"))?;
            let req = Request::from_parts(parts, Body::from(bytes));
            let Form(fields) = Form::<HashMap<String, String>>::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            if let Some(refused) = super::form::csrf_refusal(state, &web, &fields) {
                return Err(refused);
            }
            return Ok(FormInput {
                web,
                fields,
                photos: Vec::new(),
            });
        }
        let req = Request::from_parts(parts, body);
        let mut m = Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bad = |e: axum::extract::multipart::MultipartError| refuse(e.status(), e.body_text());
        let mut fields = HashMap::new();
        let mut text_bytes = 0usize;
        let mut photos = Vec::new();
        while let Some(mut field) = m.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or("").to_string();
            text_bytes += name.len();
            if text_bytes > MAX_FORM_BYTES {
                return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large"));
            }
            if name != PHOTO_FIELD {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    text_bytes += chunk.len();
                    if text_bytes > MAX_FORM_BYTES {
                        return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large"));
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(value)
                    .map_err(|_| refuse(StatusCode::BAD_REQUEST, "form fields are UTF-8"))?;
                fields.insert(name, value);
                continue;
            }
            // The token comes first on every form: a photo before it, or with a wrong
            // one, is refused before any of its bytes are read.
            if let Some(refused) = super::form::csrf_refusal(state, &web, &fields) {
                return Err(refused);
            }
            let room = photos.len() < MAX_PHOTOS_PER_ACTION;
            if let Some(photo) = receive_photo(state, &mut field, room).await? {
                photos.push(photo);
            }
        }
        // A form without photos has its token checked here, with the rest in hand.
        if let Some(refused) = super::form::csrf_refusal(state, &web, &fields) {
            return Err(refused);
        }
        Ok(FormInput {
            web,
            fields,
            photos,
        })
    }
}

/// Streams one file part to a file beside the blob store, hashing it and checking its
/// first bytes are an image; `None` for a file input left empty (browsers still send the
/// part, with no bytes). Without `room` for another photo, its first byte is a refusal.
async fn receive_photo(
    state: &AppState,
    field: &mut axum::extract::multipart::Field<'_>,
    room: bool,
) -> Result<Option<ArrivedPhoto>, Response> {
    let internal = |e: std::io::Error| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("photo storage: {e}"),
        )
    };
    let dir = crate::http::blobs::partial_dir(state);
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let path = dir.join(format!("web-{}", uuid::Uuid::now_v7()));
    let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
    // From here on the file is removed on any return but a kept photo.
    let mut photo = ArrivedPhoto {
        path,
        hash: BlobHash::of(&[]),
        size: 0,
        content_type: "",
        kept: false,
    };
    let mut sha = sha2::Sha256::new();
    let mut head = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| refuse(e.status(), e.body_text()))?
    {
        if !room && !chunk.is_empty() {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("at most {MAX_PHOTOS_PER_ACTION} photos at a time"),
            ));
        }
        photo.size += chunk.len() as u64;
        if photo.size > DEFAULT_MAX_PHOTO_BYTES as u64 {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a photo is larger than {} MiB",
                    DEFAULT_MAX_PHOTO_BYTES / (1024 * 1024)
                ),
            ));
        }
        if head.len() < 16 {
            head.extend_from_slice(&chunk[..chunk.len().min(16 - head.len())]);
            if head.len() == 16 {
                photo.content_type = sniff_image(&head)
                    .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
            }
        }
        sha.update(&chunk);
        file.write_all(&chunk).await.map_err(internal)?;
    }
    if photo.size == 0 {
        return Ok(None);
    }
    if photo.content_type.is_empty() {
        photo.content_type =
            sniff_image(&head).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
    }
    // tokio writes in the background: flush reports a failed last write, which sync_all
    // would not; and the file must hold every byte hashed before it is kept by that hash.
    file.flush().await.map_err(internal)?;
    file.sync_all().await.map_err(internal)?;
    let written = file.metadata().await.map_err(internal)?.len();
    if written != photo.size {
        return Err(internal(std::io::Error::other(format!(
            "{written} of {} bytes written",
            photo.size
        ))));
    }
    photo.hash = hex::encode(sha.finalize())
        .parse()
        .map_err(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "photo hash"))?;
    Ok(Some(photo))
}

/// Keeps arrived photos in the blob store for `institution`, under their hashes (as a
/// phone's finished uploads are kept); their hashes, in order. Called once the action
/// they belong to is allowed.
pub async fn keep_photos(
    state: &AppState,
    institution: InstitutionId,
    uploaded_by: &str,
    photos: Vec<ArrivedPhoto>,
) -> Result<Vec<BlobHash>, ActionError> {
    let mut hashes = Vec::with_capacity(photos.len());
    for mut p in photos {
        let (st, path, hash) = (state.clone(), p.path.clone(), p.hash.to_string());
        tokio::task::spawn_blocking(move || crate::http::blobs::move_into_place(&st, &path, &hash))
            .await
            .map_err(|e| ActionError::Internal(e.to_string()))?
            .map_err(|e| ActionError::Internal(format!("photo storage: {e}")))?;
        p.kept = true;
        state
            .storage
            .record_blob(
                institution,
                &p.hash.to_string(),
                p.size,
                p.content_type,
                uploaded_by,
            )
            .await?;
        hashes.push(p.hash.clone());
    }
    Ok(hashes)
}

/// A photo the server itself holds whole (the demo's), as if it had arrived on a form.
pub async fn arrived_from_bytes(
    state: &AppState,
    bytes: &[u8],
) -> Result<ArrivedPhoto, ActionError> {
    let content_type = sniff_image(bytes).map_err(|e| ActionError::Invalid(e.to_string()))?;
    let dir = crate::http::blobs::partial_dir(state);
    let photo = ArrivedPhoto {
        path: dir.join(format!("web-{}", uuid::Uuid::now_v7())),
        hash: BlobHash::of(bytes),
        size: bytes.len() as u64,
        content_type,
        kept: false,
    };
    let io = |e: std::io::Error| ActionError::Internal(format!("photo storage: {e}"));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    tokio::fs::write(&photo.path, bytes).await.map_err(io)?;
    Ok(photo)
}
