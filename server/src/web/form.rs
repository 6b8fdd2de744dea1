//! A form posted from the dashboard, accepted once: the signed-in user (`Web`), the
//! form's fields with the session's CSRF token checked, and the institution the user's
//! role lets them act for. Every form handler takes a `Posted<…>` as its last argument
//! (it reads the body), so none can forget a check; the multipart forms with photos
//! (`upload`) check the same token with `csrf_refusal`.

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use saferound_core::ids::InstitutionId;
use saferound_core::model::Role;

use super::{Web, error_page, forbidden};
use crate::state::AppState;

/// Who may post a form, and for what.
pub trait Acting: Send + Sync + 'static {
    /// What the handler acts for: an institution, or nothing in particular.
    type For: Send;
    /// `None`: this user may not post the form (403).
    fn acts_for(web: &Web) -> Option<Self::For>;
}

/// Anyone signed in, for themselves (their password, their devices, signing out).
pub struct Anyone;

impl Acting for Anyone {
    type For = ();
    fn acts_for(_: &Web) -> Option<()> {
        Some(())
    }
}

/// The safety office or the administrator, in their own institution: campaigns, duty,
/// checklists, the weekly filing to the province.
pub struct Office;

impl Acting for Office {
    type For = InstitutionId;
    fn acts_for(web: &Web) -> Option<InstitutionId> {
        (web.is(Role::SafetyOffice) || web.is(Role::Administrator))
            .then_some(web.user.institution)
            .flatten()
    }
}

/// The administrator, in their own institution: people, departments, sites, devices.
pub struct Admin;

impl Acting for Admin {
    type For = InstitutionId;
    fn acts_for(web: &Web) -> Option<InstitutionId> {
        web.is(Role::Administrator)
            .then_some(web.user.institution)
            .flatten()
    }
}

/// An accepted form post (see the module comment).
pub struct Posted<R: Acting> {
    pub web: Web,
    pub form: HashMap<String, String>,
    /// What `R` lets the user act for.
    pub acting_for: R::For,
    rule: PhantomData<R>,
}

impl<R: Acting> Posted<R> {
    /// The field `k`, or "" when the form lacks it.
    pub fn field(&self, k: &str) -> String {
        self.form.get(k).cloned().unwrap_or_default()
    }
}

/// The answer to a form whose CSRF token is missing or wrong; `None` when it is right.
/// Compared in constant time.
pub(crate) fn csrf_refusal(
    state: &AppState,
    web: &Web,
    form: &HashMap<String, String>,
) -> Option<Response> {
    let right = form
        .get("csrf")
        .is_some_and(|sent| crate::accounts::same_secret(sent.as_bytes(), web.csrf.as_bytes()));
    (!right).then(|| {
        error_page(
            state,
            web.lang,
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong",
        )
    })
}

impl<R: Acting> FromRequest<AppState> for Posted<R> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let web = Web::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let axum::Form(form) = axum::Form::<HashMap<String, String>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(refused) = csrf_refusal(state, &web, &form) {
            return Err(refused);
        }
        let Some(acting_for) = R::acts_for(&web) else {
            return Err(forbidden(state, &web));
        };
        Ok(Posted {
            web,
            form,
            acting_for,
            rule: PhantomData,
        })
    }
}
