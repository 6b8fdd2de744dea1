//! Charts drawn on the server as SVG: no script, no framework, printable, and readable
//! by screen readers (each chart is an image with a title; the page shows its figures as
//! a table too). Colours come from `style.css` classes, so the page's
//! Content-Security-Policy needs no inline style.

use std::fmt::Write;

/// One series of a grouped bar chart: its name (the legend), its CSS class and a value
/// per group.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub values: Vec<i64>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round top for the y axis: 1, 2, 5 × 10ⁿ at or above `max`.
fn axis_top(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// Vertical bars, one group per label, one bar per series, with a y axis, the labels
/// below and a legend; `id` names the chart's title for `aria-labelledby`.
pub fn grouped_bars(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let (w, h, left, bottom, top) = (720.0, 260.0, 36.0, 40.0, 28.0);
    let plot_h = h - bottom - top;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let top_value = axis_top(max);
    let groups = labels.len().max(1) as f64;
    let group_w = (w - left - 8.0) / groups;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
    // Grid lines and the y axis: 0, half, top.
    for f in [0.0, 0.5, 1.0] {
        let y = top + plot_h * (1.0 - f);
        let v = (top_value as f64 * f).round() as i64;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left}" x2="{w}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            left - 4.0,
            y + 4.0
        );
    }
    for (g, label) in labels.iter().enumerate() {
        let x0 = left + group_w * g as f64 + group_w * 0.1;
        for (i, s) in series.iter().enumerate() {
            let v = s.values.get(g).copied().unwrap_or(0);
            let bh = plot_h * v as f64 / top_value as f64;
            let x = x0 + bar_w * i as f64;
            let _ = write!(
                out,
                r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{} {}: {v}</title></rect>"#,
                escape(s.class),
                top + plot_h - bh,
                (bar_w - 1.0).max(1.0),
                escape(label),
                escape(s.name),
            );
        }
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x0 + group_w * 0.4,
            h - bottom + 16.0,
            escape(label)
        );
    }
    // The legend, across the top.
    let mut x = left;
    for s in series {
        let _ = write!(
            out,
            r#"<rect class="{}" x="{x:.1}" y="6" width="12" height="12"/><text class="legend" x="{:.1}" y="16">{}</text>"#,
            escape(s.class),
            x + 16.0,
            escape(s.name)
        );
        x += 28.0 + 14.0 * s.name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one row per (label, value, CSS class), longest scaled to the width.
pub fn horizontal_bars(id: &str, title: &str, rows: &[(String, i64, String)]) -> String {
    let (w, row_h, label_w) = (420.0, 26.0, 150.0);
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
    for (i, (label, v, class)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let bw = (w - label_w - 40.0) * *v as f64 / max;
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="{}" x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{:.1}"/><text class="axis" x="{:.1}" y="{:.1}">{v}</text>"#,
            label_w - 6.0,
            y + row_h * 0.65,
            escape(label),
            escape(class),
            row_h - 6.0,
            label_w + bw + 4.0,
            y + row_h * 0.65,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_text_is_escaped() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 240].map(axis_top),
            [1, 1, 5, 10, 10, 20, 500]
        );
        let svg = grouped_bars(
            "c",
            "<b>",
            &["W1".into()],
            &[Series {
                name: "a&b",
                class: "found",
                values: vec![3],
            }],
        );
        assert!(svg.contains("<title id=\"c-title\">&lt;b&gt;</title>"));
        assert!(svg.contains("W1 a&amp;b: 3"));
        assert!(!svg.contains("<b>"));
        let h = horizontal_bars("h", "t", &[("x".into(), 0, "r".into())]);
        assert!(h.starts_with("<svg") && h.ends_with("</svg>"));
    }
}
