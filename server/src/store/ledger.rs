//! The ledger's tables (隐患台账): rows derived from the documents, written in the same
//! transaction as a document's merge, read by the dashboard, the API and the exports,
//! and rebuilt from the documents whenever the derivation changes.

use saferound_core::ids::{DocId, InstitutionId};
use serde::Serialize;

use super::office::CampaignScope;
use super::serials::serial_column;
use super::sql::{Row, Tx, Value, args, statements};
use super::{Result, Store, StoreError};
use crate::ledger::{
    ConflictRow, EventRow, HazardPhotos, HazardRow, InspectionRow, LedgerRows, PhotoRow,
};

/// A ledger table: the column naming the document its rows come from (with
/// `institution`), and the order `ledger_dump` lists its rows in.
pub(crate) struct LedgerTable {
    pub name: &'static str,
    pub document: &'static str,
    pub order: &'static str,
}

/// Every ledger table: what a rebuild empties, what a document's rewrite deletes from,
/// what `ledger_dump` lists.
/// New tables go at the end, so the dump of the older ones stays as it was.
pub(crate) const LEDGER_TABLES: [LedgerTable; 8] = [
    LedgerTable {
        name: "ledger_hazards",
        document: "id",
        order: "institution, id",
    },
    LedgerTable {
        name: "ledger_events",
        document: "hazard_id",
        order: "institution, hazard_id, idx",
    },
    LedgerTable {
        name: "ledger_inspections",
        document: "id",
        order: "institution, id",
    },
    LedgerTable {
        name: "ledger_answers",
        document: "inspection_id",
        order: "institution, inspection_id, item",
    },
    LedgerTable {
        name: "ledger_conflicts",
        document: "doc_id",
        order: "institution, doc_id, field",
    },
    LedgerTable {
        name: "ledger_reports",
        document: "id",
        order: "institution, id",
    },
    LedgerTable {
        name: "ledger_photos",
        document: "hazard_id",
        order: "institution, hazard_id, seq",
    },
    LedgerTable {
        name: "ledger_report_texts",
        document: "id",
        order: "institution, id",
    },
];

/// Filters of the ledger's hazard list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct HazardQuery {
    pub institution: Option<InstitutionId>,
    pub site: Option<String>,
    pub category: Option<String>,
    pub min_risk_rank: Option<i64>,
    pub status: Option<String>,
    pub campaign: Option<String>,
    /// The campaign's records: tagged with it, or untagged and reported in its dates.
    pub in_campaign: Option<CampaignScope>,
    /// In rectification with a deadline in [due_from, due_until] (local dates): due soon.
    pub due_from: Option<String>,
    pub due_until: Option<String>,
    /// Deadline strictly before this local date, in rectification.
    pub overdue_before: Option<String>,
    pub reported_from: Option<String>,
    pub reported_before: Option<String>,
    /// Hazards at sites of this department.
    pub department: Option<String>,
    /// Exactly this risk grade (code).
    pub risk: Option<String>,
    /// Listed for supervision 挂牌督办 (true) or not.
    pub supervised: Option<bool>,
    /// Not closed.
    pub open: bool,
    /// Earliest deadline first (the overdue board), instead of newest report first.
    pub by_deadline: bool,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HazardDetail {
    pub hazard: HazardRow,
    pub events: Vec<EventRow>,
    pub conflicts: Vec<ConflictRow>,
    pub institution: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Counts {
    pub hazards: i64,
    pub open: i64,
    pub by_status: Vec<(String, i64)>,
    pub by_risk: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub inspections: i64,
    pub submitted_inspections: i64,
}

/// The columns a `HazardRow` is read from (`hazard_at`); a macro, so statements can
/// `concat!` it.
macro_rules! hazard_cols {
    () => {
        "id, campaign, inspection, site_id, site_name, site_kind, category, risk, risk_rank,
    hazard_grade, status, supervised, location, description, reported_by, reported_by_name, reported_at,
    measure, funds, responsible, responsible_name, deadline, contingency, reinspector, reinspector_name,
    rectified_at, verified_at, verification_note, conflicts"
    };
}

/// What a hazard is read with: its ledger columns, then its number and its site's
/// department (neither derived from the document).
macro_rules! hazard_read_cols {
    () => {
        concat!(
            hazard_cols!(),
            ", ",
            serial_column!(),
            ", (SELECT d.name FROM sites st JOIN departments d ON d.id = st.department
                WHERE st.id = ledger_hazards.site_id)"
        )
    };
}

macro_rules! inspection_cols {
    () => {
        "id, campaign, site_id, site_name, site_kind, template, template_version, inspectors,
    started_at, submitted_at, answers, failed, findings"
    };
}

/// The hazard columns of a row, starting at column `o`.
fn hazard_at(r: &Row, o: usize) -> Result<HazardRow> {
    Ok(HazardRow {
        id: r.get(o)?,
        campaign: r.get(o + 1)?,
        inspection: r.get(o + 2)?,
        site_id: r.get(o + 3)?,
        site_name: r.get(o + 4)?,
        site_kind: r.get(o + 5)?,
        category: r.get(o + 6)?,
        risk: r.get(o + 7)?,
        risk_rank: r.get(o + 8)?,
        hazard_grade: r.get(o + 9)?,
        status: r.get(o + 10)?,
        supervised: r.get(o + 11)?,
        location: r.get(o + 12)?,
        description: r.get(o + 13)?,
        reported_by: r.get(o + 14)?,
        reported_by_name: r.get(o + 15)?,
        reported_at: r.get(o + 16)?,
        measure: r.get(o + 17)?,
        funds: r.get(o + 18)?,
        responsible: r.get(o + 19)?,
        responsible_name: r.get(o + 20)?,
        deadline: r.get(o + 21)?,
        contingency: r.get(o + 22)?,
        reinspector: r.get(o + 23)?,
        reinspector_name: r.get(o + 24)?,
        rectified_at: r.get(o + 25)?,
        verified_at: r.get(o + 26)?,
        verification_note: r.get(o + 27)?,
        conflicts: r.get(o + 28)?,
        serial: r.get(o + 29)?,
        department_name: r.get(o + 30)?,
    })
}

fn inspection_of(r: &Row) -> Result<InspectionRow> {
    Ok(InspectionRow {
        id: r.get(0)?,
        campaign: r.get(1)?,
        site_id: r.get(2)?,
        site_name: r.get(3)?,
        site_kind: r.get(4)?,
        template: r.get(5)?,
        template_version: r.get(6)?,
        inspectors: r.get(7)?,
        started_at: r.get(8)?,
        submitted_at: r.get(9)?,
        answers: r.get(10)?,
        failed: r.get(11)?,
        findings: r.get(12)?,
    })
}

statements! {
    INSERT_HAZARD = concat!("INSERT INTO ledger_hazards (institution, ", hazard_cols!(), ")
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,
                 ?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30)");
    INSERT_EVENT = "INSERT INTO ledger_events
         (institution, hazard_id, idx, kind, by_user, by_name, at, note, skipped)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";
    INSERT_INSPECTION = concat!("INSERT INTO ledger_inspections (institution, ", inspection_cols!(), ")
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)");
    INSERT_ANSWER = "INSERT INTO ledger_answers
         (institution, inspection_id, item, result, note, by_user, at) VALUES (?1,?2,?3,?4,?5,?6,?7)";
    INSERT_CONFLICT = "INSERT INTO ledger_conflicts
         (institution, doc_id, field, competing, resolution) VALUES (?1,?2,?3,?4,?5)";
    INSERT_REPORT = "INSERT INTO ledger_reports
         (institution, id, kind, department, week, all_clear, title, filed_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
    INSERT_PHOTO = "INSERT INTO ledger_photos (institution, hazard_id, seq, event, hash)
         VALUES (?1,?2,?3,?4,?5)";
    INSERT_REPORT_TEXT =
        "INSERT INTO ledger_report_texts (institution, id, content) VALUES (?1,?2,?3)";
    HAZARD_PHOTOS = "SELECT seq, event, hash FROM ledger_photos
         WHERE institution = ?1 AND hazard_id = ?2 ORDER BY seq";
    /// The texts of a week's weekly reports of an institution, by report id.
    WEEK_REPORT_TEXTS = "SELECT t.id, t.content FROM ledger_report_texts t
         JOIN ledger_reports r ON r.institution = t.institution AND r.id = t.id
         WHERE r.institution = ?1 AND r.kind = 'weekly_report' AND r.week = ?2";
    HAZARD = concat!("SELECT institution, ", hazard_read_cols!(), " FROM ledger_hazards
         WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR institution = ?2)");
    HAZARD_EVENTS = "SELECT idx, kind, by_user, by_name, at, note, skipped FROM ledger_events
         WHERE institution = ?1 AND hazard_id = ?2 ORDER BY idx";
    HAZARD_CONFLICTS = "SELECT field, competing, resolution FROM ledger_conflicts
         WHERE institution = ?1 AND doc_id = ?2 ORDER BY field";
    COUNT_BY_STATUS = "SELECT COALESCE(status, ''), COUNT(*) FROM ledger_hazards
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1) GROUP BY 1 ORDER BY 1";
    COUNT_BY_RISK = "SELECT COALESCE(risk, ''), COUNT(*) FROM ledger_hazards
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1) GROUP BY 1 ORDER BY 1";
    COUNT_BY_CATEGORY = "SELECT COALESCE(category, ''), COUNT(*) FROM ledger_hazards
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1) GROUP BY 1 ORDER BY 1";
    COUNT_INSPECTIONS = "SELECT COUNT(*), COUNT(submitted_at) FROM ledger_inspections
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1)";
    COUNT_INSPECTION_LIST = "SELECT COUNT(*) FROM ledger_inspections
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1) AND (CAST(?2 AS TEXT) IS NULL OR site_id = ?2)";
    /// Open hazards (not closed) counted by risk grade and category: the home page.
    OPEN_BY_RISK_AND_CATEGORY = "SELECT risk, category, COUNT(*) FROM ledger_hazards
         WHERE institution = ?1 AND COALESCE(status, '') <> 'closed' GROUP BY risk, category";
    /// The dates weekly flows are counted from: hazards reported or verified since `?2`
    /// (UTC), or due since `?3` (a local date).
    HAZARD_DATES_SINCE = "SELECT reported_at, verified_at, deadline, rectified_at, status
         FROM ledger_hazards
         WHERE institution = ?1 AND (reported_at >= ?2 OR verified_at >= ?2 OR deadline >= ?3)";
    INSPECTION_LIST = concat!("SELECT ", inspection_cols!(), " FROM ledger_inspections
         WHERE (CAST(?1 AS TEXT) IS NULL OR institution = ?1) AND (CAST(?2 AS TEXT) IS NULL OR site_id = ?2)
         ORDER BY started_at DESC, id DESC LIMIT ?3 OFFSET ?4");
}

/// Writes a document's ledger rows; `replace`: remove its earlier rows first (a new
/// document, or a ledger just emptied for a rebuild, has none: six statements saved per
/// document of a big first sync).
pub(crate) async fn write_ledger(
    tx: &mut dyn Tx,
    inst: &str,
    id: &str,
    rows: &LedgerRows,
    replace: bool,
) -> Result<()> {
    if replace {
        for t in &LEDGER_TABLES {
            let sql = format!(
                "DELETE FROM {} WHERE institution = ?1 AND {} = ?2",
                t.name, t.document
            );
            tx.execute(&sql, &args![inst, id]).await?;
        }
    }
    if let Some(h) = &rows.hazard {
        let a = args![
            inst,
            &h.id,
            &h.campaign,
            &h.inspection,
            &h.site_id,
            &h.site_name,
            &h.site_kind,
            &h.category,
            &h.risk,
            h.risk_rank,
            &h.hazard_grade,
            &h.status,
            h.supervised,
            &h.location,
            &h.description,
            &h.reported_by,
            &h.reported_by_name,
            &h.reported_at,
            &h.measure,
            &h.funds,
            &h.responsible,
            &h.responsible_name,
            &h.deadline,
            &h.contingency,
            &h.reinspector,
            &h.reinspector_name,
            &h.rectified_at,
            &h.verified_at,
            &h.verification_note,
            h.conflicts
        ];
        tx.execute(INSERT_HAZARD, &a).await?;
    }
    for e in &rows.events {
        let a = args![
            inst, id, e.idx, &e.kind, &e.by_user, &e.by_name, &e.at, &e.note, e.skipped
        ];
        tx.execute(INSERT_EVENT, &a).await?;
    }
    for p in &rows.photos {
        tx.execute(INSERT_PHOTO, &args![inst, id, p.seq, &p.event, &p.hash])
            .await?;
    }
    if let Some(i) = &rows.inspection {
        let a = args![
            inst,
            &i.id,
            &i.campaign,
            &i.site_id,
            &i.site_name,
            &i.site_kind,
            &i.template,
            i.template_version,
            &i.inspectors,
            &i.started_at,
            &i.submitted_at,
            i.answers,
            i.failed,
            i.findings
        ];
        tx.execute(INSERT_INSPECTION, &a).await?;
    }
    for a in &rows.answers {
        let v = args![inst, id, &a.item, &a.result, &a.note, &a.by_user, &a.at];
        tx.execute(INSERT_ANSWER, &v).await?;
    }
    for c in &rows.conflicts {
        let v = args![inst, id, &c.field, &c.competing, &c.resolution];
        tx.execute(INSERT_CONFLICT, &v).await?;
    }
    if let Some(r) = &rows.report {
        let v = args![
            inst,
            &r.id,
            &r.kind,
            &r.department,
            &r.week,
            &r.all_clear,
            &r.title,
            &r.filed_at
        ];
        tx.execute(INSERT_REPORT, &v).await?;
    }
    if let Some(text) = &rows.report_text {
        tx.execute(INSERT_REPORT_TEXT, &args![inst, id, text])
            .await?;
    }
    Ok(())
}

/// The `WHERE` condition of a ledger hazard query and its arguments in order (`?n`
/// placeholders, numbered from 1).
pub(crate) fn hazard_filter(q: &HazardQuery) -> (String, Vec<Value>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<Value> = Vec::new();
    let text = |v: &Option<String>| v.clone().map(Value::Text);
    let conditions: [(&str, Option<Value>); 15] = [
        (
            "institution = {}",
            q.institution.map(|i| Value::Text(i.to_string())),
        ),
        ("site_id = {}", text(&q.site)),
        ("category = {}", text(&q.category)),
        ("risk_rank >= {}", q.min_risk_rank.map(Value::Int)),
        ("status = {}", text(&q.status)),
        ("campaign = {}", text(&q.campaign)),
        (
            "status = 'in_rectification' AND deadline < {}",
            text(&q.overdue_before),
        ),
        (
            "status = 'in_rectification' AND deadline >= {}",
            text(&q.due_from),
        ),
        ("deadline <= {}", text(&q.due_until)),
        ("reported_at >= {}", text(&q.reported_from)),
        ("reported_at < {}", text(&q.reported_before)),
        ("risk = {}", text(&q.risk)),
        ("supervised = {}", q.supervised.map(Value::Bool)),
        (
            "COALESCE(status, '') <> {}",
            q.open.then(|| Value::Text("closed".into())),
        ),
        (
            "site_id IN (SELECT id FROM sites WHERE department = {})",
            text(&q.department),
        ),
    ];
    for (template, v) in conditions {
        if let Some(v) = v {
            args.push(v);
            clauses.push(template.replace("{}", &format!("?{}", args.len())));
        }
    }
    // A campaign's own records, and untagged ones reported within its dates.
    if let Some(k) = &q.in_campaign {
        let n = args.len();
        args.extend([
            Value::Text(k.id.clone()),
            Value::Text(k.from.clone()),
            Value::Text(k.before.clone()),
        ]);
        clauses.push(format!(
            "(campaign = ?{} OR (campaign IS NULL AND reported_at >= ?{} AND reported_at < ?{}))",
            n + 1,
            n + 2,
            n + 3
        ));
    }
    (clauses.join(" AND "), args)
}

/// The dates of one hazard that weekly flows count (`Store::hazard_dates_since`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HazardDates {
    pub reported_at: String,
    pub verified_at: Option<String>,
    pub deadline: Option<String>,
    pub rectified_at: Option<String>,
    pub status: Option<String>,
}

/// One cell of `ledger_dump`: both databases render values alike (flags as 0/1, as
/// SQLite stores them; bytes as hex; tabs and newlines in text as spaces), so equal
/// ledgers give byte-identical dumps whichever database holds them.
fn dump_cell(v: &Value) -> Result<String> {
    Ok(match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => (*b as i64).to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => t.replace(['\t', '\n'], " "),
        Value::Blob(b) => hex::encode(b),
        other => return Err(StoreError::Corrupt(format!("ledger cell {other:?}"))),
    })
}

impl Store {
    pub async fn hazards(&self, q: &HazardQuery) -> Result<(Vec<HazardRow>, i64)> {
        let (filter, params) = hazard_filter(q);
        // NULLS FIRST, as SQLite sorts them anyway; PostgreSQL sorts them last unless told.
        let order = if q.by_deadline {
            "deadline ASC NULLS FIRST, reported_at DESC, id DESC"
        } else {
            "reported_at DESC, id DESC"
        };
        let count = format!("SELECT COUNT(*) FROM ledger_hazards WHERE {filter}");
        let list = format!(
            concat!(
                "SELECT ",
                hazard_read_cols!(),
                " FROM ledger_hazards WHERE {} ORDER BY {} LIMIT {} OFFSET {}"
            ),
            filter, order, q.limit, q.offset
        );
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let total: i64 = tx
                        .query_built(&count, &params)
                        .await?
                        .first()
                        .ok_or_else(|| StoreError::Corrupt("no count".into()))?
                        .get(0)?;
                    let rows = tx
                        .query_built(&list, &params)
                        .await?
                        .iter()
                        .map(|r| hazard_at(r, 0))
                        .collect::<Result<Vec<_>>>()?;
                    Ok((rows, total))
                })
            })
            .await
    }

    pub async fn hazard(
        &self,
        institution: Option<InstitutionId>,
        id: DocId,
    ) -> Result<Option<HazardDetail>> {
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let Some(row) = tx.query_opt(HAZARD, &args![id, institution]).await? else {
                        return Ok(None);
                    };
                    let inst: String = row.get(0)?;
                    let hazard = hazard_at(&row, 1)?;
                    let events = tx
                        .query(HAZARD_EVENTS, &args![&inst, id])
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(EventRow {
                                idx: r.get(0)?,
                                kind: r.get(1)?,
                                by_user: r.get(2)?,
                                by_name: r.get(3)?,
                                at: r.get(4)?,
                                note: r.get(5)?,
                                skipped: r.get(6)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let conflicts = tx
                        .query(HAZARD_CONFLICTS, &args![&inst, id])
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(ConflictRow {
                                field: r.get(0)?,
                                competing: r.get(1)?,
                                resolution: r.get(2)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Some(HazardDetail {
                        hazard,
                        events,
                        conflicts,
                        institution: inst,
                    }))
                })
            })
            .await
    }

    pub async fn counts(&self, institution: Option<InstitutionId>) -> Result<Counts> {
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let inst = args![institution];
                    let mut groups = Vec::new();
                    for sql in [COUNT_BY_STATUS, COUNT_BY_RISK, COUNT_BY_CATEGORY] {
                        groups.push(
                            tx.query(sql, &inst)
                                .await?
                                .iter()
                                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                                .collect::<Result<Vec<(String, i64)>>>()?,
                        );
                    }
                    let r = tx.query_one(COUNT_INSPECTIONS, &inst).await?;
                    let [by_status, by_risk, by_category]: [Vec<(String, i64)>; 3] = groups
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("counts".into()))?;
                    Ok(Counts {
                        hazards: by_status.iter().map(|x| x.1).sum(),
                        open: by_status
                            .iter()
                            .filter(|x| x.0 != "closed")
                            .map(|x| x.1)
                            .sum(),
                        by_status,
                        by_risk,
                        by_category,
                        inspections: r.get(0)?,
                        submitted_inspections: r.get(1)?,
                    })
                })
            })
            .await
    }

    /// Inspections, newest first: (rows, total).
    pub async fn inspections(
        &self,
        institution: Option<InstitutionId>,
        site: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<InspectionRow>, i64)> {
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let total: i64 = tx
                        .query_one(COUNT_INSPECTION_LIST, &args![institution, &site])
                        .await?
                        .get(0)?;
                    let rows = tx
                        .query(INSPECTION_LIST, &args![institution, &site, limit, offset])
                        .await?
                        .iter()
                        .map(inspection_of)
                        .collect::<Result<Vec<_>>>()?;
                    Ok((rows, total))
                })
            })
            .await
    }

    /// Open hazards (not closed) of the institution by (risk grade, category): counts.
    pub async fn open_by_risk_and_category(
        &self,
        institution: InstitutionId,
    ) -> Result<Vec<(String, String, i64)>> {
        self.db
            .query(OPEN_BY_RISK_AND_CATEGORY, &args![institution])
            .await?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect()
    }

    /// The dates of every hazard reported or verified since `since` (UTC, RFC 3339) or
    /// due since `due_since` (a local date).
    pub async fn hazard_dates_since(
        &self,
        institution: InstitutionId,
        since: &str,
        due_since: &str,
    ) -> Result<Vec<HazardDates>> {
        self.db
            .query(HAZARD_DATES_SINCE, &args![institution, since, due_since])
            .await?
            .iter()
            .map(|r| {
                Ok(HazardDates {
                    reported_at: r.get(0)?,
                    verified_at: r.get(1)?,
                    deadline: r.get(2)?,
                    rectified_at: r.get(3)?,
                    status: r.get(4)?,
                })
            })
            .collect()
    }

    /// The hazard's photos: the report's (before) and each later event's (after).
    pub async fn hazard_photos(
        &self,
        institution: InstitutionId,
        id: DocId,
    ) -> Result<HazardPhotos> {
        let rows = self
            .db
            .query(HAZARD_PHOTOS, &args![institution, id])
            .await?
            .iter()
            .map(|r| {
                Ok(PhotoRow {
                    seq: r.get(0)?,
                    event: r.get(1)?,
                    hash: r.get(2)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(HazardPhotos::of(rows))
    }

    /// The content of each weekly report of the institution for `week`, by report id.
    pub async fn week_report_texts(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<std::collections::HashMap<String, String>> {
        self.db
            .query(WEEK_REPORT_TEXTS, &args![institution, week])
            .await?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
    }

    /// Every ledger table, ordered, as text: equal dumps mean equal ledgers.
    pub async fn ledger_dump(&self) -> Result<String> {
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let mut out = String::new();
                    for t in &LEDGER_TABLES {
                        out.push_str(&format!("## {}\n", t.name));
                        let sql = format!("SELECT * FROM {} ORDER BY {}", t.name, t.order);
                        for r in tx.query(&sql, &[]).await? {
                            let cells = r.0.iter().map(dump_cell).collect::<Result<Vec<_>>>()?;
                            out.push_str(&cells.join("\t"));
                            out.push('\n');
                        }
                    }
                    Ok(out)
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_numbers_its_placeholders_in_argument_order() {
        let q = HazardQuery {
            category: Some("fire_safety".into()),
            min_risk_rank: Some(2),
            department: Some("d1".into()),
            in_campaign: Some(CampaignScope {
                id: "c".into(),
                from: "a".into(),
                before: "b".into(),
            }),
            ..Default::default()
        };
        let (sql, args) = hazard_filter(&q);
        assert_eq!(
            sql,
            "1 = 1 AND category = ?1 AND risk_rank >= ?2 AND \
             site_id IN (SELECT id FROM sites WHERE department = ?3) AND \
             (campaign = ?4 OR (campaign IS NULL AND reported_at >= ?5 AND reported_at < ?6))"
        );
        assert_eq!(
            args,
            vec![
                Value::Text("fire_safety".into()),
                Value::Int(2),
                Value::Text("d1".into()),
                Value::Text("c".into()),
                Value::Text("a".into()),
                Value::Text("b".into()),
            ]
        );
    }
}
