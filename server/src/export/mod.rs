//! Ledger exports in the customary columns of DOMAIN.md (序号, 排查时间, 排查人员, …):
//! CSV with a UTF-8 byte-order mark (so Excel shows the Chinese right) and .xlsx.

use chrono::{FixedOffset, NaiveDate};
use saferound_core::ids::Timestamp;
use saferound_core::model::deadline;
use saferound_core::model::{HazardCategory, HazardGrade, HazardStatus, Lang, RiskGrade};

use crate::ledger::HazardRow;

/// The customary ledger columns (序号 is the hazard's number, 2026-0042, as its notices
/// print it), the responsible department beside the person, then the record's id (to
/// find it again).
pub const COLUMNS_ZH: &[&str] = &[
    "序号",
    "排查时间",
    "排查人员",
    "部位/场所",
    "隐患描述",
    "隐患类别",
    "隐患级别/风险等级",
    "整改措施",
    "整改资金",
    "责任人",
    "责任部门",
    "完成时限",
    "整改情况",
    "复查人",
    "复查情况",
    "销号时间",
    "记录ID",
];

pub const COLUMNS_EN: &[&str] = &[
    "No.",
    "Reported",
    "Reported by",
    "Site",
    "Description",
    "Category",
    "Hazard grade / risk grade",
    "Measure",
    "Funds",
    "Responsible person",
    "Responsible department",
    "Deadline",
    "Rectification",
    "Re-inspector",
    "Verification",
    "Written off",
    "Record id",
];

pub fn columns(lang: Lang) -> &'static [&'static str] {
    if lang == Lang::En {
        COLUMNS_EN
    } else {
        COLUMNS_ZH
    }
}

/// A UTC instant from the ledger as local time, `YYYY-MM-DD HH:MM`.
pub fn local_time(utc: &str, tz: FixedOffset) -> String {
    utc.parse::<Timestamp>()
        .map(|t| t.0.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A ledger row's status, deadline and risk grade, as `model::deadline` judges them.
pub fn deadline_terms(
    h: &HazardRow,
) -> (Option<HazardStatus>, Option<NaiveDate>, Option<RiskGrade>) {
    (
        h.status.as_deref().and_then(|s| s.parse().ok()),
        h.deadline.as_deref().and_then(|d| d.parse().ok()),
        h.risk.parse().ok(),
    )
}

/// Overdue on `today` (`model::deadline::overdue`).
pub fn is_overdue(h: &HazardRow, today: NaiveDate) -> bool {
    let (status, due, _) = deadline_terms(h);
    deadline::overdue(status, due, today)
}

/// One ledger row as the export's cells.
pub fn cells(h: &HazardRow, today: NaiveDate, lang: Lang, tz: FixedOffset) -> Vec<String> {
    let label = |r: Result<&'static str, ()>, code: &str| {
        r.map(str::to_string).unwrap_or_else(|_| code.to_string())
    };
    let place = if h.location.is_empty() {
        h.site_name.clone()
    } else {
        format!("{} {}", h.site_name, h.location)
    };
    let grade = format!(
        "{}/{}",
        label(
            h.hazard_grade
                .parse::<HazardGrade>()
                .map(|g| g.label(lang))
                .map_err(|_| ()),
            &h.hazard_grade
        ),
        label(
            h.risk
                .parse::<RiskGrade>()
                .map(|g| g.label(lang))
                .map_err(|_| ()),
            &h.risk
        ),
    );
    let mut status = h
        .status
        .as_deref()
        .and_then(|s| s.parse::<HazardStatus>().ok())
        .map(|s| s.label(lang).to_string())
        .unwrap_or_default();
    if is_overdue(h, today) {
        status.push_str(if lang == Lang::En {
            " (overdue)"
        } else {
            "（逾期）"
        });
    }
    let verification = match (&h.verified_at, &h.verification_note) {
        (Some(_), note) => {
            let pass = if lang == Lang::En {
                "passed"
            } else {
                "复核通过"
            };
            match note.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => format!("{pass}：{n}"),
                None => pass.to_string(),
            }
        }
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    vec![
        h.serial.clone().unwrap_or_default(),
        local_time(&h.reported_at, tz),
        h.reported_by_name.clone(),
        place,
        h.description.clone(),
        label(
            h.category
                .parse::<HazardCategory>()
                .map(|c| c.label(lang))
                .map_err(|_| ()),
            &h.category,
        ),
        grade,
        h.measure.clone(),
        h.funds.clone(),
        h.responsible_name.clone().unwrap_or_default(),
        h.department_name.clone().unwrap_or_default(),
        h.deadline.clone().unwrap_or_default(),
        status,
        h.reinspector_name.clone().unwrap_or_default(),
        verification,
        h.verified_at
            .as_deref()
            .map(|t| local_time(t, tz))
            .unwrap_or_default(),
        h.id.clone(),
    ]
}

/// RFC 4180 CSV, with the UTF-8 byte-order mark; cells that a spreadsheet would take for
/// a formula are prefixed with an apostrophe (CSV injection).
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells.map(csv_cell).collect();
        out.push_str(&parts.join(","));
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out.into_bytes()
}

fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The same table as an .xlsx workbook with one sheet, header frozen.
pub fn xlsx(sheet: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, v)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
    ws.set_column_width(4, 40).map_err(|e| e.to_string())?;
    wb.save_to_buffer().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_bom_quotes_and_defuses_formulas() {
        let b = csv(
            &["a", "b"],
            &[
                vec!["x,y".into(), "=1+1".into()],
                vec!["say \"hi\"".into(), "中文".into()],
            ],
        );
        let s = String::from_utf8(b).unwrap();
        assert!(s.starts_with('\u{feff}'));
        assert!(s.contains("\"x,y\",'=1+1\r\n"));
        assert!(s.contains("\"say \"\"hi\"\"\",中文\r\n"));
    }

    #[test]
    fn xlsx_is_a_zip() {
        let b = xlsx("台账", COLUMNS_ZH, &[vec!["1".into()]]).unwrap();
        assert_eq!(&b[..2], b"PK");
    }
}
