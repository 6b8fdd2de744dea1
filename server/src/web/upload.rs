//! Dashboard forms that may carry photos (report a hazard, report rectification, verify):
//! the browser sends them as `multipart/form-data` when a file input is on the form, or
//! as a plain urlencoded form without one. Both arrive here as one `FormInput`: the
//! text fields, and the photos held in memory (bounded by the route's body limit) until
//! the handler has checked the CSRF token; only then are they checked as images and kept
//! in the blob store, addressed by their SHA-256 like a phone's uploads.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use saferound_core::ids::{BlobHash, InstitutionId};
use saferound_core::store::blobs::{DEFAULT_MAX_PHOTO_BYTES, sniff_image};

use super::MAX_FORM_BYTES;
use super::actions::ActionError;
use crate::AppState;

/// Photos one dashboard action may carry.
pub const MAX_PHOTOS_PER_ACTION: usize = 6;
/// The body limit of the routes that take photos: every photo at its largest, plus the
/// text fields and the multipart framing.
pub const MAX_UPLOAD_BYTES: usize =
    MAX_PHOTOS_PER_ACTION * DEFAULT_MAX_PHOTO_BYTES + MAX_FORM_BYTES;
/// The name of the file input on the forms.
pub const PHOTO_FIELD: &str = "photos";

/// A dashboard form: its text fields, and the photos chosen on it (not yet checked).
pub struct FormInput {
    pub fields: HashMap<String, String>,
    pub photos: Vec<Vec<u8>>,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

impl<S: Send + Sync> FromRequest<S> for FormInput {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let Form(fields) = Form::<HashMap<String, String>>::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            if fields.values().map(String::len).sum::<usize>() > MAX_FORM_BYTES {
                return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large"));
            }
            return Ok(FormInput {
                fields,
                photos: Vec::new(),
            });
        }
        let mut m = Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut fields = HashMap::new();
        let mut text_bytes = 0usize;
        let mut photos = Vec::new();
        while let Some(mut field) = m
            .next_field()
            .await
            .map_err(|e| refuse(e.status(), e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == PHOTO_FIELD {
                // Read in chunks so one oversized file is refused at its limit, not after.
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| refuse(e.status(), e.body_text()))?
                {
                    if bytes.len() + chunk.len() > DEFAULT_MAX_PHOTO_BYTES {
                        return Err(refuse(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "a photo is larger than {} MB",
                                DEFAULT_MAX_PHOTO_BYTES / (1024 * 1024)
                            ),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // A file input left empty still sends a part, with no bytes.
                if bytes.is_empty() {
                    continue;
                }
                if photos.len() == MAX_PHOTOS_PER_ACTION {
                    return Err(refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("at most {MAX_PHOTOS_PER_ACTION} photos at a time"),
                    ));
                }
                photos.push(bytes);
            } else {
                let value = field
                    .text()
                    .await
                    .map_err(|e| refuse(e.status(), e.body_text()))?;
                text_bytes += name.len() + value.len();
                if text_bytes > MAX_FORM_BYTES {
                    return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large"));
                }
                fields.insert(name, value);
            }
        }
        Ok(FormInput { fields, photos })
    }
}

/// Checks each photo is a JPEG or PNG image and keeps it in the blob store for
/// `institution` (as a phone's finished upload would be kept); their hashes, in order.
pub async fn keep_photos(
    state: &AppState,
    institution: InstitutionId,
    photos: Vec<Vec<u8>>,
) -> Result<Vec<BlobHash>, ActionError> {
    let mut hashes = Vec::with_capacity(photos.len());
    for (i, bytes) in photos.into_iter().enumerate() {
        let content_type = sniff_image(&bytes)
            .map_err(|e| ActionError::Invalid(format!("photo {}: {e}", i + 1)))?;
        let hash = BlobHash::of(&bytes);
        let size = bytes.len() as u64;
        crate::http::blobs::write_whole(state, &hash.to_string(), bytes)
            .await
            .map_err(|e| ActionError::Internal(e.to_string()))?;
        state
            .storage
            .record_blob(institution, &hash.to_string(), size, content_type)
            .await?;
        hashes.push(hash);
    }
    Ok(hashes)
}
