//! Credentials: one password policy on the dashboard, the admin API and the command line
//! (a 9-character password and a commonly used one refused on each); a password reset and
//! a deactivation end the user's sessions and revoke their devices, and activating the
//! user again brings neither back.

use std::process::Command;

use saferound_core::Device;
use saferound_core::demo;
use saferound_core::device::{Assignment, NewFinding};
use saferound_core::ids::LocalDate;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, server_binary, sync, token};

use crate::dashboard::Web;

const NINE: &str = "nine-char";
const COMMON: &str = "Password2026!";

/// `saferound-server admin <args>` with `password` in the environment: its exit status
/// and standard error.
fn cli(server: &Server, password: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(server_binary())
        .arg("--db")
        .arg(&server.db)
        .arg("--blobs")
        .arg(&server.blobs)
        .args(["--log", "warn", "admin"])
        .args(args)
        .env("SAFEROUND_PASSWORD", password)
        .output()
        .expect("run the admin command");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn api_create_user(server: &Server, admin: &Device, login: &str, password: &str) -> u16 {
    api_post_user(
        server,
        admin,
        serde_json::json!({
            "login": login, "name": "王二", "password": password, "roles": ["inspector"],
        }),
    )
}

fn api_post_user(server: &Server, admin: &Device, body: serde_json::Value) -> u16 {
    saferound_tests::agent()
        .post(format!("{}/api/v1/admin/users", server.url))
        .header("Authorization", format!("Bearer {}", token(admin)))
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn can_sync(d: &Device) -> bool {
    saferound_core::sync::client::sync(d, &mut |_| {}).is_ok()
}

#[test]
fn one_password_policy_everywhere_and_resets_revoke_what_the_old_password_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    // --demo warns that its shared password must never reach production.
    let login_page = saferound_tests::agent()
        .get(format!("{}/login", server.url))
        .call()
        .map(|mut r| r.body_mut().read_to_string().unwrap_or_default())
        .unwrap_or_default();
    assert!(login_page.contains("id=\"demo-warning\""), "{login_page}");
    let admin_web = Web::login(&server, "demo-admin");
    let admin_phone = enroll(&server, tmp.path(), "a", "demo-admin", DEMO_PASSWORD);

    // The dashboard's user form, the admin API and the command line refuse both.
    for bad in [NINE, COMMON] {
        let p = admin_web.post(
            "/admin/user",
            &[
                ("login", "weak"),
                ("name", "弱"),
                ("password", bad),
                ("role_inspector", "on"),
            ],
        );
        assert_eq!(p.status, 400, "dashboard accepted {bad}: {}", p.body);
        assert_eq!(
            api_create_user(&server, &admin_phone, "weak", bad),
            400,
            "API: {bad}"
        );
        let (ok, err) = cli(&server, bad, &["reset-password", "inspector"]);
        assert!(
            !ok && err.contains("password"),
            "CLI reset accepted {bad}: {err}"
        );
    }
    assert_eq!(
        api_create_user(&server, &admin_phone, "strong", "lab-safety-2026-东楼"),
        200
    );
    // The admin API refuses what the dashboard's form refuses: no role, a name past 100
    // characters, a department of another institution.
    let other_dept = saferound_core::ids::DepartmentId::new().to_string();
    for body in [
        serde_json::json!({"login": "r0", "name": "甲", "password": "lab-safety-2026-东楼", "roles": []}),
        serde_json::json!({"login": "r1", "name": "长".repeat(101), "password": "lab-safety-2026-东楼", "roles": ["inspector"]}),
        serde_json::json!({"login": "r2", "name": "乙", "password": "lab-safety-2026-东楼", "roles": ["inspector"], "department": other_dept}),
    ] {
        assert_eq!(
            api_post_user(&server, &admin_phone, body.clone()),
            400,
            "{body}"
        );
    }

    // An account that may not enrol a device gets the same 401 for the right password
    // as for a wrong one.
    server.admin(&[
        "admin",
        "create-user",
        "--login",
        "province",
        "--name",
        "省厅审阅",
        "--roles",
        "provincial_reviewer",
    ]);
    assert_eq!(enrol(&server, "province", "long-enough-pw"), 401);
    assert_eq!(enrol(&server, "province", "a-wrong-password"), 401);

    // A reset from the command line ends the inspector's session and revokes the phone.
    let inspector_web = Web::login(&server, "inspector");
    let phone = enroll(&server, tmp.path(), "p", "inspector", DEMO_PASSWORD);
    assert!(can_sync(&phone));
    let (ok, err) = cli(
        &server,
        "a-new-long-passphrase",
        &["reset-password", "inspector"],
    );
    assert!(ok, "{err}");
    assert_eq!(
        inspector_web.get("/ledger").status,
        303,
        "the session ended"
    );
    assert!(!can_sync(&phone), "the phone's token is revoked");
    assert!(
        Web::try_login(&server, "inspector", DEMO_PASSWORD)
            .1
            .is_none()
    );
    let again = enroll(
        &server,
        tmp.path(),
        "p2",
        "inspector",
        "a-new-long-passphrase",
    );
    assert!(sync(&again).rejected.is_empty(), "a new enrolment works");

    // An office phone that holds a hazard and the directory from before the deactivation.
    let office_phone = enroll(&server, tmp.path(), "of", "office", DEMO_PASSWORD);
    let hazard = again
        .report_hazard(
            demo::site("第一教学楼"),
            None,
            &NewFinding {
                category: Some(HazardCategory::Buildings),
                risk: Some(RiskGrade::General),
                description: "栏杆松动".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&again);
    sync(&office_phone);

    // Deactivation revokes the devices too; activation brings none of it back.
    let owner_phone = enroll(&server, tmp.path(), "o", "owner", DEMO_PASSWORD);
    let owner_web = Web::login(&server, "owner");
    let owner = saferound_core::demo::user("owner").to_string();
    assert_eq!(
        admin_web
            .post("/admin/deactivate", &[("user", &owner)])
            .status,
        303
    );
    assert_eq!(owner_web.get("/ledger").status, 303);
    assert!(!can_sync(&owner_phone));
    // Nobody is assigned work after leaving: the office phone, offline with the old
    // directory, assigns the hazard to the owner and is refused; synced, it knows.
    let assignment = Assignment {
        measure: "加固栏杆".into(),
        responsible: demo::user("owner"),
        funds: String::new(),
        deadline: LocalDate(office_phone.today().unwrap() + chrono::Duration::days(7)),
        contingency: String::new(),
        reinspector: None,
    };
    office_phone.assign(hazard, &assignment, "").unwrap();
    let r = sync(&office_phone);
    assert!(
        r.rejected
            .iter()
            .any(|(id, why)| *id == hazard.to_string() && why.contains("person")),
        "{r:?}"
    );
    assert!(office_phone.assign(hazard, &assignment, "").is_err());
    assert_eq!(
        admin_web
            .post("/admin/activate", &[("user", &owner)])
            .status,
        303
    );
    assert_eq!(
        owner_web.get("/ledger").status,
        303,
        "the old session stays ended"
    );
    assert!(!can_sync(&owner_phone), "the old device stays revoked");
    assert!(Web::try_login(&server, "owner", DEMO_PASSWORD).1.is_some());
}

/// `POST /api/v1/devices` for `login`: the answer's status.
fn enrol(server: &Server, login: &str, password: &str) -> u16 {
    let body = serde_json::json!({
        "login": login, "password": password, "name": "phone", "actor": "00ff",
    });
    saferound_tests::agent()
        .post(format!("{}/api/v1/devices", server.url))
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn password_guesses_are_counted_before_the_check_in_the_database_on_both_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path());
    // Parallel guesses at enrolment count before any is checked: at most the free five
    // are checked (401), the others wait (429).
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| enrol(&server, "owner", "a-wrong-password")))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 5 && statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    // The right password waits too, also on the dashboard: one throttle per login.
    assert_eq!(enrol(&server, "owner", DEMO_PASSWORD), 429);
    let (p, w) = Web::try_login(&server, "owner", DEMO_PASSWORD);
    assert_eq!(p.status, 429);
    assert!(w.is_none());
    // Kept in the database: a restart resets nothing.
    server.restart();
    assert_eq!(enrol(&server, "owner", DEMO_PASSWORD), 429);
    // Other logins are not slowed by it.
    assert!(Web::try_login(&server, "office", DEMO_PASSWORD).1.is_some());
    // One address failing on many logins is stopped whatever the logins.
    let mut refused = 0;
    for k in 0..110 {
        if enrol(&server, &format!("nobody{k}"), "a-wrong-password") == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 5, "{refused} of 110 refused");
}

/// Posts the password form of `w`.
fn change(w: &Web, current: &str, new: &str, repeat: &str) -> crate::dashboard::Page {
    w.post(
        "/account/password",
        &[("current", current), ("new", new), ("repeat", repeat)],
    )
}

#[test]
fn users_change_their_own_password_and_the_one_time_password_first_of_all() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());

    // The administrator's one-time password, printed once, is changed before anything.
    let once = server
        .startup
        .iter()
        .find_map(|l| l.split("one-time password '").nth(1))
        .and_then(|rest| rest.split('\'').next())
        .expect("the one-time password is printed")
        .to_string();
    let admin = Web::try_login(&server, "admin", &once)
        .1
        .expect("the administrator signs in with it");
    let p = admin.get("/ledger");
    assert_eq!((p.status, p.location.as_str()), (303, "/account/password"));
    assert!(admin.get("/account/password").body.contains("password-due"));
    let p = change(
        &admin,
        "not-the-password",
        "a-new-admin-passphrase",
        "a-new-admin-passphrase",
    );
    assert_eq!(p.status, 403, "the current password is checked");
    let p = change(
        &admin,
        &once,
        "a-new-admin-passphrase",
        "a-new-admin-passphrase",
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let cookie = crate::dashboard::cookie_named(&p, "sr_session").expect("a new session");
    assert_eq!(admin.get("/ledger").status, 303, "the old session ended");
    let fresh = crate::dashboard::page(
        crate::dashboard::agent()
            .get(format!("{}/admin", server.url))
            .header("Cookie", &cookie)
            .call()
            .unwrap(),
    );
    assert!(
        fresh.status != 303 && fresh.location.is_empty(),
        "no longer sent to change it: {} {}",
        fresh.status,
        fresh.location
    );

    // Anyone changes their own: the rules of the policy, and the phones enrol again.
    let w = Web::login(&server, "inspector2");
    let phone = enroll(&server, tmp.path(), "p", "inspector2", DEMO_PASSWORD);
    assert_eq!(
        change(&w, DEMO_PASSWORD, "nine-char", "nine-char").status,
        400
    );
    assert_eq!(
        change(&w, DEMO_PASSWORD, "Password2026!", "Password2026!").status,
        400
    );
    assert_eq!(
        change(
            &w,
            DEMO_PASSWORD,
            "one-long-passphrase",
            "another-passphrase"
        )
        .status,
        400
    );
    let p = change(
        &w,
        DEMO_PASSWORD,
        "one-long-passphrase",
        "one-long-passphrase",
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(
        !can_sync(&phone),
        "the phone enrols again with the new password"
    );
    assert!(
        Web::try_login(&server, "inspector2", DEMO_PASSWORD)
            .1
            .is_none()
    );
    assert!(
        Web::try_login(&server, "inspector2", "one-long-passphrase")
            .1
            .is_some()
    );
}

/// The device ids the account page of `w` offers to revoke.
fn revocable(w: &Web) -> Vec<String> {
    w.get("/account/password")
        .body
        .split("name=\"device\" value=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next().map(str::to_string))
        .collect()
}

#[test]
fn users_list_their_devices_and_revoke_their_own_only() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let phone = enroll(
        &server,
        tmp.path(),
        "lost-phone",
        "inspector",
        DEMO_PASSWORD,
    );
    let other = enroll(
        &server,
        tmp.path(),
        "their-phone",
        "inspector2",
        DEMO_PASSWORD,
    );
    let w = Web::login(&server, "inspector");
    let page = w.get("/account/password").body;
    assert!(page.contains("lost-phone"), "the user's phone is listed");
    assert!(!page.contains("their-phone"), "nobody else's");
    let theirs = revocable(&Web::login(&server, "inspector2"));
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    // Someone else's device is not found; one's own is revoked and stops syncing.
    let p = w.post("/account/devices/revoke", &[("device", &theirs[0])]);
    assert_eq!(p.status, 404);
    assert!(can_sync(&other));
    let mine = revocable(&w);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let p = w.post("/account/devices/revoke", &[("device", &mine[0])]);
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(!can_sync(&phone));
    assert!(
        revocable(&w).is_empty(),
        "listed as revoked, nothing left to revoke"
    );
}
