//! The checks `judge` runs for each rule of the table (`table.rs`): who may set a field,
//! how it may change, what an appended event may be.

use super::*;

impl Judging<'_> {
    pub(super) fn is_author(&self, v: &Value) -> bool {
        match v {
            Value::Array(a) => !a.is_empty() && a.iter().all(|e| self.is_author(e)),
            Value::Object(_) => path(v, "user_id").as_str() == Some(&self.author.user.to_string()),
            _ => false,
        }
    }

    pub(super) fn office(&self) -> bool {
        self.author.roles.contains(&Role::SafetyOffice)
    }

    /// The value of a field at creation.
    pub(super) fn set(&self, field: &str, set: Set, v: &Value) -> Result<(), Refusal> {
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
    pub(super) fn change(
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
    pub(super) fn check(
        &mut self,
        field: &str,
        check: Check,
        vb: &Value,
        va: &Value,
    ) -> Result<(), Refusal> {
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
    pub(super) fn time(&mut self, field: &str, v: &Value) -> Result<(), Refusal> {
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
    pub(super) fn hazard_events(
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
