//! Institutions, their departments and sites, and the people who sign in: users, their
//! roles and passwords.

use saferound_core::ids::{DepartmentId, InstitutionId, UserId};
use saferound_core::model::{Role, SiteKind};
use serde::Serialize;

use super::rows::{now, parse, roles_of};
use super::sql::{Row, args, statements};
use super::{Result, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    /// `None` for provincial reviewers, who belong to the province.
    pub institution: Option<InstitutionId>,
    pub department: Option<DepartmentId>,
    pub login: String,
    pub name: String,
    pub roles: Vec<Role>,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
}

/// How a message reaches a person (`people::contact` checks it): each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// A mobile number, digits (a `+` and the country code outside China).
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// The person wants the office's messages by e-mail.
    pub email_opt_in: bool,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub id: DepartmentId,
    pub institution: InstitutionId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: saferound_core::ids::SiteId,
    pub institution: InstitutionId,
    pub department: DepartmentId,
    pub name: String,
    pub kind: SiteKind,
    pub building: String,
    pub floor_room: String,
}

/// The columns a `User` is read from (`user_at`), of the users table as `u`; a macro, so
/// statements can `concat!` it.
macro_rules! user_cols {
    () => {
        "u.id, u.institution, u.department, u.login, u.name, u.roles, u.password_hash, u.active"
    };
}
pub(crate) use user_cols;

/// The `USER_COLS` of a row, starting at column `at`.
pub(crate) fn user_at(r: &Row, at: usize) -> Result<User> {
    Ok(User {
        id: parse(&r.get::<String>(at)?, "user id")?,
        institution: r
            .get::<Option<String>>(at + 1)?
            .map(|s| parse(&s, "institution"))
            .transpose()?,
        department: r
            .get::<Option<String>>(at + 2)?
            .map(|s| parse(&s, "department"))
            .transpose()?,
        login: r.get(at + 3)?,
        name: r.get(at + 4)?,
        roles: roles_of(&r.get::<String>(at + 5)?)?,
        password_hash: r.get(at + 6)?,
        active: r.get(at + 7)?,
    })
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
}

statements! {
    CREATE_INSTITUTION = "INSERT INTO institutions (id, name, created_at) VALUES (?1, ?2, ?3)";
    INSTITUTION_CREATED_AT = "SELECT created_at FROM institutions WHERE id = ?1";
    INSTITUTIONS = "SELECT id, name FROM institutions ORDER BY name";
    INSTITUTION_TZ = "SELECT utc_offset_minutes, time_zone FROM institutions WHERE id = ?1";
    SET_INSTITUTION_TZ =
        "UPDATE institutions SET utc_offset_minutes = ?2, time_zone = ?3 WHERE id = ?1";
    CREATE_DEPARTMENT = "INSERT INTO departments (id, institution, name) VALUES (?1, ?2, ?3)";
    DEPARTMENTS = "SELECT id, name FROM departments WHERE institution = ?1 ORDER BY name";
    CREATE_SITE = "INSERT INTO sites (id, institution, department, name, kind, building, floor_room)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    SITES = "SELECT id, department, name, kind, building, floor_room FROM sites
         WHERE institution = ?1 ORDER BY name";
    /// A taken login (or id) inserts nothing: a conflict.
    CREATE_USER = "INSERT INTO users (id, institution, department, login, name, roles, password_hash, active, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING";
    SET_PASSWORD = "UPDATE users SET password_hash = ?2 WHERE login = ?1";
    END_SESSIONS_OF_LOGIN =
        "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE login = ?1)";
    /// A password set (`?1`: the login) is no longer one to change.
    CLEAR_PASSWORD_DUE =
        "DELETE FROM password_due WHERE user_id IN (SELECT id FROM users WHERE login = ?1)";
    REVOKE_DEVICES_OF_LOGIN = "UPDATE devices SET revoked_at = ?2
         WHERE user_id IN (SELECT id FROM users WHERE login = ?1) AND revoked_at IS NULL";
    USER_BY_LOGIN = concat!("SELECT ", user_cols!(), " FROM users u WHERE u.login = ?1");
    USER_BY_ID = concat!("SELECT ", user_cols!(), " FROM users u WHERE u.id = ?1");
    USERS = concat!("SELECT ", user_cols!(), " FROM users u WHERE u.institution = ?1 ORDER BY u.login");
    USER_COUNT = "SELECT COUNT(*) FROM users";
    SET_USER_ACTIVE = "UPDATE users SET active = ?3 WHERE id = ?1 AND institution = ?2";
    END_SESSIONS_OF_USER = "DELETE FROM web_sessions WHERE user_id = ?1";
    REVOKE_DEVICES_OF_USER =
        "UPDATE devices SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL";
    SET_USER_ROLES =
        "UPDATE users SET roles = ?3, department = ?4 WHERE id = ?1 AND institution = ?2";
    /// Marks a user's password as one to change (`?1`: the user id).
    SET_PASSWORD_DUE =
        "INSERT INTO password_due (user_id) VALUES (?1) ON CONFLICT (user_id) DO NOTHING";
    PASSWORD_DUE = "SELECT 1 FROM password_due WHERE user_id = ?1";
    CONTACT = "SELECT mobile, email, email_opt_in FROM user_contacts WHERE user_id = ?1";
    CONTACTS = "SELECT c.user_id, c.mobile, c.email, c.email_opt_in FROM user_contacts c
         JOIN users u ON u.id = c.user_id WHERE u.institution = ?1";
    /// Only for a user of the institution (`?2`).
    SET_CONTACT = "INSERT INTO user_contacts (user_id, mobile, email, email_opt_in)
         SELECT id, ?3, ?4, ?5 FROM users WHERE id = ?1 AND institution = ?2
         ON CONFLICT (user_id) DO UPDATE SET mobile = excluded.mobile, email = excluded.email,
             email_opt_in = excluded.email_opt_in";
}

fn contact_at(r: &Row, at: usize) -> Result<Contact> {
    Ok(Contact {
        mobile: r.get(at)?,
        email: r.get(at + 1)?,
        email_opt_in: r.get(at + 2)?,
    })
}

impl Store {
    /// `created_at` (RFC 3339) is the server's clock at the setup: records claiming an
    /// earlier time are refused (`policy::MAX_BEFORE_SETUP`).
    pub async fn create_institution(
        &self,
        id: InstitutionId,
        name: &str,
        created_at: &str,
    ) -> Result<()> {
        self.db
            .execute(CREATE_INSTITUTION, &args![id, name, created_at])
            .await?;
        Ok(())
    }

    /// When the institution was set up (RFC 3339), if it exists.
    pub async fn institution_created_at(&self, id: InstitutionId) -> Result<Option<String>> {
        self.db
            .query_opt(INSTITUTION_CREATED_AT, &args![id])
            .await?
            .map(|r| r.get(0))
            .transpose()
    }

    pub async fn institutions(&self) -> Result<Vec<(InstitutionId, String)>> {
        self.db
            .query(INSTITUTIONS, &args![])
            .await?
            .iter()
            .map(|r| Ok((parse(&r.get::<String>(0)?, "institution")?, r.get(1)?)))
            .collect()
    }

    /// The institution's time zone: (UTC offset in minutes, IANA name).
    pub async fn institution_tz(
        &self,
        institution: InstitutionId,
    ) -> Result<Option<(i32, String)>> {
        self.db
            .query_opt(INSTITUTION_TZ, &args![institution])
            .await?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
    }

    pub async fn set_institution_tz(
        &self,
        institution: InstitutionId,
        offset_minutes: i32,
        name: &str,
    ) -> Result<bool> {
        Ok(self
            .db
            .execute(
                SET_INSTITUTION_TZ,
                &args![institution, offset_minutes, name],
            )
            .await?
            == 1)
    }

    pub async fn create_department(&self, d: &Department) -> Result<()> {
        self.db
            .execute(CREATE_DEPARTMENT, &args![d.id, d.institution, &d.name])
            .await?;
        Ok(())
    }

    pub async fn departments(&self, institution: InstitutionId) -> Result<Vec<Department>> {
        self.db
            .query(DEPARTMENTS, &args![institution])
            .await?
            .iter()
            .map(|r| {
                Ok(Department {
                    id: parse(&r.get::<String>(0)?, "department")?,
                    institution,
                    name: r.get(1)?,
                })
            })
            .collect()
    }

    pub async fn create_site(&self, s: &Site) -> Result<()> {
        self.db
            .execute(
                CREATE_SITE,
                &args![
                    s.id,
                    s.institution,
                    s.department,
                    &s.name,
                    s.kind.code(),
                    &s.building,
                    &s.floor_room
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn sites(&self, institution: InstitutionId) -> Result<Vec<Site>> {
        self.db
            .query(SITES, &args![institution])
            .await?
            .iter()
            .map(|r| {
                Ok(Site {
                    id: parse(&r.get::<String>(0)?, "site")?,
                    institution,
                    department: parse(&r.get::<String>(1)?, "department")?,
                    name: r.get(2)?,
                    kind: parse(&r.get::<String>(3)?, "site kind")?,
                    building: r.get(4)?,
                    floor_room: r.get(5)?,
                })
            })
            .collect()
    }

    pub async fn create_user(&self, u: &User) -> Result<()> {
        let n = self
            .db
            .execute(
                CREATE_USER,
                &args![
                    u.id,
                    u.institution,
                    u.department,
                    &u.login,
                    &u.name,
                    roles_text(&u.roles),
                    &u.password_hash,
                    u.active,
                    now()
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "login '{}' is taken",
                u.login
            )));
        }
        Ok(())
    }

    /// Sets the password of `login`; false if there is no such login. A new password ends
    /// every way in the old one opened: sessions, devices, a password due.
    pub async fn set_password(&self, login: &str, password_hash: &str) -> Result<bool> {
        let (login, hash) = (login.to_string(), password_hash.to_string());
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let n = tx.execute(SET_PASSWORD, &args![&login, &hash]).await?;
                    tx.execute(END_SESSIONS_OF_LOGIN, &args![&login]).await?;
                    tx.execute(CLEAR_PASSWORD_DUE, &args![&login]).await?;
                    tx.execute(REVOKE_DEVICES_OF_LOGIN, &args![&login, now()])
                        .await?;
                    Ok(n > 0)
                })
            })
            .await
    }

    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        self.db
            .query_opt(USER_BY_LOGIN, &args![login])
            .await?
            .map(|r| user_at(&r, 0))
            .transpose()
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.db
            .query_opt(USER_BY_ID, &args![id])
            .await?
            .map(|r| user_at(&r, 0))
            .transpose()
    }

    pub async fn users(&self, institution: InstitutionId) -> Result<Vec<User>> {
        self.db
            .query(USERS, &args![institution])
            .await?
            .iter()
            .map(|r| user_at(r, 0))
            .collect()
    }

    pub async fn user_count(&self) -> Result<i64> {
        self.db.query_one(USER_COUNT, &args![]).await?.get(0)
    }

    /// Deactivation ends the user's sessions and revokes their devices; activating the
    /// user again brings neither back. False if no such user in `institution`.
    pub async fn set_user_active(
        &self,
        institution: InstitutionId,
        id: UserId,
        active: bool,
    ) -> Result<bool> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let n = tx
                        .execute(SET_USER_ACTIVE, &args![id, institution, active])
                        .await?;
                    if !active {
                        tx.execute(END_SESSIONS_OF_USER, &args![id]).await?;
                        tx.execute(REVOKE_DEVICES_OF_USER, &args![id, now()])
                            .await?;
                    }
                    Ok(n > 0)
                })
            })
            .await
    }

    /// Sets a user's roles and department (an administrator's edit); false if no such
    /// user in `institution`. Their sessions and devices read the roles afresh.
    pub async fn set_user_roles(
        &self,
        institution: InstitutionId,
        id: UserId,
        roles: &[Role],
        department: Option<DepartmentId>,
    ) -> Result<bool> {
        Ok(self
            .db
            .execute(
                SET_USER_ROLES,
                &args![id, institution, roles_text(roles), department],
            )
            .await?
            > 0)
    }

    /// The user must choose a new password before anything else (cleared by
    /// `set_password`).
    pub async fn set_password_due(&self, user: UserId) -> Result<()> {
        self.db.execute(SET_PASSWORD_DUE, &args![user]).await?;
        Ok(())
    }

    pub async fn password_due(&self, user: UserId) -> Result<bool> {
        Ok(self
            .db
            .query_opt(PASSWORD_DUE, &args![user])
            .await?
            .is_some())
    }

    /// A user's contact (empty if none was given).
    pub async fn contact(&self, user: UserId) -> Result<Contact> {
        self.db
            .query_opt(CONTACT, &args![user])
            .await?
            .map(|r| contact_at(&r, 0))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The contacts of the institution's users, by user id (those who gave one).
    pub async fn contacts(
        &self,
        institution: InstitutionId,
    ) -> Result<std::collections::HashMap<UserId, Contact>> {
        self.db
            .query(CONTACTS, &args![institution])
            .await?
            .iter()
            .map(|r| Ok((parse(&r.get::<String>(0)?, "user id")?, contact_at(r, 1)?)))
            .collect()
    }

    /// Sets a user's contact; false if no such user in `institution`.
    pub async fn set_contact(
        &self,
        institution: InstitutionId,
        user: UserId,
        c: &Contact,
    ) -> Result<bool> {
        Ok(self
            .db
            .execute(
                SET_CONTACT,
                &args![user, institution, &c.mobile, &c.email, c.email_opt_in],
            )
            .await?
            > 0)
    }
}
