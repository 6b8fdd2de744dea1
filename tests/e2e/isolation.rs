//! One institution's documents are neither readable nor writable from another.

use saferound_core::device::NewFinding;
use saferound_core::model::{HazardCategory, RiskGrade};
use saferound_core::{Device, demo};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

#[test]
fn another_institution_sees_nothing_and_writes_only_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    // A second institution with an inspector, made with the admin commands.
    let other = server.admin(&["admin", "create-institution", "南昌某中学"]);
    server.admin(&[
        "admin",
        "create-user",
        "--institution",
        &other,
        "--login",
        "zhang",
        "--name",
        "张三",
        "--roles",
        "inspector,safety_office",
    ]);
    let dept = server.admin(&[
        "admin",
        "create-department",
        "--institution",
        &other,
        "--name",
        "德育处",
    ]);
    server.admin(&[
        "admin",
        "create-site",
        "--institution",
        &other,
        "--department",
        &dept,
        "--name",
        "男生宿舍",
        "--kind",
        "dorm",
    ]);
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let z = enroll(&server, tmp.path(), "z", "zhang", "long-enough-pw");
    let z_sites: Vec<String> = z.sites().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(
        z_sites,
        vec!["男生宿舍".to_string()],
        "each institution's directory holds only its own sites"
    );
    let h = a
        .report_hazard(
            demo::site("南大门"),
            None,
            &NewFinding {
                category: Some(HazardCategory::GateControl),
                risk: Some(RiskGrade::Significant),
                description: "访客未登记".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&a);
    sync(&z);
    assert!(
        z.hazard(h).is_err(),
        "the other institution never receives it"
    );
    let (status, body) = get_json(&server, &z, &format!("/api/v1/hazards/{h}"));
    let (status_missing, body_missing) = get_json(
        &server,
        &z,
        &format!("/api/v1/hazards/{}", saferound_core::ids::DocId::new()),
    );
    assert_eq!(
        (status, &body),
        (status_missing, &body_missing),
        "same answer as a document that does not exist"
    );
    assert_eq!(status, 404);
    let (_, list) = get_json(&server, &z, "/api/v1/hazards");
    assert_eq!(list["total"], 0);

    // Z pushes a document under the same id: it lands in Z's institution only, as a
    // separate document; A's is untouched.
    let a_before = get_json(&server, &a, &format!("/api/v1/hazards/{h}")).1;
    let mut doc = a.store().load(h).unwrap().unwrap();
    let copy = z_copy_of(&z, &mut doc);
    z.receive(h, &copy).unwrap_or(());
    sync(&z);
    assert_eq!(
        get_json(&server, &a, &format!("/api/v1/hazards/{h}")).1,
        a_before
    );
    let _: &Device = &z;
}

/// A's hazard bytes as Z would hold them if it had stolen them (it never receives them).
fn z_copy_of(_z: &Device, doc: &mut automerge::AutoCommit) -> Vec<u8> {
    doc.save()
}

#[test]
fn administrators_manage_people_and_sites_over_the_api_and_nobody_else_does() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let admin = enroll(&server, tmp.path(), "admin", "demo-admin", DEMO_PASSWORD);
    let inspector = enroll(&server, tmp.path(), "i", "inspector", DEMO_PASSWORD);
    let post = |d: &Device, path: &str, body: serde_json::Value| -> (u16, serde_json::Value) {
        let agent = saferound_tests::agent();
        let mut r = agent
            .post(format!("{}{path}", server.url))
            .header(
                "Authorization",
                format!("Bearer {}", saferound_tests::token(d)),
            )
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        let s = r.status().as_u16();
        (
            s,
            serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or_default(),
        )
    };
    let user = serde_json::json!({"login": "wang2", "name": "王二", "password": "long-enough-pw", "roles": ["inspector"]});
    assert_eq!(post(&inspector, "/api/v1/admin/users", user.clone()).0, 403);
    assert_eq!(post(&admin, "/api/v1/admin/users", user.clone()).0, 200);
    assert_eq!(
        post(&admin, "/api/v1/admin/users", user).0,
        409,
        "logins are unique"
    );
    let (s, dept) = post(
        &admin,
        "/api/v1/admin/departments",
        serde_json::json!({"name": "图书馆"}),
    );
    assert_eq!(s, 200);
    let (s, _) = post(
        &admin,
        "/api/v1/admin/sites",
        serde_json::json!({"name": "古籍书库", "kind": "other", "department": dept["id"]}),
    );
    assert_eq!(s, 200);
    let (s, _) = post(
        &admin,
        "/api/v1/admin/sites",
        serde_json::json!({"name": "x", "kind": "spaceship", "department": dept["id"]}),
    );
    assert!(s == 400 || s == 422, "{s}");
    // The new person enrols, and every device receives the new site.
    let newbie = enroll(&server, tmp.path(), "n", "wang2", "long-enough-pw");
    sync(&inspector);
    for d in [&newbie, &inspector] {
        assert!(d.sites().unwrap().iter().any(|s| s.name == "古籍书库"));
    }
}
