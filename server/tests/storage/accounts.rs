//! Accounts, devices, sessions, the audit log, the password throttle, and the office's plans.

use super::*;

// ---------------------------------------------------------------------------------------
// Accounts, the dashboard, the office

pub(crate) async fn accounts_devices_sessions_audit_round_trip(s: Arc<Store>) {
    let s = s.as_ref();
    assert!(!s.epoch().await.unwrap().is_empty());
    assert_eq!(s.epoch().await.unwrap(), s.epoch().await.unwrap());
    assert!(!s.restored().await.unwrap());
    let inst = InstitutionId::new();
    s.create_institution(inst, "第一中学", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        s.institution_created_at(inst).await.unwrap().as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert!(
        s.institution_created_at(InstitutionId::new())
            .await
            .unwrap()
            .is_none()
    );
    let other = InstitutionId::new();
    s.create_institution(other, "A 第二中学", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let names: Vec<String> = s
        .institutions()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.1)
        .collect();
    assert_eq!(
        names,
        vec!["A 第二中学", "第一中学"],
        "ordered by name, bytewise"
    );
    let dept = DepartmentId::new();
    s.create_department(&Department {
        id: dept,
        institution: inst,
        name: "后勤处".into(),
    })
    .await
    .unwrap();
    assert_eq!(s.departments(inst).await.unwrap()[0].id, dept);
    let site = Site {
        id: SiteId::new(),
        institution: inst,
        department: dept,
        name: "1号学生公寓".into(),
        kind: SiteKind::Dorm,
        building: "1".into(),
        floor_room: "101".into(),
    };
    s.create_site(&site).await.unwrap();
    let sites = s.sites(inst).await.unwrap();
    assert_eq!(
        (sites[0].id, sites[0].kind, sites[0].floor_room.as_str()),
        (site.id, SiteKind::Dorm, "101")
    );

    let user = User {
        id: UserId::new(),
        institution: Some(inst),
        department: Some(dept),
        login: "wang".into(),
        name: "王磊".into(),
        roles: vec![Role::Inspector, Role::SafetyOffice],
        password_hash: "h1".into(),
        active: true,
    };
    s.create_user(&user).await.unwrap();
    // A password due to change stays so until a password is set.
    assert!(!s.password_due(user.id).await.unwrap());
    s.set_password_due(user.id).await.unwrap();
    s.set_password_due(user.id).await.unwrap();
    assert!(s.password_due(user.id).await.unwrap());
    assert!(s.set_password("wang", "h1").await.unwrap());
    assert!(!s.password_due(user.id).await.unwrap());
    let dup = User {
        id: UserId::new(),
        ..user.clone()
    };
    assert!(matches!(
        s.create_user(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    let reviewer = User {
        id: UserId::new(),
        institution: None,
        department: None,
        login: "province".into(),
        name: "省厅".into(),
        roles: vec![Role::Inspector],
        password_hash: "h".into(),
        active: true,
    };
    s.create_user(&reviewer).await.unwrap();
    assert_eq!(s.user_count().await.unwrap(), 2);
    assert!(s.set_password("wang", "h2").await.unwrap());
    assert!(!s.set_password("nobody", "h2").await.unwrap());
    let got = s.user_by_login("wang").await.unwrap().unwrap();
    assert_eq!(
        (got.id, got.password_hash.as_str(), got.roles.clone()),
        (user.id, "h2", user.roles.clone())
    );
    assert_eq!(got.department, Some(dept));
    assert!(
        s.user_by_login("province")
            .await
            .unwrap()
            .unwrap()
            .institution
            .is_none()
    );
    assert_eq!(s.users(inst).await.unwrap().len(), 1);
    assert_eq!(s.user_by_id(user.id).await.unwrap().unwrap().login, "wang");
    assert!(s.user_by_id(UserId::new()).await.unwrap().is_none());

    // Devices.
    let phone = NewDevice {
        id: "dev-1".into(),
        user: user.id,
        institution: inst,
        actor: vec![1; 16],
        token_hash: [7; 32],
        name: "phone".into(),
    };
    s.enroll_device(&phone).await.unwrap();
    let same_actor = NewDevice {
        id: "dev-2".into(),
        token_hash: [8; 32],
        ..phone.clone()
    };
    assert!(matches!(
        s.enroll_device(&same_actor).await,
        Err(StoreError::Conflict(_))
    ));
    let auth = s.device_by_token([7; 32]).await.unwrap().unwrap();
    assert_eq!(
        (
            auth.device_id.as_str(),
            auth.institution,
            auth.actor.clone(),
            auth.user.id
        ),
        ("dev-1", inst, vec![1; 16], user.id)
    );
    assert!(s.device_by_token([9; 32]).await.unwrap().is_none());
    s.touch_device("dev-1").await.unwrap();
    let devices = s.devices(inst).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].last_sync_at.is_some() && devices[0].revoked_at.is_none());
    assert_eq!(
        s.institution_actors(inst).await.unwrap(),
        vec![vec![1u8; 16]]
    );
    assert!(
        !s.revoke_device(Some(other), "dev-1").await.unwrap(),
        "another institution's"
    );
    assert!(s.revoke_device(Some(inst), "dev-1").await.unwrap());
    assert!(
        !s.revoke_device(None, "dev-1").await.unwrap(),
        "already revoked"
    );
    assert!(s.device_by_token([7; 32]).await.unwrap().is_none());

    // The dashboard's device, replaced when revoked.
    assert!(s.web_device(user.id, inst).await.unwrap().is_none());
    let web = NewDevice {
        id: "web-1".into(),
        actor: vec![2; 16],
        token_hash: [2; 32],
        ..phone.clone()
    };
    s.set_web_device(&web).await.unwrap();
    assert_eq!(
        s.web_device(user.id, inst)
            .await
            .unwrap()
            .unwrap()
            .device_id,
        "web-1"
    );
    assert!(s.revoke_device(None, "web-1").await.unwrap());
    assert!(s.web_device(user.id, inst).await.unwrap().is_none());
    let web2 = NewDevice {
        id: "web-2".into(),
        actor: vec![3; 16],
        token_hash: [3; 32],
        ..phone.clone()
    };
    s.set_web_device(&web2).await.unwrap();
    assert_eq!(
        s.web_device(user.id, inst).await.unwrap().unwrap().actor,
        vec![3; 16]
    );

    // Sessions.
    s.create_session([5; 32], user.id, "csrf-1", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    let sess = s
        .session([5; 32], "2026-01-01T00:00:00Z")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sess.csrf.as_str(), sess.user.id), ("csrf-1", user.id));
    assert!(
        s.session([5; 32], "2999-06-01T00:00:00Z")
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    s.delete_session([5; 32]).await.unwrap();
    assert!(
        s.session([5; 32], "2026-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_none()
    );
    s.create_session([6; 32], user.id, "csrf-2", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    assert!(s.set_user_active(inst, user.id, false).await.unwrap());
    assert!(!s.set_user_active(other, user.id, false).await.unwrap());
    assert!(
        s.session([6; 32], "2026-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.web_device(user.id, inst).await.unwrap().is_none(),
        "inactive user"
    );
    assert!(!s.user_by_id(user.id).await.unwrap().unwrap().active);

    // The audit log, newest first, per institution.
    s.audit(Some(inst), Some(&user), "wang", "login", "ok")
        .await
        .unwrap();
    s.audit(None, None, "ghost", "login_failed", "")
        .await
        .unwrap();
    s.audit(Some(inst), Some(&user), "wang", "export", "ledger.csv")
        .await
        .unwrap();
    let log = s
        .audit_log(Some(inst), &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["export", "login"]
    );
    assert_eq!(
        log[0].user_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    let all = s.audit_log(None, &Default::default(), 2).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq > all[1].seq);
    // One action's entries about one thing: the detail starts with its id.
    s.audit(Some(inst), None, "phone", "clock_ahead", "h1: ahead 6 min")
        .await
        .unwrap();
    s.audit(Some(inst), None, "phone", "clock_ahead", "h10: ahead 9 min")
        .await
        .unwrap();
    let about = |action: &str, prefix: &str| saferound_server::store::AuditFilter {
        action: Some(action.into()),
        detail_prefix: Some(prefix.into()),
    };
    let h1 = s
        .audit_log(Some(inst), &about("clock_ahead", "h1:"), 10)
        .await
        .unwrap();
    assert_eq!(h1.len(), 1);
    assert_eq!(h1[0].detail, "h1: ahead 6 min");
    assert!(
        s.audit_log(Some(inst), &about("export", "h1:"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.audit_log(Some(other), &about("clock_ahead", "h1:"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Blobs.
    s.record_blob(inst, "abc", 12, "image/jpeg", "phone")
        .await
        .unwrap();
    s.record_blob(inst, "abc", 12, "image/jpeg", "phone")
        .await
        .unwrap();
    assert_eq!(
        s.blob(inst, "abc").await.unwrap(),
        Some((12, "image/jpeg".into()))
    );
    assert!(s.blob(other, "abc").await.unwrap().is_none());

    // Photos no document references: counted per uploader and per institution, kept once
    // referenced, forgotten once expired; a file goes only when no institution holds it.
    s.record_blob(inst, "def", 30, "image/png", "tablet")
        .await
        .unwrap();
    assert_eq!(
        s.unreferenced_blob_bytes(inst, "phone").await.unwrap(),
        (12, 42)
    );
    assert!(s.reference_blob(inst, "abc").await.unwrap());
    assert!(!s.reference_blob(other, "abc").await.unwrap());
    assert_eq!(
        s.unreferenced_blob_bytes(inst, "phone").await.unwrap(),
        (0, 30)
    );
    assert_eq!(
        s.unreferenced_blob_bytes(other, "phone").await.unwrap(),
        (0, 0)
    );
    s.record_blob(other, "def", 30, "image/png", "x")
        .await
        .unwrap();
    assert!(s.reference_blob(other, "def").await.unwrap());
    assert!(
        s.expire_blobs("2000-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.blob(inst, "def").await.unwrap().is_some(),
        "not old enough"
    );
    assert!(
        s.expire_blobs("9999-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.blob(inst, "def").await.unwrap().is_none(), "expired");
    assert!(s.blob(other, "def").await.unwrap().is_some(), "referenced");
    assert!(s.blob(inst, "abc").await.unwrap().is_some(), "referenced");
    s.record_blob(inst, "ghi", 5, "image/png", "phone")
        .await
        .unwrap();
    assert_eq!(
        s.expire_blobs("9999-01-01T00:00:00Z").await.unwrap(),
        vec!["ghi".to_string()]
    );
}

pub(crate) async fn office_campaigns_duty_templates_round_trip(s: Arc<Store>) {
    let s = s.as_ref();
    let inst = InstitutionId::new();
    let other = InstitutionId::new();
    s.create_institution(inst, "一中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    s.create_institution(other, "二中", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        s.institution_tz(inst).await.unwrap(),
        Some((480, "Asia/Shanghai".into()))
    );
    assert!(s.set_institution_tz(inst, -330, "UTC-05:30").await.unwrap());
    assert!(
        !s.set_institution_tz(InstitutionId::new(), 0, "UTC")
            .await
            .unwrap()
    );
    assert_eq!(
        s.institution_tz(inst).await.unwrap(),
        Some((-330, "UTC-05:30".into()))
    );

    let date = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let mut k = Campaign {
        id: CampaignId::new(),
        institution: inst,
        name: "消防安全专项行动".into(),
        starts: date("2026-03-01"),
        ends: date("2026-04-30"),
        summary_due: Some(date("2026-05-10")),
        phases: vec![Phase {
            name_zh: "自查".into(),
            name_en: "Self-check".into(),
            starts: date("2026-03-01"),
            ends: date("2026-03-15"),
        }],
        dept_due: WeeklyDue::DEPARTMENT,
        inst_due: WeeklyDue {
            day: 7,
            minute: 23 * 60 + 59,
        },
    };
    s.save_campaign(&k).await.unwrap();
    k.name = "改名".into();
    k.summary_due = None;
    s.save_campaign(&k).await.unwrap();
    let early = Campaign {
        id: CampaignId::new(),
        starts: date("2026-01-01"),
        ..k.clone()
    };
    s.save_campaign(&early).await.unwrap();
    assert_eq!(
        s.campaigns(inst).await.unwrap(),
        vec![early.clone(), k.clone()]
    );
    let stolen = Campaign {
        institution: other,
        ..k.clone()
    };
    assert!(matches!(
        s.save_campaign(&stolen).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.campaigns(other).await.unwrap().is_empty());

    let slot = |id: &str, a: &str, b: &str| DutySlot {
        id: id.into(),
        institution: inst,
        starts: a.into(),
        ends: b.into(),
        officer: "李".into(),
        officer_phone: "139".into(),
        leader: "张".into(),
        leader_phone: "138".into(),
    };
    s.add_duty_slot(&slot("s2", "2026-05-01T12:00:00Z", "2026-05-02T00:00:00Z"))
        .await
        .unwrap();
    s.add_duty_slot(&slot("s1", "2026-05-01T00:00:00Z", "2026-05-01T12:00:00Z"))
        .await
        .unwrap();
    s.add_duty_slot(&slot("s3", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"))
        .await
        .unwrap();
    let ids = |v: Vec<DutySlot>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .duty_slots(inst, "2026-05-01T06:00:00Z", "2026-05-03T00:00:00Z")
            .await
            .unwrap()),
        vec!["s1", "s2"]
    );
    // Editing: s3 moves into May and changes hands; another institution cannot touch it.
    let mut moved = slot("s3", "2026-05-02T00:00:00Z", "2026-05-02T12:00:00Z");
    moved.officer = "王".into();
    assert!(s.update_duty_slot(&moved).await.unwrap());
    assert!(
        !s.update_duty_slot(&DutySlot {
            institution: other,
            ..moved.clone()
        })
        .await
        .unwrap()
    );
    assert!(
        !s.update_duty_slot(&slot(
            "nope",
            "2026-05-02T00:00:00Z",
            "2026-05-02T12:00:00Z"
        ))
        .await
        .unwrap()
    );
    let may = s
        .duty_slots(inst, "2026-05-01T06:00:00Z", "2026-05-03T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(ids(may.clone()), vec!["s1", "s2", "s3"]);
    assert_eq!(may[2], moved);
    moved.starts = "2026-06-01T00:00:00Z".into();
    moved.ends = "2026-06-02T00:00:00Z".into();
    assert!(s.update_duty_slot(&moved).await.unwrap());
    assert!(s.delete_duty_slot(inst, "s1").await.unwrap());
    assert!(!s.delete_duty_slot(other, "s2").await.unwrap());
    assert_eq!(
        ids(s
            .duty_slots(inst, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
            .await
            .unwrap()),
        vec!["s2", "s3"]
    );

    let h = Holiday {
        id: "h1".into(),
        institution: inst,
        name: "劳动节".into(),
        starts: date("2026-05-01"),
        ends: date("2026-05-05"),
    };
    s.add_holiday(&h).await.unwrap();
    let got = s.holidays(inst).await.unwrap();
    assert_eq!(
        (got[0].name.as_str(), got[0].ends),
        ("劳动节", date("2026-05-05"))
    );
    assert!(s.delete_holiday(inst, "h1").await.unwrap());
    assert!(s.holidays(inst).await.unwrap().is_empty());

    let t = saferound_core::model::templates::Template {
        id: "lab-check".into(),
        version: 1,
        site_kind: SiteKind::Dorm,
        title_zh: "检查".into(),
        title_en: "Check".into(),
        items: vec![saferound_core::model::templates::TemplateItem {
            code: "A1".into(),
            text_zh: "通道畅通".into(),
            text_en: "Exits clear".into(),
            category: HazardCategory::FireSafety,
            suggested_risk: RiskGrade::Significant,
        }],
        builtin: false,
    };
    let by = UserId::new();
    s.add_template(inst, &t, by).await.unwrap();
    assert!(matches!(
        s.add_template(inst, &t, by).await,
        Err(StoreError::Conflict(_))
    ));
    let t2 = saferound_core::model::templates::Template {
        version: 2,
        ..t.clone()
    };
    s.add_template(inst, &t2, by).await.unwrap();
    assert_eq!(s.templates(inst).await.unwrap(), vec![t, t2]);
    assert!(s.templates(other).await.unwrap().is_empty());
}

/// The password throttle's counts: one more per attempt within a window, a fresh window
/// (and no delay) once it is over, a delay kept until cleared, expired rows removed.
pub(crate) async fn password_attempts_count_in_windows_and_clear(s: Arc<Store>) {
    let s = s.as_ref();
    let k = vec!["login:owner".to_string(), "addr:127.0.0.1".to_string()];
    let first = s.count_attempts(&k, 1_000, 100).await.unwrap();
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[1].window_start, 1_000);
    let again = s.count_attempts(&k[..1], 1_010, 110).await.unwrap();
    assert_eq!((again[0].attempts, again[0].window_start), (2, 1_000));
    s.delay_attempts(&k[0], 2_000).await.unwrap();
    let seen = s.attempts_of(&k[0]).await.unwrap().unwrap();
    assert_eq!((seen.attempts, seen.not_before), (2, Some(2_000)));
    // Past the window: counted afresh, the delay gone.
    let later = s.count_attempts(&k[..1], 5_000, 4_000).await.unwrap();
    assert_eq!(
        (
            later[0].attempts,
            later[0].window_start,
            later[0].not_before
        ),
        (1, 5_000, None)
    );
    // The address's row, expired, is removed by the next count.
    assert!(s.attempts_of(&k[1]).await.unwrap().is_none());
    s.clear_attempts(&k[0]).await.unwrap();
    assert!(s.attempts_of(&k[0]).await.unwrap().is_none());
}
