//! Snapshot tests: every template rendered from a fixed context and compared byte for byte
//! with `tests/snapshots/`. Set `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate
//! template change, and review the diff like code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::rows::Row;
use crate::{Reports, goaml, pboc, summary};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn row(pairs: &[(&str, &str)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), (!v.is_empty()).then(|| v.to_string())))
        .collect()
}

fn txn(id: &str, ty: &str, amount: &str, currency: &str, payer_name: &str, payee_name: &str) -> Row {
    row(&[
        ("txn_id", id),
        ("ts", "2025-01-15T10:00:00"),
        ("txn_type", ty),
        ("channel", "APP"),
        ("amount", amount),
        ("currency", currency),
        (
            "amount_reporting",
            if currency == "CNY" { amount } else { "72140.5000" },
        ),
        (
            "reporting_rate",
            if currency == "CNY" { "1.000000" } else { "7.214050" },
        ),
        ("payer_country", "CN"),
        ("payee_country", if currency == "CNY" { "CN" } else { "HK" }),
        ("payer_account", "A000001"),
        ("payer_class", "II"),
        ("payer_opened_at", "2023-05-01T09:00:00"),
        ("payer_account_status", "ACTIVE"),
        ("payer_account_currency", "CNY"),
        ("payer_customer_id", "C000001"),
        ("payer_customer_type", "INDIVIDUAL"),
        ("payer_name", payer_name),
        ("payer_dob", "1990-02-03"),
        ("payer_nationality", "CN"),
        ("payer_residence", "CN"),
        ("payer_id_type", "NATIONAL_ID"),
        ("payer_id_number", "110101199002030011"),
        ("payer_id_expiry", "2031-01-01"),
        ("payer_verified_at", "2023-05-01T09:30:00"),
        ("payee_account", "A000900"),
        ("payee_class", "II"),
        ("payee_customer_type", "BUSINESS"),
        ("payee_customer_id", "C000900"),
        ("payee_name", payee_name),
        ("payee_residence", "HK"),
        ("case_id", "CASE-customer-C000001"),
        ("subject_type", "customer"),
        ("subject_id", "C000001"),
        ("alert_id", "AL-000000000001"),
        ("rule_id", "aml.pass_through"),
        (
            "figures",
            r#"{"direction":"out","report_date":"2025-01-15","total":"60000.0000"}"#,
        ),
        ("window_start", "2025-01-15T10:00:00"),
        ("window_end", "2025-01-15T11:00:00"),
        ("decision_reason", "Funds in & out <same day>"),
        ("decided_by", "Chen X."),
    ])
}

fn check(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert!(want == text, "{name} differs from its snapshot; got:\n{text}");
}

fn entity() -> goaml::Entity {
    goaml::Entity {
        name: "Custos Pay & Co <test>".into(),
        code: "CUSTOSPAY".into(),
        rentity_id: Some(9001),
        branch: "HQ".into(),
        address: "1 Keyuan Road".into(),
        city: "Shenzhen".into(),
        state: "Guangdong".into(),
        country: "CN".into(),
        officer: goaml::Officer {
            first_name: "Xiaoling".into(),
            last_name: "Chen".into(),
            occupation: "MLRO".into(),
            email: String::new(),
        },
    }
}

fn validate(xml: &str, xsd: &Path) {
    if !xsd.exists() {
        return;
    }
    let v = crate::validate_xml(xml.as_bytes(), xsd).expect("xmllint runs");
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn goaml_str_snapshot() {
    let reports = Reports::load(&root().join("reports")).expect("templates load");
    let fiu = goaml::FiuProfile::load(&root().join("reports"), "uae-5.0.2").expect("profile");
    let e = entity();
    let mut b = goaml::Builder::new(goaml::Header {
        fiu: &fiu,
        entity: &e,
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 2, 5).expect("date"),
        currency_local: "CNY",
        minor_units: 2,
        corrects: None,
    });
    let rows = vec![
        txn(
            "T1",
            "TRANSFER",
            "60000.0000",
            "CNY",
            "Wang Wei",
            "Golden Bridge Trading Co., Ltd.",
        ),
        txn("T2", "TRANSFER", "10000.0000", "USD", "王伟", "O'Brien & Sons"),
    ];
    let titles = BTreeMap::from([("aml.pass_through".to_string(), "Rapid movement".to_string())]);
    let reports_out = b.suspicious(&rows, "GOAML-STR-2025-01", &titles).expect("build");
    assert_eq!(reports_out.len(), 1);
    assert!(
        b.warnings.iter().any(|w| w.contains("not in Latin script")),
        "{:?}",
        b.warnings
    );
    let xml = reports
        .render_template("goaml/report.xml.tera", &serde_json::json!({ "r": reports_out[0] }))
        .expect("render");
    validate(
        &xml,
        &root().join("../shared/reference/goaml/uae-5.0.2/goAMLSchema.patched-xsd10.xsd"),
    );
    check("goaml-str.xml", &xml);
}

#[test]
fn pboc_snapshots() {
    let reports = Reports::load(&root().join("reports")).expect("templates load");
    let mut rows = vec![txn(
        "T1",
        "CASH_IN",
        "60000.0000",
        "CNY",
        "<b>Wang</b> \"Wei\"",
        "Agent",
    )];
    rows[0].insert("rule_id".into(), Some("aml.lv_cash".into()));
    let mut warnings = Vec::new();
    let records = pboc::records(&rows, "CNY", &mut warnings);
    let header = serde_json::json!({
        "message_id": "PBOC-HVTR-2025-01", "institution_name": "Custos Pay", "institution_code": "CUSTOSPAY",
        "submission_date": "20250205", "period_start": "20250101", "period_end": "20250131",
        "records": records.len(), "transactions": 1,
    });
    let hvtr = reports
        .render_template(
            "pboc/hvtr.xml.tera",
            &serde_json::json!({ "header": header, "records": records }),
        )
        .expect("render");
    validate(&hvtr, &root().join("reports/pboc/pboc-lvtr.xsd"));
    check("pboc-hvtr.xml", &hvtr);
    let original = BTreeMap::from([
        ("AL-000000000001".to_string(), "stale".to_string()),
        ("AL-gone".to_string(), "x".to_string()),
    ]);
    let changes = pboc::Changes::between(&original, &records);
    assert_eq!(
        (changes.deleted.len(), changes.corrected.len(), changes.added.len()),
        (1, 1, 0)
    );
    let mut header = header;
    header["message_id"] = "PBOC-HVTR-2025-01-C1".into();
    header["original"] = "PBOC-HVTR-2025-01".into();
    let dhtr = reports
        .render_template(
            "pboc/dhtr.xml.tera",
            &serde_json::json!({ "header": header, "changes": changes, "deletion_reason": "No longer reportable" }),
        )
        .expect("render");
    validate(&dhtr, &root().join("reports/pboc/pboc-lvtr.xsd"));
    check("pboc-dhtr.xml", &dhtr);
}

#[test]
fn officer_summary_snapshot() {
    let reports = Reports::load(&root().join("reports")).expect("templates load");
    let by_day = vec![
        row(&[("day", "2025-01-01"), ("alerts", "3")]),
        row(&[("day", "2025-01-02"), ("alerts", "5")]),
    ];
    let by_rule = vec![row(&[
        ("rule_id", "aml.fan_in"),
        ("severity", "high"),
        ("alerts", "8"),
        ("open_alerts", "7"),
        ("suppressed", "1"),
        ("subjects", "4"),
        ("transactions", "40"),
        ("amount", "1,234.50"),
    ])];
    let mut outcomes = vec![row(&[
        ("rule_id", "aml.fan_in"),
        ("alerts", "8"),
        ("undecided", "4"),
        ("false_positive", "1"),
        ("no_action", "1"),
        ("escalated", "2"),
        ("filed", "2"),
    ])];
    summary::outcome_rates(&mut outcomes);
    let ctx = serde_json::json!({
        "period": "2025-01", "first_day": "2025-01-01", "last_day": "2025-01-31", "as_of": "2025-02-05",
        "entity": "Custos <Pay>", "currency": "CNY", "catalog_version": 12, "version": "test",
        "by_day": summary::columns(&by_day, "day", "alerts", 1000, 160),
        "by_rule": summary::rows_chart(&by_rule, "rule_id", "alerts", 1000, 18),
        "alerts_by_rule": by_rule, "outcomes": outcomes,
        "top_subjects": [row(&[("subject_type", "account"), ("subject_id", "A1<x>"), ("case_id", "CASE-account-A1"), ("alerts", "3"), ("rules", "2"), ("rule_ids", "aml.fan_in"), ("transactions", "9")])],
        "funnel": [row(&[("alerts", "8"), ("cases", "4"), ("escalated", "2"), ("filed", "2")])],
        "coverage": [row(&[("transactions", "1000"), ("successful", "990"), ("amount", "5,000.00"), ("customers_active", "50"), ("customers_on_file", "60")])],
        "ingest": [row(&[("table_name", "transactions"), ("source_file", "t.csv"), ("rows_read", "1000"), ("rows_stored", "999"), ("rows_quarantined", "1"), ("reconciles", "true")])],
        "quarantine": [row(&[("table_name", "transactions"), ("reason", "bad_amount"), ("rows", "1")])],
        "snoozes": [],
    });
    let html = reports
        .render_template("summary/officer.html.tera", &ctx)
        .expect("render");
    assert!(html.contains("A1&lt;x&gt;") && html.contains("25.0%") && !html.contains("<x>"));
    check("officer-summary.html", &html);
}
