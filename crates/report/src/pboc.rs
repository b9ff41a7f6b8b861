//! PBOC large-value transaction reports (HVTR) and their corrections and deletions (DHTR),
//! in custos's own documented format (`reports/pboc/SPEC.md`, `reports/pboc/pboc-lvtr.xsd`).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::rows::{Row, text};
use crate::text::{clean, round_decimal};

/// Large-value feature codes by rule: cash, non-natural-person transfers, natural-person
/// domestic and cross-border transfers (PBOC Order 2016 No. 3, Art. 5).
pub const FEATURE_CODES: &[(&str, &str)] = &[
    ("aml.lv_cash", "0501"),
    ("aml.lv_transfer_business", "0502"),
    ("aml.lv_transfer_person_domestic", "0503"),
    ("aml.lv_transfer_person_cross_border", "0504"),
];

/// One reported transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Txn {
    ticd: String,
    tstm: String,
    tstp: String,
    ctac: String,
    tcnm: String,
    tcac: String,
    trcd: String,
    cfrc: String,
    crtp: String,
    crat: String,
    crmb: String,
}

/// One record: a customer's large-value day in one direction under one feature.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Record id (the alert id): stable across re-filings, so corrections can cite it.
    pub rcid: String,
    crcd: String,
    htdt: String,
    csnm: String,
    cttp: String,
    citp: String,
    ctid: String,
    ctnt: String,
    tsdr: String,
    ttnm: usize,
    txns: Vec<Txn>,
}

impl Record {
    /// Transactions in the record.
    pub fn txns_len(&self) -> usize {
        self.txns.len()
    }

    /// SHA-256 of the record's content: what a correction compares.
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        crate::hex(&Sha256::digest(json.as_bytes()))
    }
}

/// Builds the records of a period from the rows of `sql/large_value.sql`.
pub fn records(rows: &[Row], reporting_currency: &str, warnings: &mut Vec<String>) -> Vec<Record> {
    let mut by_alert: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_alert
            .entry((text(r, "window_start").to_string(), text(r, "alert_id").to_string()))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((_, alert_id), rows) in by_alert {
        let first = rows[0];
        let figures: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text(first, "figures")).unwrap_or_default();
        let fig = |k: &str| {
            figures
                .get(k)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_default()
        };
        let direction = fig("direction");
        let side = if direction == "in" { "payee" } else { "payer" };
        let other = if side == "payee" { "payer" } else { "payee" };
        let f = |r: &Row, s: &str, c: &str| text(r, &format!("{s}_{c}")).to_string();
        let rule = text(first, "rule_id");
        let name = clean(&f(first, side, "name"), 128);
        for flag in name.flags {
            warnings.push(format!(
                "{alert_id}: customer name of {}: {flag}",
                text(first, "subject_id")
            ));
        }
        let txns: Vec<Txn> = rows
            .iter()
            .map(|r| {
                let currency = text(r, "currency");
                let counterparty = {
                    let m = f(r, other, "merchant");
                    if m.is_empty() { f(r, other, "name") } else { m }
                };
                Txn {
                    ticd: text(r, "txn_id").to_string(),
                    tstm: text(r, "ts").replace(['-', 'T', ':'], ""),
                    tstp: text(r, "txn_type").to_string(),
                    ctac: text(r, &format!("{side}_account")).to_string(),
                    tcnm: clean(&counterparty, 128).text,
                    tcac: text(r, &format!("{other}_account")).to_string(),
                    trcd: alpha3(text(r, &format!("{side}_country"))),
                    cfrc: alpha3(text(r, &format!("{other}_country"))),
                    crtp: currency.to_string(),
                    crat: round_decimal(
                        text(r, "amount"),
                        custos_model::currency_minor_units(currency).unwrap_or(2) as usize,
                    ),
                    crmb: round_decimal(
                        text(r, "amount_reporting"),
                        custos_model::currency_minor_units(reporting_currency).unwrap_or(2) as usize,
                    ),
                }
            })
            .collect();
        out.push(Record {
            rcid: alert_id.clone(),
            crcd: FEATURE_CODES
                .iter()
                .find(|(r, _)| *r == rule)
                .map_or("0500", |(_, c)| c)
                .to_string(),
            htdt: fig("report_date").replace('-', ""),
            csnm: name.text,
            cttp: if f(first, side, "customer_type") == "BUSINESS" {
                "02"
            } else {
                "01"
            }
            .to_string(),
            citp: id_type_code(&f(first, side, "id_type")).to_string(),
            ctid: f(first, side, "id_number"),
            ctnt: alpha3(&f(first, side, "nationality")),
            tsdr: if direction == "in" { "01" } else { "02" }.to_string(),
            ttnm: txns.len(),
            txns,
        });
    }
    out
}

/// Identity document codes of the format (SPEC.md).
fn id_type_code(t: &str) -> &'static str {
    match t {
        "NATIONAL_ID" => "11",
        "PASSPORT" => "12",
        "RESIDENCE_PERMIT" => "13",
        "DRIVING_LICENCE" => "14",
        "BUSINESS_REGISTRATION" => "21",
        _ => "19",
    }
}

fn alpha3(iso2: &str) -> String {
    custos_model::country_alpha3(iso2).unwrap_or("ZZZ").to_string()
}

/// What changed between a filed message and the records of the same period now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    /// Records filed before and no longer reportable: their ids.
    pub deleted: Vec<String>,
    /// Records whose content changed, in their new form.
    pub corrected: Vec<Record>,
    /// Records not filed before.
    pub added: Vec<Record>,
}

impl Changes {
    /// Compares the record digests of the original filing with the records now.
    pub fn between(original: &BTreeMap<String, String>, now: &[Record]) -> Changes {
        let mut c = Changes::default();
        let now_ids: std::collections::BTreeSet<&str> = now.iter().map(|r| r.rcid.as_str()).collect();
        c.deleted = original
            .keys()
            .filter(|k| !now_ids.contains(k.as_str()))
            .cloned()
            .collect();
        for r in now {
            match original.get(&r.rcid) {
                None => c.added.push(r.clone()),
                Some(d) if *d != r.digest() => c.corrected.push(r.clone()),
                Some(_) => {}
            }
        }
        c
    }

    /// Nothing to correct.
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty() && self.corrected.is_empty() && self.added.is_empty()
    }
}
