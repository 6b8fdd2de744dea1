//! The write policy: who may set and change which field of which record (`table.rs`),
//! and the one function that judges a change against it (`judge`). The phone's core
//! calls it on every edit before the write commits, the dashboard before it pushes an
//! action, and the server for every change a device pushes, judged against the record
//! as that change's author saw it, by the user the server binds the change's actor to —
//! never by a name written inside the document.

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

struct Judging<'a> {
    author: &'a Author<'a>,
    ctx: &'a Context<'a>,
    verdict: Verdict,
}

impl Judging<'_> {
    fn is_author(&self, v: &Value) -> bool {
        match v {
            Value::Array(a) => !a.is_empty() && a.iter().all(|e| self.is_author(e)),
            Value::Object(_) => path(v, "user_id").as_str() == Some(&self.author.user.to_string()),
            _ => false,
        }
    }

    fn office(&self) -> bool {
        self.author.roles.contains(&Role::SafetyOffice)
    }

    /// The value of a field at creation.
    fn set(&self, field: &str, set: Set, v: &Value) -> Result<(), Refusal> {
        match set {
            Set::Any => Ok(()),
            Set::Empty if is_empty(v) => Ok(()),
            Set::Empty => Err(Refusal::invalid(
                field,
                "is empty when the record is created",
            )),
            Set::Author if self.is_author(v) => Ok(()),
            Set::Author => Err(Refusal::invalid(field, "names the change's own author")),
            Set::Starts(kind) => {
                let kinds: Vec<&str> = v
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| path(e, "kind").as_str()).collect())
                    .unwrap_or_default();
                if kinds.first() == Some(&kind.code()) {
                    Ok(())
                } else {
                    Err(Refusal::invalid(
                        field,
                        format!(
                            "a new record's history starts with its '{}' event",
                            kind.code()
                        ),
                    ))
                }
            }
        }
    }

    /// A changed field: whether this author may change it this way.
    #[allow(clippy::too_many_arguments)]
    fn change(
        &self,
        field: &str,
        change: Change,
        before: Option<&Version>,
        after: &Version,
        vb: &Value,
        va: &Value,
        new_events: &[Event],
    ) -> Result<(), Refusal> {
        let has_event = |k: EventKind| new_events.iter().any(|e| e.kind == k);
        match change {
            Change::Never => Err(Refusal::invalid(field, "is set once and never changed")),
            Change::Any | Change::Events => Ok(()),
            Change::Office if self.office() => Ok(()),
            Change::Office => Err(Refusal::forbidden(
                field,
                "is changed by the safety office only",
            )),
            Change::WithEvent(k) if has_event(k) => Ok(()),
            Change::WithEvent(k) => Err(Refusal::invalid(
                field,
                format!("changes only with a '{}' event", k.code()),
            )),
            Change::Regrade => {
                // The last regrading of the change names the grade it leaves.
                let grade = va.as_str().and_then(|s| s.parse::<RiskGrade>().ok());
                let last = new_events
                    .iter()
                    .rev()
                    .find(|e| e.kind == EventKind::Regraded)
                    .and_then(|e| e.risk);
                if grade.is_some() && last == grade {
                    Ok(())
                } else {
                    Err(Refusal::invalid(
                        field,
                        "changes only with a 'regraded' event holding the new grade",
                    ))
                }
            }
            Change::Correction => {
                // The corrections of this field, in order, lead from the old value to the
                // new one (a change may correct a field more than once).
                let steps: Vec<_> = new_events
                    .iter()
                    .filter(|e| e.kind == EventKind::Corrected)
                    .flat_map(|e| e.corrections.iter().filter(|c| c.field == field))
                    .collect();
                let linked = steps.windows(2).all(|w| w[0].new == w[1].old);
                let ends = steps.first().is_some_and(|c| c.old == canonical(vb))
                    && steps.last().is_some_and(|c| c.new == canonical(va));
                if linked && ends {
                    Ok(())
                } else {
                    Err(Refusal::invalid(
                        field,
                        "changes only with a 'corrected' event holding its old and new value",
                    ))
                }
            }
            Change::AppendOnly => {
                let (Some(b), Some(a)) = (vb.as_array(), va.as_array()) else {
                    return Err(Refusal::invalid(field, "is a list"));
                };
                if a.len() >= b.len() && a[..b.len()] == b[..] {
                    Ok(())
                } else {
                    Err(Refusal::invalid(
                        field,
                        "entries are added, never changed or removed",
                    ))
                }
            }
            Change::Inspectors => {
                let (Some(Record::Inspection(b)), Record::Inspection(a)) =
                    (before.map(|b| &b.record), &after.record)
                else {
                    // Created in the same run: not submitted before it.
                    return Ok(());
                };
                if b.submitted.is_none() {
                    return Ok(());
                }
                if field != "answers" {
                    return Err(Refusal::invalid(field, "the inspection was submitted"));
                }
                let added = &a.amendments[b.amendments.len().min(a.amendments.len())..];
                for (item, answer) in &a.answers {
                    if b.answers.get(item) != Some(answer)
                        && !added
                            .iter()
                            .any(|m| m.item == *item && !m.reason.trim().is_empty())
                    {
                        return Err(Refusal::invalid(
                            field,
                            format!("{item} was changed after submission without an amendment"),
                        ));
                    }
                }
                if b.answers.keys().any(|k| !a.answers.contains_key(k)) {
                    return Err(Refusal::invalid(field, "answers are never removed"));
                }
                Ok(())
            }
            Change::Submission => {
                let Record::Inspection(a) = &after.record else {
                    return Err(Refusal::invalid(field, "is an inspection's"));
                };
                let submitted_before = match before.map(|b| &b.record) {
                    Some(Record::Inspection(b)) => b.submitted.is_some(),
                    _ => false,
                };
                if submitted_before {
                    Err(Refusal::invalid(field, "an inspection is submitted once"))
                } else if a.submitted.is_none() {
                    Err(Refusal::invalid(
                        field,
                        "is set when the inspection is submitted",
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// A new value: what it must be. `vb` is the value before (null at creation), so
    /// only new entries of lists and maps are judged.
    fn check(&mut self, field: &str, check: Check, vb: &Value, va: &Value) -> Result<(), Refusal> {
        let dir = self.ctx.directory;
        let bad = |why: &str| Err(Refusal::invalid(field, why.to_string()));
        match check {
            Check::None => Ok(()),
            Check::Institution if va.as_str() == Some(&self.ctx.institution.to_string()) => Ok(()),
            Check::Institution => bad("names another institution"),
            Check::Author if va.is_null() || self.is_author(va) => Ok(()),
            Check::Author => bad("names someone other than the change's author"),
            Check::Text if va.as_str().is_some_and(|s| !s.trim().is_empty()) => Ok(()),
            Check::Text => bad("may not be empty"),
            Check::Time => self.time(field, va),
            Check::Site => {
                let (Some(d), false) = (dir, va.is_null()) else {
                    return Ok(());
                };
                let known = path(va, "id")
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .and_then(|id| d.site(id))
                    .is_some_and(|s| Some(s.kind.code()) == path(va, "kind").as_str());
                if known {
                    Ok(())
                } else {
                    bad("is not a site of the institution")
                }
            }
            Check::Department => {
                let Some(d) = dir else { return Ok(()) };
                let known = va
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .is_some_and(|id| d.department(id).is_some());
                if known {
                    Ok(())
                } else {
                    bad("is not a department of the institution")
                }
            }
            Check::Person => {
                let (Some(d), false) = (dir, va.is_null()) else {
                    return Ok(());
                };
                let known = self.is_author(va)
                    || path(va, "user_id")
                        .as_str()
                        .and_then(|id| id.parse().ok())
                        .is_some_and(|id| d.person(id).is_some());
                if known {
                    Ok(())
                } else {
                    bad("is not a person of the institution")
                }
            }
            Check::Campaign => {
                let (Some(d), Some(id)) = (dir, va.as_str()) else {
                    return Ok(());
                };
                let Some(c) = id.parse().ok().and_then(|id| {
                    d.campaigns
                        .get(&crate::ids::CampaignId::to_string(&id))
                        .cloned()
                }) else {
                    return bad("is not a campaign of the institution");
                };
                // The office may tag with any of the institution's campaigns; a new
                // record carries one running when it arrives.
                let today = self.ctx.received.0.with_timezone(&d.tz()).date_naive();
                let running = c.starts.0 <= today && today <= c.ends.0 + CAMPAIGN_GRACE;
                if running || self.office() {
                    Ok(())
                } else {
                    bad("is not a campaign running now")
                }
            }
            Check::Photos => {
                let old: Vec<&Value> = vb
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                for p in va.as_array().into_iter().flatten() {
                    if old.contains(&p) {
                        continue;
                    }
                    let Some(h) = p.as_str().and_then(|s| s.parse::<BlobHash>().ok()) else {
                        return bad("names a photo by something other than its hash");
                    };
                    if !self.verdict.new_photos.contains(&h) {
                        self.verdict.new_photos.push(h);
                    }
                }
                if va
                    .as_array()
                    .is_some_and(|a| a.len() > doc::limits::PHOTOS_PER_ENTRY)
                {
                    return bad("has too many photos");
                }
                Ok(())
            }
            Check::Template => {
                let (id, version) = (path(va, "id").as_str(), path(va, "version").as_u64());
                let builtin = templates::builtin()
                    .iter()
                    .any(|t| Some(t.id.as_str()) == id && Some(t.version as u64) == version);
                let own = dir.is_none_or(|d| {
                    d.templates
                        .values()
                        .any(|t| Some(t.id.as_str()) == id && Some(t.version as u64) == version)
                });
                if builtin || own {
                    Ok(())
                } else {
                    bad("is not a checklist of the institution")
                }
            }
            Check::Fields(fields) => {
                if va.is_null() {
                    return Ok(());
                }
                for (p, c) in fields {
                    self.check(&format!("{field}.{p}"), *c, path(vb, p), path(va, p))?;
                }
                Ok(())
            }
            Check::Entries(fields) => {
                let entries: Vec<(String, &Value, &Value)> = match (vb, va) {
                    (_, Value::Array(a)) => {
                        let b = vb.as_array();
                        a.iter()
                            .enumerate()
                            .filter(|(i, e)| b.and_then(|b| b.get(*i)) != Some(*e))
                            .map(|(i, e)| (format!("{field}[{i}]"), &Value::Null, e))
                            .collect()
                    }
                    (_, Value::Object(a)) => a
                        .iter()
                        .filter(|(k, e)| vb.get(k.as_str()) != Some(*e))
                        .map(|(k, e)| (format!("{field}.{k}"), &Value::Null, e))
                        .collect(),
                    _ => Vec::new(),
                };
                for (name, old, e) in entries {
                    for (p, c) in fields {
                        let name = if p.is_empty() {
                            name.clone()
                        } else {
                            format!("{name}.{p}")
                        };
                        self.check(&name, *c, path(old, p), path(e, p))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// A claimed time: refused when absurd, flagged when ahead of receipt.
    fn time(&mut self, field: &str, v: &Value) -> Result<(), Refusal> {
        let Some(s) = v.as_str() else {
            return if v.is_null() {
                Ok(())
            } else {
                Err(Refusal::invalid(field, "is not a time"))
            };
        };
        let t: Timestamp = s
            .parse()
            .map_err(|_| Refusal::invalid(field, "is not a time"))?;
        let received = self.ctx.received.0;
        let ahead = t.0.signed_duration_since(received);
        if ahead > MAX_AHEAD {
            return Err(Refusal::invalid(
                field,
                format!("is {} h ahead of the server's clock", ahead.num_hours()),
            ));
        }
        let setup = self
            .ctx
            .directory
            .and_then(|d| d.created_at.as_deref())
            .and_then(|c| c.parse::<Timestamp>().ok());
        if let Some(setup) = setup
            && t.0 < setup.0 - MAX_BEFORE_SETUP
        {
            return Err(Refusal::invalid(
                field,
                format!("is before the institution was set up on the server ({setup})"),
            ));
        }
        if ahead > FLAG_AHEAD {
            self.verdict.flags.push(Flag::ClockAhead {
                field: field.to_string(),
                claimed: t,
                ahead,
            });
        }
        Ok(())
    }

    /// The hazard's new events: each by the role × action table, judged by who the author
    /// is on the hazard as they saw it, and legal where the author put it.
    fn hazard_events(
        &self,
        before: Option<&Hazard>,
        after: &Hazard,
        new_events: &[Event],
    ) -> Result<(), Refusal> {
        // At creation the first event is the report (the table's rows); the rest of the
        // run is judged from the hazard as its report left it.
        let (named, mut status, new_events) = match before {
            Some(b) => (named(b, self.author.user), b.status, new_events),
            None => (
                Named {
                    reporter: after.reported_by.user_id == self.author.user,
                    unassigned: true,
                    ..Named::default()
                },
                Some(lifecycle::HazardStatus::Reported),
                new_events.get(1..).unwrap_or(&[]),
            ),
        };
        for e in new_events {
            let action = table::event_action(e.kind);
            if e.kind == EventKind::Reported {
                return Err(Refusal::invalid("events", "a hazard is reported once"));
            }
            if !action.allowed(self.author.roles, named) {
                return Err(Refusal::action("events", action));
            }
            let Some(next) = lifecycle::transition(status, e.kind) else {
                return Err(Refusal::invalid(
                    "events",
                    format!(
                        "'{}' cannot be recorded on a hazard that is {}",
                        e.kind.code(),
                        status.map(|s| s.code()).unwrap_or("without history")
                    ),
                ));
            };
            if e.kind == EventKind::ListedForSupervision && after.risk != RiskGrade::Major {
                return Err(Refusal::invalid(
                    "events",
                    "only major hazards 重大隐患 are listed for supervision",
                ));
            }
            status = Some(next);
        }
        Ok(())
    }
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
