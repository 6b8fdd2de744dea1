//! What an institution's people must be, whoever creates them: the dashboard's
//! administration form and the admin JSON API check a new user here, so both refuse the
//! same things (lengths, at least one role and never the provincial reviewer's, a
//! department of the same institution, the one password policy).

use saferound_core::ids::{DepartmentId, InstitutionId, UserId};
use saferound_core::model::Role;

use crate::store::{Contact, Store, StoreError, User};

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

/// A contact as typed on a form: a mobile number (spaces, dashes and brackets dropped;
/// `+86` dropped from a mainland number, which robots mention without it) and an e-mail
/// address, each optional; e-mail messages only to an address given.
pub fn contact(mobile: &str, email: &str, email_opt_in: bool) -> Result<Contact, Refused> {
    let mobile = mobile_number(mobile)?;
    let email = email_address(email)?;
    if email_opt_in && email.is_none() {
        return Err(Refused::Invalid(
            "email: needed to receive messages by e-mail".into(),
        ));
    }
    Ok(Contact {
        mobile,
        email,
        email_opt_in,
    })
}

fn mobile_number(typed: &str) -> Result<Option<String>, Refused> {
    let kept: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{3000}'))
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    let (plus, digits) = match kept.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, kept.as_str()),
    };
    // E.164: at most 15 digits with the country code.
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(5..=15).contains(&digits.len()) {
        return Err(Refused::Invalid(
            "mobile: digits only, e.g. 13800138000 or +852 9123 4567".into(),
        ));
    }
    Ok(Some(match digits.strip_prefix("86") {
        Some(cn) if plus && cn.len() == 11 => cn.to_string(),
        _ if plus => format!("+{digits}"),
        _ => digits.to_string(),
    }))
}

fn email_address(typed: &str) -> Result<Option<String>, Refused> {
    let e = typed.trim();
    if e.is_empty() {
        return Ok(None);
    }
    let bad = || Refused::Invalid("email: an address like name@school.edu.cn".into());
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    let plain = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c))
    };
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if e.len() > 254 || local.len() > 64 || !plain(local) || !plain(domain) || !labels_ok {
        return Err(bad());
    }
    if !domain.contains('.') {
        return Err(bad());
    }
    Ok(Some(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::contact;

    #[test]
    fn contacts_are_normalised_or_refused_with_the_field_named() {
        let c = contact(" 138-0013 8000 ", " chen@school.edu.cn ", true).unwrap();
        assert_eq!(c.mobile.as_deref(), Some("13800138000"));
        assert_eq!(c.email.as_deref(), Some("chen@school.edu.cn"));
        assert_eq!(
            contact("+86 138 0013 8000", "", false)
                .unwrap()
                .mobile
                .as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            contact("+852 9123 4567", "", false)
                .unwrap()
                .mobile
                .as_deref(),
            Some("+85291234567")
        );
        assert_eq!(contact("", "", false).unwrap(), Default::default());
        for m in ["1380013800a", "123", "+", "1234567890123456", "１３８"] {
            let e = contact(m, "", false).unwrap_err().to_string();
            assert!(e.starts_with("mobile:"), "{m}: {e}");
        }
        for e in [
            "chen",
            "chen@school",
            "@school.cn",
            "chen@@school.cn",
            "a b@school.cn",
            "chen@school..cn",
            "chen@-x.cn",
            "<x>@school.cn",
            "chen@school.cn\r\nBcc: x@y.cn",
        ] {
            let got = contact("", e, false).unwrap_err().to_string();
            assert!(got.starts_with("email:"), "{e}: {got}");
        }
        let e = contact("", "", true).unwrap_err().to_string();
        assert!(e.contains("needed"), "{e}");
    }
}
