//! What every response and every state-changing request goes through, whatever route:
//! the security headers of a page (a Content-Security-Policy without inline script,
//! no framing, no Referer to other sites, no type sniffing, HSTS when served over
//! HTTPS), and the refusal of a cross-origin request that would change anything (the
//! browser's `Origin`, or failing that its `Referer`, must be this server's own origin).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::origin::{Origin, origin_of};
use crate::state::AppState;

/// The policy of every page: scripts and styles from this server only (no inline
/// script, so an injected `<script>` does nothing), images from here or inline data
/// (the xlsx preview needs none), forms post here only, never framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// HSTS for a year, once the server is known to be reached over HTTPS.
const HSTS: &str = "max-age=31536000";

/// Refuses a state-changing request from another origin, and puts the security headers
/// on every response that has not set its own.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = &state.origin;
    let mut r = match cross_origin(origin, &req) {
        Some(o) => {
            tracing::warn!(origin = %o, path = %req.uri().path(), "cross-origin request refused");
            (
                StatusCode::FORBIDDEN,
                "a request from another site is refused",
            )
                .into_response()
        }
        None => next.run(req).await,
    };
    let h = r.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    if origin.https {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    r
}

/// The foreign origin a state-changing request comes from, if it does. Phones and
/// scripts send neither `Origin` nor `Referer`; a browser sends one of them on every
/// cross-origin POST, so a request without either is not a page of another site.
fn cross_origin(origin: &Origin, req: &Request) -> Option<String> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = req.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .map(|r| origin_of(r).unwrap_or_else(|| "null".into()))
        })?;
    (!origin.allows(&claimed, headers)).then_some(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            origin_of("https://Safety.example.cn:8443/ledger?x=1").as_deref(),
            Some("https://Safety.example.cn:8443")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a@b.example/"), None);
        assert_eq!(origin_of("ftp://x"), None);
        let o = Origin::new(Some("https://safety.example.cn/"), false).unwrap();
        assert!(o.https);
        assert_eq!(o.public.as_deref(), Some("https://safety.example.cn"));
        assert!(Origin::new(Some("safety.example.cn"), false).is_err());
    }

    #[test]
    fn without_a_public_url_the_origin_is_the_host_asked() {
        let o = Origin::new(None, false).unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(o.allows("http://127.0.0.1:8080", &h));
        assert!(!o.allows("http://evil.example", &h));
        assert!(!o.allows("https://127.0.0.1:8080", &h));
        assert!(!o.allows("null", &h));
    }
}
