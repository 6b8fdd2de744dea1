//! Demo hazards for `--demo`: ten weeks of them, reported and driven through the loop by
//! the demo people, through the same document path as every dashboard action (so the demo
//! ledger is made of real, synced documents).

use std::sync::Arc;

use chrono::Duration;
use saferound_core::FixedClock;
use saferound_core::demo;
use saferound_core::model::{HazardCategory, RiskGrade};

use super::actions::{self, HazardAction, NewReport};
use super::upload;
use crate::state::AppState;

/// The demo's photos, small PNGs drawn for it: a before-photo on every demo hazard, an
/// after-photo on the rectified ones, so the hazard page shows both kinds.
const BEFORE_PHOTO: &[u8] = include_bytes!("demo_photos/before.png");
const AFTER_PHOTO: &[u8] = include_bytes!("demo_photos/after.png");

/// What happens to a demo hazard after its report: left reported, assigned to a
/// responsible person (login) with a deadline in days after the report, rectified some
/// days after the report, verified and closed some days after that; major ones may be
/// listed for supervision.
#[derive(Clone, Copy)]
enum Fate {
    Reported,
    Assigned(&'static str, i64),
    Rectified(&'static str, i64, i64),
    Closed(&'static str, i64, i64, i64),
    Supervised(&'static str, i64),
}

/// One demo hazard: reported this many days ago by (login), at a site, its category,
/// risk grade, location and description, and what happened to it since.
type DemoHazard = (
    i64,
    &'static str,
    &'static str,
    HazardCategory,
    RiskGrade,
    &'static str,
    &'static str,
    Fate,
);

use Fate::*;
use HazardCategory as C;
use RiskGrade as R;

/// Ten weeks of a college's hazards: found by two inspectors and the office, owned by
/// three responsible people, most closed, some in rectification, some overdue, two major
/// ones under supervision.
const HAZARDS: &[DemoHazard] = &[
    (
        68,
        "inspector",
        "1号学生公寓",
        C::FireSafety,
        R::Significant,
        "3楼走廊",
        "疏散走廊堆放自行车，堵塞安全出口",
        Closed("owner2", 5, 3, 1),
    ),
    (
        66,
        "inspector2",
        "第一食堂后厨",
        C::FoodSafety,
        R::General,
        "粗加工间",
        "生熟食品刀具未分开存放",
        Closed("owner", 7, 4, 2),
    ),
    (
        61,
        "office",
        "危化品仓库",
        C::LabChemicals,
        R::Major,
        "1F 102",
        "危化品出入库登记缺少双人签字",
        Closed("owner", 10, 8, 2),
    ),
    (
        59,
        "inspector",
        "北区电动车充电棚",
        C::FireSafety,
        R::Significant,
        "充电区",
        "充电线路私拉乱接，插座超负荷",
        Closed("owner", 5, 6, 1),
    ),
    (
        54,
        "inspector2",
        "校车 赣A·0C123",
        C::SchoolBus,
        R::General,
        "车厢",
        "车内灭火器过期",
        Closed("owner", 3, 2, 1),
    ),
    (
        52,
        "inspector",
        "第一教学楼",
        C::Buildings,
        R::General,
        "3楼",
        "教室窗户限位器缺失",
        Closed("owner", 14, 9, 3),
    ),
    (
        47,
        "office",
        "南大门",
        C::GateControl,
        R::Low,
        "门卫室",
        "访客登记未核验身份证件",
        Closed("owner", 3, 1, 1),
    ),
    (
        45,
        "inspector",
        "5号学生公寓",
        C::FireSafety,
        R::Major,
        "楼道",
        "宿舍楼道内电动车违规充电",
        Supervised("owner2", 20),
    ),
    (
        40,
        "inspector2",
        "食品检测实验室",
        C::LabChemicals,
        R::Significant,
        "3F 305",
        "废液桶未分类标识",
        Closed("owner3", 7, 5, 2),
    ),
    (
        38,
        "inspector",
        "1号学生公寓",
        C::FireSafety,
        R::General,
        "2楼",
        "灭火器压力不足",
        Closed("owner2", 3, 2, 1),
    ),
    (
        33,
        "inspector2",
        "第一食堂后厨",
        C::FoodSafety,
        R::Significant,
        "仓库",
        "进货查验记录不全，部分食材无检疫证明",
        Rectified("owner", 10, 12),
    ),
    (
        31,
        "office",
        "5号学生公寓",
        C::ViolenceBullying,
        R::General,
        "宿管室",
        "欺凌事件报告渠道未公示",
        Closed("owner2", 7, 4, 2),
    ),
    (
        26,
        "inspector",
        "危化品仓库",
        C::LabChemicals,
        R::Significant,
        "1F 102",
        "易制毒化学品与氧化剂混存",
        Assigned("owner", 14),
    ),
    (
        24,
        "inspector2",
        "第一教学楼",
        C::Buildings,
        R::Low,
        "楼梯间",
        "楼梯扶手松动",
        Closed("owner", 7, 3, 1),
    ),
    (
        19,
        "inspector",
        "北区电动车充电棚",
        C::FireSafety,
        R::Major,
        "棚顶",
        "充电棚顶部使用易燃材料",
        Supervised("owner", 30),
    ),
    (
        17,
        "office",
        "1号学生公寓",
        C::TelecomFraud,
        R::Low,
        "公告栏",
        "防电信诈骗宣传材料过期",
        Closed("owner2", 5, 2, 1),
    ),
    (
        15,
        "inspector2",
        "南大门",
        C::PerimeterOrder,
        R::General,
        "校门外",
        "校门口流动摊贩占道经营",
        Assigned("owner", 7),
    ),
    (
        12,
        "inspector",
        "5号学生公寓",
        C::Theft,
        R::Low,
        "车棚",
        "车棚监控摄像头角度偏移",
        Assigned("owner2", 5),
    ),
    (
        10,
        "inspector2",
        "食品检测实验室",
        C::LabChemicals,
        R::General,
        "通风橱",
        "通风橱风量检测超期",
        Rectified("owner3", 7, 6),
    ),
    (
        8,
        "inspector",
        "第一食堂后厨",
        C::FoodSafety,
        R::General,
        "留样间",
        "食品留样不足 48 小时",
        Assigned("owner", 10),
    ),
    (
        5,
        "office",
        "1号学生公寓",
        C::MentalHealth,
        R::General,
        "宿管室",
        "心理危机干预联系表未更新",
        Assigned("owner2", 5),
    ),
    (
        3,
        "inspector",
        "第一教学楼",
        C::FireSafety,
        R::Significant,
        "1楼",
        "应急照明灯不亮",
        Assigned("owner", 4),
    ),
    (
        2,
        "inspector2",
        "校车 赣A·0C123",
        C::SchoolBus,
        R::Significant,
        "驾驶座",
        "驾驶员健康证明即将到期",
        Reported,
    ),
    (
        1,
        "inspector",
        "5号学生公寓",
        C::Buildings,
        R::General,
        "4楼",
        "窗户限位器损坏",
        Reported,
    ),
];

/// Seeds the demo hazards once (when the demo institution's ledger is empty). Each step
/// runs at its own time in the past (the demo's clock), through the same actions as the
/// dashboard's.
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
    let leader = user("leader").await?;
    let now = state.now();
    let tz = state.tz(Some(inst)).await;
    // A step `days` after the report of a hazard reported `ago` days back, at a working
    // hour, never after now.
    let at = |ago: i64, days: i64, hour: u32| {
        let day = (now.with_timezone(&tz) - Duration::days(ago - days)).date_naive();
        let t = day
            .and_hms_opt(hour, 17, 0)
            .and_then(|t| t.and_local_timezone(tz).single())
            .map(|t| t.to_utc())
            .unwrap_or(now);
        t.min(now - Duration::minutes(1))
    };
    let then = |t| state.clone().with_clock(Arc::new(FixedClock::new(t)));
    let before = upload::arrived_from_bytes(state, BEFORE_PHOTO)
        .await
        .map_err(|e| e.to_string())?;
    let before_photo = upload::keep_photos(state, inst, &office.id.to_string(), vec![before])
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for &(days_ago, reporter, site, category, risk, location, description, fate) in HAZARDS {
        let reporter_login = reporter;
        let reporter = user(reporter).await?;
        let id = actions::report(
            &then(at(days_ago, 0, 9)),
            &reporter,
            NewReport {
                site: demo::site(site),
                category,
                risk,
                location: location.to_string(),
                description: description.to_string(),
                photos: before_photo.clone(),
            },
            Vec::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
        n += 1;
        let (owner, due, rectified, verified) = match fate {
            Reported => continue,
            Assigned(o, due) | Supervised(o, due) => (o, due, None, None),
            Rectified(o, due, r) => (o, due, Some(r), None),
            Closed(o, due, r, v) => (o, due, Some(r), Some(r + v)),
        };
        let owner = user(owner).await?;
        let inspector = user(if reporter_login == "inspector" {
            "inspector2"
        } else {
            "inspector"
        })
        .await?;
        let report_day = at(days_ago, 0, 9).with_timezone(&tz).date_naive();
        actions::apply(
            &then(at(days_ago, 0, 15)),
            &office,
            id,
            HazardAction::Assign {
                measure: "立即整改，落实日常巡查".into(),
                responsible: owner.id,
                funds: "500 元".into(),
                deadline: report_day + Duration::days(due),
                contingency: "整改期间安排专人值守".into(),
                reinspector: Some(inspector.id),
                note: String::new(),
            },
            Vec::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Supervised(..) = fate {
            actions::apply(
                &then(at(days_ago, 1, 10)),
                &leader,
                id,
                HazardAction::Supervise {
                    treatment_plan: "制定专项整改方案：明确目标、措施、资金、责任人和时限，落实整改期间的安全防范措施和应急预案".into(),
                },
                Vec::new(),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        if let Some(r) = rectified {
            let after = upload::arrived_from_bytes(state, AFTER_PHOTO)
                .await
                .map_err(|e| e.to_string())?;
            actions::apply(
                &then(at(days_ago, r, 16)),
                &owner,
                id,
                HazardAction::Rectify {
                    note: "已整改完成".into(),
                },
                vec![after],
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        if let Some(v) = verified {
            actions::apply(
                &then(at(days_ago, v, 11)),
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
