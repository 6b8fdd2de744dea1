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
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let z = enroll(&server, tmp.path(), "z", "zhang", "long-enough-pw");
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
