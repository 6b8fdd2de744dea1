//! SafeRound server: merges every device's documents into the institution's hazard
//! ledger. `http` is the surface, `sync` the merge of device changes, `ledger` the
//! projection the safety office reads, `store` everything persisted.

pub mod accounts;
pub mod app;
pub mod backup;
pub mod directory;
pub mod export;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod ledger;
pub mod people;
pub mod store;
pub mod sync;
pub mod throttle;
pub mod web;

use std::sync::Arc;

use chrono::FixedOffset;
use saferound_core::demo;
use saferound_core::ids::{InstitutionId, UserId};
use saferound_core::model::Role;

use crate::store::{Department, Site, Store, User};

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Store>,
    /// This server process's own Automerge actor, for documents it writes itself.
    pub actor: automerge::ActorId,
    /// Verified against for unknown logins, so a failed login takes as long either way.
    pub dummy_hash: String,
    pub metrics: Arc<http::metrics::Metrics>,
    /// SHA-256 of the bearer token a scraper shows for `/metrics` (`--metrics-token`);
    /// without one, only an administrator's dashboard session reads it.
    pub metrics_token: Option<[u8; 32]>,
    /// Where photo files live.
    pub blobs: std::path::PathBuf,
    /// "What time is it" for overdue, due soon and deadlines: the system clock, or a
    /// fixed instant set with `--now` / `SAFEROUND_NOW` (tests and demonstrations).
    pub clock: Arc<dyn saferound_core::Clock>,
    /// The web dashboard: templates, failed-login counters, incident webhook.
    pub web: Arc<web::WebState>,
    /// How browsers reach the server (`--public-url`, TLS): cookies, HSTS, origin checks.
    pub origin: Arc<http::guard::Origin>,
    /// Syncs running at once: one per device, `MAX_SYNCS` in all.
    pub syncs: Arc<http::admission::Admission>,
    /// Bytes of photos no record uses yet that a device, and an institution, may hold.
    pub photo_quota: http::blobs::PhotoQuota,
    /// Started with `--demo`: its logins share a published password, which the login
    /// page warns about.
    pub demo: bool,
}

impl AppState {
    pub fn new(storage: Arc<Store>, blobs: std::path::PathBuf) -> Self {
        AppState {
            storage,
            actor: automerge::ActorId::random(),
            dummy_hash: accounts::hash_password("not a real password"),
            metrics: Default::default(),
            metrics_token: None,
            blobs,
            clock: Arc::new(saferound_core::SystemClock),
            web: Arc::new(web::WebState::new()),
            origin: Default::default(),
            demo: false,
            syncs: Default::default(),
            photo_quota: Default::default(),
        }
    }

    /// The same state with other photo quotas (`--device-photo-quota-mib`, …).
    pub fn with_photo_quota(mut self, quota: http::blobs::PhotoQuota) -> Self {
        self.photo_quota = quota;
        self
    }

    /// The same state, reached by browsers as `origin` says.
    pub fn with_origin(mut self, origin: http::guard::Origin) -> Self {
        self.origin = Arc::new(origin);
        self
    }

    /// The same state, with `/metrics` open to scrapers that show `token`.
    pub fn with_metrics_token(mut self, token: &str) -> Self {
        self.metrics_token = Some(accounts::token_hash(token));
        self
    }

    /// The same state with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn saferound_core::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Writes an entry to the audit log of the user's institution (none for a login
    /// nobody has); a failure to write it is logged, never the caller's failure.
    pub async fn audit(&self, user: Option<&store::User>, login: &str, action: &str, detail: &str) {
        let inst = user.and_then(|u| u.institution);
        if let Err(e) = self.storage.audit(inst, user, login, action, detail).await {
            tracing::error!("audit log: {e}");
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The institution's time zone (its UTC offset), from the institutions table; the
    /// default (+08:00) for the province's reviewers, who span institutions, or when the
    /// institution cannot be read.
    pub async fn tz(&self, institution: Option<InstitutionId>) -> FixedOffset {
        let Some(inst) = institution else {
            return saferound_core::clock::default_tz();
        };
        match self.storage.institution_tz(inst).await {
            Ok(Some((minutes, _))) => {
                offset(minutes).unwrap_or_else(saferound_core::clock::default_tz)
            }
            Ok(None) => saferound_core::clock::default_tz(),
            Err(e) => {
                tracing::warn!("time zone of {inst}: {e}");
                saferound_core::clock::default_tz()
            }
        }
    }

    /// Today in time zone `tz`.
    pub fn today_in(&self, tz: FixedOffset) -> chrono::NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }
}

/// Parses a UTC offset written `+08:00`, `-05:30` or `+8` into minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let s = s.strip_prefix("UTC").unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 {
        return None;
    }
    let minutes = sign * (h * 60 + m);
    offset(minutes).map(|_| minutes)
}

/// Sets the institution's time zone and carries it to the phones in the directory.
pub async fn set_time_zone(
    state: &AppState,
    institution: InstitutionId,
    minutes: i32,
    name: &str,
) -> Result<bool, sync::SyncError> {
    if !state
        .storage
        .set_institution_tz(institution, minutes, name)
        .await?
    {
        return Ok(false);
    }
    directory::refresh(state, institution).await?;
    Ok(true)
}

/// The offset of `minutes` east of UTC, if it is a real one (within ±14 h).
pub fn offset(minutes: i32) -> Option<FixedOffset> {
    if minutes.abs() > 14 * 60 {
        return None;
    }
    FixedOffset::east_opt(minutes * 60)
}

/// The password of every demo person.
pub const DEMO_PASSWORD: &str = "saferound-demo";

/// On an empty database, creates the administrator and returns the one-time password.
pub async fn bootstrap_admin(state: &AppState) -> Result<Option<String>, store::StoreError> {
    if state.storage.user_count().await? > 0 {
        return Ok(None);
    }
    let password = accounts::new_password();
    let id = UserId::new();
    // The administrator belongs to the demo institution when there is one; otherwise to
    // the first institution an operator creates (see `admin` subcommands).
    state
        .storage
        .create_user(&User {
            id,
            institution: None,
            department: None,
            login: "admin".into(),
            name: "Administrator".into(),
            roles: vec![Role::Administrator],
            password_hash: accounts::hash_password(&password),
            active: true,
        })
        .await?;
    // Printed once on the console: it must be changed at first login.
    state.storage.set_password_due(id).await?;
    Ok(Some(password))
}

/// Loads the demo institution (the college of the campaign notice) unless present.
pub async fn load_demo(state: &AppState) -> Result<bool, sync::SyncError> {
    let inst = demo::institution();
    let s = state.storage.as_ref();
    if s.institutions().await?.iter().any(|(i, _)| *i == inst) {
        return Ok(false);
    }
    // The demo stands for a school that has used SafeRound for a while: its history (the
    // demo hazards, a phone offline for weeks) may be older than this start.
    let set_up = saferound_core::ids::Timestamp(state.now() - chrono::Duration::days(365));
    s.create_institution(inst, demo::INSTITUTION_NAME, &set_up.to_string())
        .await?;
    for name in demo::DEPARTMENTS {
        s.create_department(&Department {
            id: demo::department(name),
            institution: inst,
            name: name.to_string(),
        })
        .await?;
    }
    for (name, kind, building, floor_room, dept) in demo::SITES {
        s.create_site(&Site {
            id: demo::site(name),
            institution: inst,
            department: demo::department(dept),
            name: name.to_string(),
            kind: *kind,
            building: building.to_string(),
            floor_room: floor_room.to_string(),
        })
        .await?;
    }
    let hash = accounts::hash_password(DEMO_PASSWORD);
    for (login, name, dept, roles) in demo::PEOPLE {
        let login = if *login == "admin" {
            "demo-admin"
        } else {
            login
        };
        s.create_user(&User {
            id: demo::user(login),
            institution: Some(inst),
            department: Some(demo::department(dept)),
            login: login.to_string(),
            name: name.to_string(),
            roles: roles.to_vec(),
            password_hash: hash.clone(),
            active: true,
        })
        .await?;
    }
    directory::refresh(state, inst).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_parse_within_fourteen_hours() {
        use super::parse_offset;
        assert_eq!(parse_offset("+08:00"), Some(480));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("+8"), Some(480));
        assert_eq!(parse_offset("UTC+9"), Some(540));
        for bad in ["08:00", "+15:00", "+08:60", "+", "", "+08:00:00", "+x"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
