//! Weekly reports and incidents; documents received from the server; any record as
//! JSON.

use super::*;

impl Device {
    /// Files (or adds to) a department's weekly report. An all-clear 报平安 needs no text.
    pub fn file_weekly_report(
        &self,
        department: Option<DepartmentId>,
        week: Option<IsoWeek>,
        all_clear: bool,
        content: &str,
    ) -> Result<DocId> {
        self.require(Action::FileWeeklyReport, Named::default())?;
        let content = short_text("content", content, !all_clear, limits::LONG_TEXT)?;
        let j = self.judge(&[])?;
        let department = department
            .or(j.department)
            .ok_or_else(|| Error::invalid("department", "is required (the user has none)"))?;
        if Some(department) != j.department {
            return Err(Error::NotAllowed {
                action: "FileWeeklyReport".into(),
                who: "the department's own people".into(),
            });
        }
        let dir = self.directory()?;
        let department_name = match &dir {
            Some(d) => d
                .department(department)
                .map(|x| x.name.clone())
                .ok_or_else(|| Error::not_found("department", department))?,
            None => String::new(),
        };
        let week = match week {
            Some(w) => w,
            None => IsoWeek::of(self.today()?),
        };
        let inst = self.identity.institution;
        let id = weekly::id_for(inst, department, week);
        let now = self.now();
        self.write(|tx| {
            tx.create_or_edit(
                id,
                || weekly::genesis(inst, department, week),
                |d| {
                    j.edit(d, |d| {
                        record_author(d, self.me())?;
                        weekly::file(
                            d,
                            &weekly::Filed {
                                campaign: None,
                                department_name: &department_name,
                                all_clear,
                                content: &content,
                            },
                            self.me(),
                            now,
                        )
                    })
                },
            )
        })?;
        Ok(id)
    }

    pub fn weekly_report(&self, id: DocId) -> Result<WeeklyReport> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("weekly report", id))?;
        weekly::read(&d)
    }

    /// Reports an incident at once.
    pub fn file_incident(&self, i: &NewIncidentInput) -> Result<DocId> {
        self.require(Action::FileIncident, Named::default())?;
        let site = i.site.map(|s| self.site_ref(s)).transpose()?;
        let now = self.now();
        let new = NewIncident {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.current_campaign()?,
            occurred_at: i.occurred_at.unwrap_or(now),
            site,
            location: short_text("location", &i.location, false, limits::NAME)?,
            category: i.category,
            severity: i.severity,
            title: short_text("title", &i.title, true, limits::NAME)?,
            description: short_text("description", &i.description, true, limits::LONG_TEXT)?,
            actions_taken: short_text("actions_taken", &i.actions_taken, false, limits::NOTE)?,
        };
        if new.occurred_at > now {
            return Err(Error::invalid("occurred_at", "is in the future"));
        }
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    incident::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    pub fn incident(&self, id: DocId) -> Result<IncidentReport> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("incident report", id))?;
        incident::read(&d)
    }

    /// Lists documents of one kind (reports, incidents), newest first.
    pub fn documents(&self, kind: DocKind, limit: Option<usize>) -> Result<Vec<Summary>> {
        self.store.list(
            kind,
            &ListFilter {
                limit,
                ..Default::default()
            },
        )
    }

    /// Merges Automerge bytes (a saved document or changes) received from the server
    /// into the local copy; the sync client calls this with data it has checked.
    pub fn receive(&self, id: DocId, bytes: &[u8]) -> Result<()> {
        self.write(|tx| tx.merge(id, bytes))
    }

    /// Applies changes received from the server, each an Automerge change chunk.
    pub fn receive_changes(&self, id: DocId, changes: &[Vec<u8>]) -> Result<()> {
        self.write(|tx| tx.apply_changes(id, changes))
    }

    /// Applies the changes a sync brought for many documents, and records that the server
    /// holds them, in one transaction: one durable commit for a page of documents instead
    /// of two per document. Any failure keeps none of it (the sync retries the page).
    pub fn receive_from_server(&self, docs: &[(DocId, Vec<Vec<u8>>)]) -> Result<()> {
        self.write(|tx| {
            for (id, changes) in docs {
                tx.receive(*id, changes)?;
            }
            Ok(())
        })
    }

    /// Any document as JSON.
    pub fn show(&self, id: DocId) -> Result<serde_json::Value> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("document", id))?;
        Ok(crate::doc::json::to_json(&d))
    }
}
