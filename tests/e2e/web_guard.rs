//! Web hardening, against a real server: every route answers with the security headers
//! (whatever its status, signed in or not), a form posted from another site is refused,
//! the login form has its own CSRF token, the language switch goes back only to a page
//! of this server, and with an https `--public-url` cookies are Secure and HSTS is sent.

use std::collections::HashSet;

use saferound_tests::{DEMO_PASSWORD, Server};

use crate::dashboard::{Web, agent};

/// Every route the server declares, read from its router source, with each `{param}`
/// filled in: a route added later is walked without touching this test.
fn routes() -> Vec<String> {
    routes_with(|| "x".to_string())
}

/// The routes with each `{param}` replaced by `fill()`.
pub(crate) fn routes_with(fill: impl Fn() -> String) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["../server/src/web/mod.rs", "../server/src/http/mod.rs"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let src = std::fs::read_to_string(&path).expect("router source");
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = rest[i + ".route(".len()..].trim_start();
            let Some(r) = rest.strip_prefix('"') else {
                continue;
            };
            let end = r.find('"').expect("a closing quote");
            let mut route = String::new();
            let mut in_param = false;
            for ch in r[..end].chars() {
                match ch {
                    '{' => in_param = true,
                    '}' => {
                        in_param = false;
                        route.push_str(&fill());
                    }
                    _ if in_param => {}
                    c => route.push(c),
                }
            }
            out.push(route);
            rest = &r[end..];
        }
    }
    out
}

fn header<'p>(p: &'p crate::dashboard::Page, name: &str) -> &'p str {
    p.headers.get(name).map(String::as_str).unwrap_or("")
}

fn assert_guarded(p: &crate::dashboard::Page, what: &str) {
    let csp = header(p, "content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert_eq!(header(p, "x-content-type-options"), "nosniff", "{what}");
    assert!(!header(p, "referrer-policy").is_empty(), "{what}");
}

#[test]
fn every_route_carries_the_security_headers_and_other_sites_cannot_post() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let anonymous = agent();
    let routes = routes();
    assert!(routes.len() > 30, "the router source was read: {routes:?}");
    let unique: HashSet<_> = routes.iter().collect();
    for route in unique {
        if route.ends_with("/stream") {
            continue; // an event stream never ends; its headers are checked below
        }
        assert_guarded(&office.get(route), &format!("{route} signed in"));
        let p = crate::dashboard::page(
            anonymous
                .get(format!("{}{route}", server.url))
                .call()
                .expect("GET"),
        );
        assert_guarded(&p, &format!("{route} anonymous"));
    }
    // No inline script or style on the pages themselves (the policy would block them).
    for route in ["/ledger", "/incidents", "/weekly", "/admin", "/login"] {
        let body = office.get(route).body;
        assert!(!body.contains("<script>"), "{route} has an inline script");
        assert!(!body.contains(" onclick="), "{route} has an inline handler");
        assert!(!body.contains(" style="), "{route} has an inline style");
    }
    assert!(office.get("/static/app.js").body.contains("EventSource"));

    // A form from another site is refused before anything happens: the session lives on.
    let p = crate::dashboard::page(
        office
            .agent
            .post(format!("{}/logout", server.url))
            .header("Cookie", &office.cookie)
            .header("Origin", "http://evil.example")
            .send_form([("csrf", office.csrf.as_str())])
            .expect("POST"),
    );
    assert_eq!(p.status, 403, "{}", p.body);
    assert_guarded(&p, "the refusal");
    assert_eq!(office.get("/ledger").status, 200, "still signed in");
    // So is one whose Referer names another site, and one of origin "null".
    for (name, value) in [("Referer", "http://evil.example/x"), ("Origin", "null")] {
        let p = crate::dashboard::page(
            office
                .agent
                .post(format!("{}/logout", server.url))
                .header("Cookie", &office.cookie)
                .header(name, value)
                .send_form([("csrf", office.csrf.as_str())])
                .expect("POST"),
        );
        assert_eq!(p.status, 403, "{name}: {value}");
    }
    // The server's own origin passes.
    let own = server.url.trim_end_matches('/').to_string();
    let p = crate::dashboard::page(
        office
            .agent
            .post(format!("{}/logout", server.url))
            .header("Cookie", &office.cookie)
            .header("Origin", &own)
            .send_form([("csrf", office.csrf.as_str())])
            .expect("POST"),
    );
    assert_eq!((p.status, p.location.as_str()), (303, "/login"));

    // The login form needs its own token: without it, or with another one, no session.
    let form = crate::dashboard::page(
        anonymous
            .get(format!("{}/login", server.url))
            .call()
            .unwrap(),
    );
    let login_cookie = crate::dashboard::cookie_named(&form, "sr_login").expect("login cookie");
    for (cookie, token) in [
        (login_cookie.as_str(), ""),
        (login_cookie.as_str(), &*"0".repeat(64)),
        ("", "whatever"),
    ] {
        let p = crate::dashboard::page(
            anonymous
                .post(format!("{}/login", server.url))
                .header("Cookie", cookie)
                .send_form([
                    ("login", "office"),
                    ("password", DEMO_PASSWORD),
                    ("csrf", token),
                ])
                .unwrap(),
        );
        assert_eq!(p.status, 403, "token {token:?}");
        assert!(crate::dashboard::cookie_named(&p, "sr_session").is_none());
    }

    // The language switch goes back only to a page of this server.
    let host = own.trim_start_matches("http://").to_string();
    for (referer, back) in [
        (format!("http://{host}/weekly?x=1"), "/weekly?x=1"),
        ("http://evil.example/phish".to_string(), "/ledger"),
        (format!("http://{host}/\\evil.example"), "/ledger"),
        (format!("http://{host}//evil.example"), "/ledger"),
    ] {
        let p = crate::dashboard::page(
            anonymous
                .get(format!("{}/lang/en", server.url))
                .header("Referer", &referer)
                .call()
                .unwrap(),
        );
        assert_eq!(p.location, back, "{referer}");
    }
}

#[test]
fn behind_an_https_public_url_cookies_are_secure_and_hsts_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let public = "https://safety.example.edu.cn";
    let server = Server::start_with(tmp.path(), &["--demo", "--public-url", public]);
    let (p, w) = Web::try_login(&server, "office", DEMO_PASSWORD);
    let w = w.expect("office logs in");
    let session = header(&p, "set-cookie")
        .lines()
        .find(|c| c.starts_with("sr_session="))
        .expect("a session cookie")
        .to_string();
    assert!(session.contains("; Secure"), "{session}");
    assert!(header(&w.get("/ledger"), "strict-transport-security").contains("max-age="));
    // The public origin is the only one a form may come from, whatever the Host says.
    let post = |origin: &str| {
        crate::dashboard::page(
            w.agent
                .post(format!("{}/logout", server.url))
                .header("Cookie", &w.cookie)
                .header("Origin", origin)
                .send_form([("csrf", w.csrf.as_str())])
                .expect("POST"),
        )
    };
    assert_eq!(post(server.url.trim_end_matches('/')).status, 403);
    assert_eq!(post(public).status, 303);
}
