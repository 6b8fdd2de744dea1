//! Hazard numbers (隐患编号, e.g. 2026-0042): per institution and year, given by the
//! server when it first receives a hazard, in the order hazards arrive. A number is not
//! derived from the documents, so it is not a ledger table: a ledger rebuild keeps the
//! numbers and gives one only to a hazard still without (`number_unnumbered`).

use chrono::{Datelike, FixedOffset};
use saferound_core::ids::Timestamp;

use super::Result;
use super::sql::{Tx, args, statements};

statements! {
    INSTITUTION_OFFSET = "SELECT utc_offset_minutes FROM institutions WHERE id = ?1";
    /// The next number of the year; on PostgreSQL the counter's row stays locked until the
    /// commit ends, so concurrent commits number one after the other.
    NEXT_NUMBER = "INSERT INTO hazard_serial_counters (institution, year, last) VALUES (?1, ?2, 1)
         ON CONFLICT (institution, year) DO UPDATE SET last = hazard_serial_counters.last + 1
         RETURNING last";
    INSERT_SERIAL = "INSERT INTO hazard_serials (institution, hazard_id, year, number, serial)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
    /// Ledger hazards without a number, in the order the server first received them (a
    /// restored hazard whose changes are gone: by its report time).
    UNNUMBERED = "SELECT h.institution, h.id, COALESCE(MIN(c.received_at), h.reported_at)
         FROM ledger_hazards h
         LEFT JOIN changes c ON c.institution = h.institution AND c.doc_id = h.id
         WHERE NOT EXISTS (SELECT 1 FROM hazard_serials s
                           WHERE s.institution = h.institution AND s.hazard_id = h.id)
         GROUP BY h.institution, h.id, h.reported_at
         ORDER BY COALESCE(MIN(c.seq), 0), h.reported_at, h.id";
}

/// The column a hazard's number is read in, beside the ledger's own (`ledger_hazards`
/// unaliased in the query); a macro, so statements can `concat!` it.
macro_rules! serial_column {
    () => {
        "(SELECT s.serial FROM hazard_serials s
          WHERE s.institution = ledger_hazards.institution AND s.hazard_id = ledger_hazards.id)"
    };
}
pub(crate) use serial_column;

/// A number as printed: the year, a dash, the count padded to four digits.
pub fn format(year: i32, number: i64) -> String {
    format!("{year}-{number:04}")
}

/// Gives hazard `id` of `inst` the next number of the year `received` (UTC, RFC 3339)
/// falls in at the institution.
pub(crate) async fn number(tx: &mut dyn Tx, inst: &str, id: &str, received: &str) -> Result<()> {
    let minutes: i32 = match tx.query_opt(INSTITUTION_OFFSET, &args![inst]).await? {
        Some(r) => r.get(0)?,
        None => 480,
    };
    let zone = crate::time_zone::offset(minutes)
        .or_else(|| FixedOffset::east_opt(8 * 3600))
        .ok_or_else(|| super::StoreError::Corrupt("time zone".into()))?;
    let year = received
        .parse::<Timestamp>()
        .map(|t| t.0.with_timezone(&zone).year())
        .unwrap_or_else(|_| chrono::Utc::now().with_timezone(&zone).year());
    let n: i64 = tx
        .query_one(NEXT_NUMBER, &args![inst, year as i64])
        .await?
        .get(0)?;
    tx.execute(
        INSERT_SERIAL,
        &args![inst, id, year as i64, n, format(year, n)],
    )
    .await?;
    Ok(())
}

/// Numbers every ledger hazard still without a number, in the order they arrived.
pub(crate) async fn number_unnumbered(tx: &mut dyn Tx) -> Result<usize> {
    let rows = tx.query(UNNUMBERED, &[]).await?;
    for r in &rows {
        let (inst, id, received): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        number(tx, &inst, &id, &received).await?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_with_the_year_and_four_digits() {
        assert_eq!(super::format(2026, 42), "2026-0042");
        assert_eq!(super::format(2027, 12345), "2027-12345");
    }
}
