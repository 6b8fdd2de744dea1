//! Devices: the phones enrolled to a user, each bound to one Automerge actor and known by
//! the hash of its token, and the device the server writes a dashboard user's actions
//! with.

use saferound_core::ids::{InstitutionId, UserId};
use serde::Serialize;

use super::accounts::{User, user_at, user_cols};
use super::rows::{now, parse};
use super::sql::{Row, args, statements};
use super::{Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub user: UserId,
    pub institution: InstitutionId,
    pub actor: Vec<u8>,
    pub token_hash: [u8; 32],
    pub name: String,
}

/// A device as the sync endpoint sees it: who it is, for whom, and its bound actor.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device_id: String,
    pub institution: InstitutionId,
    pub actor: Vec<u8>,
    pub user: User,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_sync_at: Option<String>,
}

/// A device from `SELECT d.id, d.institution, d.actor, <user_cols>`.
fn device_auth_of(r: &Row) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        device_id: r.get(0)?,
        institution: parse(&r.get::<String>(1)?, "institution")?,
        actor: r.get(2)?,
        user: user_at(r, 3)?,
    })
}

statements! {
    INSTITUTION_ACTORS = "SELECT actor FROM devices WHERE institution = ?1";
    /// The actor's uniqueness decides (atomically, unlike a check before the insert).
    ENROLL_DEVICE = "INSERT INTO devices (id, user_id, institution, actor, token_hash, name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (actor) DO NOTHING";
    DEVICE_BY_TOKEN = concat!(
        "SELECT d.id, d.institution, d.actor, ", user_cols!(),
        " FROM devices d JOIN users u ON u.id = d.user_id
         WHERE d.token_hash = ?1 AND d.revoked_at IS NULL AND u.active"
    );
    DEVICES = "SELECT id, user_id, name, created_at, revoked_at, last_sync_at FROM devices
         WHERE institution = ?1 ORDER BY created_at";
    /// `?2` NULL: in any institution.
    REVOKE_DEVICE = "UPDATE devices SET revoked_at = ?3
         WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR institution = ?2) AND revoked_at IS NULL";
    TOUCH_DEVICE = "UPDATE devices SET last_sync_at = ?2 WHERE id = ?1";
    WEB_DEVICE = concat!(
        "SELECT d.id, d.institution, d.actor, ", user_cols!(),
        " FROM web_devices w
         JOIN devices d ON d.id = w.device_id JOIN users u ON u.id = w.user_id
         WHERE w.user_id = ?1 AND w.institution = ?2 AND d.revoked_at IS NULL AND u.active"
    );
    SET_WEB_DEVICE = "INSERT INTO web_devices (user_id, institution, device_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, institution) DO UPDATE SET device_id = excluded.device_id";
}

impl Store {
    /// The actors bound to the institution's devices (phones and dashboard users).
    pub async fn institution_actors(&self, institution: InstitutionId) -> Result<Vec<Vec<u8>>> {
        self.db
            .query(INSTITUTION_ACTORS, &args![institution])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub async fn enroll_device(&self, d: &NewDevice) -> Result<()> {
        let n = self.db.execute(ENROLL_DEVICE, &device_args(d)).await?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "this Automerge actor is already bound to a device".into(),
            ));
        }
        Ok(())
    }

    pub async fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>> {
        self.db
            .query_opt(DEVICE_BY_TOKEN, &args![token_hash])
            .await?
            .map(|r| device_auth_of(&r))
            .transpose()
    }

    pub async fn devices(&self, institution: InstitutionId) -> Result<Vec<DeviceInfo>> {
        self.db
            .query(DEVICES, &args![institution])
            .await?
            .iter()
            .map(|r| {
                Ok(DeviceInfo {
                    id: r.get(0)?,
                    user_id: parse(&r.get::<String>(1)?, "user")?,
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_sync_at: r.get(5)?,
                })
            })
            .collect()
    }

    /// Revokes the device `id` (of `institution`, if given); false if there is no such
    /// device not yet revoked.
    pub async fn revoke_device(
        &self,
        institution: Option<InstitutionId>,
        id: &str,
    ) -> Result<bool> {
        Ok(self
            .db
            .execute(REVOKE_DEVICE, &args![id, institution, now()])
            .await?
            > 0)
    }

    pub async fn touch_device(&self, id: &str) -> Result<()> {
        self.db.execute(TOUCH_DEVICE, &args![id, now()]).await?;
        Ok(())
    }

    /// The device the server writes this user's dashboard actions with, in `institution`.
    pub async fn web_device(
        &self,
        user: UserId,
        institution: InstitutionId,
    ) -> Result<Option<DeviceAuth>> {
        self.db
            .query_opt(WEB_DEVICE, &args![user, institution])
            .await?
            .map(|r| device_auth_of(&r))
            .transpose()
    }

    /// Registers `d` as the user's dashboard device in its institution (replacing a
    /// revoked one).
    pub async fn set_web_device(&self, d: &NewDevice) -> Result<()> {
        let enroll = device_args(d);
        let link = args![d.user, d.institution, &d.id];
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    if tx.execute(ENROLL_DEVICE, &enroll).await? == 0 {
                        return Err(StoreError::Conflict(
                            "this Automerge actor is already bound to a device".into(),
                        ));
                    }
                    tx.execute(SET_WEB_DEVICE, &link).await?;
                    Ok(())
                })
            })
            .await
    }
}

fn device_args(d: &NewDevice) -> [super::sql::Value; 7] {
    args![
        &d.id,
        d.user,
        d.institution,
        &d.actor,
        d.token_hash,
        &d.name,
        now()
    ]
}
