//! Reports and figures: the reports phones file (weekly and incident) with the time the
//! server first received them, the ledger's figures of a week or a campaign, and the
//! institution's weekly filings to the province 报省厅.

use saferound_core::ids::InstitutionId;
use serde::Serialize;

use super::office::CampaignScope;
use super::sql::{Row, args, statements};
use super::{Result, Store};

/// A report (weekly or incident) with the time the server first received it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportReceipt {
    /// Feed position of its first change: incidents newer than a cursor.
    pub first_seq: i64,
    pub institution: String,
    pub id: String,
    pub kind: String,
    pub department: Option<String>,
    pub week: Option<String>,
    pub all_clear: Option<bool>,
    pub title: String,
    /// The phone's time of the first filing.
    pub filed_at: Option<String>,
    /// When the server first received any of it (UTC, RFC 3339).
    pub received_at: String,
}

/// In which order `Store::reports` lists reports: by their first feed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOrder {
    NewestFirst,
    OldestFirst,
}

/// Hazards of a campaign or a week, counted per (department, category, risk, grade,
/// status, overdue).
#[derive(Debug, Clone, Serialize)]
pub struct HazardFigure {
    /// The department owning the site ('' when the site is unknown).
    pub department: String,
    pub category: String,
    pub risk: String,
    pub hazard_grade: String,
    pub status: String,
    /// In rectification past its deadline.
    pub overdue: bool,
    pub count: i64,
}

/// Inspections of a campaign or a week, counted per (department, site kind).
#[derive(Debug, Clone, Serialize)]
pub struct InspectionFigure {
    pub department: String,
    pub site_kind: String,
    pub count: i64,
    pub submitted: i64,
}

/// One week of an institution for its weekly report: [from, before) are the week's first
/// local midnight and the next Monday's (UTC, RFC 3339, as `Timestamp` writes them, so
/// they compare with stored times as text); `overdue_before` is the local date overdue is
/// judged on (the week's end, or today while the week runs).
#[derive(Debug, Clone)]
pub struct WeekRange {
    pub week: String,
    pub from: String,
    pub before: String,
    pub overdue_before: String,
}

/// The ledger's figures of one week of an institution (`Store::week_figures`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WeekFigures {
    /// Hazards reported in the week, grouped as a campaign's (status as of now, overdue
    /// judged on `overdue_before`).
    pub hazards: Vec<HazardFigure>,
    /// Inspections started in the week.
    pub inspections: Vec<InspectionFigure>,
    /// Rectification reported in the week (events not skipped), whenever the hazard was
    /// reported.
    pub rectified: i64,
    /// Verifications passed (written off 销号) in the week.
    pub verified: i64,
    /// Hazards of the institution (any week) in rectification past their deadline.
    pub overdue: i64,
    /// Incident reports the server first received in the week.
    pub incidents: i64,
}

/// One filing of an institution's weekly report to the province 报省厅. Every filing is
/// kept; the first one's receipt judges lateness.
#[derive(Debug, Clone, Serialize)]
pub struct InstitutionFiling {
    /// Order of filing (assigned by the database; ignored when adding).
    pub seq: i64,
    pub institution: String,
    pub week: String,
    /// When the server received this filing (UTC, RFC 3339).
    pub received_at: String,
    pub by_user: String,
    pub by_name: String,
    pub all_clear: bool,
    pub summary: String,
    /// What was sent, as JSON: the figures and the departments' statuses at filing time.
    pub snapshot: String,
}

/// An institution's week as the province's grid sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InstitutionReceipt {
    pub institution: String,
    pub week: String,
    /// The first filing's receipt time: lateness is judged on it.
    pub first_received_at: String,
    /// The latest filing's all-clear.
    pub all_clear: bool,
    pub filings: i64,
}

/// Reports with the receipt of their first change (`receipt_of`), of the ledger's
/// reports as `r`.
macro_rules! receipts_from {
    () => {
        "SELECT f.seq, r.institution, r.id, r.kind, r.department, r.week, r.all_clear, r.title, r.filed_at, f.received_at
         FROM ledger_reports r
         JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x WHERE x.institution = r.institution AND x.doc_id = r.id)"
    };
}

/// `Store::reports` in one order of receipt (`?1` institution or NULL, `?2` kind, `?3`
/// after this feed position, `?4` limit).
macro_rules! reports_in_order {
    ($order:literal) => {
        concat!(
            receipts_from!(),
            " WHERE (CAST(?1 AS TEXT) IS NULL OR r.institution = ?1) AND r.kind = ?2 AND f.seq > ?3
             ORDER BY f.seq ",
            $order,
            " LIMIT ?4"
        )
    };
}

/// Hazards grouped as `HazardFigure`s, of the ledger's hazards as `h` (`?1` the
/// institution) with `$scope` narrowing them; overdue judged on the date `$today`.
macro_rules! hazard_figures {
    ($today:literal, $scope:literal) => {
        concat!(
            "SELECT COALESCE(s.department, ''), h.category, h.risk, h.hazard_grade,
                    COALESCE(h.status, ''),
                    COALESCE(h.status = 'in_rectification' AND h.deadline < ",
            $today,
            ", FALSE),
                    COUNT(*)
             FROM ledger_hazards h LEFT JOIN sites s ON s.id = h.site_id
             WHERE h.institution = ?1 AND ",
            $scope,
            " GROUP BY 1, 2, 3, 4, 5, 6"
        )
    };
}

/// Inspections grouped as `InspectionFigure`s, of the ledger's inspections as `i`.
macro_rules! inspection_figures {
    ($scope:literal) => {
        concat!(
            "SELECT COALESCE(s.department, ''), i.site_kind, COUNT(*), COUNT(i.submitted_at)
             FROM ledger_inspections i LEFT JOIN sites s ON s.id = i.site_id
             WHERE i.institution = ?1 AND ",
            $scope,
            " GROUP BY 1, 2"
        )
    };
}

statements! {
    REPORTS_NEWEST_FIRST = reports_in_order!("DESC");
    REPORTS_OLDEST_FIRST = reports_in_order!("ASC");
    WEEK_REPORTS = concat!(
        receipts_from!(),
        " WHERE r.institution = ?1 AND r.kind = 'weekly_report' AND r.week = ?2 ORDER BY f.seq"
    );
    /// A campaign's records: tagged with it (`?2`), or untagged and in its dates.
    CAMPAIGN_HAZARDS = hazard_figures!(
        "?5",
        "(h.campaign = ?2 OR (h.campaign IS NULL AND h.reported_at >= ?3 AND h.reported_at < ?4))"
    );
    CAMPAIGN_INSPECTIONS = inspection_figures!(
        "(i.campaign = ?2 OR (i.campaign IS NULL AND i.started_at >= ?3 AND i.started_at < ?4))"
    );
    /// `ledger_hazards_reported` (institution, reported_at).
    WEEK_HAZARDS = hazard_figures!("?4", "h.reported_at >= ?2 AND h.reported_at < ?3");
    /// `ledger_inspections_started` (institution, started_at).
    WEEK_INSPECTIONS = inspection_figures!("i.started_at >= ?2 AND i.started_at < ?3");
    /// `ledger_events_kind` (institution, kind, at), one range per kind.
    WEEK_EVENTS = "SELECT COUNT(*) FROM ledger_events
         WHERE institution = ?1 AND kind = ?2 AND at >= ?3 AND at < ?4 AND NOT skipped";
    /// `ledger_hazards_status` (institution, status, deadline).
    OVERDUE_NOW = "SELECT COUNT(*) FROM ledger_hazards
         WHERE institution = ?1 AND status = 'in_rectification' AND deadline < ?2";
    /// `ledger_reports_kind`, then each report's first change (`changes_doc`).
    WEEK_INCIDENTS = "SELECT COUNT(*) FROM ledger_reports r
         JOIN changes f ON f.seq = (SELECT MIN(seq) FROM changes x
                                    WHERE x.institution = r.institution AND x.doc_id = r.id)
         WHERE r.institution = ?1 AND r.kind = 'incident_report'
           AND f.received_at >= ?2 AND f.received_at < ?3";
    ADD_FILING = "INSERT INTO institution_reports (institution, week, received_at, by_user, by_name,
            all_clear, summary, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq";
    FILINGS = "SELECT seq, institution, week, received_at, by_user, by_name, all_clear, summary, snapshot
         FROM institution_reports WHERE institution = ?1 AND week = ?2 ORDER BY seq";
    RECEIPTS = "SELECT a.institution, a.week, a.received_at, b.all_clear, g.n
         FROM (SELECT institution, week, MIN(seq) AS first, MAX(seq) AS last, COUNT(*) AS n
               FROM institution_reports WHERE week >= ?1 AND week <= ?2
               GROUP BY institution, week) g
         JOIN institution_reports a ON a.seq = g.first
         JOIN institution_reports b ON b.seq = g.last
         ORDER BY a.institution, a.week";
}

fn receipt_of(r: &Row) -> Result<ReportReceipt> {
    Ok(ReportReceipt {
        first_seq: r.get(0)?,
        institution: r.get(1)?,
        id: r.get(2)?,
        kind: r.get(3)?,
        department: r.get(4)?,
        week: r.get(5)?,
        all_clear: r.get(6)?,
        title: r.get(7)?,
        filed_at: r.get(8)?,
        received_at: r.get(9)?,
    })
}

fn hazard_figure_of(r: &Row) -> Result<HazardFigure> {
    Ok(HazardFigure {
        department: r.get(0)?,
        category: r.get(1)?,
        risk: r.get(2)?,
        hazard_grade: r.get(3)?,
        status: r.get(4)?,
        overdue: r.get(5)?,
        count: r.get(6)?,
    })
}

fn inspection_figure_of(r: &Row) -> Result<InspectionFigure> {
    Ok(InspectionFigure {
        department: r.get(0)?,
        site_kind: r.get(1)?,
        count: r.get(2)?,
        submitted: r.get(3)?,
    })
}

impl Store {
    /// Reports of `kind` (weekly_report | incident_report), with server receipt times;
    /// only those first received after feed position `after_seq`, in `order` of receipt.
    /// Followers of new reports (the incident stream, the webhook) page `OldestFirst`, so
    /// a burst longer than one page is taken in turn, not skipped.
    pub async fn reports(
        &self,
        institution: Option<InstitutionId>,
        kind: &str,
        after_seq: i64,
        limit: u32,
        order: ReportOrder,
    ) -> Result<Vec<ReportReceipt>> {
        let sql = match order {
            ReportOrder::NewestFirst => REPORTS_NEWEST_FIRST,
            ReportOrder::OldestFirst => REPORTS_OLDEST_FIRST,
        };
        self.db
            .query(sql, &args![institution, kind, after_seq, limit])
            .await?
            .iter()
            .map(receipt_of)
            .collect()
    }

    /// The campaign's grouped counts; `today` (local date) judges overdue.
    pub async fn campaign_figures(
        &self,
        institution: InstitutionId,
        scope: &CampaignScope,
        today: &str,
    ) -> Result<(Vec<HazardFigure>, Vec<InspectionFigure>)> {
        let hazards = args![institution, &scope.id, &scope.from, &scope.before, today];
        let inspections = args![institution, &scope.id, &scope.from, &scope.before];
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let h = tx.query(CAMPAIGN_HAZARDS, &hazards).await?;
                    let i = tx.query(CAMPAIGN_INSPECTIONS, &inspections).await?;
                    Ok((
                        h.iter().map(hazard_figure_of).collect::<Result<_>>()?,
                        i.iter().map(inspection_figure_of).collect::<Result<_>>()?,
                    ))
                })
            })
            .await
    }

    /// The ledger's figures of the week (grouped in SQL over indexed ranges).
    pub async fn week_figures(
        &self,
        institution: InstitutionId,
        range: &WeekRange,
    ) -> Result<WeekFigures> {
        let r = range.clone();
        self.db
            .read(move |tx| {
                Box::pin(async move {
                    let inst = institution.to_string();
                    let hazards = tx
                        .query(
                            WEEK_HAZARDS,
                            &args![&inst, &r.from, &r.before, &r.overdue_before],
                        )
                        .await?
                        .iter()
                        .map(hazard_figure_of)
                        .collect::<Result<_>>()?;
                    let inspections = tx
                        .query(WEEK_INSPECTIONS, &args![&inst, &r.from, &r.before])
                        .await?
                        .iter()
                        .map(inspection_figure_of)
                        .collect::<Result<_>>()?;
                    let mut events = Vec::new();
                    for kind in ["rectification_reported", "verified"] {
                        let n: i64 = tx
                            .query_one(WEEK_EVENTS, &args![&inst, kind, &r.from, &r.before])
                            .await?
                            .get(0)?;
                        events.push(n);
                    }
                    let overdue: i64 = tx
                        .query_one(OVERDUE_NOW, &args![&inst, &r.overdue_before])
                        .await?
                        .get(0)?;
                    let incidents: i64 = tx
                        .query_one(WEEK_INCIDENTS, &args![&inst, &r.from, &r.before])
                        .await?
                        .get(0)?;
                    Ok(WeekFigures {
                        hazards,
                        inspections,
                        rectified: events[0],
                        verified: events[1],
                        overdue,
                        incidents,
                    })
                })
            })
            .await
    }

    /// The departments' weekly reports for `week` with their receipt times.
    pub async fn week_reports(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<ReportReceipt>> {
        self.db
            .query(WEEK_REPORTS, &args![institution, week])
            .await?
            .iter()
            .map(receipt_of)
            .collect()
    }

    /// Records a filing (its `seq` is assigned); returns the seq.
    pub async fn add_institution_filing(&self, f: &InstitutionFiling) -> Result<i64> {
        // RETURNING makes it a query; it writes, so it runs as a write transaction.
        let a = args![
            &f.institution,
            &f.week,
            &f.received_at,
            &f.by_user,
            &f.by_name,
            f.all_clear,
            &f.summary,
            &f.snapshot
        ];
        self.db
            .write(move |tx| Box::pin(async move { tx.query_one(ADD_FILING, &a).await?.get(0) }))
            .await
    }

    /// Every filing of the institution for `week`, oldest first.
    pub async fn institution_filings(
        &self,
        institution: InstitutionId,
        week: &str,
    ) -> Result<Vec<InstitutionFiling>> {
        self.db
            .query(FILINGS, &args![institution, week])
            .await?
            .iter()
            .map(|r| {
                Ok(InstitutionFiling {
                    seq: r.get(0)?,
                    institution: r.get(1)?,
                    week: r.get(2)?,
                    received_at: r.get(3)?,
                    by_user: r.get(4)?,
                    by_name: r.get(5)?,
                    all_clear: r.get(6)?,
                    summary: r.get(7)?,
                    snapshot: r.get(8)?,
                })
            })
            .collect()
    }

    /// Every institution's filed weeks in [from_week, to_week] (`2026-W09` text order).
    pub async fn institution_receipts(
        &self,
        from_week: &str,
        to_week: &str,
    ) -> Result<Vec<InstitutionReceipt>> {
        self.db
            .query(RECEIPTS, &args![from_week, to_week])
            .await?
            .iter()
            .map(|r| {
                Ok(InstitutionReceipt {
                    institution: r.get(0)?,
                    week: r.get(1)?,
                    first_received_at: r.get(2)?,
                    all_clear: r.get(3)?,
                    filings: r.get(4)?,
                })
            })
            .collect()
    }
}
