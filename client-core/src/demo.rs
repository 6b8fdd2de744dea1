//! The demo institution: the vocational college that forwarded the campaign notice, with
//! its departments, sites of every kind and a few (fictional) people. Ids are derived
//! from names, so the server's `--demo` and the CLI's `init --demo` agree on them.

use crate::doc::derived_id;
use crate::doc::directory::{Department, Directory, Person, Site};
use crate::ids::{DepartmentId, InstitutionId, SiteId, UserId};
use crate::model::{Role, SiteKind};

pub const INSTITUTION_NAME: &str = "江西外语外贸职业学院";

fn id(parts: &[&str]) -> uuid::Uuid {
    derived_id(&[&["demo"], parts].concat()).0
}

pub fn institution() -> InstitutionId {
    InstitutionId(id(&["institution"]))
}

pub fn department(name: &str) -> DepartmentId {
    DepartmentId(id(&["department", name]))
}

pub fn user(login: &str) -> UserId {
    UserId(id(&["user", login]))
}

pub fn site(name: &str) -> SiteId {
    SiteId(id(&["site", name]))
}

/// (login, name, department, roles) of the demo people.
pub const PEOPLE: &[(&str, &str, &str, &[Role])] = &[
    ("inspector", "王磊", "保卫处", &[Role::Inspector]),
    ("inspector2", "刘洋", "保卫处", &[Role::Inspector]),
    ("owner", "李娜", "后勤管理处", &[Role::ResponsiblePerson]),
    ("owner2", "周涛", "学生工作处", &[Role::ResponsiblePerson]),
    ("owner3", "吴敏", "信息工程学院", &[Role::ResponsiblePerson]),
    ("office", "陈静", "综合治理办公室", &[Role::SafetyOffice]),
    ("admin", "赵强", "综合治理办公室", &[Role::Administrator]),
    ("leader", "孙伟", "综合治理办公室", &[Role::Leader]),
];

pub const DEPARTMENTS: &[&str] = &[
    "综合治理办公室",
    "保卫处",
    "后勤管理处",
    "学生工作处",
    "教务处",
    "商务外语学院",
    "信息工程学院",
];

/// (name, kind, building, floor/room, department)
pub const SITES: &[(&str, SiteKind, &str, &str, &str)] = &[
    (
        "1号学生公寓",
        SiteKind::Dorm,
        "1号学生公寓",
        "1-6F",
        "学生工作处",
    ),
    (
        "5号学生公寓",
        SiteKind::Dorm,
        "5号学生公寓",
        "1-6F",
        "学生工作处",
    ),
    (
        "食品检测实验室",
        SiteKind::Laboratory,
        "实训楼B",
        "3F 305",
        "信息工程学院",
    ),
    (
        "危化品仓库",
        SiteKind::HazardousChemicalStore,
        "实训楼B",
        "1F 102",
        "后勤管理处",
    ),
    (
        "第一食堂后厨",
        SiteKind::Kitchen,
        "第一食堂",
        "1F",
        "后勤管理处",
    ),
    (
        "第一教学楼",
        SiteKind::TeachingBuilding,
        "第一教学楼",
        "1-5F",
        "教务处",
    ),
    (
        "北区电动车充电棚",
        SiteKind::EbikeParking,
        "北区",
        "",
        "后勤管理处",
    ),
    ("校车 赣A·0C123", SiteKind::SchoolBus, "", "", "后勤管理处"),
    (
        "南大门",
        SiteKind::GatePerimeter,
        "南大门门卫室",
        "",
        "保卫处",
    ),
    ("图书馆", SiteKind::Other, "图书馆", "1-4F", "教务处"),
];

/// The item codes of the built-in dormitory checklist, in order: what tests, benchmarks
/// and the load generator answer.
pub fn dorm_item_codes() -> Vec<String> {
    crate::model::templates::builtin()
        .iter()
        .find(|t| t.id == "dorm")
        .map(|t| t.items.iter().map(|i| i.code.clone()).collect())
        .unwrap_or_default()
}

pub fn directory() -> Directory {
    let mut d = Directory::new(institution(), INSTITUTION_NAME);
    for name in DEPARTMENTS {
        d.add_department(Department {
            id: department(name),
            name: name.to_string(),
        });
    }
    for (name, kind, building, floor_room, dept) in SITES {
        d.add_site(Site {
            id: site(name),
            name: name.to_string(),
            kind: *kind,
            building: building.to_string(),
            floor_room: floor_room.to_string(),
            department: department(dept),
        });
    }
    for (login, name, dept, roles) in PEOPLE {
        d.add_person(Person {
            user_id: user(login),
            name: name.to_string(),
            department: Some(department(dept)),
            roles: roles.to_vec(),
        });
    }
    d
}

/// The identity of a demo person, to set up a device as them.
pub fn identity(login: &str) -> Option<crate::device::Identity> {
    let (_, name, dept, roles) = PEOPLE.iter().find(|p| p.0 == login)?;
    Some(crate::device::Identity {
        institution: institution(),
        user: crate::doc::PersonRef {
            user_id: user(login),
            name: name.to_string(),
        },
        roles: roles.to_vec(),
        department: Some(department(dept)),
    })
}
