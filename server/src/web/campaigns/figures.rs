//! A campaign's figures per unit (department, or the institution): hazards found and
//! rectified by grade, inspections made; as the progress page and the summary 工作总结
//! show them, and as export cells.

use std::collections::{BTreeMap, HashMap};

use saferound_core::model::{HazardCategory, Lang, RiskGrade, SiteKind};
use serde::Serialize;
use serde_json::json;

use crate::store::{Department, HazardFigure, InspectionFigure};

/// The figures of one unit (a department, or the institution).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    pub unit: String,
    pub inspections: i64,
    pub submitted: i64,
    pub inspections_by_kind: BTreeMap<String, i64>,
    pub hazards: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_risk: BTreeMap<String, i64>,
    /// 重大隐患 (the hazard grade), whatever the risk grade.
    pub major: i64,
    /// Rectification reported and not sent back: awaiting verification or closed.
    pub rectified: i64,
    /// Verified and written off 复核销号.
    pub verified: i64,
    pub overdue: i64,
    pub deferred: i64,
}

impl Figures {
    /// 整改率: rectified over found, in percent; none when nothing was found.
    pub fn rate(&self) -> Option<f64> {
        (self.hazards > 0).then(|| self.rectified as f64 * 100.0 / self.hazards as f64)
    }

    pub fn rate_text(&self) -> String {
        self.rate()
            .map(|r| format!("{r:.1}%"))
            .unwrap_or_else(|| "—".into())
    }

    fn add_hazards(&mut self, f: &HazardFigure) {
        self.hazards += f.count;
        *self.by_category.entry(f.category.clone()).or_default() += f.count;
        *self.by_risk.entry(f.risk.clone()).or_default() += f.count;
        if f.hazard_grade == "major" {
            self.major += f.count;
        }
        match f.status.as_str() {
            "awaiting_verification" => self.rectified += f.count,
            "closed" => {
                self.rectified += f.count;
                self.verified += f.count;
            }
            "deferred" => self.deferred += f.count,
            _ => {}
        }
        if f.overdue {
            self.overdue += f.count;
        }
    }

    fn add_inspections(&mut self, f: &InspectionFigure) {
        self.inspections += f.count;
        self.submitted += f.submitted;
        *self
            .inspections_by_kind
            .entry(f.site_kind.clone())
            .or_default() += f.count;
    }
}

/// Per department (in the institution's order, then "other" for sites no longer known)
/// and for the institution.
pub fn summarize(
    depts: &[Department],
    hazards: &[HazardFigure],
    inspections: &[InspectionFigure],
    other: &str,
    institution: &str,
) -> (Vec<Figures>, Figures) {
    let mut by: HashMap<String, Figures> = HashMap::new();
    let mut total = Figures {
        unit: institution.into(),
        ..Default::default()
    };
    for h in hazards {
        by.entry(h.department.clone()).or_default().add_hazards(h);
        total.add_hazards(h);
    }
    for i in inspections {
        by.entry(i.department.clone())
            .or_default()
            .add_inspections(i);
        total.add_inspections(i);
    }
    let mut rows: Vec<Figures> = depts
        .iter()
        .map(|d| Figures {
            unit: d.name.clone(),
            ..by.remove(&d.id.to_string()).unwrap_or_default()
        })
        .collect();
    // Whatever is left belongs to sites without a known department.
    let mut rest = Figures {
        unit: other.into(),
        ..Default::default()
    };
    for f in by.into_values() {
        rest.inspections += f.inspections;
        rest.submitted += f.submitted;
        rest.hazards += f.hazards;
        rest.major += f.major;
        rest.rectified += f.rectified;
        rest.verified += f.verified;
        rest.overdue += f.overdue;
        rest.deferred += f.deferred;
        for (k, v) in f.inspections_by_kind {
            *rest.inspections_by_kind.entry(k).or_default() += v;
        }
        for (k, v) in f.by_category {
            *rest.by_category.entry(k).or_default() += v;
        }
        for (k, v) in f.by_risk {
            *rest.by_risk.entry(k).or_default() += v;
        }
    }
    if rest.hazards > 0 || rest.inspections > 0 {
        rows.push(rest);
    }
    (rows, total)
}

pub(super) fn figures_json(f: &Figures) -> serde_json::Value {
    let mut v = serde_json::to_value(f).unwrap_or_default();
    v["rate"] = json!(f.rate_text());
    v
}

/// May create campaigns and set their deadlines: the institution's safety office and
/// administrators (provincial reviewers read only).
/// The summary as export cells: one line per unit, then the institution.
pub fn summary_table(
    rows: &[Figures],
    total: &Figures,
    lang: Lang,
) -> (Vec<String>, Vec<Vec<String>>) {
    let en = lang == Lang::En;
    let mut header: Vec<String> = if en {
        vec!["Unit", "Inspections", "Submitted"]
    } else {
        vec!["单位", "排查次数", "已提交"]
    }
    .into_iter()
    .map(String::from)
    .collect();
    for k in SiteKind::ALL {
        header.push(format!(
            "{}{}",
            if en { "Inspections: " } else { "排查·" },
            k.label(lang)
        ));
    }
    header.push(if en { "Hazards" } else { "隐患总数" }.into());
    for c in HazardCategory::ALL {
        header.push(c.label(lang).to_string());
    }
    for r in RiskGrade::ALL.iter().rev() {
        header.push(r.label(lang).to_string());
    }
    header.extend(
        if en {
            [
                "Major hazards",
                "Rectified",
                "Verified",
                "Overdue",
                "Deferred",
                "Rectification rate",
            ]
        } else {
            [
                "重大隐患",
                "已整改",
                "已复核销号",
                "逾期",
                "暂缓整改",
                "整改率",
            ]
        }
        .map(String::from),
    );
    let line = |f: &Figures| -> Vec<String> {
        let mut l = vec![
            f.unit.clone(),
            f.inspections.to_string(),
            f.submitted.to_string(),
        ];
        for k in SiteKind::ALL {
            l.push(
                f.inspections_by_kind
                    .get(k.code())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        l.push(f.hazards.to_string());
        for c in HazardCategory::ALL {
            l.push(
                f.by_category
                    .get(c.code())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        for r in RiskGrade::ALL.iter().rev() {
            l.push(f.by_risk.get(r.code()).copied().unwrap_or(0).to_string());
        }
        l.extend([
            f.major.to_string(),
            f.rectified.to_string(),
            f.verified.to_string(),
            f.overdue.to_string(),
            f.deferred.to_string(),
            f.rate_text(),
        ]);
        l
    };
    let mut out: Vec<Vec<String>> = rows.iter().map(line).collect();
    out.push(line(total));
    (header, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saferound_core::ids::InstitutionId;

    fn h(dept: &str, status: &str, overdue: bool, count: i64) -> HazardFigure {
        HazardFigure {
            department: dept.into(),
            category: "fire_safety".into(),
            risk: "high".into(),
            hazard_grade: if dept == "a" { "major" } else { "general" }.into(),
            status: status.into(),
            overdue,
            count,
        }
    }

    #[test]
    fn figures_add_up_per_department_and_for_the_institution() {
        let a = Department {
            id: saferound_core::ids::DepartmentId::new(),
            institution: InstitutionId::new(),
            name: "A".into(),
        };
        let aid = a.id.to_string();
        let hz = vec![
            HazardFigure {
                department: aid.clone(),
                ..h("a", "closed", false, 3)
            },
            HazardFigure {
                department: aid.clone(),
                ..h("a", "in_rectification", true, 2)
            },
            h("", "awaiting_verification", false, 1),
            h("", "deferred", false, 4),
        ];
        let insp = vec![InspectionFigure {
            department: aid,
            site_kind: "dorm".into(),
            count: 5,
            submitted: 4,
        }];
        let (rows, total) = summarize(&[a], &hz, &insp, "other", "all");
        assert_eq!(rows.len(), 2);
        let (a, other) = (&rows[0], &rows[1]);
        assert_eq!(
            (a.hazards, a.rectified, a.verified, a.overdue, a.major),
            (5, 3, 3, 2, 5)
        );
        assert_eq!(a.rate_text(), "60.0%");
        assert_eq!(a.inspections_by_kind["dorm"], 5);
        assert_eq!((other.hazards, other.rectified, other.deferred), (5, 1, 4));
        assert_eq!((total.hazards, total.rectified, total.verified), (10, 4, 3));
        assert_eq!(
            (total.overdue, total.deferred, total.inspections),
            (2, 4, 5)
        );
        assert_eq!(total.rate_text(), "40.0%");
        assert_eq!(Figures::default().rate_text(), "—");
    }
}
