//! Three devices record offline and sync in every order: all devices and the ledger
//! converge, the ledger shows the higher grade and the conflict.

use saferound_core::device::{Assignment, NewFinding};
use saferound_core::doc::inspection::AnswerResult;
use saferound_core::ids::{DocId, LocalDate};
use saferound_core::model::{HazardStatus, RiskGrade};
use saferound_core::{Device, demo};
use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

fn heads(d: &Device, id: DocId) -> Vec<automerge::ChangeHash> {
    let mut h = d.store().load(id).unwrap().unwrap().get_heads();
    h.sort();
    h
}

#[test]
fn devices_and_ledger_converge_whatever_order_they_sync_in() {
    let orders: [[usize; 4]; 3] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]];
    for order in orders {
        let tmp = tempfile::tempdir().unwrap();
        let server = Server::start(tmp.path());
        let a = enroll(&server, tmp.path(), "a", "inspector", DEMO_PASSWORD);
        let b = enroll(&server, tmp.path(), "b", "inspector2", DEMO_PASSWORD);
        let office = enroll(&server, tmp.path(), "office", "office", DEMO_PASSWORD);
        let owner = enroll(&server, tmp.path(), "owner", "owner", DEMO_PASSWORD);
        assert_eq!(
            a.sites().unwrap().len(),
            10,
            "the directory arrived by sync"
        );
        assert_eq!(
            a.roles().unwrap(),
            vec![saferound_core::model::Role::Inspector]
        );

        // Inspector A finds a hazard and syncs; everyone receives it.
        let i = a
            .start_inspection(demo::site("食品检测实验室"), None, None)
            .unwrap();
        a.answer(i, "LAB-03", AnswerResult::Fail, "废液桶无标识", &[], None)
            .unwrap();
        let photo = a.add_photo(&[0xFF, 0xD8, 0xFF, 0xE0, 9, 9]).unwrap();
        let h = a
            .add_finding(
                i,
                &NewFinding {
                    item: Some("LAB-03".into()),
                    risk: Some(RiskGrade::General),
                    description: "废液桶无标识，混放".into(),
                    photos: vec![photo.clone()],
                    ..Default::default()
                },
            )
            .unwrap();
        a.submit_inspection(i).unwrap();
        let r = sync(&a);
        assert_eq!(r.photos_uploaded, 1);
        // The photo reached the server and the institution's other devices can fetch it.
        let (status, bytes) =
            saferound_tests::get_bytes(&server, &office, &format!("/api/v1/blobs/{photo}"));
        assert_eq!((status, bytes), (200, vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9]));
        for d in [&b, &office, &owner] {
            sync(d);
            assert!(d.hazard(h).is_ok());
        }
        // A phone that did not take the photo downloads it when it is looked at.
        assert!(office.photo(&photo).is_err());
        let fetched = saferound_core::sync::client::fetch_photo(&office, &photo).unwrap();
        assert_eq!(fetched, vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9]);
        assert_eq!(office.photo(&photo).unwrap(), fetched);
        // What a device received, the server has: the next sync pushes nothing back.
        for d in [&b, &office, &owner] {
            assert_eq!(sync(d).pushed_docs, 0);
        }

        // Offline: the reporter and the office grade it differently, the office assigns
        // it with a deadline, and the owner (once assigned) reports the rectification.
        a.regrade(h, RiskGrade::Significant, "废液量大").unwrap();
        office.regrade(h, RiskGrade::Low, "量很少").unwrap();
        office
            .assign(
                h,
                &Assignment {
                    measure: "贴标识，分类存放".into(),
                    responsible: demo::user("owner"),
                    funds: "500 元".into(),
                    deadline: LocalDate(office.today().unwrap() + chrono::Duration::days(7)),
                    contingency: String::new(),
                    reinspector: Some(demo::user("inspector")),
                },
                "",
            )
            .unwrap();
        sync(&office);
        sync(&owner);
        owner.report_rectification(h, "已贴标识", &[]).unwrap();

        let devices = [&a, &b, &office, &owner];
        for &n in &order {
            let r = sync(devices[n]);
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        }
        // A second round brings everyone everything.
        for &n in &order {
            sync(devices[n]);
        }
        let reference = heads(&a, h);
        for d in devices {
            assert_eq!(heads(d, h), reference, "order {order:?}");
            let hz = d.hazard(h).unwrap();
            assert_eq!(hz.risk, RiskGrade::Significant);
            assert_eq!(hz.status, Some(HazardStatus::AwaitingVerification));
        }

        // The ledger says the same, with the conflict for the office to settle.
        let (status, detail) = get_json(&server, &office, &format!("/api/v1/hazards/{h}"));
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["hazard"]["risk"], "significant");
        assert_eq!(detail["hazard"]["status"], "awaiting_verification");
        assert_eq!(detail["hazard"]["responsible_name"], "李娜");
        let fields: Vec<&str> = detail["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["field"].as_str())
            .collect();
        assert!(fields.contains(&"risk"), "{detail}");
        assert_eq!(detail["events"].as_array().unwrap().len(), 5, "{detail}");
        let (_, list) = get_json(&server, &office, "/api/v1/hazards?risk=significant");
        assert_eq!(list["total"], 1);
        assert_eq!(
            detail["photos"]["reported"][0],
            photo.to_string(),
            "{detail}"
        );
        // Listed once: the report's own event does not repeat its photos as "after".
        assert!(
            detail["photos"]["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["event"] != "reported"),
            "{detail}"
        );
        let (_, inspections) = get_json(&server, &office, "/api/v1/inspections");
        assert_eq!(inspections["total"], 1);
        assert_eq!(inspections["inspections"][0]["findings"], 1);
        let (_, summary) = get_json(&server, &office, "/api/v1/summary");
        assert_eq!(summary["inspections"], 1);

        // The ledger is a projection: rebuilt from the documents alone it is identical.
        server.assert_ledger_equals_a_rebuild();

        // Nothing changed: a no-op sync is one small request each way.
        let r = sync(&a);
        assert_eq!(r.requests, 1);
        assert!(r.bytes_up < 2048 && r.bytes_down < 2048, "{r:?}");
    }
}
