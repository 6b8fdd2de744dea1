//! The weekly report 周报: one per department per ISO week. Its id is derived from
//! (institution, department, week), and its first change is written identically by every
//! device (see `genesis_actor`), so two phones writing the same week's report edit one
//! document. An all-clear 报平安 is a report too.
//!
//! ```text
//! { schema, kind: "weekly_report", id, institution, campaign, department, week,
//!   department_name, all_clear, content (text), filings [ {by, at} ] }
//! ```
//! `filings[].at` is the phone's clock; whether the report was on time is judged by the
//! server's receipt time, kept on the server.

use super::json::DocText;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ObjType, ROOT};
use autosurgeon::{Hydrate, Reconcile};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::conflicts::{self, Conflict};
use super::{DocKind, PersonRef, derived_id, genesis_actor, object, put_text, update_text};
use crate::error::{Error, Result};
use crate::ids::{CampaignId, DepartmentId, DocId, InstitutionId, Timestamp};

/// An ISO week, written `2026-W48`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn of(date: NaiveDate) -> Self {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    /// The Friday of this week (reports are due then).
    pub fn friday(self) -> Option<NaiveDate> {
        NaiveDate::from_isoywd_opt(self.year, self.week, chrono::Weekday::Fri)
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

impl std::str::FromStr for IsoWeek {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("week", format!("'{s}' is not an ISO week like 2026-W48"));
        let (y, w) = s.split_once("-W").ok_or_else(bad)?;
        let week = IsoWeek {
            year: y.parse().map_err(|_| bad())?,
            week: w.parse().map_err(|_| bad())?,
        };
        week.friday().ok_or_else(bad)?;
        Ok(week)
    }
}

crate::ids::string_in_document!(IsoWeek);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Hydrate, Reconcile)]
pub struct Filing {
    pub by: PersonRef,
    /// The phone's clock when filed.
    pub at: Timestamp,
}

#[derive(Debug, PartialEq, Hydrate, serde::Deserialize)]
struct Stored {
    department: DepartmentId,
    #[serde(deserialize_with = "super::json::from_str")]
    week: IsoWeek,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    department_name: String,
    all_clear: bool,
    content: DocText,
    filings: Vec<Filing>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeeklyReport {
    pub id: DocId,
    pub institution: InstitutionId,
    pub campaign: Option<CampaignId>,
    pub department: DepartmentId,
    pub department_name: String,
    pub week: IsoWeek,
    pub all_clear: bool,
    pub content: String,
    pub filings: Vec<Filing>,
    pub conflicts: Vec<Conflict>,
}

pub fn id_for(institution: InstitutionId, department: DepartmentId, week: IsoWeek) -> DocId {
    derived_id(&[
        "weekly_report",
        &institution.to_string(),
        &department.to_string(),
        &week.to_string(),
    ])
}

/// The shared first change of a week's report, byte for byte the same on every device.
pub fn genesis(
    institution: InstitutionId,
    department: DepartmentId,
    week: IsoWeek,
) -> Result<AutoCommit> {
    let id = id_for(institution, department, week);
    let mut doc = AutoCommit::new().with_actor(genesis_actor(id));
    doc.put(ROOT, "schema", super::SCHEMA)?;
    doc.put(ROOT, "kind", DocKind::WeeklyReport.code())?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "institution", institution.to_string())?;
    doc.put(ROOT, "campaign", automerge::ScalarValue::Null)?;
    doc.put(ROOT, "department", department.to_string())?;
    doc.put(ROOT, "week", week.to_string())?;
    doc.put(ROOT, "all_clear", false)?;
    put_text(&mut doc, &ROOT, "content", "")?;
    doc.put_object(ROOT, "filings", ObjType::List)?;
    // Created here, once for everyone: two devices each creating it would compete.
    doc.put_object(ROOT, "authors", ObjType::Map)?;
    doc.commit_with(CommitOptions::default().with_time(0));
    Ok(doc)
}

pub struct Filed<'a> {
    pub campaign: Option<CampaignId>,
    pub department_name: &'a str,
    pub all_clear: bool,
    pub content: &'a str,
}

pub fn file(doc: &mut AutoCommit, f: &Filed<'_>, by: &PersonRef, at: Timestamp) -> Result<()> {
    autosurgeon::reconcile_prop(doc, ROOT, "campaign", f.campaign)?;
    autosurgeon::reconcile_prop(doc, ROOT, "department_name", f.department_name)?;
    doc.put(ROOT, "all_clear", f.all_clear)?;
    update_text(doc, &ROOT, "content", f.content)?;
    let filings = object(doc, &ROOT, "filings")?;
    let len = automerge::ReadDoc::length(doc, &filings);
    autosurgeon::reconcile_insert(doc, filings, len, Filing { by: by.clone(), at })?;
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<WeeklyReport> {
    read_with(doc, true)
}

/// Reads the report; `with_conflicts: false` skips the scan for concurrent values.
pub fn read_with(doc: &AutoCommit, with_conflicts: bool) -> Result<WeeklyReport> {
    let (h, s): (_, Stored) = super::json::read_headed(doc, DocKind::WeeklyReport)?;
    Ok(WeeklyReport {
        id: h.id,
        institution: h.institution,
        campaign: h.campaign,
        department: s.department,
        department_name: s.department_name,
        week: s.week,
        all_clear: s.all_clear,
        content: s.content.0,
        filings: s.filings,
        conflicts: if with_conflicts {
            conflicts::scan(doc)
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_devices_writing_the_same_week_edit_one_document() {
        let inst = InstitutionId::new();
        let dept = DepartmentId::new();
        let week: IsoWeek = "2026-W48".parse().unwrap();
        let mut a = genesis(inst, dept, week).unwrap();
        let mut b = genesis(inst, dept, week).unwrap();
        assert_eq!(
            a.get_heads(),
            b.get_heads(),
            "genesis must be byte-identical"
        );
        a.set_actor(automerge::ActorId::random());
        b.set_actor(automerge::ActorId::random());
        let p = |n: &str| PersonRef {
            user_id: crate::ids::UserId::new(),
            name: n.into(),
        };
        let at: Timestamp = "2026-11-27T03:00:00Z".parse().unwrap();
        let f = |c| Filed {
            campaign: None,
            department_name: "后勤处",
            all_clear: false,
            content: c,
        };
        file(&mut a, &f("宿舍检查 3 处"), &p("张"), at).unwrap();
        file(&mut b, &f("食堂正常"), &p("李"), at).unwrap();
        a.merge(&mut b).unwrap();
        let r = read(&a).unwrap();
        assert_eq!(r.filings.len(), 2);
        assert!(
            r.content.contains("宿舍检查 3 处") && r.content.contains("食堂正常"),
            "{}",
            r.content
        );
    }

    #[test]
    fn iso_weeks_parse_and_refuse_nonsense() {
        let w: IsoWeek = "2026-W48".parse().unwrap();
        assert_eq!(w.friday().unwrap().to_string(), "2026-11-27");
        assert_eq!(
            IsoWeek::of(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()),
            w
        );
        assert!("2026-W60".parse::<IsoWeek>().is_err());
        assert!("W48".parse::<IsoWeek>().is_err());
    }
}
