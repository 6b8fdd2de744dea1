//! The HTTP surface: routes, authentication, and the one error type every handler uses.

pub mod admission;
pub mod api;
pub mod blobs;
mod decoder;
pub mod guard;
pub mod origin;
pub mod serve;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use saferound_core::sync::wire;

use crate::state::AppState;
use crate::store::{DeviceAuth, StoreError};

/// The body of a login or an enrolment: a login name, a password, a device name.
pub const SMALL_BODY: usize = 8 * 1024;
/// The body of an administrative JSON request.
pub const ADMIN_BODY: usize = 64 * 1024;

/// The device API and `/healthz`, each route with its body limit (the dashboard's routes
/// are `web::routes`; `app::app` joins them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // Nothing large is read before the caller is known: enrolment carries a login
        // and a password, the admin API a few fields.
        .route(
            "/api/v1/devices",
            post(api::enroll).layer(DefaultBodyLimit::max(SMALL_BODY)),
        )
        .route(
            "/api/v1/devices/{id}",
            axum::routing::delete(api::revoke_device),
        )
        .route("/api/v1/sync", post(api::sync))
        .route(
            "/api/v1/blobs/{hash}",
            get(blobs::get).head(blobs::head).put(blobs::put),
        )
        .route("/api/v1/hazards", get(api::hazards))
        .route("/api/v1/hazards/{id}", get(api::hazard))
        .route("/api/v1/summary", get(api::summary))
        .route("/api/v1/inspections", get(api::inspections))
        .route(
            "/api/v1/admin/users",
            post(api::create_user).layer(DefaultBodyLimit::max(ADMIN_BODY)),
        )
        .route(
            "/api/v1/admin/departments",
            post(api::create_department).layer(DefaultBodyLimit::max(ADMIN_BODY)),
        )
        .route(
            "/api/v1/admin/sites",
            post(api::create_site).layer(DefaultBodyLimit::max(ADMIN_BODY)),
        )
        .layer(DefaultBodyLimit::max(wire::MAX_REQUEST_BYTES))
}

/// Every failure a handler can answer with. Internal details are logged, not returned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("this app speaks sync protocol {0}; the server speaks {1}: please update the app")]
    UpgradeRequired(u32, u32),
    /// The server's storage is full: nothing of the request was kept, the device keeps
    /// its changes and retries later (503 with Retry-After).
    #[error(
        "the server's storage is full; nothing was lost, your changes stay on this device: try again later"
    )]
    StorageFull,
    /// The database is unreachable or busy for a moment (PostgreSQL restarting, a lost
    /// connection, a full pool): nothing was kept, the device retries (503, Retry-After).
    #[error(
        "the server's storage is unavailable for a moment; nothing was lost, your changes stay on this device: try again later"
    )]
    Unavailable,
    /// Too much of one kind of work at once (password checks): 503, retry shortly.
    #[error("{0}")]
    Busy(String),
    /// Past a storage quota (photos not yet referenced): 507, with what to do.
    #[error("{0}")]
    Quota(String),
    /// Too many password attempts: 429, retry after this many seconds.
    #[error("too many password attempts; try again in {0} s")]
    Throttled(i64),
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            e if e.disk_full() => {
                tracing::error!("the database is full: {e}");
                ApiError::StorageFull
            }
            e if e.transient() => {
                tracing::warn!("storage unavailable for now: {e}");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::sync::SyncError> for ApiError {
    fn from(e: crate::sync::SyncError) -> Self {
        match e {
            crate::sync::SyncError::Store(s) => s.into(),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UpgradeRequired(..) => StatusCode::UPGRADE_REQUIRED,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Quota(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::StorageFull | ApiError::Unavailable | ApiError::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(detail) => {
                tracing::error!("{detail}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut r = (
            status,
            axum::Json(serde_json::json!({"error": self.to_string()})),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        }
        if let ApiError::Throttled(secs) = &self
            && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// The client's address: the connection's peer, or, when the peer is a reverse proxy on
/// this machine (loopback), the last address it appended to `X-Forwarded-For`. Absent
/// when the request did not come through `serve` (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

/// The peer address `serve` puts on every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(Peer(peer)) = parts.extensions.get::<Peer>().copied() else {
            return Ok(ClientAddr(None));
        };
        let forwarded = peer.ip().is_loopback().then(|| {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok())
        });
        Ok(ClientAddr(Some(forwarded.flatten().unwrap_or(peer.ip()))))
    }
}

/// The token of `Authorization: Bearer <token>`, if the header is one of sensible size.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// An enrolled, non-revoked device, from `Authorization: Bearer <token>`.
pub struct AuthDevice(pub DeviceAuth);

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let device = state
            .storage
            .device_by_token(crate::accounts::token_hash(token))
            .await?;
        let Some(device) = device else {
            crate::metrics::Metrics::add(&state.metrics.auth_failures, 1);
            return Err(ApiError::Unauthenticated);
        };
        Ok(AuthDevice(device))
    }
}
