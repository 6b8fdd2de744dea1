//! Merge laws as properties: random concurrent edits of one hazard on two or three
//! replicas, merged in every order, grouped either way and repeated, give identical
//! documents and identical derived status, risk grade, deadline and conflicts.

use automerge::{ActorId, AutoCommit};
use proptest::prelude::*;
use saferound_core::doc::PersonRef;
use saferound_core::doc::hazard::{self, Event, NewHazard, Plan};
use saferound_core::doc::{SiteRef, json};
use saferound_core::ids::{DocId, InstitutionId, LocalDate, SiteId, Timestamp, UserId};
use saferound_core::model::{EventKind, HazardCategory, RiskGrade, SiteKind};

#[derive(Debug, Clone)]
enum Op {
    Event(EventKind),
    Risk(RiskGrade),
    Deadline(u8),
    Measure(u8),
    Description(u8, String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::sample::select(EventKind::ALL.to_vec()).prop_map(Op::Event),
        2 => prop::sample::select(RiskGrade::ALL.to_vec()).prop_map(Op::Risk),
        2 => (0u8..30).prop_map(Op::Deadline),
        1 => (0u8..5).prop_map(Op::Measure),
        1 => (any::<u8>(), "[a-z隐患 ]{0,6}").prop_map(|(p, s)| Op::Description(p, s)),
    ]
}

fn person(n: u8) -> PersonRef {
    PersonRef {
        user_id: UserId(uuid::Uuid::from_u128(n as u128 + 1)),
        name: format!("p{n}"),
    }
}

fn t0() -> Timestamp {
    "2026-12-28T01:00:00Z".parse().unwrap()
}

fn base() -> AutoCommit {
    let mut d = AutoCommit::new().with_actor(ActorId::from(&[0u8; 16][..]));
    let new = NewHazard {
        id: DocId(uuid::Uuid::from_u128(7)),
        institution: InstitutionId(uuid::Uuid::from_u128(9)),
        campaign: None,
        inspection: None,
        site: SiteRef {
            id: SiteId(uuid::Uuid::from_u128(11)),
            name: "lab".into(),
            kind: SiteKind::Laboratory,
        },
        category: HazardCategory::LabChemicals,
        risk: RiskGrade::General,
        location: String::new(),
        description: "base description".into(),
        photos: vec![],
    };
    hazard::create(&mut d, &new, &person(0), t0()).unwrap();
    d.commit();
    d
}

fn apply(d: &mut AutoCommit, op: &Op, who: u8, n: usize) {
    match op {
        Op::Event(kind) => hazard::append_event(
            d,
            &Event {
                id: DocId(uuid::Uuid::from_u128(((who as u128) << 64) | n as u128)),
                kind: *kind,
                by: person(who),
                at: t0(),
                note: format!("{who}-{n}"),
                photos: vec![],
                risk: None,
                plan: None,
                corrections: Vec::new(),
            },
        )
        .unwrap(),
        Op::Risk(r) => hazard::set_risk(d, *r).unwrap(),
        Op::Deadline(days) => {
            let mut plan: Plan = autosurgeon::hydrate_prop(&*d, automerge::ROOT, "plan").unwrap();
            let day = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
                + chrono::Duration::days(*days as i64);
            plan.deadline = Some(LocalDate(day));
            hazard::update_plan(d, &plan, hazard::PlanPart::Assignment).unwrap();
        }
        Op::Measure(m) => {
            let mut plan: Plan = autosurgeon::hydrate_prop(&*d, automerge::ROOT, "plan").unwrap();
            plan.measure = format!("measure {m}");
            plan.deadline = hazard::resolved_deadline(d).unwrap();
            hazard::update_plan(d, &plan, hazard::PlanPart::Assignment).unwrap();
        }
        Op::Description(pos, text) => {
            let current = hazard::description(d);
            let chars: Vec<char> = current.chars().collect();
            let at = *pos as usize % (chars.len() + 1);
            let mut next: String = chars[..at].iter().collect();
            next.push_str(text);
            next.extend(&chars[at..]);
            // Through the same minimal-splice path the API uses.
            saferound_core::doc::hazard::set_description(d, &next).unwrap();
        }
    }
    d.commit();
}

fn copy(d: &mut AutoCommit) -> AutoCommit {
    AutoCommit::load(&d.save()).unwrap()
}

/// Everything a replica shows: the document, its heads and what is derived from it.
fn state(d: &mut AutoCommit) -> String {
    let mut heads = d.get_heads();
    heads.sort();
    let h = hazard::read(d).unwrap();
    let conflicts: Vec<(String, usize)> = h
        .conflicts
        .iter()
        .map(|c| (c.field.clone(), c.values.len()))
        .collect();
    format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        json::to_json(d),
        heads,
        h.status,
        h.risk,
        h.plan.deadline,
        h.skipped_events,
        conflicts
    )
}

fn merged(replicas: &mut [AutoCommit], order: &[usize]) -> AutoCommit {
    let mut m = copy(&mut replicas[order[0]]);
    for &i in &order[1..] {
        let mut other = copy(&mut replicas[i]);
        m.merge(&mut other).unwrap();
    }
    m
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_merge_order_grouping_or_repetition(
        edits in prop::collection::vec(
            (prop::collection::vec(op(), 0..6), prop::collection::vec(op(), 0..6)),
            2..=3,
        ),
    ) {
        let n = edits.len();
        let b = base();
        let mut replicas: Vec<AutoCommit> = (0..n)
            .map(|i| {
                let mut r = AutoCommit::load(&b.clone().save()).unwrap();
                r.set_actor(ActorId::from(&[i as u8 + 1; 16][..]));
                r
            })
            .collect();
        // Round one offline, then each replica hears from its neighbour, then round two.
        for (i, (first, _)) in edits.iter().enumerate() {
            for (k, o) in first.iter().enumerate() {
                apply(&mut replicas[i], o, i as u8 + 1, k);
            }
        }
        if n > 1 {
            let mut next = copy(&mut replicas[1 % n]);
            replicas[0].merge(&mut next).unwrap();
        }
        for (i, (_, second)) in edits.iter().enumerate() {
            for (k, o) in second.iter().enumerate() {
                apply(&mut replicas[i], o, i as u8 + 1, 100 + k);
            }
        }

        // Commutative: every order gives the same state.
        let orders = permutations(n);
        let mut first = merged(&mut replicas, &orders[0]);
        let expected = state(&mut first);
        for o in &orders[1..] {
            let mut m = merged(&mut replicas, o);
            prop_assert_eq!(state(&mut m), expected.clone(), "order {:?}", o);
        }
        // Associative: (a ∪ b) ∪ c == a ∪ (b ∪ c).
        if n == 3 {
            let mut bc = copy(&mut replicas[1]);
            let mut c = copy(&mut replicas[2]);
            bc.merge(&mut c).unwrap();
            let mut a = copy(&mut replicas[0]);
            a.merge(&mut bc).unwrap();
            prop_assert_eq!(state(&mut a), expected.clone());
        }
        // Idempotent: merging again, or merging a copy of itself, changes nothing.
        let mut again = copy(&mut first);
        for r in replicas.iter_mut() {
            let mut c = copy(r);
            again.merge(&mut c).unwrap();
        }
        let mut itself = copy(&mut first);
        again.merge(&mut itself).unwrap();
        prop_assert_eq!(state(&mut again), expected.clone());
    }
}
