//! The safety office's plans: campaigns 专项行动 with their phases and weekly deadlines,
//! the duty roster 值班 and the holidays it must cover, and the institution's own
//! checklist templates.

use chrono::NaiveDate;
use saferound_core::ids::{CampaignId, InstitutionId, UserId};
use saferound_core::model::templates::Template;
use serde::Serialize;

use super::rows::{now, parse};
use super::sql::{Row, args, statements};
use super::{Result, Store, StoreError};

/// A campaign 专项行动: local dates of the institution, both ends included.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub institution: InstitutionId,
    pub name: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
    /// When the summary 工作总结 is due, if the campaign says.
    pub summary_due: Option<NaiveDate>,
    pub phases: Vec<Phase>,
    /// Departments' weekly reports to the institution.
    pub dept_due: WeeklyDue,
    /// The institution's weekly report to the province.
    pub inst_due: WeeklyDue,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Phase {
    pub name_zh: String,
    pub name_en: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

/// A weekly deadline: weekday and local time of day.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WeeklyDue {
    /// 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Minutes after local midnight.
    pub minute: u16,
}

impl WeeklyDue {
    /// The notice's deadline for departments: Friday 12:00.
    pub const DEPARTMENT: WeeklyDue = WeeklyDue {
        day: 5,
        minute: 12 * 60,
    };
    /// The notice's deadline for institutions: Friday 15:00.
    pub const INSTITUTION: WeeklyDue = WeeklyDue {
        day: 5,
        minute: 15 * 60,
    };

    pub fn weekday(&self) -> chrono::Weekday {
        use chrono::Weekday::*;
        [Mon, Tue, Wed, Thu, Fri, Sat, Sun][(self.day.clamp(1, 7) - 1) as usize]
    }

    /// `"5 12:00"` style, for forms: the weekday number and HH:MM.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

/// Which records a campaign holds: those tagged with its id, and those without a
/// campaign tag whose instant lies in [from, before) (UTC, RFC 3339: the campaign's first
/// local midnight and the one after its last day).
#[derive(Debug, Clone)]
pub struct CampaignScope {
    pub id: String,
    pub from: String,
    pub before: String,
}

/// One duty slot 值班: [starts, ends) as UTC instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DutySlot {
    pub id: String,
    pub institution: InstitutionId,
    pub starts: String,
    pub ends: String,
    pub officer: String,
    pub officer_phone: String,
    pub leader: String,
    pub leader_phone: String,
}

/// A holiday period that must be covered by duty slots: local dates, both ends included.
#[derive(Debug, Clone, Serialize)]
pub struct Holiday {
    pub id: String,
    pub institution: InstitutionId,
    pub name: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

statements! {
    /// Creates the campaign or replaces it; the same id in another institution is not
    /// this campaign, and the update's WHERE refuses to move it (nothing written).
    SAVE_CAMPAIGN = "INSERT INTO campaigns (id, institution, name, starts, ends, summary_due, phases,
            dept_due_day, dept_due_minute, inst_due_day, inst_due_minute, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, starts = excluded.starts,
            ends = excluded.ends, summary_due = excluded.summary_due,
            phases = excluded.phases, dept_due_day = excluded.dept_due_day,
            dept_due_minute = excluded.dept_due_minute,
            inst_due_day = excluded.inst_due_day, inst_due_minute = excluded.inst_due_minute
         WHERE campaigns.institution = excluded.institution";
    CAMPAIGNS = "SELECT id, name, starts, ends, summary_due, phases, dept_due_day,
            dept_due_minute, inst_due_day, inst_due_minute
         FROM campaigns WHERE institution = ?1 ORDER BY starts, created_at";
    ADD_DUTY_SLOT = "INSERT INTO duty_slots (id, institution, starts, ends, officer, officer_phone,
            leader, leader_phone, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    /// Slots overlapping [?2, ?3).
    DUTY_SLOTS = "SELECT id, starts, ends, officer, officer_phone, leader, leader_phone
         FROM duty_slots WHERE institution = ?1 AND starts < ?3 AND ends > ?2
         ORDER BY starts, id LIMIT 5000";
    UPDATE_DUTY_SLOT = "UPDATE duty_slots SET starts = ?3, ends = ?4, officer = ?5, officer_phone = ?6,
            leader = ?7, leader_phone = ?8
         WHERE institution = ?1 AND id = ?2";
    DELETE_DUTY_SLOT = "DELETE FROM duty_slots WHERE institution = ?1 AND id = ?2";
    ADD_HOLIDAY = "INSERT INTO holidays (id, institution, name, starts, ends, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    HOLIDAYS = "SELECT id, name, starts, ends FROM holidays WHERE institution = ?1
         ORDER BY starts, id LIMIT 1000";
    DELETE_HOLIDAY = "DELETE FROM holidays WHERE institution = ?1 AND id = ?2";
    /// An existing (id, version) inserts nothing: a conflict.
    ADD_TEMPLATE = "INSERT INTO institution_templates
            (institution, id, version, body, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    TEMPLATES = "SELECT body FROM institution_templates WHERE institution = ?1
         ORDER BY id, version";
}

fn campaign_of(institution: InstitutionId, r: &Row) -> Result<Campaign> {
    let small = |v: i64, what: &str| {
        u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad {what} {v}")))
    };
    let day = |v: i64| u8::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad weekday {v}")));
    Ok(Campaign {
        id: parse(&r.get::<String>(0)?, "campaign id")?,
        institution,
        name: r.get(1)?,
        starts: parse(&r.get::<String>(2)?, "date")?,
        ends: parse(&r.get::<String>(3)?, "date")?,
        summary_due: r
            .get::<Option<String>>(4)?
            .map(|d| parse(&d, "date"))
            .transpose()?,
        phases: serde_json::from_str(&r.get::<String>(5)?)
            .map_err(|e| StoreError::Corrupt(format!("phases: {e}")))?,
        dept_due: WeeklyDue {
            day: day(r.get(6)?)?,
            minute: small(r.get(7)?, "minute")?,
        },
        inst_due: WeeklyDue {
            day: day(r.get(8)?)?,
            minute: small(r.get(9)?, "minute")?,
        },
    })
}

fn duty_slot_args(d: &DutySlot) -> Vec<super::sql::Value> {
    Vec::from(args![
        &d.id,
        d.institution,
        &d.starts,
        &d.ends,
        &d.officer,
        &d.officer_phone,
        &d.leader,
        &d.leader_phone
    ])
}

impl Store {
    /// Creates the campaign, or replaces it (same id, same institution).
    pub async fn save_campaign(&self, k: &Campaign) -> Result<()> {
        let phases = serde_json::to_string(&k.phases)
            .map_err(|e| StoreError::Corrupt(format!("phases: {e}")))?;
        let n = self
            .db
            .execute(
                SAVE_CAMPAIGN,
                &args![
                    k.id,
                    k.institution,
                    &k.name,
                    k.starts,
                    k.ends,
                    k.summary_due,
                    phases,
                    k.dept_due.day,
                    k.dept_due.minute,
                    k.inst_due.day,
                    k.inst_due.minute,
                    now()
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "campaign belongs to another institution".into(),
            ));
        }
        Ok(())
    }

    /// Oldest first.
    pub async fn campaigns(&self, institution: InstitutionId) -> Result<Vec<Campaign>> {
        self.db
            .query(CAMPAIGNS, &args![institution])
            .await?
            .iter()
            .map(|r| campaign_of(institution, r))
            .collect()
    }

    pub async fn add_duty_slot(&self, s: &DutySlot) -> Result<()> {
        let mut a = duty_slot_args(s);
        a.push(now().into());
        self.db.execute(ADD_DUTY_SLOT, &a).await?;
        Ok(())
    }

    /// Slots overlapping [from, before), by start.
    pub async fn duty_slots(
        &self,
        institution: InstitutionId,
        from: &str,
        before: &str,
    ) -> Result<Vec<DutySlot>> {
        self.db
            .query(DUTY_SLOTS, &args![institution, from, before])
            .await?
            .iter()
            .map(|r| {
                Ok(DutySlot {
                    id: r.get(0)?,
                    institution,
                    starts: r.get(1)?,
                    ends: r.get(2)?,
                    officer: r.get(3)?,
                    officer_phone: r.get(4)?,
                    leader: r.get(5)?,
                    leader_phone: r.get(6)?,
                })
            })
            .collect()
    }

    /// Replaces the times and people of the slot `s.id` of `s.institution`; false if that
    /// institution has no such slot.
    pub async fn update_duty_slot(&self, s: &DutySlot) -> Result<bool> {
        let mut a = duty_slot_args(s);
        // (institution, id) first, as the statement numbers them.
        a.swap(0, 1);
        Ok(self.db.execute(UPDATE_DUTY_SLOT, &a).await? == 1)
    }

    pub async fn delete_duty_slot(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        Ok(self
            .db
            .execute(DELETE_DUTY_SLOT, &args![institution, id])
            .await?
            == 1)
    }

    pub async fn add_holiday(&self, h: &Holiday) -> Result<()> {
        self.db
            .execute(
                ADD_HOLIDAY,
                &args![&h.id, h.institution, &h.name, h.starts, h.ends, now()],
            )
            .await?;
        Ok(())
    }

    pub async fn holidays(&self, institution: InstitutionId) -> Result<Vec<Holiday>> {
        self.db
            .query(HOLIDAYS, &args![institution])
            .await?
            .iter()
            .map(|r| {
                Ok(Holiday {
                    id: r.get(0)?,
                    institution,
                    name: r.get(1)?,
                    starts: parse(&r.get::<String>(2)?, "date")?,
                    ends: parse(&r.get::<String>(3)?, "date")?,
                })
            })
            .collect()
    }

    pub async fn delete_holiday(&self, institution: InstitutionId, id: &str) -> Result<bool> {
        Ok(self
            .db
            .execute(DELETE_HOLIDAY, &args![institution, id])
            .await?
            == 1)
    }

    /// Publishes a template version; an existing (id, version) is a `Conflict`.
    pub async fn add_template(
        &self,
        institution: InstitutionId,
        t: &Template,
        by: UserId,
    ) -> Result<()> {
        let body =
            serde_json::to_string(t).map_err(|e| StoreError::Corrupt(format!("template: {e}")))?;
        let n = self
            .db
            .execute(
                ADD_TEMPLATE,
                &args![institution, &t.id, t.version, body, by, now()],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "template {}@{} already exists",
                t.id, t.version
            )));
        }
        Ok(())
    }

    /// Every version of every template of the institution.
    pub async fn templates(&self, institution: InstitutionId) -> Result<Vec<Template>> {
        self.db
            .query(TEMPLATES, &args![institution])
            .await?
            .iter()
            .map(|r| {
                serde_json::from_str(&r.get::<String>(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("template: {e}")))
            })
            .collect()
    }
}
