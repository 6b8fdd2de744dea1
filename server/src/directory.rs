//! Keeps each institution's directory document in step with the account tables, so
//! departments, sites and people reach every phone by sync.

use saferound_core::doc::directory::{self, CampaignEntry, Department, Directory, Person, Site};
use saferound_core::ids::InstitutionId;
use saferound_core::ids::LocalDate;
use saferound_core::model::Role;

use crate::state::AppState;
use crate::sync::{SyncError, write_server_document};

/// Rewrites the directory of `institution` from the account tables, its time zone, its
/// campaigns and its checklist templates (writing only what changed). Templates already in the document
/// are kept.
pub async fn refresh(state: &AppState, institution: InstitutionId) -> Result<(), SyncError> {
    let storage = state.storage.as_ref();
    let name = storage
        .institutions()
        .await?
        .into_iter()
        .find(|(i, _)| *i == institution)
        .map(|(_, n)| n)
        .unwrap_or_default();
    let mut dir = Directory::new(institution, &name);
    dir.created_at = storage.institution_created_at(institution).await?;
    // Phones judge deadlines and "today" in the institution's own time zone.
    if let Some((minutes, tz)) = storage.institution_tz(institution).await? {
        dir.utc_offset_minutes = minutes;
        dir.time_zone = tz;
    }
    for d in storage.departments(institution).await? {
        dir.add_department(Department {
            id: d.id,
            name: d.name,
        });
    }
    for s in storage.sites(institution).await? {
        dir.add_site(Site {
            id: s.id,
            name: s.name,
            kind: s.kind,
            building: s.building,
            floor_room: s.floor_room,
            department: s.department,
        });
    }
    for u in storage.users(institution).await? {
        if !u.active || u.roles == [Role::Administrator] {
            continue;
        }
        dir.add_person(Person {
            user_id: u.id,
            name: u.name,
            department: u.department,
            roles: u.roles,
        });
    }
    // The institution's own templates, every version (a version never changes, so the
    // ones already in the document are the same and stay).
    for t in storage.templates(institution).await? {
        dir.templates.insert(t.key(), t);
    }
    // Its campaigns, so phones tag what they record while one runs.
    for c in storage.campaigns(institution).await? {
        dir.add_campaign(CampaignEntry {
            id: c.id,
            name: c.name,
            starts: LocalDate(c.starts),
            ends: LocalDate(c.ends),
        });
    }
    let id = directory::id_for(institution);
    write_server_document(storage, institution, id, &state.actor, move |doc| {
        let mut d = dir.clone();
        if let Ok(existing) = directory::read(doc) {
            for (k, t) in existing.templates {
                d.templates.entry(k).or_insert(t);
            }
        }
        directory::write(doc, &d)
    })
    .await
}

/// Sets the institution's time zone and carries it to the phones in the directory.
pub async fn set_time_zone(
    state: &AppState,
    institution: InstitutionId,
    minutes: i32,
    name: &str,
) -> Result<bool, SyncError> {
    if !state
        .storage
        .set_institution_tz(institution, minutes, name)
        .await?
    {
        return Ok(false);
    }
    refresh(state, institution).await?;
    Ok(true)
}
