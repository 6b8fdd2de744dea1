//! The write policy at the server's door, by property: random changes by users of random
//! roles to random fields of records in random states, pushed through `merge_one` (the
//! sync path up to the commit). The server accepts a document exactly when the oracle
//! below permits the change. The oracle is written here from DOMAIN.md's tables ("who
//! may do what to a hazard", "who may change what", the life of a hazard), not from the
//! production policy, so the two are checked against each other.

use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use proptest::prelude::*;
use saferound_core::demo;
use saferound_core::doc::directory::{CampaignEntry, Directory};
use saferound_core::doc::hazard::{self, Event, NewHazard, Plan, PlanPart};
use saferound_core::doc::inspection::{self, Amendment, Answer, AnswerResult, NewInspection};
use saferound_core::doc::{self, PersonRef, SiteRef, incident, weekly};
use saferound_core::ids::{CampaignId, DocId, LocalDate, Timestamp};
use saferound_core::model::lifecycle::EventKind;
use saferound_core::model::{HazardCategory, RiskGrade, Role};
use saferound_core::sync::wire::{self, PushDoc};

use super::validate::Judging;
use super::{Outcome, RelayActors, merge_one};
use crate::store::{DeviceAuth, StoredDoc, User};

/// The demo people who have devices (a provincial reviewer belongs to no institution).
const LOGINS: [&str; 6] = [
    "inspector",
    "inspector2",
    "owner",
    "office",
    "admin",
    "leader",
];

fn roles(login: &str) -> Vec<Role> {
    demo::PEOPLE
        .iter()
        .find(|p| p.0 == login)
        .map(|p| p.3.to_vec())
        .unwrap_or_default()
}

fn department_of(login: &str) -> &'static str {
    demo::PEOPLE
        .iter()
        .find(|p| p.0 == login)
        .map(|p| p.2)
        .unwrap_or_default()
}

fn person(login: &str) -> PersonRef {
    let p = demo::PEOPLE
        .iter()
        .find(|p| p.0 == login)
        .expect("a demo login");
    PersonRef {
        user_id: demo::user(login),
        name: p.1.to_string(),
    }
}

fn actor(login: &str) -> ActorId {
    let d = doc::derived_id(&["test actor", login]);
    ActorId::from(d.0.as_bytes().as_slice())
}

fn device(login: &str) -> DeviceAuth {
    DeviceAuth {
        device_id: format!("device of {login}"),
        institution: demo::institution(),
        actor: actor(login).to_bytes().to_vec(),
        user: User {
            id: demo::user(login),
            institution: Some(demo::institution()),
            department: Some(demo::department(department_of(login))),
            login: login.into(),
            name: person(login).name,
            roles: roles(login),
            password_hash: String::new(),
            active: true,
        },
    }
}

fn campaign() -> CampaignId {
    CampaignId(doc::derived_id(&["test campaign"]).0)
}

fn judging() -> Judging {
    let mut dir: Directory = demo::directory();
    let today = chrono::Utc::now().date_naive();
    dir.add_campaign(CampaignEntry {
        id: campaign(),
        name: "百日行动".into(),
        starts: LocalDate(today - chrono::Duration::days(10)),
        ends: LocalDate(today + chrono::Duration::days(90)),
    });
    Judging {
        directory: Some(Arc::new(dir)),
        received: now(),
    }
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

fn site() -> SiteRef {
    let s = demo::directory()
        .site(demo::site("第一教学楼"))
        .cloned()
        .expect("a demo site");
    SiteRef {
        id: s.id,
        name: s.name,
        kind: s.kind,
    }
}

fn stored(d: &mut AutoCommit, kind: &str) -> StoredDoc {
    StoredDoc {
        kind: kind.into(),
        bytes: d.save(),
        heads: wire::heads_to_bytes(&d.get_heads()),
        changes_after_snapshot: 0,
    }
}

/// Pushes what `d` has beyond `from` as `login`'s device; whether the server would
/// commit it.
fn accepted(login: &str, id: DocId, stored: Option<&StoredDoc>, d: &mut AutoCommit) -> bool {
    let from = match stored {
        Some(s) => wire::heads_from_bytes(&s.heads).expect("heads"),
        None => Vec::new(),
    };
    let push = PushDoc {
        id: id.0,
        heads: wire::heads_to_bytes(&d.get_heads()),
        changes: d
            .get_changes(&from)
            .into_iter()
            .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
            .collect(),
    };
    match merge_one(
        &device(login),
        &push,
        stored,
        &RelayActors::default(),
        &judging(),
    ) {
        Outcome::Commit(..) => true,
        Outcome::Rejected(_) => false,
        // Automerge writes nothing for a value put again unchanged: nothing to refuse.
        Outcome::Unchanged(..) => true,
    }
}

fn event(kind: EventKind, by: &str) -> Event {
    Event {
        id: DocId::new(),
        kind,
        by: person(by),
        at: now(),
        note: "测试".into(),
        photos: vec![],
        risk: None,
        plan: None,
        corrections: vec![],
    }
}

// ----- hazards -----------------------------------------------------------------------

/// Where a hazard stands, each reached honestly by its proper authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reported,
    InRectification,
    AwaitingVerification,
    Closed,
    Deferred,
}

const STATES: [State; 5] = [
    State::Reported,
    State::InRectification,
    State::AwaitingVerification,
    State::Closed,
    State::Deferred,
];

fn assignment() -> Plan {
    Plan {
        measure: "清理".into(),
        responsible: Some(person("owner")),
        deadline: Some(LocalDate(
            chrono::Utc::now().date_naive() + chrono::Duration::days(7),
        )),
        reinspector: Some(person("inspector2")),
        ..Plan::default()
    }
}

/// One honest step by `login`: its authors entry, `edit`, one change.
fn step(d: &mut AutoCommit, login: &str, edit: impl FnOnce(&mut AutoCommit)) {
    d.set_actor(actor(login));
    doc::record_author(d, &person(login)).expect("authors");
    edit(d);
    d.commit();
}

/// A hazard reported by the inspector, then brought to `state` by the office, the
/// responsible person (the owner) and the re-inspector (inspector2).
fn hazard_in(state: State, risk: RiskGrade) -> (DocId, AutoCommit) {
    let id = DocId::new();
    let mut d = AutoCommit::new();
    step(&mut d, "inspector", |d| {
        let new = NewHazard {
            id,
            institution: demo::institution(),
            campaign: None,
            inspection: None,
            site: site(),
            category: HazardCategory::Buildings,
            risk,
            location: "2楼".into(),
            description: "外墙瓷砖松动".into(),
            photos: vec![],
        };
        hazard::create(d, &new, &person("inspector"), now()).expect("create");
    });
    if state == State::Reported {
        return (id, d);
    }
    step(&mut d, "office", |d| {
        hazard::update_plan(d, &assignment(), PlanPart::Assignment).expect("plan");
        let mut e = event(EventKind::Assigned, "office");
        e.plan = Some(assignment());
        hazard::append_event(d, &e).expect("event");
    });
    match state {
        State::Deferred => step(&mut d, "office", |d| {
            let plan = Plan {
                interim_controls: "拉警戒线".into(),
                designated_person: Some(person("owner")),
                ..assignment()
            };
            hazard::update_plan(d, &plan, PlanPart::Deferral).expect("plan");
            hazard::append_event(d, &event(EventKind::Deferred, "office")).expect("event");
        }),
        State::AwaitingVerification | State::Closed => {
            step(&mut d, "owner", |d| {
                let e = event(EventKind::RectificationReported, "owner");
                hazard::append_event(d, &e).expect("event");
            });
            if state == State::Closed {
                step(&mut d, "inspector2", |d| {
                    let e = event(EventKind::Verified, "inspector2");
                    hazard::append_event(d, &e).expect("event");
                });
            }
        }
        _ => {}
    }
    (id, d)
}

/// What a change does to a hazard.
#[derive(Debug, Clone)]
enum Edit {
    /// Appends an event of this kind as the honest core would, with the fields it sets.
    Event(EventKind),
    /// Appends an event of this kind naming someone else as its author.
    EventAsOther(EventKind),
    /// Rewrites the description, with or without the `corrected` event.
    Describe { with_event: bool },
    /// Sets another grade, with or without the `regraded` event.
    Regrade { risk: RiskGrade, with_event: bool },
    /// Sets the measure without an `assigned` event.
    PlanWithoutEvent,
    /// Names someone else as the reporter.
    Reporter,
    /// Adds an authors entry naming someone else.
    ForgedAuthors,
    /// Tags the hazard with the running campaign.
    Campaign,
}

const KINDS: [EventKind; 10] = [
    EventKind::Reported,
    EventKind::Assigned,
    EventKind::RectificationReported,
    EventKind::Verified,
    EventKind::VerificationFailed,
    EventKind::Deferred,
    EventKind::Reopened,
    EventKind::ListedForSupervision,
    EventKind::Regraded,
    EventKind::Corrected,
];

fn grades() -> [RiskGrade; 4] {
    [
        RiskGrade::Major,
        RiskGrade::Significant,
        RiskGrade::General,
        RiskGrade::Low,
    ]
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0..KINDS.len()).prop_map(|k| Edit::Event(KINDS[k])),
        1 => (0..KINDS.len()).prop_map(|k| Edit::EventAsOther(KINDS[k])),
        1 => any::<bool>().prop_map(|with_event| Edit::Describe { with_event }),
        1 => (0..4usize, any::<bool>())
            .prop_map(|(r, with_event)| Edit::Regrade { risk: grades()[r], with_event }),
        1 => Just(Edit::PlanWithoutEvent),
        1 => Just(Edit::Reporter),
        1 => Just(Edit::ForgedAuthors),
        1 => Just(Edit::Campaign),
    ]
}

fn apply(d: &mut AutoCommit, author: &str, edit: &Edit) {
    let before = hazard::read_with(d, false).expect("a hazard");
    step(d, author, |d| match edit {
        Edit::Event(kind) | Edit::EventAsOther(kind) => {
            let by = match edit {
                Edit::EventAsOther(_) if author == "office" => "inspector",
                Edit::EventAsOther(_) => "office",
                _ => author,
            };
            let mut e = event(*kind, by);
            match kind {
                EventKind::Assigned => {
                    hazard::update_plan(d, &assignment(), PlanPart::Assignment).expect("plan");
                    e.plan = Some(assignment());
                }
                EventKind::Deferred => {
                    let plan = Plan {
                        interim_controls: "拉警戒线".into(),
                        designated_person: Some(person("owner")),
                        ..before.plan.clone()
                    };
                    hazard::update_plan(d, &plan, PlanPart::Deferral).expect("plan");
                    e.plan = Some(plan);
                }
                EventKind::ListedForSupervision => {
                    let plan = Plan {
                        treatment_plan: "专项方案".into(),
                        ..before.plan.clone()
                    };
                    hazard::update_plan(d, &plan, PlanPart::Supervision).expect("plan");
                    e.plan = Some(plan);
                }
                EventKind::Regraded => {
                    let risk = if before.risk == RiskGrade::Low {
                        RiskGrade::General
                    } else {
                        RiskGrade::Low
                    };
                    hazard::set_risk(d, risk).expect("risk");
                    e.risk = Some(risk);
                }
                EventKind::Corrected => {
                    hazard::set_description(d, "外墙瓷砖松动（更正）").expect("text");
                    let after = hazard::read_with(d, false).expect("a hazard");
                    e.corrections = hazard::corrections(&before, &after, hazard::CORRECTABLE);
                }
                _ => {}
            }
            hazard::append_event(d, &e).expect("event");
        }
        Edit::Describe { with_event } => {
            hazard::set_description(d, "外墙瓷砖松动，已处理").expect("text");
            if *with_event {
                let after = hazard::read_with(d, false).expect("a hazard");
                let mut e = event(EventKind::Corrected, author);
                e.corrections = hazard::corrections(&before, &after, hazard::CORRECTABLE);
                hazard::append_event(d, &e).expect("event");
            }
        }
        Edit::Regrade { risk, with_event } => {
            hazard::set_risk(d, *risk).expect("risk");
            if *with_event {
                let mut e = event(EventKind::Regraded, author);
                e.risk = Some(*risk);
                hazard::append_event(d, &e).expect("event");
            }
        }
        Edit::PlanWithoutEvent => {
            let plan = Plan {
                measure: "另一个措施".into(),
                ..before.plan.clone()
            };
            hazard::update_plan(d, &plan, PlanPart::Assignment).expect("plan");
        }
        Edit::Reporter => {
            let other = if author == "office" {
                "owner"
            } else {
                "office"
            };
            autosurgeon::reconcile_prop(d, ROOT, "reported_by", person(other)).expect("put");
        }
        Edit::ForgedAuthors => {
            let Ok(Some((_, authors))) = automerge::ReadDoc::get(d, ROOT, "authors") else {
                panic!("a hazard records its authors")
            };
            autosurgeon::reconcile_prop(d, &authors, "00aa00aa", person("office")).expect("put");
        }
        Edit::Campaign => {
            d.put(ROOT, "campaign", campaign().to_string())
                .expect("put");
        }
    });
}

/// DOMAIN.md's role × action table: whether `login`, on a hazard in `state`, may take
/// the action an event of `kind` records.
fn may(login: &str, state: State, kind: EventKind) -> bool {
    let roles = roles(login);
    let office = roles.contains(&Role::SafetyOffice);
    let assigned = state != State::Reported;
    match kind {
        EventKind::Reported => false,
        EventKind::Assigned | EventKind::Deferred => office,
        EventKind::RectificationReported => office || (assigned && login == "owner"),
        EventKind::Verified | EventKind::VerificationFailed => {
            office || (assigned && login == "inspector2")
        }
        EventKind::Reopened => office || roles.contains(&Role::Inspector),
        EventKind::ListedForSupervision => {
            office || roles.contains(&Role::Leader) || roles.contains(&Role::ProvincialReviewer)
        }
        // The report is its reporter's to correct until the office assigns it.
        EventKind::Regraded | EventKind::Corrected => office || (login == "inspector" && !assigned),
    }
}

/// DOMAIN.md's life of a hazard: whether an event of `kind` may follow `state`.
fn legal(state: State, kind: EventKind) -> bool {
    use EventKind as E;
    use State as S;
    match kind {
        E::Reported => false,
        E::Assigned => matches!(state, S::Reported | S::InRectification | S::Deferred),
        E::RectificationReported => matches!(state, S::InRectification | S::Deferred),
        E::Verified | E::VerificationFailed => state == S::AwaitingVerification,
        E::Deferred => state != S::Closed,
        E::Reopened => state == S::Closed,
        E::ListedForSupervision | E::Regraded => state != S::Closed,
        E::Corrected => true,
    }
}

fn oracle(login: &str, state: State, risk: RiskGrade, edit: &Edit) -> bool {
    match edit {
        Edit::Event(kind) => {
            may(login, state, *kind)
                && legal(state, *kind)
                && (*kind != EventKind::ListedForSupervision || risk == RiskGrade::Major)
        }
        Edit::EventAsOther(_) => false,
        Edit::Describe { with_event } => *with_event && may(login, state, EventKind::Corrected),
        Edit::Regrade {
            risk: new,
            with_event,
        } => {
            if *new == risk {
                // The grade stays: only the event (if any) is new.
                !*with_event
                    || (may(login, state, EventKind::Regraded) && legal(state, EventKind::Regraded))
            } else {
                *with_event
                    && may(login, state, EventKind::Regraded)
                    && legal(state, EventKind::Regraded)
            }
        }
        Edit::PlanWithoutEvent | Edit::Reporter | Edit::ForgedAuthors => false,
        Edit::Campaign => roles(login).contains(&Role::SafetyOffice),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn the_server_accepts_exactly_the_hazard_changes_domain_permits(
        state in 0..STATES.len(),
        risk in 0..4usize,
        author in 0..LOGINS.len(),
        edit in edit_strategy(),
    ) {
        let (state, risk, author) = (STATES[state], grades()[risk], LOGINS[author]);
        let (id, mut d) = hazard_in(state, risk);
        let s = stored(&mut d, "hazard");
        apply(&mut d, author, &edit);
        let want = oracle(author, state, risk, &edit);
        prop_assert_eq!(
            accepted(author, id, Some(&s), &mut d),
            want,
            "{} on a {:?} {:?} hazard: {:?}", author, state, risk, edit
        );
    }
}

// ----- weekly reports, incidents, inspections ----------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A weekly report: its department's people only, each filing by its author.
    #[test]
    fn weekly_reports_are_their_departments_and_filed_by_their_authors(
        author in 0..LOGINS.len(),
        dept in 0..demo::DEPARTMENTS.len(),
        forged in any::<bool>(),
    ) {
        let author = LOGINS[author];
        let dept_name = demo::DEPARTMENTS[dept];
        let department = demo::department(dept_name);
        let week: weekly::IsoWeek = weekly::IsoWeek::of(chrono::Utc::now().date_naive());
        let id = weekly::id_for(demo::institution(), department, week);
        let mut d = weekly::genesis(demo::institution(), department, week).expect("genesis");
        let by = if forged { person(if author == "office" { "owner" } else { "office" }) } else { person(author) };
        step(&mut d, author, |d| {
            let f = weekly::Filed {
                campaign: None,
                department_name: dept_name,
                all_clear: true,
                content: "",
            };
            weekly::file(d, &f, &by, now()).expect("file");
        });
        let want = !forged && department_of(author) == dept_name;
        prop_assert_eq!(accepted(author, id, None, &mut d), want, "{} for {}", author, dept_name);
    }

    /// An incident: filed once, by its reporter, at a time not absurdly ahead.
    #[test]
    fn incidents_are_filed_once_by_their_reporters(
        author in 0..LOGINS.len(),
        forged in any::<bool>(),
        hours_ahead in prop_oneof![Just(0i64), Just(2), Just(30)],
        edited_after in any::<bool>(),
    ) {
        let author = LOGINS[author];
        let id = DocId::new();
        let mut d = AutoCommit::new();
        let by = if forged { person(if author == "office" { "owner" } else { "office" }) } else { person(author) };
        let at = Timestamp(chrono::Utc::now() + chrono::Duration::hours(hours_ahead));
        step(&mut d, author, |d| {
            let new = incident::NewIncident {
                id,
                institution: demo::institution(),
                campaign: None,
                occurred_at: now(),
                site: Some(site()),
                location: "门口".into(),
                category: HazardCategory::Buildings,
                severity: RiskGrade::Significant,
                title: "瓷砖掉落".into(),
                description: "无人受伤".into(),
                actions_taken: String::new(),
            };
            incident::create(d, &new, &by, at).expect("create");
        });
        let s = stored(&mut d, "incident_report");
        let filed = accepted(author, id, None, &mut d);
        prop_assert_eq!(filed, !forged && hours_ahead <= 24, "filing by {}", author);
        if edited_after {
            step(&mut d, author, |d| {
                d.put(ROOT, "title", "小事").expect("put");
            });
            prop_assert!(!accepted(author, id, Some(&s), &mut d), "an incident is never changed");
        }
    }

    /// An inspection: answered by inspectors (who join it by answering) before it is
    /// submitted; afterwards only with an amendment for the item.
    #[test]
    fn inspections_are_answered_before_submission_or_amended_after(
        author in 0..LOGINS.len(),
        submitted in any::<bool>(),
        amended in any::<bool>(),
        forged in any::<bool>(),
    ) {
        let author = LOGINS[author];
        let id = DocId::new();
        let mut d = AutoCommit::new();
        let template = saferound_core::model::templates::builtin()
            .iter()
            .find(|t| t.site_kind == site().kind)
            .expect("a built-in template")
            .clone();
        let item = template.items[0].code.clone();
        step(&mut d, "inspector", |d| {
            let new = NewInspection {
                id,
                institution: demo::institution(),
                campaign: None,
                site: site(),
                template: inspection::TemplateRef { id: template.id.clone(), version: template.version },
            };
            inspection::create(d, &new, &person("inspector"), now()).expect("create");
            let a = Answer { result: AnswerResult::Pass, note: String::new(), photos: vec![], by: person("inspector"), at: now() };
            inspection::put_answer(d, &item, &a).expect("answer");
            if submitted {
                inspection::submit(d, &person("inspector"), now()).expect("submit");
            }
        });
        let s = stored(&mut d, "inspection");
        let by = if forged { person(if author == "office" { "owner" } else { "office" }) } else { person(author) };
        step(&mut d, author, |d| {
            inspection::add_inspector(d, &person(author)).expect("join");
            let a = Answer { result: AnswerResult::Fail, note: "复查不合格".into(), photos: vec![], by: by.clone(), at: now() };
            inspection::put_answer(d, &item, &a).expect("answer");
            if amended {
                let m = Amendment { by: person(author), at: now(), reason: "复查".into(), item: item.clone() };
                inspection::add_amendment(d, &m).expect("amend");
            }
        });
        let inspects = roles(author).iter().any(|r| matches!(r, Role::Inspector | Role::SafetyOffice));
        // After submission only those on it amend (the inspector who started it).
        let want = inspects && !forged && (!submitted || (amended && author == "inspector"));
        prop_assert_eq!(
            accepted(author, id, Some(&s), &mut d),
            want,
            "{} answering a {} inspection (amended {}, forged {})", author,
            if submitted { "submitted" } else { "open" }, amended, forged
        );
    }
}
