//! Demo hazards for `--demo`: reported and driven through the loop by the demo people,
//! through the same document path as every dashboard action (so the demo ledger is made
//! of real, synced documents).

use chrono::Duration;
use saferound_core::demo;
use saferound_core::model::{HazardCategory, RiskGrade};

use super::actions::{self, HazardAction, NewReport};
use super::upload;
use crate::state::AppState;

/// The demo's photos, small PNGs drawn for it: a before-photo on every demo hazard, an
/// after-photo on the rectified ones, so the hazard page shows both kinds.
const BEFORE_PHOTO: &[u8] = include_bytes!("demo_photos/before.png");
const AFTER_PHOTO: &[u8] = include_bytes!("demo_photos/after.png");

const HAZARDS: &[(&str, HazardCategory, RiskGrade, &str, &str)] = &[
    (
        "1号学生公寓",
        HazardCategory::FireSafety,
        RiskGrade::Significant,
        "3楼走廊",
        "疏散走廊堆放自行车，堵塞安全出口",
    ),
    (
        "5号学生公寓",
        HazardCategory::FireSafety,
        RiskGrade::Major,
        "楼道",
        "宿舍楼道内电动车违规充电",
    ),
    (
        "1号学生公寓",
        HazardCategory::FireSafety,
        RiskGrade::General,
        "2楼",
        "灭火器压力不足",
    ),
    (
        "5号学生公寓",
        HazardCategory::GateControl,
        RiskGrade::Low,
        "一楼门厅",
        "访客登记本未及时填写",
    ),
    (
        "1号学生公寓",
        HazardCategory::Buildings,
        RiskGrade::General,
        "4楼",
        "窗户限位器损坏",
    ),
    (
        "5号学生公寓",
        HazardCategory::FireSafety,
        RiskGrade::Significant,
        "6楼",
        "应急照明灯不亮",
    ),
    (
        "1号学生公寓",
        HazardCategory::Theft,
        RiskGrade::Low,
        "车棚",
        "车棚监控摄像头角度偏移",
    ),
    (
        "5号学生公寓",
        HazardCategory::MentalHealth,
        RiskGrade::General,
        "宿管室",
        "心理危机干预联系表未更新",
    ),
];

/// Seeds the demo hazards once (when the demo institution's ledger is empty).
pub async fn seed(state: &AppState) -> Result<usize, String> {
    let inst = demo::institution();
    let (_, total) = state
        .storage
        .hazards(&crate::store::HazardQuery {
            institution: Some(inst),
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    if total > 0 {
        return Ok(0);
    }
    let user = |login: &str| {
        let s = state.clone();
        let login = login.to_string();
        async move {
            s.storage
                .user_by_login(&login)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("demo user {login} missing"))
        }
    };
    let office = user("office").await?;
    let inspector = user("inspector").await?;
    let owner = user("owner").await?;
    let today = state.today_in(state.tz(Some(demo::institution())).await);
    let inst = demo::institution();
    let before = upload::arrived_from_bytes(state, BEFORE_PHOTO)
        .await
        .map_err(|e| e.to_string())?;
    let before_photo = upload::keep_photos(state, inst, &owner.id.to_string(), vec![before])
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for (i, (site, category, risk, location, description)) in HAZARDS.iter().enumerate() {
        let by = if i % 2 == 0 { &inspector } else { &office };
        let id = actions::report(
            state,
            by,
            NewReport {
                site: demo::site(site),
                category: *category,
                risk: *risk,
                location: location.to_string(),
                description: description.to_string(),
                photos: before_photo.clone(),
            },
            Vec::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
        n += 1;
        if i < 5 {
            actions::apply(
                state,
                &office,
                id,
                HazardAction::Assign {
                    measure: "立即清理整改，落实日常巡查".into(),
                    responsible: owner.id,
                    funds: "500 元".into(),
                    deadline: today + Duration::days(2 + 3 * i as i64),
                    contingency: "整改期间安排专人值守".into(),
                    reinspector: Some(inspector.id),
                    note: String::new(),
                },
                Vec::new(),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        if i == 2 || i == 3 {
            actions::apply(
                state,
                &owner,
                id,
                HazardAction::Rectify {
                    note: "已更换/整改完成".into(),
                },
                vec![
                    upload::arrived_from_bytes(state, AFTER_PHOTO)
                        .await
                        .map_err(|e| e.to_string())?,
                ],
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        if i == 3 {
            actions::apply(
                state,
                &inspector,
                id,
                HazardAction::Verify {
                    passed: true,
                    note: "复查合格".into(),
                },
                Vec::new(),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(n)
}
