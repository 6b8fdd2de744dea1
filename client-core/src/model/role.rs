//! Roles and the role × action table of DOMAIN.md ("who may do what to a hazard").

use super::code_enum;

code_enum!(
    /// What a person does in the system. A person may hold several roles.
    Role {
        Inspector = "inspector", "巡查员", "Inspector";
        ResponsiblePerson = "responsible_person", "责任人", "Responsible person";
        SafetyOffice = "safety_office", "安全办", "Safety office";
        Administrator = "administrator", "管理员", "Administrator";
        /// 校领导 / 带班领导: reads the whole institution, receives escalations (督办),
        /// may list a major hazard for supervision.
        Leader = "leader", "校领导", "School leader";
        ProvincialReviewer = "provincial_reviewer", "省级审阅", "Provincial reviewer";
    }
);

/// Something a person does to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Record an inspection: start it, answer items, submit it.
    Inspect,
    /// 上报: report a hazard.
    ReportHazard,
    /// Change the risk grade after the hazard was reported.
    Regrade,
    /// Correct the report: description, location, category, site, photos.
    Correct,
    /// 交办: set measure, responsible person, funds, deadline, contingency, re-inspector.
    Assign,
    /// 整改完成: report the rectification done.
    ReportRectification,
    /// 复核: pass (销号) or fail.
    Verify,
    /// 暂缓: defer with interim controls and a designated person.
    Defer,
    /// 回头看: reopen a closed hazard.
    Reopen,
    /// 挂牌督办: list a major hazard for supervision.
    ListForSupervision,
    /// File a department's weekly report 周报.
    FileWeeklyReport,
    /// Report an incident at once.
    FileIncident,
}

/// What some actions depend on besides roles: whether the acting user reported the
/// hazard or is named in its assignment, and whether the hazard is still only reported.
/// Computed in one place, `policy::named`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Named {
    /// The user reported the hazard 上报.
    pub reporter: bool,
    /// The user is the responsible person 责任人 in the assignment.
    pub responsible: bool,
    /// The user is the re-inspector 复查人 in the assignment.
    pub reinspector: bool,
    /// The hazard is reported and not yet assigned: its grade and its description are
    /// still the reporter's report 上报, which the reporter may correct.
    pub unassigned: bool,
}

impl Action {
    /// Whether someone holding `roles`, named as `named`, may take this action.
    pub fn allowed(self, roles: &[Role], named: Named) -> bool {
        let has = |r: Role| roles.contains(&r);
        let office = has(Role::SafetyOffice);
        match self {
            Action::Inspect | Action::ReportHazard | Action::Reopen => {
                office || has(Role::Inspector)
            }
            Action::Regrade | Action::Correct => office || (named.unassigned && named.reporter),
            Action::Assign | Action::Defer => office,
            Action::ReportRectification => office || named.responsible,
            Action::Verify => office || named.reinspector,
            Action::ListForSupervision => {
                office || has(Role::Leader) || has(Role::ProvincialReviewer)
            }
            Action::FileWeeklyReport | Action::FileIncident => {
                roles.iter().any(|r| *r != Role::ProvincialReviewer)
            }
        }
    }

    /// The roles that may take this action, for error messages.
    pub fn who(self) -> &'static str {
        match self {
            Action::Inspect | Action::ReportHazard | Action::Reopen => "inspector, safety office",
            Action::Regrade | Action::Correct => {
                "safety office; its reporter until the hazard is assigned"
            }
            Action::Assign | Action::Defer => "safety office",
            Action::ReportRectification => {
                "the responsible person named in the assignment, safety office"
            }
            Action::Verify => "the re-inspector named in the assignment, safety office",
            Action::ListForSupervision => "safety office, school leader, provincial reviewer",
            Action::FileWeeklyReport | Action::FileIncident => {
                "anyone in the institution except provincial reviewers"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: Named = Named {
        reporter: false,
        responsible: false,
        reinspector: false,
        unassigned: false,
    };

    #[test]
    fn only_the_safety_office_assigns_defers_and_regrades() {
        for a in [Action::Assign, Action::Defer, Action::Regrade] {
            assert!(a.allowed(&[Role::SafetyOffice], NOBODY));
            for r in [
                Role::Inspector,
                Role::ResponsiblePerson,
                Role::Administrator,
                Role::Leader,
                Role::ProvincialReviewer,
            ] {
                assert!(!a.allowed(&[r], NOBODY), "{r} may not {a:?}");
            }
        }
    }

    #[test]
    fn rectification_and_verification_need_to_be_named_or_the_office() {
        let owner = Named {
            responsible: true,
            ..NOBODY
        };
        assert!(Action::ReportRectification.allowed(&[Role::ResponsiblePerson], owner));
        assert!(!Action::ReportRectification.allowed(&[Role::ResponsiblePerson], NOBODY));
        assert!(!Action::Verify.allowed(&[Role::ResponsiblePerson], owner));
        let re = Named {
            reinspector: true,
            ..NOBODY
        };
        assert!(Action::Verify.allowed(&[Role::Inspector], re));
        assert!(!Action::Verify.allowed(&[Role::Inspector], NOBODY));
    }

    #[test]
    fn only_the_reporter_corrects_the_report_and_only_before_assignment() {
        let mine = Named {
            reporter: true,
            unassigned: true,
            ..NOBODY
        };
        let colleague = Named {
            unassigned: true,
            ..NOBODY
        };
        let assigned = Named {
            reporter: true,
            ..NOBODY
        };
        for a in [Action::Regrade, Action::Correct] {
            assert!(a.allowed(&[Role::Inspector], mine));
            assert!(!a.allowed(&[Role::Inspector], colleague));
            assert!(!a.allowed(&[Role::Inspector], assigned));
            assert!(a.allowed(&[Role::SafetyOffice], assigned));
        }
    }

    #[test]
    fn inspectors_report_and_reopen_reviewers_only_supervise() {
        assert!(Action::ReportHazard.allowed(&[Role::Inspector], NOBODY));
        assert!(Action::Reopen.allowed(&[Role::Inspector], NOBODY));
        assert!(!Action::ReportHazard.allowed(&[Role::ResponsiblePerson], NOBODY));
        assert!(Action::ListForSupervision.allowed(&[Role::ProvincialReviewer], NOBODY));
        assert!(Action::ListForSupervision.allowed(&[Role::Leader], NOBODY));
        assert!(!Action::ListForSupervision.allowed(&[Role::Inspector], NOBODY));
        assert!(!Action::ReportHazard.allowed(&[Role::Leader], NOBODY));
        assert!(!Action::ReportHazard.allowed(&[Role::ProvincialReviewer], NOBODY));
        assert!(!Action::FileWeeklyReport.allowed(&[Role::ProvincialReviewer], NOBODY));
    }
}
