//! The write policy: who may set and change which field of which record (`table.rs`),
//! and the one function that judges a change against it (`judge`). The phone's core
//! calls it on every edit before the write commits, the dashboard before it pushes an
//! action, and the server for every change a device pushes, judged against the record
//! as that change's author saw it, by the user the server binds the change's actor to —
//! never by a name written inside the document.

mod checks;
pub mod table;

use std::collections::BTreeMap;

use automerge::AutoCommit;
use serde_json::Value;

use crate::doc::directory::Directory;
use crate::doc::hazard::{Event, Hazard};
use crate::doc::{self, PersonRef, Record};
use crate::ids::{BlobHash, DepartmentId, InstitutionId, Timestamp, UserId};
use crate::model::lifecycle::{self, EventKind};
use crate::model::role::Named;
use crate::model::{Action, RiskGrade, Role, templates};
use table::{Change, Check, Edit, RULES, Set};

/// A claimed time further ahead of receipt than this is refused: no honest clock is a
/// day fast, and a report dated next week would hide a late one.
pub const MAX_AHEAD: chrono::Duration = chrono::Duration::days(1);

/// A claimed time ahead of receipt by more than this is accepted and flagged for the
/// office ("phone clock ahead by …"): phone clocks drift a little, and that is no news.
pub const FLAG_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

/// A claimed time earlier than the institution's setup on its server by more than this
/// is refused: nobody recorded anything for an institution before it existed, and a
/// phone whose clock is years behind would backdate what it reports. The slack covers a
/// server clock set a little after the setup.
pub const MAX_BEFORE_SETUP: chrono::Duration = chrono::Duration::days(1);

/// A record may be tagged with a campaign that ended at most this long before the change
/// arrived: a phone offline for days at the campaign's end still lands its work.
pub const CAMPAIGN_GRACE: chrono::Duration = chrono::Duration::days(7);

/// Who made the change, as the judge knows them: on the server, the user the change's
/// actor is bound to (actor → device → user); on the phone, its own user.
#[derive(Debug, Clone)]
pub struct Author<'a> {
    pub user: UserId,
    pub roles: &'a [Role],
    pub department: Option<DepartmentId>,
    /// The Automerge actor the change was made under, in hex.
    pub actor: String,
}

/// What references and times are judged against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub institution: InstitutionId,
    /// The institution's directory; `None` only on a phone that has none yet (its
    /// references cannot be checked there, and the server checks them again).
    pub directory: Option<&'a Directory>,
    /// When the change arrived: the server's receipt, the phone's clock when it writes.
    pub received: Timestamp,
}

/// A record as one version of its document holds it.
#[derive(Debug, Clone)]
pub struct Version {
    pub record: Record,
    pub schema: u64,
    pub authors: BTreeMap<String, PersonRef>,
}

impl Version {
    /// Reads the record (without the scan for concurrent values). The directory has no
    /// record: a device never writes it.
    pub fn read(d: &AutoCommit) -> Result<Version, Refusal> {
        let h = doc::header(d).map_err(|e| Refusal::invalid("document", e.to_string()))?;
        let record = Record::of(d, h.kind, false)
            .map_err(|e| Refusal::invalid("document", e.to_string()))?
            .ok_or_else(|| {
                Refusal::forbidden("document", "the directory is written by the server")
            })?;
        Ok(Version {
            record,
            schema: h.schema,
            authors: doc::authors(d),
        })
    }
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The author may not do this (rather than: the change is malformed or absurd).
    pub forbidden: bool,
    pub field: String,
    pub reason: String,
}

impl Refusal {
    fn forbidden(field: &str, reason: impl Into<String>) -> Self {
        Refusal {
            forbidden: true,
            field: field.into(),
            reason: reason.into(),
        }
    }
    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Refusal {
            forbidden: false,
            field: field.into(),
            reason: reason.into(),
        }
    }
    fn action(field: &str, action: Action) -> Self {
        Self::forbidden(field, format!("{action:?} is for {}", action.who()))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl From<Refusal> for crate::error::Error {
    fn from(r: Refusal) -> Self {
        if r.forbidden {
            crate::error::Error::NotAllowed {
                action: r.field,
                who: r.reason,
            }
        } else {
            crate::error::Error::invalid(r.field, r.reason)
        }
    }
}

/// Something the office should see about an accepted change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// A claimed time ahead of receipt ("phone clock ahead by …").
    ClockAhead {
        field: String,
        claimed: Timestamp,
        ahead: chrono::Duration,
    },
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flag::ClockAhead {
                field,
                claimed,
                ahead,
            } => write!(
                f,
                "phone clock ahead by {} min ({field} = {claimed})",
                ahead.num_minutes()
            ),
        }
    }
}

/// What an accepted change leaves for its caller to act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub flags: Vec<Flag>,
    /// Photos the change newly references: the caller checks that its store has each
    /// (the phone's local store; the server's uploads of the institution).
    pub new_photos: Vec<BlobHash>,
}

/// Who `user` is on the hazard `h`: its reporter, its responsible person, its
/// re-inspector; and whether it is still unassigned. The one place this is computed.
pub fn named(h: &Hazard, user: UserId) -> Named {
    named_from(
        Some(h.reported_by.user_id),
        h.plan.responsible.as_ref().map(|p| p.user_id),
        h.plan.reinspector.as_ref().map(|p| p.user_id),
        doc::hazard::ever_assigned(h),
        user,
    )
}

/// `named` from the ledger's columns, for pages that read rows, not documents.
pub fn named_from(
    reporter: Option<UserId>,
    responsible: Option<UserId>,
    reinspector: Option<UserId>,
    ever_assigned: bool,
    user: UserId,
) -> Named {
    Named {
        reporter: reporter == Some(user),
        responsible: responsible == Some(user),
        reinspector: reinspector == Some(user),
        unassigned: !ever_assigned,
    }
}

/// Whether `roles`, named as `named`, may take `action`; the refusal names who may.
pub fn may(action: Action, roles: &[Role], named: Named) -> Result<(), Refusal> {
    if action.allowed(roles, named) {
        Ok(())
    } else {
        Err(Refusal::action("action", action))
    }
}

/// Judges one change: `before` is the record as its author saw it (`None`: the change
/// creates it), `after` the record the change makes.
pub fn judge(
    before: Option<&Version>,
    after: &Version,
    author: &Author<'_>,
    ctx: &Context<'_>,
) -> Result<Verdict, Refusal> {
    let kind = after.record.kind();
    let rule = table::kind_rule(kind)
        .ok_or_else(|| Refusal::forbidden("document", "the directory is written by the server"))?;
    if let Some(b) = before {
        if b.record.kind() != kind {
            return Err(Refusal::invalid(
                "kind",
                "the kind of a record never changes",
            ));
        }
        if b.schema != after.schema {
            return Err(Refusal::invalid(
                "schema",
                "the schema of a record never changes",
            ));
        }
    }
    let mut j = Judging {
        author,
        ctx,
        verdict: Verdict::default(),
    };
    let none = Named::default();
    match (before, rule.edit) {
        (None, _) => may(rule.create, author.roles, none)?,
        (Some(_), Edit::Never) => {
            return Err(Refusal::invalid(
                "document",
                format!("a {} is never changed once filed", kind.code()),
            ));
        }
        (Some(_), Edit::Action(a)) => may(a, author.roles, none)?,
        (Some(_), Edit::ByField) => {}
    }
    if rule.members_only {
        let Record::Weekly(r) = &after.record else {
            unreachable!("only weekly reports are written by members")
        };
        if author.department != Some(r.department) {
            return Err(Refusal::forbidden(
                "department",
                "a weekly report is written by its own department's people",
            ));
        }
    }
    let b_json = before.map(|b| b.record.to_json());
    let a_json = after.record.to_json();
    let null = Value::Null;
    let new_events = new_events(before, after)?;
    if let (Record::Hazard(a), b) = (&after.record, before) {
        let b = b.map(|b| match &b.record {
            Record::Hazard(h) => h.as_ref(),
            _ => unreachable!("kinds were compared"),
        });
        j.hazard_events(b, a, new_events)?;
    }
    for r in RULES.iter().filter(|r| r.kind == kind) {
        for field in r.fields {
            let va = path(&a_json, field);
            let vb = b_json.as_ref().map(|b| path(b, field));
            match vb {
                // A push may create a record and go on editing it in one run of changes:
                // a field that is empty at creation and already holds a value was
                // written afterwards, and is judged as a change from empty.
                None if r.set == Set::Empty && !is_empty(va) => {
                    j.change(field, r.change, before, after, &null, va, new_events)?;
                    j.check(field, r.check, &null, va)?;
                }
                None => {
                    j.set(field, r.set, va)?;
                    j.check(field, r.check, &null, va)?;
                }
                Some(vb) if vb != va => {
                    j.change(field, r.change, before, after, vb, va, new_events)?;
                    j.check(field, r.check, vb, va)?;
                }
                Some(_) => {}
            }
        }
    }
    if let Record::Inspection(a) = &after.record {
        if before.is_some() && !a.inspectors.iter().any(|p| p.user_id == author.user) {
            return Err(Refusal::forbidden(
                "inspectors",
                "an inspection is changed by the inspectors on it",
            ));
        }
        if let Some(Record::Inspection(b)) = before.map(|b| &b.record)
            && b.submitted.is_some()
            && a.inspectors.len() > b.inspectors.len()
        {
            return Err(Refusal::forbidden(
                "inspectors",
                "inspectors join an inspection before it is submitted",
            ));
        }
    }
    // Who wrote as whom: an entry names the change's own actor and author, and stays.
    let empty = BTreeMap::new();
    let b_authors = before.map(|b| &b.authors).unwrap_or(&empty);
    for (actor, person) in &after.authors {
        if b_authors.get(actor) == Some(person) {
            continue;
        }
        if *actor != author.actor || person.user_id != author.user {
            return Err(Refusal::invalid(
                "authors",
                "an authors entry names only the change's own actor and author",
            ));
        }
    }
    if b_authors.keys().any(|k| !after.authors.contains_key(k)) {
        return Err(Refusal::invalid(
            "authors",
            "authors entries are never removed",
        ));
    }
    Ok(j.verdict)
}

/// A field by dotted path; missing is null.
fn path<'v>(v: &'v Value, p: &str) -> &'v Value {
    if p.is_empty() {
        return v;
    }
    p.split('.')
        .fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(_) => false,
    }
}

/// The canonical text of a value, as a correction records it.
pub fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The hazard events this change appends; refused when it rewrites, removes or slips
/// events in before the recorded history.
fn new_events<'a>(before: Option<&Version>, after: &'a Version) -> Result<&'a [Event], Refusal> {
    let Record::Hazard(a) = &after.record else {
        return Ok(&[]);
    };
    let Some(Record::Hazard(b)) = before.map(|b| &b.record) else {
        return Ok(&a.events);
    };
    let kept = a
        .events
        .iter()
        .filter(|e| b.events.iter().any(|o| o.id == e.id));
    if kept.count() != b.events.len() {
        return Err(Refusal::invalid(
            "events",
            "past events may not be changed or removed",
        ));
    }
    let (seen, new) = a.events.split_at(b.events.len().min(a.events.len()));
    if seen != b.events.as_slice() {
        if seen.iter().zip(&b.events).all(|(x, y)| x.id == y.id) {
            return Err(Refusal::invalid(
                "events",
                "past events may not be changed or removed",
            ));
        }
        return Err(Refusal::invalid(
            "events",
            "new events go after the events already recorded",
        ));
    }
    Ok(new)
}

/// One judgement in progress: who made the change, what it is judged against, and what
/// has been found so far. The checks of each kind of rule are in `checks.rs`.
struct Judging<'a> {
    author: &'a Author<'a>,
    ctx: &'a Context<'a>,
    verdict: Verdict,
}

#[cfg(test)]
mod tests {
    use super::table::{DERIVED, RULES};
    use crate::doc::DocKind;

    /// Every field a record serializes has its row in the table (or is derived).
    #[test]
    fn every_field_has_a_row() {
        let samples = super::tests_support::samples();
        for (kind, json) in samples {
            let Some(obj) = json.as_object() else {
                panic!("{kind:?} is an object")
            };
            for (k, v) in obj {
                if DERIVED.contains(&k.as_str()) {
                    continue;
                }
                let covered = RULES.iter().filter(|r| r.kind == kind).any(|r| {
                    r.fields
                        .iter()
                        .any(|f| f == k || f.starts_with(&format!("{k}.")))
                });
                assert!(covered, "{kind:?}.{k} has no row in policy::table::RULES");
                if let (Some(inner), true) = (v.as_object(), k == "plan") {
                    for sub in inner.keys() {
                        let p = format!("{k}.{sub}");
                        assert!(
                            RULES
                                .iter()
                                .any(|r| r.kind == kind && r.fields.contains(&p.as_str())),
                            "{kind:?}.{p} has no row"
                        );
                    }
                }
            }
        }
        let _ = DocKind::Hazard;
    }
}

#[cfg(test)]
mod tests_support {
    use crate::doc::{self, DocKind, PersonRef, SiteRef};
    use crate::ids::{DepartmentId, DocId, InstitutionId, SiteId, Timestamp, UserId};
    use crate::model::{HazardCategory, RiskGrade, SiteKind};

    fn json(d: &automerge::AutoCommit, kind: DocKind) -> (DocKind, serde_json::Value) {
        let r = doc::Record::of(d, kind, false)
            .expect("read")
            .expect("a record");
        (kind, r.to_json())
    }

    /// One record of each kind, as JSON.
    pub fn samples() -> Vec<(DocKind, serde_json::Value)> {
        let inst = InstitutionId::new();
        let me = PersonRef {
            user_id: UserId::new(),
            name: "张".into(),
        };
        let at: Timestamp = "2026-12-01T02:00:00Z".parse().expect("a time");
        let site = SiteRef {
            id: SiteId::new(),
            name: "实验楼".into(),
            kind: SiteKind::Laboratory,
        };
        let mut out = Vec::new();
        let mut d = automerge::AutoCommit::new();
        let h = doc::hazard::NewHazard {
            id: DocId::new(),
            institution: inst,
            campaign: None,
            inspection: None,
            site: site.clone(),
            category: HazardCategory::FireSafety,
            risk: RiskGrade::General,
            location: "3F".into(),
            description: "灭火器过期".into(),
            photos: vec![],
        };
        doc::hazard::create(&mut d, &h, &me, at).expect("hazard");
        out.push(json(&d, DocKind::Hazard));
        let mut d = automerge::AutoCommit::new();
        let i = doc::inspection::NewInspection {
            id: DocId::new(),
            institution: inst,
            campaign: None,
            site: site.clone(),
            template: doc::inspection::TemplateRef {
                id: "lab".into(),
                version: 1,
            },
        };
        doc::inspection::create(&mut d, &i, &me, at).expect("inspection");
        out.push(json(&d, DocKind::Inspection));
        let d = doc::weekly::genesis(inst, DepartmentId::new(), "2026-W48".parse().expect("week"))
            .expect("weekly");
        out.push(json(&d, DocKind::WeeklyReport));
        let mut d = automerge::AutoCommit::new();
        let x = doc::incident::NewIncident {
            id: DocId::new(),
            institution: inst,
            campaign: None,
            occurred_at: at,
            site: Some(site),
            location: "门口".into(),
            category: HazardCategory::FireSafety,
            severity: RiskGrade::Major,
            title: "火情".into(),
            description: "已扑灭".into(),
            actions_taken: String::new(),
        };
        doc::incident::create(&mut d, &x, &me, at).expect("incident");
        out.push(json(&d, DocKind::IncidentReport));
        out
    }
}
