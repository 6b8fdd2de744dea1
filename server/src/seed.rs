//! What a new database starts with: the first administrator (a one-time password), and
//! on `--demo` the demo institution of the campaign notice with its people and sites.

use saferound_core::demo;
use saferound_core::ids::UserId;
use saferound_core::model::Role;

use crate::state::AppState;
use crate::store::{self, Department, Site, User};
use crate::{accounts, directory, sync};

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
        let login = demo_login(login);
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

/// The dashboard login of a demo person: the demo's administrator signs in as
/// `demo-admin`, so it is never taken for a real server's `admin`.
pub fn demo_login(login: &str) -> &str {
    if login == "admin" {
        "demo-admin"
    } else {
        login
    }
}

/// Every demo login, in the demo's order.
pub fn demo_logins() -> Vec<&'static str> {
    demo::PEOPLE.iter().map(|p| demo_login(p.0)).collect()
}
