//! The officer summary: figures from `reports/sql/summary/*.sql`, percentages and chart
//! geometry computed here, so the template only places ready values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rows::{Row, text};
use crate::text::{round_decimal, thousands};

/// One bar of a chart, in SVG user units.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    label: String,
    value: String,
}

/// A bar chart ready to draw.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    max: String,
}

/// Vertical bars, one per row, scaled to the largest value.
pub fn columns(rows: &[Row], label: &str, value: &str, width: u32, height: u32) -> Chart {
    let values: Vec<u64> = rows.iter().map(|r| text(r, value).parse().unwrap_or(0)).collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let n = values.len().max(1) as u32;
    let slot = (width / n).max(1);
    let bars = rows
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (r, v))| {
            let h = ((*v as u128 * u128::from(height - 20)) / u128::from(max)) as u32;
            Bar {
                x: i as u32 * slot,
                y: height - 20 - h,
                width: slot.saturating_sub(1).max(1),
                height: h,
                label: text(r, label).to_string(),
                value: v.to_string(),
            }
        })
        .collect();
    Chart {
        width: slot * n,
        height,
        bars,
        max: max.to_string(),
    }
}

/// Horizontal bars, one per row.
pub fn rows_chart(rows: &[Row], label: &str, value: &str, width: u32, row_height: u32) -> Chart {
    let values: Vec<u64> = rows.iter().map(|r| text(r, value).parse().unwrap_or(0)).collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let label_w = 260;
    let bars = rows
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (r, v))| Bar {
            x: label_w,
            y: i as u32 * row_height,
            width: ((*v as u128 * u128::from(width - label_w - 60)) / u128::from(max)) as u32,
            height: row_height.saturating_sub(4),
            label: text(r, label).to_string(),
            value: v.to_string(),
        })
        .collect();
    Chart {
        width,
        height: row_height * values.len().max(1) as u32,
        bars,
        max: max.to_string(),
    }
}

/// `part / whole` as a percentage with one decimal, or "–" when nothing was decided.
pub fn percent(part: &str, whole: &str) -> String {
    let (p, w): (u64, u64) = (part.parse().unwrap_or(0), whole.parse().unwrap_or(0));
    if w == 0 {
        return "–".to_string();
    }
    let tenths = (p * 1000 + w / 2) / w;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// Money for a human: rounded to the currency's minor units, thousands grouped.
pub fn money(text: &str, minor: usize) -> String {
    if text.is_empty() {
        return "0".to_string();
    }
    thousands(&round_decimal(text, minor))
}

/// Adds rates to the per-rule outcome rows: false-positive rate among decided alerts, and
/// filing rate among all alerts.
pub fn outcome_rates(rows: &mut [Row]) {
    for r in rows.iter_mut() {
        let alerts = text(r, "alerts").to_string();
        let decided: u64 = ["false_positive", "no_action", "escalated"]
            .iter()
            .map(|k| text(r, k).parse::<u64>().unwrap_or(0))
            .sum();
        let fp = percent(text(r, "false_positive"), &decided.to_string());
        let filed = percent(text(r, "filed"), &alerts);
        r.insert("fp_rate".into(), Some(fp));
        r.insert("filing_rate".into(), Some(filed));
    }
}

/// Formats the money columns of rows in place.
pub fn format_money(rows: &mut [Row], columns: &[&str], minor: usize) {
    for r in rows.iter_mut() {
        for c in columns {
            if let Some(Some(v)) = r.get(*c).cloned() {
                r.insert((*c).to_string(), Some(money(&v, minor)));
            }
        }
    }
}

/// Named query results for the template.
pub type Figures = BTreeMap<String, Vec<Row>>;

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_round() {
        assert_eq!(super::percent("1", "3"), "33.3%");
        assert_eq!(super::percent("2", "3"), "66.7%");
        assert_eq!(super::percent("0", "0"), "–");
    }
}
