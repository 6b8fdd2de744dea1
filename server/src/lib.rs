//! SafeRound server: merges every device's documents into the institution's hazard
//! ledger. `http` is the surface, `sync` the merge of device changes, `ledger` the
//! projection the safety office reads, `store` everything persisted.

pub mod accounts;
pub mod directory;
pub mod export;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod ledger;
pub mod store;
pub mod sync;
pub mod web;

use std::sync::Arc;

use saferound_core::demo;
use saferound_core::ids::UserId;
use saferound_core::model::Role;

use crate::store::{Department, Site, Storage, User};

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    /// This server process's own Automerge actor, for documents it writes itself.
    pub actor: automerge::ActorId,
    /// Verified against for unknown logins, so a failed login takes as long either way.
    pub dummy_hash: String,
    pub metrics: Arc<http::metrics::Metrics>,
    /// Where photo files live.
    pub blobs: std::path::PathBuf,
    /// "What time is it" for overdue, due soon and deadlines: the system clock, or a
    /// fixed instant set with `--now` / `SAFEROUND_NOW` (tests and demonstrations).
    pub clock: Arc<dyn saferound_core::Clock>,
    /// The web dashboard: templates, failed-login counters, incident webhook.
    pub web: Arc<web::WebState>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, blobs: std::path::PathBuf) -> Self {
        AppState {
            storage,
            actor: automerge::ActorId::random(),
            dummy_hash: accounts::hash_password("not a real password"),
            metrics: Default::default(),
            blobs,
            clock: Arc::new(saferound_core::SystemClock),
            web: Arc::new(web::WebState::new()),
        }
    }

    /// The same state with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn saferound_core::Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Today in the institution's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        self.now()
            .with_timezone(&web::institution_tz())
            .date_naive()
    }
}

/// The password of every demo person.
pub const DEMO_PASSWORD: &str = "saferound-demo";

/// On an empty database, creates the administrator and returns the one-time password.
pub async fn bootstrap_admin(state: &AppState) -> Result<Option<String>, store::StoreError> {
    if state.storage.user_count().await? > 0 {
        return Ok(None);
    }
    let password = accounts::new_password();
    // The administrator belongs to the demo institution when there is one; otherwise to
    // the first institution an operator creates (see `admin` subcommands).
    state
        .storage
        .create_user(&User {
            id: UserId::new(),
            institution: None,
            department: None,
            login: "admin".into(),
            name: "Administrator".into(),
            roles: vec![Role::Administrator],
            password_hash: accounts::hash_password(&password),
            active: true,
        })
        .await?;
    Ok(Some(password))
}

/// Loads the demo institution (the college of the campaign notice) unless present.
pub async fn load_demo(state: &AppState) -> Result<bool, sync::SyncError> {
    let inst = demo::institution();
    let s = state.storage.as_ref();
    if s.institutions().await?.iter().any(|(i, _)| *i == inst) {
        return Ok(false);
    }
    s.create_institution(inst, demo::INSTITUTION_NAME).await?;
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
