//! The hazard lifecycle (闭环). The status is never stored: it is the fold of the event
//! list, in its merged order, through this state machine. An event that is not legal at
//! its place is skipped and reported, so every replica derives the same status from the
//! same document whatever order the changes arrived in.

use super::code_enum;

code_enum!(
    /// Where a hazard stands.
    HazardStatus {
        /// 已上报, waiting for the safety office to assign it.
        Reported = "reported", "待交办", "Reported";
        /// 整改中: assigned and being rectified.
        InRectification = "in_rectification", "整改中", "In rectification";
        /// 待复核: rectification reported, waiting for verification.
        AwaitingVerification = "awaiting_verification", "待复核", "Awaiting verification";
        /// 已销号: verified and written off.
        Closed = "closed", "已销号", "Closed";
        /// 暂缓: cannot be fixed now; interim controls in place.
        Deferred = "deferred", "暂缓整改", "Deferred";
    }
);

code_enum!(
    /// One entry of a hazard's append-only history.
    EventKind {
        Reported = "reported", "上报", "Reported";
        Assigned = "assigned", "交办", "Assigned";
        RectificationReported = "rectification_reported", "整改完成", "Rectification reported";
        Verified = "verified", "复核通过", "Verified";
        VerificationFailed = "verification_failed", "复核未通过", "Verification failed";
        Deferred = "deferred", "暂缓", "Deferred with interim controls";
        Reopened = "reopened", "回头看重新打开", "Reopened";
        ListedForSupervision = "listed_for_supervision", "挂牌督办", "Listed for supervision";
        Regraded = "regraded", "调整风险等级", "Risk grade changed";
        /// A correction of the report (description, location, category, site, photos),
        /// holding the old and the new value of each field it changed.
        Corrected = "corrected", "更正", "Corrected";
    }
);

impl HazardStatus {
    /// Still needs work (counts towards overdue when past its deadline).
    pub fn is_open(self) -> bool {
        !matches!(self, HazardStatus::Closed)
    }
}

/// The status after `event` happens at `status` (`None`: before the first event), or
/// `None` when the event is not legal there.
pub fn transition(status: Option<HazardStatus>, event: EventKind) -> Option<HazardStatus> {
    use EventKind as E;
    use HazardStatus as S;
    let Some(status) = status else {
        return (event == E::Reported).then_some(S::Reported);
    };
    match (status, event) {
        (S::Reported | S::InRectification | S::Deferred, E::Assigned) => Some(S::InRectification),
        (S::InRectification | S::Deferred, E::RectificationReported) => {
            Some(S::AwaitingVerification)
        }
        (S::AwaitingVerification, E::Verified) => Some(S::Closed),
        (S::AwaitingVerification, E::VerificationFailed) => Some(S::InRectification),
        (S::Reported | S::InRectification | S::AwaitingVerification | S::Deferred, E::Deferred) => {
            Some(S::Deferred)
        }
        (S::Closed, E::Reopened) => Some(S::Reported),
        (s, E::ListedForSupervision | E::Regraded) if s.is_open() => Some(s),
        // A correction of what was reported changes no status, whatever the status.
        (s, E::Corrected) => Some(s),
        _ => None,
    }
}

/// The outcome of folding a hazard's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub status: Option<HazardStatus>,
    /// Positions of the events that were not legal where they stand.
    pub skipped: Vec<usize>,
    /// Listed for supervision 挂牌督办 at some point while open.
    pub supervised: bool,
}

/// Folds events, in list order, through the state machine.
pub fn fold(events: impl IntoIterator<Item = EventKind>) -> Folded {
    let mut out = Folded {
        status: None,
        skipped: Vec::new(),
        supervised: false,
    };
    for (i, e) in events.into_iter().enumerate() {
        match transition(out.status, e) {
            Some(next) => {
                out.supervised |= e == EventKind::ListedForSupervision;
                out.status = Some(next);
            }
            None => out.skipped.push(i),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as E;
    use HazardStatus as S;

    #[test]
    fn the_closed_loop_reaches_closed() {
        let f = fold([
            E::Reported,
            E::Assigned,
            E::RectificationReported,
            E::Verified,
        ]);
        assert_eq!(f.status, Some(S::Closed));
        assert!(f.skipped.is_empty());
    }

    #[test]
    fn failed_verification_returns_to_rectification_and_reopen_needs_new_assignment() {
        let f = fold([
            E::Reported,
            E::Assigned,
            E::RectificationReported,
            E::VerificationFailed,
        ]);
        assert_eq!(f.status, Some(S::InRectification));
        let f = fold([
            E::Reported,
            E::Assigned,
            E::RectificationReported,
            E::Verified,
            E::Reopened,
        ]);
        assert_eq!(f.status, Some(S::Reported));
    }

    #[test]
    fn illegal_events_are_skipped_and_reported_not_applied() {
        // Verified before anyone reported the rectification; a second "reported".
        let f = fold([E::Reported, E::Verified, E::Reported, E::Assigned]);
        assert_eq!(f.status, Some(S::InRectification));
        assert_eq!(f.skipped, vec![1, 2]);
        // A history that does not start with "reported" has no status yet.
        let f = fold([E::Assigned]);
        assert_eq!(f.status, None);
        assert_eq!(f.skipped, vec![0]);
    }

    #[test]
    fn deferred_hazards_can_be_rectified_or_reassigned_and_closed_ones_not_supervised() {
        assert_eq!(
            fold([E::Reported, E::Deferred, E::RectificationReported]).status,
            Some(S::AwaitingVerification)
        );
        assert_eq!(
            fold([E::Reported, E::Deferred, E::Assigned]).status,
            Some(S::InRectification)
        );
        let f = fold([
            E::Reported,
            E::Assigned,
            E::RectificationReported,
            E::Verified,
            E::ListedForSupervision,
        ]);
        assert_eq!(f.skipped, vec![4]);
        assert!(!f.supervised);
    }
}
