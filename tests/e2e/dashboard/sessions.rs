//! Signing in and being kept out: sessions, CSRF, lockout and the audit log; `/metrics`; administration reaching the phones.

use super::*;

#[test]
fn sessions_csrf_lockout_and_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let a = agent();
    // Not signed in: pages go to the login, exports answer 401.
    let p = page(a.get(format!("{}/ledger", server.url)).call().unwrap());
    assert_eq!((p.status, p.location.as_str()), (303, "/login"));
    let p = page(
        a.get(format!("{}/export/ledger.csv", server.url))
            .call()
            .unwrap(),
    );
    assert_eq!(p.status, 401);
    // A forged cookie is no session.
    let p = page(
        a.get(format!("{}/ledger", server.url))
            .header("Cookie", format!("sr_session={}", "ab".repeat(32)))
            .call()
            .unwrap(),
    );
    assert_eq!(p.status, 303);

    let (p, w) = Web::try_login(&server, "office", DEMO_PASSWORD);
    let w = w.expect("office logs in");
    let cookie = &p.headers["set-cookie"];
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // zh-CN by default, English by the switch.
    assert!(w.get("/ledger").body.contains("隐患台账"));
    // A form without the session's CSRF token is refused and changes nothing.
    let id = hazard_in(&w, "reported");
    let before = hazard_dump(&server, &id);
    let p = page(
        w.agent
            .post(format!("{}/hazards/{id}/act", server.url))
            .header("Cookie", &w.cookie)
            .send_form([
                ("action", "regrade"),
                ("risk", "major"),
                ("note", "x"),
                ("csrf", &"0".repeat(64)),
            ])
            .unwrap(),
    );
    assert_eq!(p.status, 403);
    assert_eq!(hazard_dump(&server, &id), before);

    // Five wrong passwords lock the login, even for the right one; others are unaffected.
    for _ in 0..5 {
        let (p, w) = Web::try_login(&server, "owner", "wrong-password");
        assert_eq!(p.status, 401);
        assert!(w.is_none());
    }
    let (p, w2) = Web::try_login(&server, "owner", DEMO_PASSWORD);
    assert_eq!(p.status, 429);
    assert!(w2.is_none());
    assert!(
        Web::try_login(&server, "inspector", DEMO_PASSWORD)
            .1
            .is_some()
    );

    // Logout needs the token and ends the session.
    let p = w.post("/logout", &[]);
    assert_eq!(p.status, 303);
    assert_eq!(w.get("/ledger").status, 303);

    // The audit log shows logins and failures, to the administrator only.
    let admin = Web::login(&server, "demo-admin");
    let p = admin.get("/admin");
    assert_eq!(p.status, 200);
    // Each action in words, its code beside it for whoever needs the exact event.
    for needle in [
        "title=\"login_failed\">登录失败<",
        "title=\"login_locked\">登录已暂停<",
        "title=\"logout\">退出登录<",
        "title=\"login\">登录<",
    ] {
        assert!(p.body.contains(needle), "audit log lacks {needle}");
    }
    assert_eq!(Web::login(&server, "office").get("/admin").status, 403);
}

#[test]
fn metrics_are_for_the_scraper_token_or_an_administrator() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let url = format!("{}/metrics", server.url);
    let status = |auth: Option<&str>| {
        let mut req = saferound_tests::agent().get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.call().expect("GET /metrics").status().as_u16()
    };
    assert_eq!(status(None), 401, "nobody");
    assert_eq!(status(Some("Bearer wrong-token-of-some-length")), 401);
    assert_eq!(status(Some("Basic dGVzdDp0ZXN0")), 401);
    let token = format!("Bearer {}", saferound_tests::METRICS_TOKEN);
    assert_eq!(status(Some(&token)), 200, "the scraper's token");
    // A device's own bearer token is not the scraper's.
    let d = enroll(&server, tmp.path(), "phone.db", "inspector", DEMO_PASSWORD);
    let device = format!("Bearer {}", saferound_tests::token(&d));
    assert_eq!(status(Some(&device)), 401, "a device token");
    // Dashboard sessions: an administrator's reads them, the safety office's does not.
    let admin = Web::login(&server, "demo-admin").get("/metrics");
    assert_eq!(admin.status, 200);
    assert!(
        admin.body.contains("saferound_sync_requests_total"),
        "{}",
        admin.body
    );
    assert_eq!(Web::login(&server, "office").get("/metrics").status, 401);
}

#[test]
fn administration_reaches_phones_revokes_devices_and_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo"]);
    let admin = Web::login(&server, "demo-admin");
    let office = Web::login(&server, "office");
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let ok = |p: Page| {
        assert_eq!(p.status, 303, "{}", p.body);
        assert!(p.location.starts_with("/admin"), "{}", p.location);
    };
    // Only administrators administer.
    assert_eq!(
        office
            .post("/admin/department", &[("name", "新部门")])
            .status,
        403
    );
    ok(admin.post("/admin/department", &[("name", "图书馆")]));
    let page = admin.get("/admin").body;
    let i = page.find("图书馆").expect("the new department");
    let dept = {
        let before = &page[..i];
        let j = before.rfind("value=\"").expect("its id") + "value=\"".len();
        before[j..j + 36].to_string()
    };
    // Bad input is refused with a reason.
    let p = admin.post(
        "/admin/site",
        &[("department", "not-an-id"), ("name", "x"), ("kind", "dorm")],
    );
    assert_eq!(p.status, 400);
    ok(admin.post(
        "/admin/site",
        &[
            ("department", &dept),
            ("name", "图书馆主楼"),
            ("kind", "teaching_building"),
            ("building", "图书馆"),
            ("floor_room", "1-5F"),
        ],
    ));
    ok(admin.post(
        "/admin/user",
        &[
            ("login", "librarian"),
            ("name", "孙丽"),
            ("password", "long-enough-pw"),
            ("role_inspector", "on"),
            ("department", &dept),
        ],
    ));
    let p = admin.post(
        "/admin/user",
        &[
            ("login", "librarian"),
            ("name", "重名"),
            ("password", "long-enough-pw"),
            ("role_inspector", "on"),
        ],
    );
    assert_eq!(p.status, 409, "a login is taken once");
    // The phones get the new site and person in their directory.
    sync(&phone);
    assert!(
        phone
            .sites()
            .unwrap()
            .iter()
            .any(|s| s.name == "图书馆主楼")
    );
    let person = |d: &saferound_core::Device| {
        d.directory()
            .unwrap()
            .expect("a directory")
            .people
            .into_values()
            .find(|p| p.name == "孙丽")
    };
    let librarian = person(&phone).expect("the new user reaches the phones");
    assert_eq!(
        librarian.roles,
        vec![saferound_core::model::Role::Inspector]
    );
    // Roles are edited later; the phones follow.
    ok(admin.post(
        "/admin/roles",
        &[
            ("user", &librarian.user_id.to_string()),
            ("role_inspector", "on"),
            ("role_responsible_person", "on"),
            ("department", &dept),
        ],
    ));
    sync(&phone);
    let edited = person(&phone).unwrap();
    assert_eq!(
        edited.roles,
        vec![
            saferound_core::model::Role::Inspector,
            saferound_core::model::Role::ResponsiblePerson
        ]
    );
    let p = admin.post("/admin/roles", &[("user", &librarian.user_id.to_string())]);
    assert_eq!(p.status, 400, "at least one role");

    // The new user logs in and enrols a phone; the administrator revokes the phone, and
    // its next sync is refused. Deactivating the user ends their dashboard session.
    let lib_web = Web::try_login(&server, "librarian", "long-enough-pw")
        .1
        .expect("the new user logs in");
    let lib_phone = enroll(
        &server,
        tmp.path(),
        "lib-phone",
        "librarian",
        "long-enough-pw",
    );
    let page = admin.get("/admin").body;
    let row = &page[page.find("lib-phone").expect("the device is listed")..];
    let i = row.find("name=\"device\" value=\"").unwrap() + "name=\"device\" value=\"".len();
    let device = &row[i..i + row[i..].find('"').unwrap()];
    ok(admin.post("/admin/revoke", &[("device", device)]));
    assert_eq!(
        admin.post("/admin/revoke", &[("device", device)]).status,
        404,
        "revoked once"
    );
    assert!(
        saferound_core::sync::client::sync(&lib_phone, &mut |_| {}).is_err(),
        "a revoked device cannot sync"
    );
    ok(admin.post(
        "/admin/deactivate",
        &[("user", &librarian.user_id.to_string())],
    ));
    assert_eq!(lib_web.get("/ledger").status, 303, "session ended");
    assert!(
        Web::try_login(&server, "librarian", "long-enough-pw")
            .1
            .is_none()
    );
    ok(admin.post(
        "/admin/activate",
        &[("user", &librarian.user_id.to_string())],
    ));
    assert!(
        Web::try_login(&server, "librarian", "long-enough-pw")
            .1
            .is_some()
    );
    // Every administrative action is in the audit log.
    let page = admin.get("/admin").body;
    for needle in [
        "admin_department",
        "admin_site",
        "admin_user",
        "admin_roles",
        "admin_revoke",
        "admin_deactivate",
        "admin_activate",
    ] {
        assert!(page.contains(needle), "audit log lacks {needle}");
    }
}
