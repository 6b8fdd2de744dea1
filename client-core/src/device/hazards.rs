//! Hazards: the ledger on the phone, and every step of the closed loop (assign,
//! rectify, re-inspect, defer, reopen, supervise, regrade, correct).

use super::*;

impl Device {
    pub fn hazard(&self, id: DocId) -> Result<Hazard> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("hazard", id))?;
        hazard::read(&d)
    }

    /// Hazards matching `q`, newest first, with overdue and due-soon computed now.
    pub fn hazards(&self, q: &HazardQuery) -> Result<Vec<HazardRow>> {
        let tz = self.time_zone()?;
        let now = self.clock.now();
        let today = now.with_timezone(&tz).date_naive();
        let me = self.identity.user.user_id.to_string();
        let mut f = ListFilter {
            site_id: q.site.map(|s| s.to_string()),
            category: q.category.map(|c| c.code().to_string()),
            min_risk: q.min_risk.map(|r| r.code().to_string()),
            campaign: q.campaign.map(|c| c.to_string()),
            responsible: q.responsible_is_me.then(|| me.clone()),
            reinspector: q.reinspector_is_me.then(|| me.clone()),
            created_from: q.reported_from.map(|d| local_midnight_utc(d, tz)),
            created_before: q.reported_before.map(|d| local_midnight_utc(d, tz)),
            limit: q.limit,
            ..Default::default()
        };
        let open: Vec<HazardStatus> = HazardStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect();
        f.statuses = match (q.status, q.open_only) {
            (Some(s), _) => Some(vec![s]),
            (None, true) => Some(open),
            (None, false) => None,
        };
        if q.overdue || q.due_within_days.is_some() {
            f.statuses = Some(vec![HazardStatus::InRectification]);
        }
        if q.overdue {
            f.deadline_before = Some(LocalDate(today).to_string());
        }
        if let Some(days) = q.due_within_days.map(|d| d.clamp(0, 3650)) {
            f.deadline_on_or_before =
                Some(LocalDate(today + chrono::Duration::days(days)).to_string());
        }
        let rows = self.store.list(DocKind::Hazard, &f)?;
        Ok(rows
            .into_iter()
            .filter_map(|s| {
                let status = s.status.as_deref().and_then(|x| x.parse().ok());
                let deadline = s.deadline.as_deref().and_then(|x| x.parse().ok());
                let today = deadline::local_today(now, tz);
                let overdue = deadline::overdue(status, deadline, today);
                let due_soon = deadline::due_soon(
                    status,
                    deadline,
                    today,
                    q.due_within_days.unwrap_or(deadline::DUE_SOON_DAYS),
                );
                if q.due_within_days.is_some() && !due_soon {
                    return None;
                }
                Some(HazardRow {
                    summary: s,
                    overdue,
                    due_soon,
                })
            })
            .collect())
    }

    /// Appends a lifecycle event after checking the user may take `action` on this
    /// hazard and that the event is legal in its current status; `edit` makes the field
    /// changes that go with it, in the same transaction.
    fn hazard_event(
        &self,
        id: DocId,
        action: Action,
        kind: EventKind,
        note: &str,
        photos: &[BlobHash],
        edit: impl FnOnce(&mut AutoCommit, &Hazard, &mut Event) -> Result<()>,
    ) -> Result<()> {
        let note = short_text("note", note, false, limits::NOTE)?;
        let now = self.now();
        let j = self.judge(photos)?;
        let roles = &j.roles;
        self.write(|tx| {
            Self::check_photos(tx, photos)?;
            let d = tx.load(id)?.ok_or_else(|| Error::not_found("hazard", id))?;
            let h = hazard::read_with(&d, false)?;
            let named = policy::named(&h, self.identity.user.user_id);
            if !action.allowed(roles, named) {
                return Err(Error::NotAllowed {
                    action: format!("{action:?}"),
                    who: action.who().to_string(),
                });
            }
            if lifecycle::transition(h.status, kind).is_none() {
                return Err(Error::State(format!(
                    "cannot record '{}' on a hazard that is {}",
                    kind.code(),
                    h.status.map(|s| s.code()).unwrap_or("without history")
                )));
            }
            tx.edit(id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    let mut event = Event {
                        id: DocId::new(),
                        kind,
                        by: self.me().clone(),
                        at: now,
                        note,
                        photos: photos.to_vec(),
                        risk: None,
                        plan: None,
                        corrections: Vec::new(),
                    };
                    edit(d, &h, &mut event)?;
                    hazard::append_event(d, &event)
                })
            })
        })
    }

    /// 交办: sets the rectification plan and puts the hazard in rectification.
    pub fn assign(&self, id: DocId, a: &Assignment, note: &str) -> Result<()> {
        let dir = self.directory()?;
        let measure = short_text("measure", &a.measure, true, limits::NOTE)?;
        let responsible = self.person(&dir, a.responsible, "responsible")?;
        let reinspector = a
            .reinspector
            .map(|r| self.person(&dir, r, "reinspector"))
            .transpose()?;
        if a.deadline.0 < self.today()? {
            return Err(Error::invalid(
                "deadline",
                format!("{} is in the past", a.deadline),
            ));
        }
        let funds = short_text("funds", &a.funds, false, limits::NAME)?;
        let contingency = short_text("contingency", &a.contingency, false, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Assign,
            EventKind::Assigned,
            note,
            &[],
            |d, h, e| {
                let plan = Plan {
                    measure,
                    responsible: Some(responsible),
                    funds,
                    deadline: Some(a.deadline),
                    contingency,
                    reinspector,
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Assignment)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// 整改完成: the responsible person (or the office) reports the rectification done,
    /// with after-photos.
    pub fn report_rectification(&self, id: DocId, note: &str, photos: &[BlobHash]) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::ReportRectification,
            EventKind::RectificationReported,
            note,
            photos,
            |_, _, _| Ok(()),
        )
    }

    /// 复核: pass writes the hazard off 销号; fail sends it back to rectification.
    pub fn reinspect(
        &self,
        id: DocId,
        passed: bool,
        note: &str,
        photos: &[BlobHash],
    ) -> Result<()> {
        let kind = if passed {
            EventKind::Verified
        } else {
            EventKind::VerificationFailed
        };
        if !passed {
            short_text("note", note, true, limits::NOTE)?;
        }
        self.hazard_event(id, Action::Verify, kind, note, photos, |_, _, _| Ok(()))
    }

    /// 暂缓: cannot be fixed now; interim controls and a designated person.
    pub fn defer(
        &self,
        id: DocId,
        interim_controls: &str,
        designated: UserId,
        note: &str,
    ) -> Result<()> {
        let dir = self.directory()?;
        let controls = short_text("interim_controls", interim_controls, true, limits::NOTE)?;
        let person = self.person(&dir, designated, "designated_person")?;
        self.hazard_event(
            id,
            Action::Defer,
            EventKind::Deferred,
            note,
            &[],
            |d, h, e| {
                let plan = Plan {
                    interim_controls: controls,
                    designated_person: Some(person),
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Deferral)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// 回头看: reopens a closed hazard.
    pub fn reopen(&self, id: DocId, note: &str) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Reopen,
            EventKind::Reopened,
            note,
            &[],
            |_, _, _| Ok(()),
        )
    }

    /// 挂牌督办: lists a major hazard for supervision with its treatment plan.
    pub fn list_for_supervision(&self, id: DocId, treatment_plan: &str) -> Result<()> {
        let tp = short_text("treatment_plan", treatment_plan, true, limits::LONG_TEXT)?;
        self.hazard_event(
            id,
            Action::ListForSupervision,
            EventKind::ListedForSupervision,
            "",
            &[],
            |d, h, e| {
                if h.risk != RiskGrade::Major {
                    return Err(Error::State(
                        "only major hazards 重大隐患 are listed for supervision".into(),
                    ));
                }
                let plan = Plan {
                    treatment_plan: tp,
                    ..h.plan.clone()
                };
                hazard::update_plan(d, &plan, PlanPart::Supervision)?;
                e.plan = Some(plan);
                Ok(())
            },
        )
    }

    /// Changes the risk grade (settling any conflict on it).
    pub fn regrade(&self, id: DocId, risk: RiskGrade, note: &str) -> Result<()> {
        short_text("note", note, true, limits::NOTE)?;
        self.hazard_event(
            id,
            Action::Regrade,
            EventKind::Regraded,
            note,
            &[],
            |d, h, e| {
                hazard::set_risk(d, risk)?;
                e.risk = Some(risk);
                e.corrections = hazard::corrections(h, &hazard::read_with(d, false)?, &["risk"]);
                Ok(())
            },
        )
    }

    /// Corrects the report 上报 (site, category, location, description, photos): its
    /// reporter until the hazard is assigned, the safety office at any time. The event
    /// keeps each changed field's old and new value.
    pub fn correct_hazard(&self, id: DocId, c: &HazardCorrection, note: &str) -> Result<()> {
        let corrected = hazard::Corrected {
            site: c.site.map(|s| self.site_ref(s)).transpose()?,
            category: c.category,
            location: c
                .location
                .as_deref()
                .map(|l| short_text("location", l, false, limits::NAME))
                .transpose()?,
            description: c
                .description
                .as_deref()
                .map(|t| short_text("description", t, true, limits::LONG_TEXT))
                .transpose()?,
            photos: c.photos.clone(),
        };
        let photos = c.photos.clone().unwrap_or_default();
        self.hazard_event(
            id,
            Action::Correct,
            EventKind::Corrected,
            note,
            &photos,
            |d, h, e| {
                hazard::correct(d, h, &corrected)?;
                let after = hazard::read_with(d, false)?;
                e.corrections = hazard::corrections(h, &after, hazard::CORRECTABLE);
                if e.corrections.is_empty() {
                    return Err(Error::invalid("correction", "changes nothing"));
                }
                Ok(())
            },
        )
    }
}
