//! JSON and sync handlers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use saferound_core::ids::{DepartmentId, DocId, InstitutionId, UserId};
use saferound_core::model::{HazardStatus, RiskGrade, Role};
use saferound_core::sync::wire::{self, SyncRequest};
use serde::{Deserialize, Serialize};

use super::{ApiError, AuthDevice};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{HazardQuery, NewDevice};

#[derive(Deserialize)]
pub struct EnrollRequest {
    pub login: String,
    pub password: String,
    /// The device's Automerge actor id (hex), bound to the device from now on.
    pub actor: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EnrollResponse {
    pub device_id: String,
    pub token: String,
    pub institution: InstitutionId,
    pub user_id: UserId,
    pub name: String,
    pub roles: Vec<Role>,
    pub department: Option<DepartmentId>,
}

/// `POST /api/v1/devices`: a user enrolls a device with their password; the answer holds
/// the device's token, shown once and kept only hashed.
pub async fn enroll(
    State(state): State<AppState>,
    super::ClientAddr(addr): super::ClientAddr,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    if req.login.len() > 100 || req.password.len() > 200 || req.name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "login, password or name too long".into(),
        ));
    }
    let actor = hex::decode(&req.actor)
        .ok()
        .filter(|a| (1..=32).contains(&a.len()))
        .ok_or_else(|| ApiError::BadRequest("actor must be 1–32 bytes of hex".into()))?;
    let user = state.storage.user_by_login(&req.login).await?;
    // Verify even for unknown logins, so timing does not reveal which logins exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    // The same throttle as the dashboard's login, counted before the password is checked.
    let ok = match crate::throttle::check(
        state.storage.as_ref(),
        &req.login,
        addr,
        &req.password,
        hash,
    )
    .await?
    {
        crate::throttle::Checked::Right => true,
        crate::throttle::Checked::Wrong => false,
        crate::throttle::Checked::Throttled(t) => {
            let login: String = req.login.chars().take(100).collect();
            let detail = format!("retry after {} s", t.retry_after_secs);
            state.audit(None, &login, "enroll_throttled", &detail).await;
            return Err(ApiError::Throttled(t.retry_after_secs));
        }
        crate::throttle::Checked::Busy(busy) => return Err(ApiError::Busy(busy)),
    };
    // An account that may not enrol a device (a provincial reviewer belongs to no
    // institution) gets the same 401 as a wrong password: the answer never tells a
    // guesser that the password was right.
    let user = match user {
        Some(u) if ok && u.active && u.institution.is_some() => u,
        other => {
            Metrics::add(&state.metrics.auth_failures, 1);
            let why = match &other {
                Some(u) if ok && u.active => "this account does not enrol devices",
                _ => "wrong login or password",
            };
            let login: String = req.login.chars().take(100).collect();
            state
                .audit(other.as_ref(), &login, "enroll_failed", why)
                .await;
            return Err(ApiError::Unauthenticated);
        }
    };
    let Some(institution) = user.institution else {
        return Err(ApiError::Unauthenticated);
    };
    let token = crate::accounts::new_secret();
    let device_id = uuid::Uuid::now_v7().to_string();
    state
        .storage
        .enroll_device(&NewDevice {
            id: device_id.clone(),
            user: user.id,
            institution,
            actor,
            token_hash: crate::accounts::token_hash(&token),
            name: req.name,
        })
        .await?;
    tracing::info!(device = %device_id, user = %user.id, "device enrolled");
    state
        .audit(Some(&user), &user.login, "device_enrolled", &device_id)
        .await;
    Metrics::add(&state.metrics.enrollments, 1);
    Ok(Json(EnrollResponse {
        device_id,
        token,
        institution,
        user_id: user.id,
        name: user.name,
        roles: user.roles,
        department: user.department,
    }))
}

/// `DELETE /api/v1/devices/{id}`: an administrator revokes a device (a lost phone).
pub async fn revoke_device(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if !me.user.roles.contains(&Role::Administrator) {
        return Err(ApiError::Forbidden(
            "only administrators revoke devices".into(),
        ));
    }
    if state
        .storage
        .revoke_device(Some(me.institution), &id)
        .await?
    {
        Ok(Json(serde_json::json!({"revoked": id})))
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /api/v1/sync`: CBOR in, CBOR out.
pub async fn sync(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && ct != wire::CONTENT_TYPE
    {
        return Err(ApiError::BadRequest(format!(
            "content type must be {}",
            wire::CONTENT_TYPE
        )));
    }
    // A slot before the body is read: a device cannot hold many bodies at once, and the
    // bodies read at once fit a budget of bytes (by their declared length; a body sent
    // without one is counted at the largest size).
    // A body declared past the limit is still read up to it, then refused (413): the
    // client gets its answer instead of a connection closed under its writes.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let _slot = state
        .syncs
        .admit(
            &device.device_id,
            declared.map_or(wire::MAX_REQUEST_BYTES, |n| n.min(wire::MAX_REQUEST_BYTES)),
        )
        .await
        .map_err(|e| ApiError::Busy(e.to_string()))?;
    let body = axum::body::to_bytes(body, wire::MAX_REQUEST_BYTES)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest(format!("the request body did not arrive: {e}"))
            }
        })?;
    // From the whole body received to the answer encoded: the server's own time.
    let started = std::time::Instant::now();
    let body_len = body.len();
    let req: SyncRequest = super::decoder::decode(body).await.map_err(|e| match e {
        wire::WireError::TooLarge(_) => ApiError::TooLarge,
        other => ApiError::BadRequest(other.to_string()),
    })?;
    if req.protocol != wire::PROTOCOL_VERSION {
        return Err(ApiError::UpgradeRequired(
            req.protocol,
            wire::PROTOCOL_VERSION,
        ));
    }
    let n = req.docs.len();
    let resp = crate::sync::handle(
        state.storage.as_ref(),
        &device,
        req,
        saferound_core::ids::Timestamp(state.now()),
    )
    .await?;
    let m = &state.metrics;
    let answer = wire::encode(&resp);
    Metrics::add(&m.sync_requests, 1);
    Metrics::add(&m.sync_docs_pushed, n as u64);
    Metrics::add(&m.sync_acks, resp.acks.len() as u64);
    Metrics::add(&m.sync_rejections, resp.rejections.len() as u64);
    Metrics::add(&m.sync_updates, resp.updates.len() as u64);
    m.sync_took(started.elapsed());
    Metrics::add(&m.bytes_in, body_len as u64);
    Metrics::add(&m.bytes_out, answer.len() as u64);
    tracing::info!(
        device = %device.device_id,
        pushed = n,
        acks = resp.acks.len(),
        rejections = resp.rejections.len(),
        updates = resp.updates.len(),
        ms = started.elapsed().as_millis() as u64,
        "sync"
    );
    Ok(([(header::CONTENT_TYPE, wire::CONTENT_TYPE)], answer))
}

#[derive(Deserialize, Default)]
pub struct HazardParams {
    pub site: Option<String>,
    /// Hazards at sites of this department.
    pub department: Option<String>,
    pub category: Option<String>,
    pub risk: Option<RiskGrade>,
    pub status: Option<HazardStatus>,
    pub campaign: Option<String>,
    #[serde(default)]
    pub overdue: bool,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// Who may read the ledger of which institution: everyone in it; provincial reviewers
/// (no institution of their own) every institution, read-only.
fn scope(me: &crate::store::DeviceAuth) -> Result<Option<InstitutionId>, ApiError> {
    if me.user.roles.contains(&Role::ProvincialReviewer) && me.user.institution.is_none() {
        return Ok(None);
    }
    Ok(Some(me.institution))
}

/// `GET /api/v1/hazards`: the ledger with filters and paging.
pub async fn hazards(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Query(p): Query<HazardParams>,
) -> Result<impl IntoResponse, ApiError> {
    // Overdue is judged on the server's clock (fixed by `--now` in tests).
    let inst = scope(&me)?;
    let tz = state.tz(inst).await;
    let today = state.today_in(tz);
    let q = hazard_query(p, inst, today, tz);
    let (rows, total) = state.storage.hazards(&q).await?;
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|h| {
            let overdue = crate::export::is_overdue(&h, today);
            let mut v = serde_json::to_value(&h).unwrap_or_default();
            v["overdue"] = serde_json::Value::Bool(overdue);
            v
        })
        .collect();
    Ok(Json(serde_json::json!({"total": total, "hazards": rows})))
}

/// The ledger query of `GET /api/v1/hazards`'s parameters.
pub fn hazard_query(
    p: HazardParams,
    institution: Option<InstitutionId>,
    today: chrono::NaiveDate,
    tz: chrono::FixedOffset,
) -> HazardQuery {
    let at = |d: chrono::NaiveDate| format!("{}T00:00:00.000{tz}", d.format("%Y-%m-%d"));
    HazardQuery {
        institution,
        site: p.site,
        department: p.department,
        category: p.category,
        min_risk_rank: p.risk.map(|r| r as i64),
        status: p.status.map(|s| s.code().to_string()),
        campaign: p.campaign,
        overdue_before: p.overdue.then(|| today.format("%Y-%m-%d").to_string()),
        // Stored instants are UTC; compare against the local midnight as UTC.
        reported_from: p.from.map(|d| utc_of(&at(d))),
        reported_before: p.to.map(|d| utc_of(&at(d))),
        limit: p.limit.unwrap_or(50).min(500),
        offset: p.offset.unwrap_or(0),
        ..Default::default()
    }
}

fn utc_of(local: &str) -> String {
    local
        .parse::<saferound_core::ids::Timestamp>()
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `GET /api/v1/hazards/{id}`: one hazard with its history and conflicts. Another
/// institution's hazard answers exactly like a missing one.
pub async fn hazard(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: DocId = id.parse().map_err(|_| ApiError::NotFound)?;
    let h = state
        .storage
        .hazard(scope(&me)?, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Photos from the ledger: the report's (before) and each later event's (after).
    let inst: InstitutionId = h
        .institution
        .parse()
        .map_err(|_| ApiError::Internal("institution id".into()))?;
    let photos = state.storage.hazard_photos(inst, id).await?;
    let mut v = serde_json::to_value(&h).map_err(|e| ApiError::Internal(e.to_string()))?;
    v["photos"] = serde_json::to_value(&photos).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct PageParams {
    pub site: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// `GET /api/v1/inspections`: inspections of the ledger, newest first, paged.
pub async fn inspections(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Query(p): Query<PageParams>,
) -> Result<impl IntoResponse, ApiError> {
    let (rows, total) = state
        .storage
        .inspections(
            scope(&me)?,
            p.site,
            p.limit.unwrap_or(50).min(500),
            p.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(
        serde_json::json!({"total": total, "inspections": rows}),
    ))
}

/// `GET /api/v1/summary`: counts for the safety office.
pub async fn summary(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(state.storage.counts(scope(&me)?).await?))
}

#[derive(Deserialize)]
pub struct NewDepartmentRequest {
    pub name: String,
}

fn require_admin(me: &crate::store::DeviceAuth) -> Result<(), ApiError> {
    if me.user.roles.contains(&Role::Administrator) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only administrators manage the institution".into(),
        ))
    }
}

fn bounded(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{field} is required, at most {max} characters"
        )));
    }
    Ok(v.to_string())
}

/// `POST /api/v1/admin/departments`
pub async fn create_department(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Json(req): Json<NewDepartmentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&me)?;
    let d = crate::store::Department {
        id: DepartmentId::new(),
        institution: me.institution,
        name: bounded("name", &req.name, 100)?,
    };
    state.storage.create_department(&d).await?;
    crate::directory::refresh(&state, me.institution).await?;
    Ok(Json(serde_json::json!({"id": d.id, "name": d.name})))
}

#[derive(Deserialize)]
pub struct NewSiteRequest {
    pub name: String,
    pub kind: saferound_core::model::SiteKind,
    pub department: DepartmentId,
    #[serde(default)]
    pub building: String,
    #[serde(default)]
    pub floor_room: String,
}

/// `POST /api/v1/admin/sites`
pub async fn create_site(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Json(req): Json<NewSiteRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&me)?;
    if !state
        .storage
        .departments(me.institution)
        .await?
        .iter()
        .any(|d| d.id == req.department)
    {
        return Err(ApiError::BadRequest(
            "no such department in this institution".into(),
        ));
    }
    let site = crate::store::Site {
        id: saferound_core::ids::SiteId::new(),
        institution: me.institution,
        department: req.department,
        name: bounded("name", &req.name, 100)?,
        kind: req.kind,
        building: req.building.chars().take(100).collect(),
        floor_room: req.floor_room.chars().take(100).collect(),
    };
    state.storage.create_site(&site).await?;
    crate::directory::refresh(&state, me.institution).await?;
    Ok(Json(serde_json::json!({"id": site.id, "name": site.name})))
}

#[derive(Deserialize)]
pub struct NewUserRequest {
    pub login: String,
    pub name: String,
    pub password: String,
    pub roles: Vec<Role>,
    pub department: Option<DepartmentId>,
}

/// `POST /api/v1/admin/users`: an administrator creates a user of their institution.
pub async fn create_user(
    State(state): State<AppState>,
    AuthDevice(me): AuthDevice,
    Json(req): Json<NewUserRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !me.user.roles.contains(&Role::Administrator) {
        return Err(ApiError::Forbidden(
            "only administrators manage users".into(),
        ));
    }
    // The same checks as the dashboard's user form (`people::user`).
    let new = crate::people::NewUser {
        login: &req.login,
        name: &req.name,
        password: &req.password,
        roles: &req.roles,
        department: req.department,
    };
    let user = crate::people::user(state.storage.as_ref(), me.institution, new)
        .await
        .map_err(|e| match e {
            crate::people::Refused::Invalid(m) => ApiError::BadRequest(m),
            crate::people::Refused::Busy(m) => ApiError::Busy(m),
            crate::people::Refused::Store(e) => e.into(),
        })?;
    state.storage.create_user(&user).await?;
    crate::directory::refresh(&state, me.institution).await?;
    Ok(Json(user))
}
