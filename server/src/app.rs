//! The whole server as one router: the device API (`http::routes`) and the dashboard
//! (`web::routes`), every response behind the guard (security headers, cross-origin
//! refusal). The one room that joins the two.

use axum::Router;

use crate::state::AppState;

pub fn app(state: AppState) -> Router {
    crate::http::routes()
        .merge(crate::web::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::guard::guard,
        ))
        .with_state(state)
}
