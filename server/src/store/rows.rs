//! What both storage backends share: column lists, the mapping of rows to the server's
//! types and the parsing of stored text. The SQL differs (placeholders, types), the rows
//! and their meaning do not, so they are written once here.

use saferound_core::ids::InstitutionId;
use saferound_core::model::Role;

use super::{Campaign, Result, StoreError, User, WeeklyDue};
use crate::ledger::LedgerRows;

/// Changes one feed page returns at most (besides its byte budget).
pub(crate) const FEED_PAGE_ROWS: usize = 2000;

/// A ledger table: the column naming the document its rows come from (with
/// `institution`), and the order `ledger_dump` lists its rows in.
pub(crate) struct LedgerTable {
    pub name: &'static str,
    pub document: &'static str,
    pub order: &'static str,
}

/// Every ledger table: what a rebuild empties, what a document's rewrite deletes from,
/// what `ledger_dump` lists.
pub(crate) const LEDGER_TABLES: [LedgerTable; 6] = [
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
];

pub(crate) fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad {what} '{s}'")))
}

pub(crate) fn roles_of(s: &str) -> Result<Vec<Role>> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|r| parse(r, "role"))
        .collect()
}

/// Timestamps are stored as RFC 3339 text (UTC), the same in both backends, so rows and
/// dumps compare equal and text order is time order.
pub(crate) fn now() -> String {
    saferound_core::ids::Timestamp(chrono::Utc::now()).to_string()
}

/// Bytes of unreferenced photos: of one uploader, and of the whole institution ($1/?1:
/// institution, $2/?2: uploader); the same SQL on both backends.
pub(crate) const UNREFERENCED_BYTES_SQL: &str = "SELECT
     CAST(COALESCE(SUM(CASE WHEN uploaded_by = ?2 THEN size ELSE 0 END), 0) AS BIGINT),
     CAST(COALESCE(SUM(size), 0) AS BIGINT)
   FROM blobs WHERE institution = ?1 AND referenced = 0";

/// `Storage::audit_log` (?1 institution, ?2 action, ?3 detail prefix, ?4 limit; NULL: any).
/// The prefix is compared with `substr`, not `LIKE`, so ids need no escaping.
pub(crate) const AUDIT_LOG_SQL: &str = "SELECT seq, at, institution, user_id, login, action, detail
   FROM audit_log
   WHERE (?1 IS NULL OR institution = ?1) AND (?2 IS NULL OR action = ?2)
     AND (?3 IS NULL OR substr(detail, 1, length(?3)) = ?3)
   ORDER BY seq DESC LIMIT ?4";

pub(crate) const USER_COLS: &str =
    "u.id, u.institution, u.department, u.login, u.name, u.roles, u.password_hash, u.active";

/// The `USER_COLS` of a row, as read.
pub(crate) type UserTuple = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    bool,
);

pub(crate) fn user_of(t: UserTuple) -> Result<User> {
    Ok(User {
        id: parse(&t.0, "user id")?,
        institution: t
            .1
            .as_deref()
            .map(|s| parse(s, "institution"))
            .transpose()?,
        department: t.2.as_deref().map(|s| parse(s, "department")).transpose()?,
        login: t.3,
        name: t.4,
        roles: roles_of(&t.5)?,
        password_hash: t.6,
        active: t.7,
    })
}

/// Reads `USER_COLS` starting at column `$o` with `$get(row, index)` (the backend's
/// fallible column getter).
macro_rules! user_tuple {
    ($get:path, $r:expr, $o:expr) => {
        (
            $get($r, $o)?,
            $get($r, $o + 1)?,
            $get($r, $o + 2)?,
            $get($r, $o + 3)?,
            $get($r, $o + 4)?,
            $get($r, $o + 5)?,
            $get($r, $o + 6)?,
            $get($r, $o + 7)?,
        )
    };
}
pub(crate) use user_tuple;

pub(crate) const HAZARD_COLS: &str = "id, campaign, inspection, site_id, site_name, site_kind, category, risk, risk_rank,
    hazard_grade, status, supervised, location, description, reported_by, reported_by_name, reported_at,
    measure, funds, responsible, responsible_name, deadline, contingency, reinspector, reinspector_name,
    rectified_at, verified_at, verification_note, conflicts";

/// Reads `HAZARD_COLS` starting at column `$o` into a `HazardRow`.
macro_rules! hazard_row {
    ($get:path, $r:expr, $o:expr) => {
        crate::ledger::HazardRow {
            id: $get($r, $o)?,
            campaign: $get($r, $o + 1)?,
            inspection: $get($r, $o + 2)?,
            site_id: $get($r, $o + 3)?,
            site_name: $get($r, $o + 4)?,
            site_kind: $get($r, $o + 5)?,
            category: $get($r, $o + 6)?,
            risk: $get($r, $o + 7)?,
            risk_rank: $get($r, $o + 8)?,
            hazard_grade: $get($r, $o + 9)?,
            status: $get($r, $o + 10)?,
            supervised: $get($r, $o + 11)?,
            location: $get($r, $o + 12)?,
            description: $get($r, $o + 13)?,
            reported_by: $get($r, $o + 14)?,
            reported_by_name: $get($r, $o + 15)?,
            reported_at: $get($r, $o + 16)?,
            measure: $get($r, $o + 17)?,
            funds: $get($r, $o + 18)?,
            responsible: $get($r, $o + 19)?,
            responsible_name: $get($r, $o + 20)?,
            deadline: $get($r, $o + 21)?,
            contingency: $get($r, $o + 22)?,
            reinspector: $get($r, $o + 23)?,
            reinspector_name: $get($r, $o + 24)?,
            rectified_at: $get($r, $o + 25)?,
            verified_at: $get($r, $o + 26)?,
            verification_note: $get($r, $o + 27)?,
            conflicts: $get($r, $o + 28)?,
        }
    };
}
pub(crate) use hazard_row;

pub(crate) const INSPECTION_COLS: &str =
    "id, campaign, site_id, site_name, site_kind, template, template_version, inspectors,
    started_at, submitted_at, answers, failed, findings";

/// Reads `INSPECTION_COLS` (from column 0) into an `InspectionRow`.
macro_rules! inspection_row {
    ($get:path, $r:expr) => {
        crate::ledger::InspectionRow {
            id: $get($r, 0)?,
            campaign: $get($r, 1)?,
            site_id: $get($r, 2)?,
            site_name: $get($r, 3)?,
            site_kind: $get($r, 4)?,
            template: $get($r, 5)?,
            template_version: $get($r, 6)?,
            inspectors: $get($r, 7)?,
            started_at: $get($r, 8)?,
            submitted_at: $get($r, 9)?,
            answers: $get($r, 10)?,
            failed: $get($r, 11)?,
            findings: $get($r, 12)?,
        }
    };
}
pub(crate) use inspection_row;

pub(crate) const CAMPAIGN_COLS: &str = "id, name, starts, ends, summary_due, phases, dept_due_day,
    dept_due_minute, inst_due_day, inst_due_minute";

/// `CAMPAIGN_COLS` as read.
pub(crate) type CampaignTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    i64,
);

pub(crate) fn campaign_of(institution: InstitutionId, r: CampaignTuple) -> Result<Campaign> {
    let small = |v: i64, what: &str| {
        u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad {what} {v}")))
    };
    let day = |v: i64| u8::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad weekday {v}")));
    Ok(Campaign {
        id: parse(&r.0, "campaign id")?,
        institution,
        name: r.1,
        starts: parse(&r.2, "date")?,
        ends: parse(&r.3, "date")?,
        summary_due: r.4.as_deref().map(|d| parse(d, "date")).transpose()?,
        phases: serde_json::from_str(&r.5)
            .map_err(|e| StoreError::Corrupt(format!("phases: {e}")))?,
        dept_due: WeeklyDue {
            day: day(r.6)?,
            minute: small(r.7, "minute")?,
        },
        inst_due: WeeklyDue {
            day: day(r.8)?,
            minute: small(r.9, "minute")?,
        },
    })
}

/// The ledger rows of a stored document (for `rebuild_ledger`).
pub(crate) fn derive_ledger(id: &str, bytes: &[u8]) -> Result<LedgerRows> {
    let mut doc = saferound_core::codec::load_stored(bytes)
        .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
    crate::ledger::derive(&mut doc, None)
        .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))
}

/// One cell of `ledger_dump`: both backends render values alike (booleans as 0/1, as
/// SQLite stores them; bytes as hex; tabs and newlines in text as spaces), so equal
/// ledgers give byte-identical dumps whichever database holds them.
pub(crate) fn dump_text(t: &str) -> String {
    t.replace(['\t', '\n'], " ")
}

/// One argument of a hazard query's filter, bound by each backend in its own way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterArg {
    Text(String),
    Int(i64),
}

/// The `WHERE` condition of a ledger hazard query and its arguments in order.
/// `placeholder(n)` writes the n-th (from 1) parameter as the backend wants it: `?n` for
/// SQLite, `$n` for PostgreSQL. Ordering and paging stay with the backends (they sort
/// NULLs differently).
pub(crate) fn hazard_filter(
    q: &super::HazardQuery,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<FilterArg>) {
    use FilterArg::{Int, Text};
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<FilterArg> = Vec::new();
    let mut add = |template: &str, v: FilterArg| {
        args.push(v);
        clauses.push(template.replace("{}", &placeholder(args.len())));
    };
    let text = |v: &Option<String>| v.clone().map(Text);
    let conditions: [(&str, Option<FilterArg>); 13] = [
        (
            "institution = {}",
            q.institution.map(|i| Text(i.to_string())),
        ),
        ("site_id = {}", text(&q.site)),
        ("category = {}", text(&q.category)),
        ("risk_rank >= {}", q.min_risk_rank.map(Int)),
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
        (
            "site_id IN (SELECT id FROM sites WHERE department = {})",
            text(&q.department),
        ),
    ];
    for (template, v) in conditions {
        if let Some(v) = v {
            add(template, v);
        }
    }
    // A campaign's own records, and untagged ones reported within its dates.
    if let Some(k) = &q.in_campaign {
        let n = args.len();
        args.extend([
            Text(k.id.clone()),
            Text(k.from.clone()),
            Text(k.before.clone()),
        ]);
        clauses.push(format!(
            "(campaign = {} OR (campaign IS NULL AND reported_at >= {} AND reported_at < {}))",
            placeholder(n + 1),
            placeholder(n + 2),
            placeholder(n + 3)
        ));
    }
    (clauses.join(" AND "), args)
}

/// Counts one password attempt for a key (`?1`) at `?2`, its window starting again when it
/// began before `?3`; both backends send this text (PostgreSQL with `$n` placeholders).
pub const ATTEMPT_UPSERT: &str = "INSERT INTO password_attempts (key, window_start, attempts, not_before)
     VALUES (?1, ?2, 1, NULL)
     ON CONFLICT (key) DO UPDATE SET
       attempts = CASE WHEN password_attempts.window_start < ?3 THEN 1 ELSE password_attempts.attempts + 1 END,
       not_before = CASE WHEN password_attempts.window_start < ?3 THEN NULL ELSE password_attempts.not_before END,
       window_start = CASE WHEN password_attempts.window_start < ?3 THEN ?2 ELSE password_attempts.window_start END
     RETURNING attempts, window_start, not_before";

/// One throttle key's attempts, without counting one.
pub const ATTEMPTS_OF: &str =
    "SELECT attempts, window_start, not_before FROM password_attempts WHERE key = ?1";

/// Marks a user's password as one to change (`?1`: the user id).
pub const PASSWORD_DUE_SET: &str =
    "INSERT INTO password_due (user_id) VALUES (?1) ON CONFLICT (user_id) DO NOTHING";
/// Whether a user's password is one to change.
pub const PASSWORD_DUE_GET: &str = "SELECT 1 FROM password_due WHERE user_id = ?1";
/// A password set (`?1`: the login) is no longer one to change.
pub const PASSWORD_SET_CLEARS_DUE: &str =
    "DELETE FROM password_due WHERE user_id IN (SELECT id FROM users WHERE login = ?1)";

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn a_filter_numbers_its_placeholders_in_argument_order() {
        let q = super::super::HazardQuery {
            category: Some("fire_safety".into()),
            min_risk_rank: Some(2),
            department: Some("d1".into()),
            in_campaign: Some(super::super::CampaignScope {
                id: "c".into(),
                from: "a".into(),
                before: "b".into(),
            }),
            ..Default::default()
        };
        let (sql, args) = hazard_filter(&q, |n| format!("${n}"));
        assert_eq!(
            sql,
            "1 = 1 AND category = $1 AND risk_rank >= $2 AND \
             site_id IN (SELECT id FROM sites WHERE department = $3) AND \
             (campaign = $4 OR (campaign IS NULL AND reported_at >= $5 AND reported_at < $6))"
        );
        assert_eq!(
            args,
            vec![
                FilterArg::Text("fire_safety".into()),
                FilterArg::Int(2),
                FilterArg::Text("d1".into()),
                FilterArg::Text("c".into()),
                FilterArg::Text("a".into()),
                FilterArg::Text("b".into()),
            ]
        );
    }
}
