//! Every hazard action by every role from the dashboard and the phone, conflicting grades, photos before and after.

use super::*;

#[test]
fn every_action_by_every_role_from_the_dashboard_and_the_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
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
    let office = Web::login(&server, "office");
    let inspector = Web::login(&server, "inspector");
    let owner = Web::login(&server, "owner");
    let admin = Web::login(&server, "demo-admin");
    let reviewer = Web::try_login(&server, "province", "long-enough-pw")
        .1
        .expect("reviewer logs in");
    // A fresh hazard reported from the dashboard by the office.
    let p = office.post(
        "/hazards/new",
        &[
            ("site", &demo::site("1号学生公寓").to_string()),
            ("category", "fire_safety"),
            ("risk", "general"),
            ("location", "3楼"),
            ("description", "楼梯间堆放杂物"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/hazards/")
        .trim_end_matches("?msg=ok")
        .to_string();
    assert_eq!(status_of(&office, &id), "reported");
    let (owner_id, inspector_id) = (user_id("owner"), user_id("inspector"));
    let deadline = (chrono::Utc::now() + chrono::Duration::days(10))
        .date_naive()
        .to_string();
    let assign: Vec<(&str, &str)> = vec![
        ("action", "assign"),
        ("measure", "清理杂物"),
        ("responsible", &owner_id),
        ("funds", "200 元"),
        ("deadline", &deadline),
        ("contingency", "专人值守"),
        ("reinspector", &inspector_id),
    ];

    // reported: only its reporter (here the office) or the office regrades; only the
    // office assigns.
    refused(
        &server,
        &owner,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    refused(
        &server,
        &admin,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        403,
    );
    allowed(
        &office,
        &id,
        &[
            ("action", "regrade"),
            ("risk", "significant"),
            ("note", "更严重"),
        ],
    );
    for w in [&inspector, &owner, &admin, &reviewer] {
        refused(&server, w, &id, &assign, 403);
    }
    refused(
        &server,
        &office,
        &id,
        &[("action", "rectify"), ("note", "x")],
        409,
    );
    // Bad input is refused before anything is written.
    refused(
        &server,
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", ""),
            ("responsible", &owner_id),
            ("deadline", &deadline),
        ],
        400,
    );
    refused(
        &server,
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", "m"),
            ("responsible", &owner_id),
            ("deadline", "2001-01-01"),
        ],
        400,
    );
    refused(&server, &office, &id, &[("action", "launch")], 400);
    allowed(&office, &id, &assign);
    assert_eq!(status_of(&office, &id), "in_rectification");
    // Once assigned, inspectors no longer regrade.
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "regrade"), ("risk", "low"), ("note", "x")],
        403,
    );

    // in rectification: the named responsible person (or the office) reports it done.
    for w in [&inspector, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "rectify"), ("note", "已整改")],
            403,
        );
    }
    allowed(&owner, &id, &[("action", "rectify"), ("note", "已整改")]);
    assert_eq!(status_of(&office, &id), "awaiting_verification");

    // awaiting verification: the named re-inspector (or the office) verifies.
    for w in [&owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "verify_pass"), ("note", "")],
            403,
        );
    }
    refused(
        &server,
        &inspector,
        &id,
        &[("action", "verify_fail"), ("note", "")],
        400,
    );
    allowed(
        &inspector,
        &id,
        &[("action", "verify_fail"), ("note", "仍有杂物")],
    );
    assert_eq!(status_of(&office, &id), "in_rectification");

    // defer: the office only, with interim controls and a designated person.
    for w in [&inspector, &owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[
                ("action", "defer"),
                ("interim_controls", "围挡"),
                ("designated_person", &owner_id),
            ],
            403,
        );
    }
    allowed(
        &office,
        &id,
        &[
            ("action", "defer"),
            ("interim_controls", "设置围挡，专人巡查"),
            ("designated_person", &owner_id),
        ],
    );
    assert_eq!(status_of(&office, &id), "deferred");

    // supervision: major hazards only; the office or the provincial reviewer.
    refused(
        &server,
        &office,
        &id,
        &[("action", "supervise"), ("treatment_plan", "方案")],
        409,
    );
    allowed(
        &office,
        &id,
        &[
            ("action", "regrade"),
            ("risk", "major"),
            ("note", "升级为重大"),
        ],
    );
    for w in [&inspector, &owner, &admin] {
        refused(
            &server,
            w,
            &id,
            &[("action", "supervise"), ("treatment_plan", "方案")],
            403,
        );
    }
    allowed(
        &reviewer,
        &id,
        &[("action", "supervise"), ("treatment_plan", "限期治理方案")],
    );
    assert!(
        office
            .get(&format!("/hazards/{id}"))
            .body
            .contains("挂牌督办")
    );

    // Back through the loop to closed; then the look-back reopens it (inspector, office).
    allowed(&office, &id, &assign);
    allowed(&office, &id, &[("action", "rectify"), ("note", "完成")]);
    allowed(&office, &id, &[("action", "verify_pass"), ("note", "合格")]);
    assert_eq!(status_of(&office, &id), "closed");
    for w in [&owner, &admin, &reviewer] {
        refused(
            &server,
            w,
            &id,
            &[("action", "reopen"), ("note", "回头看")],
            403,
        );
    }
    allowed(
        &inspector,
        &id,
        &[("action", "reopen"), ("note", "回头看发现反弹")],
    );
    assert_eq!(status_of(&office, &id), "reported");

    // A phone sees every dashboard action in the same document, attributed to the people
    // who took them; and the phone's own forbidden actions are refused on the phone and
    // change nothing.
    let phone = enroll(&server, tmp.path(), "office-phone", "office", DEMO_PASSWORD);
    let doc: saferound_core::DocId = id.parse().unwrap();
    let h = phone.hazard(doc).expect("the phone has the hazard");
    assert_eq!(h.status.map(|s| s.code()), Some("reported"));
    let by: Vec<&str> = h.events.iter().map(|e| e.by.name.as_str()).collect();
    assert!(
        by.contains(&"省厅审阅") && by.contains(&"李娜") && by.contains(&"王磊"),
        "{by:?}"
    );
    let owner_phone = enroll(&server, tmp.path(), "owner-phone", "owner", DEMO_PASSWORD);
    let heads = owner_phone.show(doc).unwrap();
    assert!(
        owner_phone
            .assign(
                doc,
                &Assignment {
                    measure: "m".into(),
                    responsible: demo::user("owner"),
                    funds: String::new(),
                    deadline: LocalDate(
                        chrono::Utc::now().date_naive() + chrono::Duration::days(3)
                    ),
                    contingency: String::new(),
                    reinspector: None,
                },
                ""
            )
            .is_err()
    );
    assert_eq!(owner_phone.show(doc).unwrap(), heads);
    // The phone's allowed action reaches the dashboard: the office assigns from its phone.
    phone
        .assign(
            doc,
            &Assignment {
                measure: "手机交办".into(),
                responsible: demo::user("owner"),
                funds: String::new(),
                deadline: LocalDate(chrono::Utc::now().date_naive() + chrono::Duration::days(5)),
                contingency: String::new(),
                reinspector: None,
            },
            "",
        )
        .unwrap();
    sync(&phone);
    let p = office.get(&format!("/hazards/{id}"));
    assert!(p.body.contains("手机交办"));
    assert_eq!(status_of(&office, &id), "in_rectification");
    // And the ledger equals one rebuilt from the documents alone.
    server.assert_ledger_equals_a_rebuild();
}

#[test]
fn photos_before_and_after_from_the_dashboard_reach_the_phones() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo", "--demo-hazards"]);
    let office = Web::login(&server, "office");
    let owner = Web::login(&server, "owner");
    let inspector = Web::login(&server, "inspector");
    // The demo's hazards carry a before-photo, the rectified ones an after-photo too.
    let demo_hazard = hazard_in(&office, "awaiting_verification");
    let p = office.get(&format!("/hazards/{demo_hazard}"));
    assert_eq!(
        p.body.matches("class=\"photo\"").count(),
        2,
        "before and after"
    );

    // The office reports a hazard with a before-photo from the dashboard's form.
    let before = jpeg(1, 40_000);
    let p = office.post_multipart(
        "/hazards/new",
        &[
            ("site", &demo::site("1号学生公寓").to_string()),
            ("category", "fire_safety"),
            ("risk", "general"),
            ("location", "2楼"),
            ("description", "走廊灭火器过期"),
        ],
        &[&before],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/hazards/")
        .trim_end_matches("?msg=ok")
        .to_string();
    let page = office.get(&format!("/hazards/{id}"));
    assert!(
        page.body
            .contains(&format!("/photos/{}", sha256_hex(&before)))
    );
    assert_eq!(
        office.get_bytes(&format!("/photos/{}", sha256_hex(&before))),
        (200, before.clone())
    );

    // Assigned to the owner, who reports the rectification with two after-photos.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(5))
        .date_naive()
        .to_string();
    let owner_id = user_id("owner");
    allowed(
        &office,
        &id,
        &[
            ("action", "assign"),
            ("measure", "更换灭火器"),
            ("responsible", &owner_id),
            ("deadline", &deadline),
        ],
    );
    // Refusals keep no photo: a forbidden action, a file that is not an image, photos
    // on an action that takes none, a photo over the size limit.
    let stray = jpeg(9, 1_000);
    let dump = hazard_dump(&server, &id);
    let p = inspector.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&stray],
    );
    assert_eq!(p.status, 403);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[b"%PDF-1.4 not a photo"],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    let p = office.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "regrade"), ("risk", "major"), ("note", "x")],
        &[&stray],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    let huge = jpeg(3, 10 * 1024 * 1024);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&huge],
    );
    assert_eq!(p.status, 413);
    // A form whose token is wrong is refused before its photos are read; one good photo
    // beside a bad one keeps neither.
    let forged = Web {
        csrf: "0".repeat(64),
        ..owner.clone_session()
    };
    // (A photo that is no image: a 400 would mean it was read before the token.)
    let p = forged.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[b"GIF89a not one of ours"],
    );
    assert_eq!(p.status, 403);
    let good = jpeg(7, 2_000);
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换")],
        &[&good, b"GIF89a not one of ours"],
    );
    assert_eq!(p.status, 400, "{}", p.body);
    assert_eq!(
        office.get(&format!("/photos/{}", sha256_hex(&good))).status,
        404,
        "nothing of a refused form is kept"
    );
    assert_eq!(hazard_dump(&server, &id), dump, "refusals change nothing");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("blobs").join("partial"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "refused photos leave no files: {leftovers:?}"
    );
    assert_eq!(
        office
            .get(&format!("/photos/{}", sha256_hex(&stray)))
            .status,
        404,
        "a refused action's photo is not kept"
    );

    let (after1, after2) = (jpeg(4, 30_000), jpeg(5, 20_000));
    let p = owner.post_multipart(
        &format!("/hazards/{id}/act"),
        &[("action", "rectify"), ("note", "已更换新灭火器")],
        &[&after1, &after2],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(status_of(&office, &id), "awaiting_verification");
    let page = office.get(&format!("/hazards/{id}")).body;
    let after_section = &page[page.find("整改后照片").expect("after-photos")..];
    for photo in [&after1, &after2] {
        assert!(after_section.contains(&format!("/photos/{}", sha256_hex(photo))));
    }

    // A phone has the same event with the same photos, and fetches them by hash.
    let phone = enroll(
        &server,
        tmp.path(),
        "insp-phone",
        "inspector",
        DEMO_PASSWORD,
    );
    let doc: saferound_core::DocId = id.parse().unwrap();
    let h = phone.hazard(doc).unwrap();
    assert_eq!(
        h.photos.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        vec![sha256_hex(&before)]
    );
    let rectified = h.events.last().unwrap();
    assert_eq!(
        rectified
            .photos
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        vec![sha256_hex(&after1), sha256_hex(&after2)]
    );
    let (s, bytes) = saferound_tests::get_bytes(
        &server,
        &phone,
        &format!("/api/v1/blobs/{}", sha256_hex(&after1)),
    );
    assert_eq!((s, bytes), (200, after1.clone()));
    server.assert_ledger_equals_a_rebuild();
}

#[test]
fn conflicting_grades_show_on_the_hazard_page_until_the_office_settles_them() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(tmp.path(), &["--demo"]);
    let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
    let b = enroll(&server, tmp.path(), "b", "office", DEMO_PASSWORD);
    let id = a
        .report_hazard(
            demo::site("第一教学楼"),
            None,
            &saferound_core::device::NewFinding {
                category: Some(HazardCategory::Buildings),
                risk: Some(RiskGrade::General),
                description: "外墙瓷砖松动".into(),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&a);
    sync(&b);
    // The reporter and the office correct the grade offline, differently.
    a.regrade(id, RiskGrade::Significant, "有掉落风险").unwrap();
    b.regrade(id, RiskGrade::Low, "只有一块").unwrap();
    sync(&a);
    sync(&b);
    let office = Web::login(&server, "office");
    let page = office.get(&format!("/hazards/{id}")).body;
    assert!(page.contains("id=\"conflicts\""), "the conflict is shown");
    // The higher grade stands meanwhile (safety first).
    let (_, v) = get_json(&server, &a, &format!("/api/v1/hazards/{id}"));
    assert_eq!(v["hazard"]["risk"], "significant");
    allowed(
        &office,
        &id.to_string(),
        &[
            ("action", "regrade"),
            ("risk", "significant"),
            ("note", "核定为较大"),
        ],
    );
    let page = office.get(&format!("/hazards/{id}")).body;
    assert!(!page.contains("id=\"conflicts\""), "settled by the office");
}
