//! What an institution's people must be, whoever creates them: the dashboard's
//! administration form and the admin JSON API check a new user here, so both refuse the
//! same things (lengths, at least one role and never the provincial reviewer's, a
//! department of the same institution, the one password policy).

use saferound_core::ids::{DepartmentId, InstitutionId, UserId};
use saferound_core::model::Role;

use crate::store::{Store, StoreError, User};

/// Logins and names, at most.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a new user is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Invalid(String),
    /// Too many password hashes waiting: retry shortly.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A field that must be there, trimmed, at most `max` characters.
pub fn required(field: &str, value: &str, max: usize) -> Result<String, Refused> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Refused::Invalid(format!(
            "{field}: required, at most {max} characters"
        )));
    }
    Ok(v.to_string())
}

/// At least one role, and never the provincial reviewer's, which only the server's
/// operator gives (`saferound-server admin create-user`).
pub fn roles(roles: &[Role]) -> Result<Vec<Role>, Refused> {
    if roles.is_empty() || roles.contains(&Role::ProvincialReviewer) {
        return Err(Refused::Invalid(
            "roles: at least one; provincial reviewers are created by the operator".into(),
        ));
    }
    let mut r = roles.to_vec();
    r.sort_by_key(|x| x.code());
    r.dedup();
    Ok(r)
}

/// A department of `institution`, or none.
pub async fn department(
    storage: &Store,
    institution: InstitutionId,
    id: Option<DepartmentId>,
) -> Result<Option<DepartmentId>, Refused> {
    let Some(id) = id else { return Ok(None) };
    if storage
        .departments(institution)
        .await?
        .iter()
        .any(|d| d.id == id)
    {
        Ok(Some(id))
    } else {
        Err(Refused::Invalid(
            "department: not in this institution".into(),
        ))
    }
}

/// What an administrator asks for.
pub struct NewUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub roles: &'a [Role],
    pub department: Option<DepartmentId>,
}

/// The user of `institution` that `new` describes, checked, its password hashed.
pub async fn user(
    storage: &Store,
    institution: InstitutionId,
    new: NewUser<'_>,
) -> Result<User, Refused> {
    let login = required("login", new.login, MAX_NAME_CHARS)?;
    let name = required("name", new.name, MAX_NAME_CHARS)?;
    if let Some(p) = crate::accounts::password_problem(new.password, &login) {
        return Err(Refused::Invalid(p));
    }
    let roles = roles(new.roles)?;
    let department = department(storage, institution, new.department).await?;
    let password_hash = crate::accounts::hash_password_async(new.password.to_string())
        .await
        .map_err(|busy| Refused::Busy(busy.to_string()))?;
    Ok(User {
        id: UserId::new(),
        institution: Some(institution),
        department,
        login,
        name,
        roles,
        password_hash,
        active: true,
    })
}
