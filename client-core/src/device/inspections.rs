//! Inspections: started at a site with a checklist, answered item by item, findings
//! that become hazards, submitted.

use super::*;

impl Device {
    /// Starts an inspection of `site` with the given template (default: the newest
    /// template for the site's kind, the institution's own before the built-in one),
    /// tagged with `campaign` or else the campaign running today.
    pub fn start_inspection(
        &self,
        site: SiteId,
        template: Option<&str>,
        campaign: Option<CampaignId>,
    ) -> Result<DocId> {
        self.require(Action::Inspect, Named::default())?;
        let site = self.site_ref(site)?;
        let latest = self.templates()?;
        let t = match template {
            Some(id) => latest
                .iter()
                .find(|t| t.id == id)
                .ok_or_else(|| Error::not_found("template", id))?,
            None => latest
                .iter()
                .filter(|t| t.site_kind == site.kind)
                .min_by_key(|t| t.builtin)
                .ok_or_else(|| Error::not_found("template for site kind", site.kind))?,
        };
        let new = NewInspection {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.campaign_or_current(campaign)?,
            site,
            template: TemplateRef {
                id: t.id.clone(),
                version: t.version,
            },
        };
        let now = self.now();
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    /// The exact template version the inspection in `d` was made with, from `all`.
    fn template_of<'t>(d: &AutoCommit, all: &'t [Template]) -> Result<&'t Template> {
        let r = inspection::template_ref(d)?;
        all.iter()
            .find(|t| t.id == r.id && t.version == r.version)
            .ok_or_else(|| Error::not_found("template", format!("{}@{}", r.id, r.version)))
    }

    /// The inspection in `d` and the exact template version it was made with, from
    /// `all` (read before the write transaction starts: the store allows one at a time).
    fn inspection_template(d: &AutoCommit, all: &[Template]) -> Result<(Inspection, Template)> {
        // Only the fields are needed here, not the scan for concurrent values.
        let i = inspection::read_with(d, false)?;
        let t = all
            .iter()
            .find(|t| t.id == i.template.id && t.version == i.template.version)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(
                    "template",
                    format!("{}@{}", i.template.id, i.template.version),
                )
            })?;
        Ok((i, t))
    }

    /// Answers one item. After submission an answer needs `amend_reason`, and the
    /// amendment stays on the record.
    pub fn answer(
        &self,
        inspection_id: DocId,
        item: &str,
        result: AnswerResult,
        note: &str,
        photos: &[BlobHash],
        amend_reason: Option<&str>,
    ) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let note = short_text("note", note, false, limits::NOTE)?;
        let reason = amend_reason
            .map(|r| short_text("reason", r, true, limits::NOTE))
            .transpose()?;
        let now = self.now();
        let all = self.all_templates()?;
        let j = self.judge(photos)?;
        self.write(|tx| {
            Self::check_photos(tx, photos)?;
            tx.edit(inspection_id, |d| {
                j.edit(d, |d| {
                    let t = Self::template_of(d, &all)?;
                    if t.item(item).is_none() {
                        return Err(Error::invalid(
                            "item",
                            format!("{item} is not on checklist {}@{}", t.id, t.version),
                        ));
                    }
                    if inspection::is_submitted(d)? && reason.is_none() {
                        return Err(Error::State(
                            "the inspection was submitted; changing an answer needs a reason"
                                .into(),
                        ));
                    }
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::put_answer(
                        d,
                        item,
                        &Answer {
                            result,
                            note,
                            photos: photos.to_vec(),
                            by: self.me().clone(),
                            at: now,
                        },
                    )?;
                    if let Some(reason) = reason {
                        inspection::add_amendment(
                            d,
                            &Amendment {
                                by: self.me().clone(),
                                at: now,
                                reason,
                                item: item.to_string(),
                            },
                        )?;
                    }
                    Ok(())
                })
            })
        })
    }

    /// Sets the inspection's free-text notes (an Automerge text: co-inspectors may edit
    /// it at once).
    pub fn set_inspection_notes(&self, inspection_id: DocId, notes: &str) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let notes = short_text("notes", notes, false, limits::LONG_TEXT)?;
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.edit(inspection_id, |d| {
                crate::doc::expect_kind(d, DocKind::Inspection)?;
                if inspection::is_submitted(d)? {
                    return Err(Error::State("the inspection was submitted".into()));
                }
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::set_notes(d, &notes)
                })
            })
        })
    }

    /// Records a finding: a new hazard in the ledger, linked to the inspection.
    pub fn add_finding(&self, inspection_id: DocId, f: &NewFinding) -> Result<DocId> {
        self.require(Action::ReportHazard, Named::default())?;
        let location = short_text("location", &f.location, false, limits::NAME)?;
        let description = short_text("description", &f.description, true, limits::LONG_TEXT)?;
        let now = self.now();
        let id = DocId::new();
        let all = self.all_templates()?;
        let j = self.judge(&f.photos)?;
        self.write(|tx| {
            Self::check_photos(tx, &f.photos)?;
            let d = tx
                .load(inspection_id)?
                .ok_or_else(|| Error::not_found("inspection", inspection_id))?;
            let (i, t) = Self::inspection_template(&d, &all)?;
            if i.submitted.is_some() {
                return Err(Error::State(
                    "the inspection was submitted; report the hazard on its own".into(),
                ));
            }
            let item = match &f.item {
                Some(code) => Some(t.item(code).ok_or_else(|| {
                    Error::invalid(
                        "item",
                        format!("{code} is not on checklist {}@{}", t.id, t.version),
                    )
                })?),
                None => None,
            };
            let category = f.category.or(item.map(|i| i.category)).ok_or_else(|| {
                Error::invalid("category", "is required without a checklist item")
            })?;
            let risk = f
                .risk
                .or(item.map(|i| i.suggested_risk))
                .ok_or_else(|| Error::invalid("risk", "is required without a checklist item"))?;
            let new = NewHazard {
                id,
                institution: self.identity.institution,
                campaign: i.campaign,
                inspection: Some(inspection_id),
                site: i.site.clone(),
                category,
                risk,
                location,
                description,
                photos: f.photos.clone(),
            };
            tx.create(id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    hazard::create(d, &new, self.me(), now)
                })
            })?;
            tx.edit(inspection_id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::add_finding(d, id)
                })
            })
        })?;
        Ok(id)
    }

    /// Reports a hazard seen outside an inspection.
    pub fn report_hazard(
        &self,
        site: SiteId,
        campaign: Option<CampaignId>,
        f: &NewFinding,
    ) -> Result<DocId> {
        self.require(Action::ReportHazard, Named::default())?;
        let new = NewHazard {
            id: DocId::new(),
            institution: self.identity.institution,
            campaign: self.campaign_or_current(campaign)?,
            inspection: None,
            site: self.site_ref(site)?,
            category: f
                .category
                .ok_or_else(|| Error::invalid("category", "is required"))?,
            risk: f
                .risk
                .ok_or_else(|| Error::invalid("risk", "is required"))?,
            location: short_text("location", &f.location, false, limits::NAME)?,
            description: short_text("description", &f.description, true, limits::LONG_TEXT)?,
            photos: f.photos.clone(),
        };
        let now = self.now();
        let j = self.judge(&new.photos)?;
        self.write(|tx| {
            Self::check_photos(tx, &new.photos)?;
            tx.create(new.id, |d| {
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    hazard::create(d, &new, self.me(), now)
                })
            })
        })?;
        Ok(new.id)
    }

    /// Submits the inspection; its answers are frozen afterwards.
    pub fn submit_inspection(&self, inspection_id: DocId) -> Result<()> {
        self.require(Action::Inspect, Named::default())?;
        let now = self.now();
        let j = self.judge(&[])?;
        self.write(|tx| {
            tx.edit(inspection_id, |d| {
                let i = inspection::read_with(d, false)?;
                if let Some(s) = &i.submitted {
                    return Err(Error::State(format!(
                        "the inspection was already submitted at {}",
                        s.at
                    )));
                }
                if i.answers.is_empty() {
                    return Err(Error::invalid("answers", "no item answered yet"));
                }
                j.edit(d, |d| {
                    record_author(d, self.me())?;
                    inspection::add_inspector(d, self.me())?;
                    inspection::submit(d, self.me(), now)
                })
            })
        })
    }

    pub fn inspection(&self, id: DocId) -> Result<Inspection> {
        let d = self
            .store
            .load(id)?
            .ok_or_else(|| Error::not_found("inspection", id))?;
        inspection::read(&d)
    }

    /// Inspections, newest first, optionally of one site or only (un)submitted ones.
    pub fn inspections(
        &self,
        site: Option<SiteId>,
        submitted: Option<bool>,
        limit: Option<usize>,
    ) -> Result<Vec<Summary>> {
        self.store.list(
            DocKind::Inspection,
            &ListFilter {
                site_id: site.map(|s| s.to_string()),
                submitted,
                limit,
                ..Default::default()
            },
        )
    }
}
