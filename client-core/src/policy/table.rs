//! The write policy's table: for each kind of record, who may create and change it, and
//! for each group of its fields, what it must hold when the record is created, who may
//! change it afterwards and how, and what a new value must be. `policy::judge` reads
//! this table; nothing else decides who may write what.
//!
//! A new field or event gets its row here (the test below fails until every field a
//! record serializes has one) and a tampered-phone test.

use crate::doc::DocKind;
use crate::model::Action;
use crate::model::lifecycle::EventKind;

/// Who may write a record of a kind at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRule {
    pub kind: DocKind,
    /// The action creating one is.
    pub create: Action,
    /// How it may change after creation.
    pub edit: Edit,
    /// Only members of the record's department write it (weekly reports).
    pub members_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Never changed once created (an incident report).
    Never,
    /// Every change needs this action; the field rows say the rest.
    Action(Action),
    /// Each field row says who (a hazard: through its events).
    ByField,
}

/// What a field holds when the record is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// Any value that passes the row's check.
    Any,
    /// Nothing yet: it is written later, through the row's change rule.
    Empty,
    /// The change's own author (a person, or a list of only the author).
    Author,
    /// The history starts with this one event.
    Starts(EventKind),
}

/// Who may change a field after creation, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Set once, never changed.
    Never,
    /// Whoever the kind rule lets edit the record.
    Any,
    /// The safety office only.
    Office,
    /// A correction of the report: its reporter before assignment, or the safety office,
    /// with a `corrected` event in the same change naming the old and the new value.
    Correction,
    /// The risk grade: as a correction, through a `regraded` event holding the new grade.
    Regrade,
    /// Only in a change that appends an event of this kind (whose action says who).
    WithEvent(EventKind),
    /// The hazard's history: append-only, each new event by the role × action table and
    /// legal where its author put it.
    Events,
    /// Entries are added, never changed or removed.
    AppendOnly,
    /// The inspectors on the inspection, before submission; after it an answer changes
    /// only with an amendment (reason recorded) for its item, and nothing else changes.
    Inspectors,
    /// Set once, by an inspector on the inspection.
    Submission,
}

/// What a new value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    /// The institution the record is judged in.
    Institution,
    /// A claimed time: refused when absurd, flagged when ahead of receipt.
    Time,
    /// A site of the institution's directory, of the kind the directory says.
    Site,
    /// A department of the institution.
    Department,
    /// A person of the institution's directory.
    Person,
    /// A campaign of the institution; at creation, one running at receipt.
    Campaign,
    /// Photos by hash, uploaded to the institution (checked by the caller's store).
    Photos,
    /// A checklist template version the institution has.
    Template,
    /// Text that may not be empty.
    Text,
    /// The person is the change's own author.
    Author,
    /// Each new or changed entry of a list or map: these checks on its fields ("" is
    /// the entry itself).
    Entries(&'static [(&'static str, Check)]),
    /// The object itself: these checks on its fields.
    Fields(&'static [(&'static str, Check)]),
}

/// One row: a group of fields of one kind.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub kind: DocKind,
    /// Field paths in the record's JSON (`plan.measure`).
    pub fields: &'static [&'static str],
    pub set: Set,
    pub change: Change,
    pub check: Check,
}

pub const KINDS: &[KindRule] = &[
    KindRule {
        kind: DocKind::Hazard,
        create: Action::ReportHazard,
        edit: Edit::ByField,
        members_only: false,
    },
    KindRule {
        kind: DocKind::Inspection,
        create: Action::Inspect,
        edit: Edit::Action(Action::Inspect),
        members_only: false,
    },
    KindRule {
        kind: DocKind::WeeklyReport,
        create: Action::FileWeeklyReport,
        edit: Edit::Action(Action::FileWeeklyReport),
        members_only: true,
    },
    KindRule {
        kind: DocKind::IncidentReport,
        create: Action::FileIncident,
        edit: Edit::Never,
        members_only: false,
    },
];

const BY_AT: &[(&str, Check)] = &[("by", Check::Author), ("at", Check::Time)];
const EVENT: &[(&str, Check)] = &[
    ("by", Check::Author),
    ("at", Check::Time),
    ("photos", Check::Photos),
    ("plan.responsible", Check::Person),
    ("plan.reinspector", Check::Person),
    ("plan.designated_person", Check::Person),
];
const ANSWER: &[(&str, Check)] = &[
    ("by", Check::Author),
    ("at", Check::Time),
    ("photos", Check::Photos),
];
const AMENDMENT: &[(&str, Check)] = &[
    ("by", Check::Author),
    ("at", Check::Time),
    ("reason", Check::Text),
];

const fn rule(
    kind: DocKind,
    fields: &'static [&'static str],
    set: Set,
    change: Change,
    check: Check,
) -> Rule {
    Rule {
        kind,
        fields,
        set,
        change,
        check,
    }
}

use Change as C;
use Check as K;
use DocKind::{Hazard as H, IncidentReport as X, Inspection as I, WeeklyReport as W};
use Set as S;

pub const RULES: &[Rule] = &[
    // The hazard 隐患: DOMAIN.md, "who may do what to a hazard" and "who may change what".
    rule(H, &["id"], S::Any, C::Never, K::None),
    rule(H, &["institution"], S::Any, C::Never, K::Institution),
    rule(H, &["campaign"], S::Any, C::Office, K::Campaign),
    rule(H, &["inspection"], S::Any, C::Never, K::None),
    rule(H, &["reported_by"], S::Author, C::Never, K::Author),
    rule(H, &["reported_at"], S::Any, C::Never, K::Time),
    rule(H, &["site"], S::Any, C::Correction, K::Site),
    rule(
        H,
        &["category", "location", "description"],
        S::Any,
        C::Correction,
        K::None,
    ),
    rule(H, &["photos"], S::Any, C::Correction, K::Photos),
    rule(H, &["risk"], S::Any, C::Regrade, K::None),
    rule(
        H,
        &[
            "plan.measure",
            "plan.funds",
            "plan.deadline",
            "plan.contingency",
        ],
        S::Empty,
        C::WithEvent(EventKind::Assigned),
        K::None,
    ),
    rule(
        H,
        &["plan.responsible", "plan.reinspector"],
        S::Empty,
        C::WithEvent(EventKind::Assigned),
        K::Person,
    ),
    rule(
        H,
        &["plan.interim_controls"],
        S::Empty,
        C::WithEvent(EventKind::Deferred),
        K::None,
    ),
    rule(
        H,
        &["plan.designated_person"],
        S::Empty,
        C::WithEvent(EventKind::Deferred),
        K::Person,
    ),
    rule(
        H,
        &["plan.treatment_plan"],
        S::Empty,
        C::WithEvent(EventKind::ListedForSupervision),
        K::None,
    ),
    rule(
        H,
        &["events"],
        S::Starts(EventKind::Reported),
        C::Events,
        K::Entries(EVENT),
    ),
    // The inspection 检查记录.
    rule(I, &["id"], S::Any, C::Never, K::None),
    rule(I, &["institution"], S::Any, C::Never, K::Institution),
    rule(I, &["campaign"], S::Any, C::Office, K::Campaign),
    rule(I, &["site"], S::Any, C::Never, K::Site),
    rule(I, &["template"], S::Any, C::Never, K::Template),
    rule(
        I,
        &["inspectors"],
        S::Author,
        C::AppendOnly,
        K::Entries(&[("", Check::Author)]),
    ),
    rule(I, &["started_at"], S::Any, C::Never, K::Time),
    rule(I, &["ended_at"], S::Empty, C::Submission, K::Time),
    rule(I, &["submitted"], S::Empty, C::Submission, K::Fields(BY_AT)),
    rule(I, &["answers"], S::Empty, C::Inspectors, K::Entries(ANSWER)),
    rule(I, &["notes", "findings"], S::Any, C::Inspectors, K::None),
    rule(
        I,
        &["amendments"],
        S::Empty,
        C::AppendOnly,
        K::Entries(AMENDMENT),
    ),
    // The weekly report 周报: its id, department and week are the shared first change's.
    rule(W, &["id", "week"], S::Any, C::Never, K::None),
    rule(W, &["institution"], S::Any, C::Never, K::Institution),
    rule(W, &["department"], S::Any, C::Never, K::Department),
    rule(W, &["campaign"], S::Any, C::Office, K::Campaign),
    rule(
        W,
        &["department_name", "all_clear", "content"],
        S::Any,
        C::Any,
        K::None,
    ),
    rule(W, &["filings"], S::Any, C::AppendOnly, K::Entries(BY_AT)),
    // The incident report 事件报告: filed once, by its reporter.
    rule(X, &["id"], S::Any, C::Never, K::None),
    rule(X, &["institution"], S::Any, C::Never, K::Institution),
    rule(X, &["campaign"], S::Any, C::Never, K::Campaign),
    rule(X, &["reported_by"], S::Author, C::Never, K::Author),
    rule(
        X,
        &["occurred_at", "reported_at"],
        S::Any,
        C::Never,
        K::Time,
    ),
    rule(X, &["site"], S::Any, C::Never, K::Site),
    rule(
        X,
        &[
            "location",
            "category",
            "severity",
            "title",
            "description",
            "actions_taken",
        ],
        S::Any,
        C::Never,
        K::None,
    ),
];

/// Fields a record serializes that are derived when it is read, not written by anyone.
pub const DERIVED: &[&str] = &[
    "conflicts",
    "status",
    "supervised",
    "skipped_events",
    "hazard_grade",
];

/// The kind rule of `kind` (`None`: the directory, which only the server writes).
pub fn kind_rule(kind: DocKind) -> Option<&'static KindRule> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// The event a hazard event kind is, as an action of the role × action table.
pub fn event_action(kind: EventKind) -> Action {
    match kind {
        EventKind::Reported => Action::ReportHazard,
        EventKind::Assigned => Action::Assign,
        EventKind::RectificationReported => Action::ReportRectification,
        EventKind::Verified | EventKind::VerificationFailed => Action::Verify,
        EventKind::Deferred => Action::Defer,
        EventKind::Reopened => Action::Reopen,
        EventKind::ListedForSupervision => Action::ListForSupervision,
        EventKind::Regraded => Action::Regrade,
        EventKind::Corrected => Action::Correct,
    }
}
