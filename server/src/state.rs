//! What every handler shares: the store, the clock, this process's actor, its metrics and
//! limits, and the state of the dashboard — cheap to clone. The one room, with `app`,
//! that joins the device API and the dashboard.

use std::sync::Arc;

use chrono::FixedOffset;
use saferound_core::ids::InstitutionId;

use crate::http::admission::{Admission, PhotoQuota};
use crate::http::origin::Origin;
use crate::metrics::Metrics;
use crate::store::{self, Store};
use crate::web::state::WebState;
use crate::{accounts, time_zone};

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Store>,
    /// This server process's own Automerge actor, for documents it writes itself.
    pub actor: automerge::ActorId,
    /// Verified against for unknown logins, so a failed login takes as long either way.
    pub dummy_hash: String,
    pub metrics: Arc<Metrics>,
    /// SHA-256 of the bearer token a scraper shows for `/metrics` (`--metrics-token`);
    /// without one, only an administrator's dashboard session reads it.
    pub metrics_token: Option<[u8; 32]>,
    /// Where photo files live.
    pub blobs: std::path::PathBuf,
    /// "What time is it" for overdue, due soon and deadlines: the system clock, or a
    /// fixed instant set with `--now` / `SAFEROUND_NOW` (tests and demonstrations).
    pub clock: Arc<dyn saferound_core::Clock>,
    /// The web dashboard: templates, failed-login counters, incident webhook.
    pub web: Arc<WebState>,
    /// How browsers reach the server (`--public-url`, TLS): cookies, HSTS, origin checks.
    pub origin: Arc<Origin>,
    /// Syncs running at once: one per device, `MAX_SYNCS` in all.
    pub syncs: Arc<Admission>,
    /// Bytes of photos no record uses yet that a device, and an institution, may hold.
    pub photo_quota: PhotoQuota,
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
            web: Arc::new(WebState::new()),
            origin: Default::default(),
            demo: false,
            syncs: Default::default(),
            photo_quota: Default::default(),
        }
    }

    /// The same state with other photo quotas (`--device-photo-quota-mib`, …).
    pub fn with_photo_quota(mut self, quota: PhotoQuota) -> Self {
        self.photo_quota = quota;
        self
    }

    /// The same state, reached by browsers as `origin` says.
    pub fn with_origin(mut self, origin: Origin) -> Self {
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
                time_zone::offset(minutes).unwrap_or_else(saferound_core::clock::default_tz)
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
