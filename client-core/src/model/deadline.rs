//! When a hazard in rectification is overdue, due soon or escalated: one definition each,
//! judged on the institution's local date, for the phone, the dashboard, the exports and
//! the JSON API. (The ledger's SQL filters say "overdue" as
//! `status = 'in_rectification' AND deadline < today`, the same rule.)

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use super::{HazardStatus, RiskGrade};

/// A deadline within this many days (today included) is "due soon".
pub const DUE_SOON_DAYS: i64 = 3;

/// An overdue hazard is escalated after this many days past its deadline, or at once
/// when it is a major hazard 重大隐患.
pub const ESCALATE_AFTER_DAYS: i64 = 7;

/// The institution's date at `now`.
pub fn local_today(now: DateTime<Utc>, tz: FixedOffset) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Days past the deadline on `today` for a hazard in rectification whose deadline has
/// passed (the deadline is the whole of its local day); `None` when it is not overdue.
pub fn days_overdue(
    status: Option<HazardStatus>,
    deadline: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<i64> {
    let d = deadline?;
    (status == Some(HazardStatus::InRectification) && today > d).then(|| (today - d).num_days())
}

pub fn overdue(
    status: Option<HazardStatus>,
    deadline: Option<NaiveDate>,
    today: NaiveDate,
) -> bool {
    days_overdue(status, deadline, today).is_some()
}

/// In rectification, not overdue, and the deadline within `days` days of `today`.
pub fn due_soon(
    status: Option<HazardStatus>,
    deadline: Option<NaiveDate>,
    today: NaiveDate,
    days: i64,
) -> bool {
    status == Some(HazardStatus::InRectification)
        && deadline.is_some_and(|d| d >= today && (d - today).num_days() <= days)
}

/// Overdue by more than `ESCALATE_AFTER_DAYS`, or overdue at all when major.
pub fn escalated(
    status: Option<HazardStatus>,
    deadline: Option<NaiveDate>,
    today: NaiveDate,
    risk: Option<RiskGrade>,
) -> bool {
    days_overdue(status, deadline, today)
        .is_some_and(|days| days > ESCALATE_AFTER_DAYS || risk == Some(RiskGrade::Major))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_day_is_whole_and_only_hazards_in_rectification_count() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let rect = Some(HazardStatus::InRectification);
        let deadline = Some(day(10));
        assert!(!overdue(rect, deadline, day(10)), "the deadline's own day");
        assert_eq!(days_overdue(rect, deadline, day(11)), Some(1));
        assert!(!overdue(
            Some(HazardStatus::AwaitingVerification),
            deadline,
            day(20)
        ));
        assert!(!overdue(rect, None, day(20)));
        assert!(due_soon(rect, deadline, day(7), DUE_SOON_DAYS));
        assert!(
            due_soon(rect, deadline, day(10), DUE_SOON_DAYS),
            "due today"
        );
        assert!(!due_soon(rect, deadline, day(6), DUE_SOON_DAYS));
        assert!(
            !due_soon(rect, deadline, day(11), DUE_SOON_DAYS),
            "overdue, not due"
        );
        let general = Some(RiskGrade::General);
        assert!(!escalated(rect, deadline, day(17), general), "7 days over");
        assert!(escalated(rect, deadline, day(18), general), "8 days over");
        assert!(escalated(rect, deadline, day(11), Some(RiskGrade::Major)));
        assert!(!escalated(rect, deadline, day(10), Some(RiskGrade::Major)));
    }
}
