//! Rules: the library checks, every targeted typology is found on generated data, large-value
//! boundaries are exact, alerts dedup across runs, snoozes hold, and bad rules are named.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::{Scratch, ledger, repo_root};

pub(crate) fn queries() -> String {
    repo_root().join("queries").display().to_string()
}

pub(crate) fn run(s: &Scratch, from: &str, to: &str) -> String {
    let q = queries();
    s.ok(&["run", "--from", from, "--to", to, "--queries", &q])
}

pub(crate) fn load_dir(s: &Scratch, dir: &std::path::Path) {
    for (kind, file) in [
        ("fx-rates", "fx_rates.csv"),
        ("country-risk", "country_risk.csv"),
        ("sanctions", "sanctions.csv"),
        ("customers", "customers.csv"),
        ("accounts", "accounts.csv"),
        ("merchants", "merchants.csv"),
        ("licences", "licences.csv"),
        ("transactions", "transactions.csv"),
    ] {
        for r in s.ingest(kind, &[&dir.join(file)], &[]) {
            let (read, stored, _) = ledger(&r);
            assert_eq!(read, stored, "{file}: {r}");
        }
    }
}

struct Alert {
    rule: String,
    subject: String,
    txns: BTreeSet<String>,
}

fn alerts(s: &Scratch) -> Vec<Alert> {
    s.sql("select rule_id, subject_id, array_to_string(txn_ids, ',') as ids from alerts")
        .into_iter()
        .map(|r| Alert {
            rule: r["rule_id"].as_str().unwrap_or_default().to_string(),
            subject: r["subject_id"].as_str().unwrap_or_default().to_string(),
            txns: r
                .get("ids")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        })
        .collect()
}

#[test]
fn the_rule_library_checks_on_an_empty_warehouse() {
    let s = Scratch::new();
    let q = queries();
    let out = s.ok(&["rules", "check", "--queries", &q]);
    assert!(out.contains("rules checked"), "{out}");
    let list = s.ok(&["rules", "list", "--queries", &q]);
    for pack in ["aml.", "kyc.", "licensing."] {
        assert!(list.contains(pack), "{list}");
    }
    let show = s.ok(&["rules", "show", "aml.lv_cash", "--queries", &q]);
    assert!(show.contains("$rmb_threshold") && show.contains("PBOC"), "{show}");
}

/// Every typology the generator plants is targeted by some rule, and those rules find at
/// least 95% of the planted patterns (an alert about the same subject, or sharing
/// transactions), on a world the rules were not written against (its own seed).
#[test]
fn rules_find_what_the_generator_planted() {
    let s = Scratch::new();
    let dir = s.dir.path().join("gen");
    s.ok(&[
        "generate",
        "--customers",
        "1500",
        "--days",
        "110",
        "--activity",
        "0.5",
        "--seed",
        "2024",
        "--inject",
        "all=6",
        "--out",
        dir.to_str().unwrap_or_default(),
    ]);
    load_dir(&s, &dir);
    let first = run(&s, "2025-01-01", "2025-04-20");
    assert!(first.contains("decoded once"), "the run caches transactions: {first}");
    let alerts = alerts(&s);
    // The same run reading Parquet in every rule finds exactly the same alerts: none new,
    // every stored one updated, with the same windows, figures and transactions.
    let snapshot = "select rule_id, subject_id, window_start, window_end, figures, \
                    array_to_string(txn_ids, ',') as ids from alerts order by alert_id";
    let before = s.sql(snapshot);
    let q = queries();
    let again = s.ok(&[
        "run",
        "--from",
        "2025-01-01",
        "--to",
        "2025-04-20",
        "--queries",
        &q,
        "--no-cache",
    ]);
    assert!(again.contains("--no-cache"), "{again}");
    let expect = format!(
        ": 0 new, {} updated, 0 suppressed; {} alerts stored",
        alerts.len(),
        alerts.len()
    );
    assert!(again.contains(&expect), "expected {expect:?} in {again}");
    assert!(
        before == s.sql(snapshot),
        "alerts differ between the cached and the Parquet run"
    );
    // Lineage: every transaction an alert names exists.
    let named: BTreeSet<&String> = alerts.iter().flat_map(|a| a.txns.iter()).collect();
    let stored = s.count("select count(*) from transactions") as usize;
    assert!(!named.is_empty() && named.len() <= stored);
    let targets: BTreeMap<String, Vec<String>> = {
        let list = s.ok(&["rules", "list", "--queries", &q]);
        let ids: Vec<String> = list
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .filter(|id| id.contains('.'))
            .map(str::to_string)
            .collect();
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            let show = s.ok(&["rules", "show", &id, "--queries", &q]);
            if let Some(line) = show.lines().find(|l| l.starts_with("finds:")) {
                for t in line.trim_start_matches("finds:").split(',') {
                    map.entry(t.trim().to_string()).or_default().push(id.clone());
                }
            }
        }
        map
    };
    let labels: Vec<Value> = std::fs::read_to_string(dir.join("labels.ndjson"))
        .expect("labels")
        .lines()
        .map(|l| serde_json::from_str(l).expect("label"))
        .collect();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut by_typology: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for label in &labels {
        let typology = label["typology"].as_str().unwrap_or_default().to_string();
        let Some(rules) = targets.get(&typology) else {
            failures.push(format!("no rule targets {typology}"));
            continue;
        };
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for key in ["accounts", "customers"] {
            for v in label[key].as_array().into_iter().flatten() {
                ids.insert(v.as_str().unwrap_or_default().to_string());
            }
        }
        let txns: BTreeSet<String> = label["txn_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        let found = alerts
            .iter()
            .any(|a| rules.contains(&a.rule) && (ids.contains(&a.subject) || a.txns.iter().any(|t| txns.contains(t))));
        let e = by_typology.entry(typology.clone()).or_default();
        e.1 += 1;
        if found {
            e.0 += 1;
        } else {
            report.push(format!(
                "missed {} {typology} {}",
                label["pattern_id"], label["variant"]
            ));
        }
    }
    for (typology, (found, total)) in &by_typology {
        let volume: usize = targets[typology]
            .iter()
            .map(|r| alerts.iter().filter(|a| &a.rule == r).count())
            .sum();
        eprintln!("recall {typology:<28} {found}/{total}  (alerts of its rules: {volume})");
        if f64::from(*found) < 0.95 * f64::from(*total) {
            failures.push(format!("{typology}: recall {found}/{total}"));
        }
    }
    assert!(failures.is_empty(), "{}\n{}", failures.join("\n"), report.join("\n"));
}

/// A hand-made warehouse: one customer at each side of the cash threshold, in RMB and USD.
/// Cash goes through the agent account AG01 of the example reference data.
fn boundary_warehouse(s: &Scratch) {
    s.load_reference();
    let ex = crate::harness::examples();
    s.ingest("licences", &[&ex.join("licences.csv")], &[]);
    let rows = [
        // C001 deposits exactly RMB 50,000.00 over two cash-ins on one day: reportable.
        "B1,2025-03-01T09:00:00+08:00,CASH_IN,AGENT,AG01,A001,30000.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,",
        "B2,2025-03-01T15:00:00+08:00,CASH_IN,AGENT,AG01,A001,20000.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,",
        // C002 one cent below: not reportable.
        "B3,2025-03-01T10:00:00+08:00,CASH_IN,AGENT,AG01,A002,49999.99,CNY,CN,CN,SUCCESS,,,,,PIN,,,",
        // C004's second day: exactly 50,000 but one failed, so not reportable.
        "B4,2025-03-02T10:00:00+08:00,CASH_OUT,AGENT,A004,AG01,25000.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,",
        "B5,2025-03-02T11:00:00+08:00,CASH_OUT,AGENT,A004,AG01,25000.00,CNY,CN,CN,FAILED,,,,,PIN,,,",
        // C003 (Hong Kong) deposits USD 10,000.00 exactly: reportable on the USD line.
        "B6,2025-03-02T12:00:00+08:00,CASH_IN,AGENT,AG01,A003,10000.00,USD,CN,CN,SUCCESS,,,,,PIN,,,",
    ];
    let file = s.file(
        "boundary.csv",
        format!("{}\n{}\n", crate::harness::TXN_HEADER, rows.join("\n")),
    );
    for r in s.ingest("transactions", &[&file], &[]) {
        let (read, stored, _) = ledger(&r);
        assert_eq!(read, stored, "{r}");
    }
}

#[test]
fn large_value_cash_fires_at_the_threshold_and_not_a_cent_below() {
    let s = Scratch::new();
    boundary_warehouse(&s);
    let q = queries();
    s.ok(&[
        "run",
        "--rule",
        "aml.lv_cash",
        "--rule",
        "aml.us_ctr",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-03",
        "--queries",
        &q,
    ]);
    let lv: BTreeMap<String, String> = s
        .sql("select a.subject_id, array_to_string(a.txn_ids, ',') as ids from alerts a where rule_id = 'aml.lv_cash'")
        .into_iter()
        .map(|r| {
            (
                r["subject_id"].as_str().unwrap_or_default().to_string(),
                r["ids"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(lv.get("C001").map(String::as_str), Some("B1,B2"), "{lv:?}");
    assert_eq!(lv.get("C003").map(String::as_str), Some("B6"), "{lv:?}");
    assert!(!lv.contains_key("C002"), "49,999.99 is below the line: {lv:?}");
    assert!(
        !lv.contains_key("C004"),
        "a failed transaction counts for nothing: {lv:?}"
    );
    // The US CTR is strictly greater than USD 10,000: C003's exact 10,000 does not file.
    let ctr = s.count("select count(*) from alerts where rule_id = 'aml.us_ctr' and subject_id = 'C003'");
    assert_eq!(ctr, 0);
    // Overriding the threshold changes what fires, and the run records the parameters.
    s.ok(&[
        "run",
        "--rule",
        "aml.lv_cash",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-03",
        "--queries",
        &q,
        "--param",
        "rmb_threshold=49999.99",
    ]);
    assert_eq!(
        s.count("select count(*) from alerts where rule_id = 'aml.lv_cash' and subject_id = 'C002'"),
        1
    );
    let manifest = s.sql("select rules from rule_runs order by run_id desc limit 1");
    let rules = manifest[0]["rules"].as_str().unwrap_or_default();
    assert!(rules.contains("\"rmb_threshold\":\"49999.99\""), "{rules}");
}

#[test]
fn reruns_update_alerts_and_snoozes_hold_them_back() {
    let s = Scratch::new();
    boundary_warehouse(&s);
    let q = queries();
    let args = [
        "run",
        "--rule",
        "aml.lv_cash",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-03",
        "--queries",
        &q,
    ];
    s.ok(&args);
    let first = s.count("select count(*) from alerts");
    let again = s.ok(&args);
    assert!(again.contains("0 new"), "{again}");
    assert_eq!(
        s.count("select count(*) from alerts"),
        first,
        "a rerun must not duplicate alerts"
    );
    s.ok(&[
        "snooze",
        "add",
        "aml.lv_cash",
        "customer",
        "C001",
        "--reason",
        "known payroll agent",
        "--author",
        "officer.li",
        "--until",
        "2025-12-31",
    ]);
    let out = s.ok(&args);
    assert!(out.contains("1 suppressed"), "{out}");
    assert_eq!(s.count("select count(*) from alerts where subject_id = 'C001' and status = 'SUPPRESSED' and suppression_id is not null"), 1);
    assert_eq!(
        s.count("select count(*) from alerts where subject_id = 'C003' and status = 'OPEN'"),
        1
    );
    let list = s.ok(&["snooze", "list"]);
    assert!(
        list.contains("known payroll agent") && list.contains("officer.li"),
        "{list}"
    );
    assert_eq!(s.count("select count(*) from rule_runs"), 3);
}

#[test]
fn a_bad_rule_is_named_with_file_and_line() {
    let s = Scratch::new();
    let q = s.dir.path().join("q");
    std::fs::create_dir_all(q.join("aml")).expect("mkdir");
    let header = "/*---\nid = \"aml.bad\"\ntitle = \"t\"\ndescription = \"d\"\nregulation = \"r\"\nsource = \"s\"\nseverity = \"low\"\nsubject_type = \"account\"\nowner = \"o\"\nversion = 1\n---*/\n";
    let write = |sql: &str| std::fs::write(q.join("aml/bad.sql"), format!("{header}{sql}")).expect("write");
    let qs = q.to_str().unwrap_or_default();
    // A bare number as a RANGE offset would mean months.
    write(
        "select payer_account as subject_id, ts as window_start, ts as window_end, 1.0 as score,\n  make_array(txn_id) as txn_ids,\n  count(*) over (partition by payer_account order by ts range between 3 preceding and current row) as n\nfrom transactions",
    );
    let out = s.run(&["rules", "check", "--queries", qs]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.sql:14") && err.contains("INTERVAL"),
        "{err}"
    );
    // A difference of timestamps compared with an interval is silently false in DataFusion.
    write(
        "select payer_account as subject_id, ts as window_start, ts as window_end, 1.0 as score,\n  make_array(txn_id) as txn_ids\nfrom transactions\nwhere ts - (ts - interval '100 days') >= interval '90 days'",
    );
    let err = String::from_utf8_lossy(&s.run(&["rules", "check", "--queries", qs]).stderr).into_owned();
    assert!(err.contains("bad.sql") && err.contains("INTERVAL '...'"), "{err}");
    // An undeclared parameter.
    write("select payer_account as subject_id from transactions\nwhere amount > $limit");
    let err = String::from_utf8_lossy(&s.run(&["rules", "check", "--queries", qs]).stderr).into_owned();
    assert!(err.contains("bad.sql:13") && err.contains("$limit"), "{err}");
    // A result without the alert contract.
    write("select payer_account as subject_id from transactions");
    let err = String::from_utf8_lossy(&s.run(&["rules", "check", "--queries", qs]).stderr).into_owned();
    assert!(err.contains("bad.sql") && err.contains("window_start"), "{err}");
    // SQL that does not parse names its line.
    write("select\nfrom where");
    let err = String::from_utf8_lossy(&s.run(&["rules", "check", "--queries", qs]).stderr).into_owned();
    assert!(err.contains("bad.sql:1"), "{err}");
}

/// Runs one rule over the example reference data plus `rows` (canonical CSV lines) and
/// returns subject -> contributing transaction ids.
fn fixture(rule: &str, rows: &[&str]) -> BTreeMap<String, String> {
    let s = Scratch::new();
    s.load_reference();
    let ex = crate::harness::examples();
    s.ingest("licences", &[&ex.join("licences.csv")], &[]);
    s.ingest("country-risk", &[&ex.join("country_risk.csv")], &[]);
    let file = s.file(
        "fixture.csv",
        format!("{}\n{}\n", crate::harness::TXN_HEADER, rows.join("\n")),
    );
    for r in s.ingest("transactions", &[&file], &[]) {
        let (read, stored, _) = ledger(&r);
        assert_eq!(read, stored, "fixture rows must all be stored: {r}");
    }
    let q = queries();
    s.ok(&[
        "run",
        "--rule",
        rule,
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-05",
        "--queries",
        &q,
    ]);
    let alerts: BTreeMap<String, String> = s
        .sql("select subject_id, array_to_string(txn_ids, ',') as ids from alerts")
        .into_iter()
        .map(|r| {
            (
                r["subject_id"].as_str().unwrap_or_default().to_string(),
                r.get("ids").and_then(Value::as_str).unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Lineage: every id an alert names is a transaction of the fixture.
    let ids: BTreeSet<&str> = rows.iter().filter_map(|r| r.split(',').next()).collect();
    for named in alerts.values().flat_map(|v| v.split(',')).filter(|t| !t.is_empty()) {
        assert!(
            ids.contains(named),
            "{rule} names {named}, which is not a fixture transaction"
        );
    }
    alerts
}

const CASH: &str = "CASH_IN,AGENT,AG01";

#[test]
fn structuring_needs_three_in_the_band_within_72_hours() {
    let row = |id: &str, ts: &str, to: &str, amount: &str| {
        format!("{id},{ts},{CASH},{to},{amount},CNY,CN,CN,SUCCESS,,,,,PIN,,,")
    };
    let rows = [
        // A001: three at exactly 90% of 50,000 within 71h59m: fires.
        row("S1", "2025-03-01T10:00:00+08:00", "A001", "45000.00"),
        row("S2", "2025-03-02T10:00:00+08:00", "A001", "45000.00"),
        row("S3", "2025-03-04T09:59:00+08:00", "A001", "45000.00"),
        // A002: one cent under the band: no.
        row("S4", "2025-03-01T10:00:00+08:00", "A002", "44999.99"),
        row("S5", "2025-03-02T10:00:00+08:00", "A002", "45000.00"),
        row("S6", "2025-03-03T10:00:00+08:00", "A002", "45000.00"),
        // A004: in the band, but the three span 72 hours and one minute: no.
        row("S7", "2025-03-01T10:00:00+08:00", "A004", "49999.99"),
        row("S8", "2025-03-02T10:00:00+08:00", "A004", "49999.99"),
        row("S9", "2025-03-04T10:01:00+08:00", "A004", "49999.99"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let alerts = fixture("aml.structuring_cash", &rows);
    assert_eq!(alerts.get("C001").map(String::as_str), Some("S1,S2,S3"), "{alerts:?}");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
}

#[test]
fn fan_in_needs_five_distinct_senders_within_a_day() {
    let row = |id: &str, ts: &str, from: &str, to: &str| {
        format!("{id},{ts},TRANSFER,APP,{from},{to},800.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,")
    };
    let rows = [
        // A001 hears from five accounts within 23h59m: fires.
        row("F1", "2025-03-01T09:00:00+08:00", "A002", "A001"),
        row("F2", "2025-03-01T12:00:00+08:00", "A004", "A001"),
        row("F3", "2025-03-01T15:00:00+08:00", "A005", "A001"),
        row("F4", "2025-03-01T18:00:00+08:00", "A007", "A001"),
        row("F5", "2025-03-02T08:59:00+08:00", "A006", "A001"),
        // A002 hears from four accounts, one of them twice: no.
        row("F6", "2025-03-01T09:00:00+08:00", "A001", "A002"),
        row("F7", "2025-03-01T10:00:00+08:00", "A004", "A002"),
        row("F8", "2025-03-01T11:00:00+08:00", "A005", "A002"),
        row("F9", "2025-03-01T12:00:00+08:00", "A007", "A002"),
        row("F10", "2025-03-01T13:00:00+08:00", "A007", "A002"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let alerts = fixture("aml.fan_in", &rows);
    assert_eq!(
        alerts.get("A001").map(String::as_str),
        Some("F1,F2,F3,F4,F5"),
        "{alerts:?}"
    );
    assert_eq!(alerts.len(), 1, "{alerts:?}");
}

#[test]
fn kyc_rules_fire_on_the_gap_and_not_beside_it() {
    let rows = [
        // C006 is UNVERIFIED; C001 is verified.
        "K1,2025-03-01T10:00:00+08:00,TRANSFER,APP,A006,A001,100.00,CNY,US,CN,SUCCESS,,,,,PIN,,,",
        "K2,2025-03-01T11:00:00+08:00,TRANSFER,APP,A001,A002,100.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,",
    ];
    let unverified = fixture("kyc.unverified", &rows);
    assert_eq!(unverified.keys().collect::<Vec<_>>(), ["C006"], "{unverified:?}");
    assert_eq!(unverified["C006"], "K1");
    // C004's identity document expired on 2024-12-31; C002's is valid until 2026.
    let rows = ["K3,2025-03-01T10:00:00+08:00,TRANSFER,APP,A004,A002,100.00,CNY,CN,CN,SUCCESS,,,,,PIN,,,"];
    let expired = fixture("kyc.expired_id", &rows);
    assert_eq!(expired.keys().collect::<Vec<_>>(), ["C004"], "{expired:?}");
}

#[test]
fn licensing_rules_fire_outside_the_licences_only() {
    let rows = [
        // CN -> US: no licence covers it. CN -> HK in CNY: licensed.
        "L1,2025-03-01T10:00:00+08:00,TRANSFER,APP,A001,EXT-US-01,100.00,CNY,CN,US,SUCCESS,,,,,PIN,,,",
        "L2,2025-03-01T11:00:00+08:00,TRANSFER,APP,A002,EXT-HK-01,100.00,CNY,CN,HK,SUCCESS,,,,,PIN,,,",
    ];
    let uncovered = fixture("licensing.uncovered_corridor", &rows);
    assert_eq!(uncovered.keys().collect::<Vec<_>>(), ["A001"], "{uncovered:?}");
    // HKD settled in CNY: the reference is 0.9312; 3% off fires, 1.9% off does not.
    let rows = [
        "X1,2025-03-01T10:00:00+08:00,TRANSFER,APP,A003,A001,1000.00,HKD,HK,CN,SUCCESS,,,,,PIN,0.959136,959.14,CNY",
        "X2,2025-03-01T11:00:00+08:00,TRANSFER,APP,EXT-HK-01,A002,1000.00,HKD,HK,CN,SUCCESS,,,,,PIN,0.9488928,948.89,CNY",
    ];
    let fx = fixture("licensing.fx_deviation", &rows);
    assert_eq!(fx.keys().collect::<Vec<_>>(), ["A003"], "{fx:?}");
}

#[test]
fn similar_amounts_and_aggregated_cash_fire_on_their_pattern_only() {
    let t = |id: &str, ts: &str, from: &str, to: &str, amount: &str| {
        format!("{id},{ts},TRANSFER,APP,{from},{to},{amount},CNY,CN,CN,SUCCESS,,,,,PIN,,,")
    };
    let rows = [
        // A001 sends five amounts within 10% of 1,000 in a day: fires.
        t("M1", "2025-03-01T09:00:00+08:00", "A001", "A002", "1000.00"),
        t("M2", "2025-03-01T10:00:00+08:00", "A001", "A004", "1050.00"),
        t("M3", "2025-03-01T11:00:00+08:00", "A001", "A002", "960.00"),
        t("M4", "2025-03-01T12:00:00+08:00", "A001", "A004", "1090.00"),
        t("M5", "2025-03-01T13:00:00+08:00", "A001", "A002", "1000.00"),
        // A002 sends five, one of them 20% off: no.
        t("M6", "2025-03-01T09:00:00+08:00", "A002", "A001", "1000.00"),
        t("M7", "2025-03-01T10:00:00+08:00", "A002", "A004", "1000.00"),
        t("M8", "2025-03-01T11:00:00+08:00", "A002", "A001", "1000.00"),
        t("M9", "2025-03-01T12:00:00+08:00", "A002", "A004", "1200.00"),
        t("M10", "2025-03-01T13:00:00+08:00", "A002", "A001", "1000.00"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let similar = fixture("aml.similar_amounts", &rows);
    assert_eq!(similar.keys().collect::<Vec<_>>(), ["A001"], "{similar:?}");
    assert_eq!(similar["A001"], "M1,M2,M3,M4,M5");

    // Cash: C001 deposits 20,000 on three days (60,000 in the window, no day at 50,000):
    // fires. C002 deposits 49,999.99 on one day: nothing to aggregate.
    let c = |id: &str, day: &str, to: &str, amount: &str| {
        format!("{id},2025-03-0{day}T10:00:00+08:00,CASH_IN,AGENT,AG01,{to},{amount},CNY,CN,CN,SUCCESS,,,,,PIN,,,")
    };
    let rows = [
        c("C1", "1", "A001", "20000.00"),
        c("C2", "2", "A001", "20000.00"),
        c("C3", "3", "A001", "20000.00"),
        c("C4", "1", "A002", "49999.99"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let aggregated = fixture("aml.aggregated_cash", &rows);
    assert_eq!(aggregated.keys().collect::<Vec<_>>(), ["C001"], "{aggregated:?}");
    assert_eq!(aggregated["C001"], "C1,C2,C3");
}

/// A canonical transaction line from the parts fixtures vary (one argument per column that
/// varies, in column order, so each call reads like the CSV line it makes).
#[allow(clippy::too_many_arguments)]
fn line(
    id: &str,
    ts: &str,
    kind: &str,
    from: &str,
    to: &str,
    amount: &str,
    ccy: &str,
    countries: (&str, &str),
) -> String {
    let channel = if kind.starts_with("CASH") { "AGENT" } else { "APP" };
    format!(
        "{id},{ts},{kind},{channel},{from},{to},{amount},{ccy},{},{},SUCCESS,,,,,PIN,,,",
        countries.0, countries.1
    )
}

fn subjects(alerts: &BTreeMap<String, String>) -> Vec<&str> {
    alerts.keys().map(String::as_str).collect()
}

const CN: (&str, &str) = ("CN", "CN");

#[test]
fn graph_rules_fire_on_their_shape_and_not_on_a_near_miss() {
    let ts = |h: u32| format!("2025-03-01T{h:02}:00:00+08:00");
    // Fan-out: A001 pays five accounts within 4 hours; A002 pays five over 9 hours, so no
    // 8-hour window holds more than four.
    let mut rows = Vec::new();
    for (i, to) in ["A002", "A003", "A004", "A005", "A007"].iter().enumerate() {
        rows.push(line(
            &format!("O{i}"),
            &ts(8 + i as u32),
            "TRANSFER",
            "A001",
            to,
            "900.00",
            "CNY",
            CN,
        ));
    }
    for (i, (to, hour)) in ["A001", "A003", "A004", "A005", "A007"]
        .iter()
        .zip([9, 11, 13, 15, 18])
        .enumerate()
    {
        rows.push(line(
            &format!("P{i}"),
            &ts(hour),
            "TRANSFER",
            "A002",
            to,
            "900.00",
            "CNY",
            CN,
        ));
    }
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.fan_out", &r)), ["A001"]);

    // A cycle A001 -> A002 -> A004 -> A001 keeping 98% a hop, and a chain that grows instead.
    let rows = [
        line("Y1", &ts(9), "TRANSFER", "A001", "A002", "10000.00", "CNY", CN),
        line("Y2", &ts(13), "TRANSFER", "A002", "A004", "9800.00", "CNY", CN),
        line(
            "Y3",
            "2025-03-02T10:00:00+08:00",
            "TRANSFER",
            "A004",
            "A001",
            "9600.00",
            "CNY",
            CN,
        ),
        line("Y4", &ts(9), "TRANSFER", "A003", "A006", "10000.00", "CNY", CN),
        line("Y5", &ts(12), "TRANSFER", "A006", "A007", "12000.00", "CNY", CN),
        line("Y6", &ts(15), "TRANSFER", "A007", "A003", "14000.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    let cycles = fixture("aml.cycle", &r);
    assert_eq!(subjects(&cycles), ["A001"]);
    assert_eq!(cycles["A001"], "Y1,Y2,Y3");

    // Pass-through: A002 passes 98% on within 5 hours; A004 passes on half.
    let rows = [
        line("T1", &ts(9), "TRANSFER", "A001", "A002", "10000.00", "CNY", CN),
        line("T2", &ts(14), "TRANSFER", "A002", "A003", "9800.00", "CNY", CN),
        line("T3", &ts(9), "TRANSFER", "A001", "A004", "10000.00", "CNY", CN),
        line("T4", &ts(14), "TRANSFER", "A004", "A003", "5000.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.pass_through", &r)), ["A002"]);

    // Mule: eight small payers then a cash-out of 90% at A001; seven payers at A002.
    let payers = ["A002", "A003", "A004", "A005", "A006", "A007", "EXT-HK-01", "EXT-US-01"];
    let mut rows = Vec::new();
    for (i, p) in payers.iter().enumerate() {
        rows.push(line(
            &format!("U{i}"),
            &ts(8 + i as u32),
            "TRANSFER",
            p,
            "A001",
            "1000.00",
            "CNY",
            CN,
        ));
    }
    rows.push(line("U9", &ts(20), "CASH_OUT", "A001", "AG01", "7200.00", "CNY", CN));
    for (i, p) in payers[..7].iter().enumerate() {
        let p = if *p == "A002" { "A001" } else { p };
        rows.push(line(
            &format!("V{i}"),
            &ts(8 + i as u32),
            "TRANSFER",
            p,
            "A002",
            "1000.00",
            "CNY",
            CN,
        ));
    }
    rows.push(line("V9", &ts(20), "CASH_OUT", "A002", "AG01", "6300.00", "CNY", CN));
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.mule", &r)), ["A001"]);
}

#[test]
fn large_value_transfers_follow_customer_type_and_border() {
    let day = |d: u32| format!("2025-03-0{d}T10:00:00+08:00");
    let rows = [
        // Person, cross-border: C001 sends exactly 200,000 to Hong Kong; C002 one cent less.
        line(
            "X1",
            &day(1),
            "TRANSFER",
            "A001",
            "EXT-HK-01",
            "200000.00",
            "CNY",
            ("CN", "HK"),
        ),
        line(
            "X2",
            &day(1),
            "TRANSFER",
            "A002",
            "EXT-HK-01",
            "199999.99",
            "CNY",
            ("CN", "HK"),
        ),
        // Person, domestic: C004 sends 500,000 to C001 on day 2; C002 sends 499,999.99 on day 3.
        line("X3", &day(2), "TRANSFER", "A004", "A001", "500000.00", "CNY", CN),
        line("X4", &day(3), "TRANSFER", "A002", "A004", "499999.99", "CNY", CN),
        // Business: C005 pays C007 2,000,000 on day 4; C007 pays back one cent less on day 5.
        line("X5", &day(4), "TRANSFER", "A005", "A007", "2000000.00", "CNY", CN),
        line("X6", &day(5), "TRANSFER", "A007", "A005", "1999999.99", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.lv_transfer_person_cross_border", &r)), ["C001"]);
    // Out of C004 and into C001 on day 2; C002's 499,999.99 into C004 on day 3 is not.
    assert_eq!(
        subjects(&fixture("aml.lv_transfer_person_domestic", &r)),
        ["C001", "C004"]
    );
    assert_eq!(subjects(&fixture("aml.lv_transfer_business", &r)), ["C005", "C007"]);
}

#[test]
fn kyc_and_licensing_fixtures_beside_their_boundaries() {
    let t = "2025-03-01T10:00:00+08:00";
    // Class I (A006, C006): 600 + 500 in payments passes RMB 1,000; class II A001's 90,000 does not.
    let rows = [
        line("Q1", t, "PAYMENT", "A006", "A005", "600.00", "CNY", ("US", "CN")),
        line(
            "Q2",
            "2025-03-02T10:00:00+08:00",
            "PAYMENT",
            "A006",
            "A005",
            "500.00",
            "CNY",
            ("US", "CN"),
        ),
        line("Q3", t, "PAYMENT", "A001", "A005", "90000.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    let class = fixture("kyc.class_limit", &r);
    assert_eq!(subjects(&class), ["A006"]);
    assert_eq!(class["A006"], "Q2", "only the payment past the limit");
    // C004 is a PEP without EDD and overdue for review (high risk, last review 2022); C001 is neither.
    let rows = [
        line("Q4", t, "TRANSFER", "A004", "A001", "100.00", "CNY", CN),
        line("Q5", t, "TRANSFER", "A001", "A002", "100.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("kyc.pep_no_edd", &r)), ["C004"]);
    assert_eq!(subjects(&fixture("kyc.review_overdue", &r)), ["C004"]);
    // Foreign cards: C006 is unverified, C003 has a verified passport.
    let rows = [
        line("Q6", t, "TRANSFER", "A006", "A001", "100.00", "CNY", ("US", "CN")),
        line("Q7", t, "TRANSFER", "A003", "A001", "100.00", "CNY", ("HK", "CN")),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("kyc.foreign_card_no_passport", &r)), ["C006"]);
    // Licences: US -> CN lapsed in 2024; HK -> CN is active. CN -> HK permits CNY and HKD, not
    // USD, and caps a transaction at USD 50,000 (RMB 400,000 is over it, 300,000 under).
    let rows = [
        line("Q8", t, "TRANSFER", "A006", "A001", "100.00", "USD", ("US", "CN")),
        line("Q9", t, "TRANSFER", "A003", "A001", "100.00", "HKD", ("HK", "CN")),
        line("Q10", t, "TRANSFER", "A002", "EXT-HK-01", "100.00", "USD", ("CN", "HK")),
        line(
            "Q11",
            t,
            "TRANSFER",
            "A004",
            "EXT-HK-01",
            "400000.00",
            "CNY",
            ("CN", "HK"),
        ),
        line(
            "Q12",
            t,
            "TRANSFER",
            "A001",
            "EXT-HK-01",
            "300000.00",
            "CNY",
            ("CN", "HK"),
        ),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("licensing.licence_inactive", &r)), ["A006"]);
    assert_eq!(subjects(&fixture("licensing.currency_not_permitted", &r)), ["A002"]);
    assert_eq!(subjects(&fixture("licensing.cap_exceeded", &r)), ["A004"]);
}

#[test]
fn geography_devices_and_dormancy_fixtures() {
    let t = "2025-03-01T10:00:00+08:00";
    // Viet Nam is on the FATF list in force on the day; Hong Kong is not.
    let rows = [
        line("G1", t, "TRANSFER", "A001", "EXT-US-01", "1000.00", "CNY", ("CN", "VN")),
        line("G2", t, "TRANSFER", "A002", "EXT-HK-01", "1000.00", "CNY", ("CN", "HK")),
        // The list of 2025-02-21 is in force: it dropped the Philippines and added Laos.
        line("G3", t, "TRANSFER", "A004", "EXT-HK-01", "1000.00", "CNY", ("CN", "PH")),
        line("G4", t, "TRANSFER", "A006", "EXT-HK-01", "1000.00", "CNY", ("LA", "CN")),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    let geo = fixture("aml.high_risk_geography", &r);
    assert_eq!(subjects(&geo), ["C001", "C006"], "{geo:?}");
    assert_eq!(geo["C006"], "G4");
    // One device behind C001's and C002's accounts; C004 on its own.
    let dev = |id: &str, from: &str, device: &str| {
        format!("{id},{t},TRANSFER,APP,{from},A007,100.00,CNY,CN,CN,SUCCESS,,,{device},,PIN,,,")
    };
    let rows = [
        dev("D1", "A001", "DEV-1"),
        dev("D2", "A002", "DEV-1"),
        dev("D3", "A004", "DEV-2"),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.shared_device", &r)), ["A001", "A002"]);
    // A001 idle since November, then 12,000 in March; A002 active in February.
    let rows = [
        line(
            "W1",
            "2024-11-01T10:00:00+08:00",
            "TRANSFER",
            "A001",
            "A007",
            "100.00",
            "CNY",
            CN,
        ),
        line(
            "W2",
            "2025-03-02T10:00:00+08:00",
            "TRANSFER",
            "A001",
            "A007",
            "12000.00",
            "CNY",
            CN,
        ),
        line(
            "W3",
            "2025-02-01T10:00:00+08:00",
            "TRANSFER",
            "A002",
            "A007",
            "100.00",
            "CNY",
            CN,
        ),
        line(
            "W4",
            "2025-03-02T10:00:00+08:00",
            "TRANSFER",
            "A002",
            "A007",
            "12000.00",
            "CNY",
            CN,
        ),
    ];
    // The 90-day boundary: A004 idle exactly 90 days (inclusive, fires), A005 one second less.
    // Both were also busy a month before their last payment, in the same 90-day bin of the
    // rule's time bins, so a gap measured from the wrong end of that bin would fire A005 too.
    let mut rows = rows.to_vec();
    for (i, (account, last)) in [("A004", "10:00:00"), ("A005", "10:00:01")].into_iter().enumerate() {
        for (j, (ts, amount)) in [
            ("2024-11-01T10:00:00+08:00".to_string(), "100.00"),
            (format!("2024-12-01T{last}+08:00"), "100.00"),
            ("2025-03-01T10:00:00+08:00".to_string(), "12000.00"),
        ]
        .into_iter()
        .enumerate()
        {
            rows.push(line(
                &format!("V{i}{j}"),
                &ts,
                "TRANSFER",
                account,
                "A007",
                amount,
                "CNY",
                CN,
            ));
        }
    }
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    let dormant = fixture("aml.dormant_reactivation", &r);
    assert_eq!(subjects(&dormant), ["A001", "A004"], "{dormant:?}");
    assert_eq!(dormant["A001"], "W2");
    assert_eq!(dormant["A004"], "V02");
}

#[test]
fn structuring_abroad_scatter_gather_commission_and_velocity_fixtures() {
    let day = |d: u32| format!("2025-03-0{d}T10:00:00+08:00");
    let hk = ("CN", "HK");
    // Three cross-border transfers at exactly 90% of RMB 200,000 on consecutive days; the
    // same a cent under the band.
    let rows = [
        line("B1", &day(1), "TRANSFER", "A001", "EXT-HK-01", "180000.00", "CNY", hk),
        line("B2", &day(2), "TRANSFER", "A001", "EXT-HK-01", "180000.00", "CNY", hk),
        line("B3", &day(3), "TRANSFER", "A001", "EXT-HK-01", "180000.00", "CNY", hk),
        line("B4", &day(1), "TRANSFER", "A002", "EXT-HK-01", "179999.99", "CNY", hk),
        line("B5", &day(2), "TRANSFER", "A002", "EXT-HK-01", "180000.00", "CNY", hk),
        line("B6", &day(3), "TRANSFER", "A002", "EXT-HK-01", "180000.00", "CNY", hk),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.structuring_cross_border", &r)), ["C001"]);
    // A001 scatters to three accounts that forward 96% to A003: fires. Two forwarders: not.
    let at = |h: u32| format!("2025-03-01T{h:02}:00:00+08:00");
    let rows = [
        line("S1", &at(8), "TRANSFER", "A001", "A002", "5000.00", "CNY", CN),
        line("S2", &at(8), "TRANSFER", "A001", "A004", "5000.00", "CNY", CN),
        line("S3", &at(8), "TRANSFER", "A001", "A006", "5000.00", "CNY", CN),
        line("S4", &at(12), "TRANSFER", "A002", "A003", "4800.00", "CNY", CN),
        line("S5", &at(12), "TRANSFER", "A004", "A003", "4800.00", "CNY", CN),
        line("S6", &at(12), "TRANSFER", "A006", "A003", "4800.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.scatter_gather", &r)), ["A001"]);
    let r: Vec<&str> = rows
        .iter()
        .filter(|l| !l.starts_with("S3") && !l.starts_with("S6"))
        .map(String::as_str)
        .collect();
    assert!(fixture("aml.scatter_gather", &r).is_empty());
    // Commission: 90% passed on is a cut of 10%; 96% is a whole pass-through, not this rule.
    let rows = [
        line("K1", &at(9), "TRANSFER", "A001", "A002", "10000.00", "CNY", CN),
        line("K2", &at(14), "TRANSFER", "A002", "A003", "9000.00", "CNY", CN),
        line("K3", &at(9), "TRANSFER", "A001", "A004", "10000.00", "CNY", CN),
        line("K4", &at(14), "TRANSFER", "A004", "A003", "9600.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(subjects(&fixture("aml.pass_through_commission", &r)), ["A002"]);
    // Velocity: A001 paid 100 on three February days, then 20,000; A002 paid 300,000 on three
    // February days, so 20,000 is no spike for it.
    let feb = |d: u32| format!("2025-02-{d:02}T10:00:00+08:00");
    let rows = [
        line("V1", &feb(10), "TRANSFER", "A001", "A007", "100.00", "CNY", CN),
        line("V2", &feb(14), "TRANSFER", "A001", "A007", "100.00", "CNY", CN),
        line("V3", &feb(20), "TRANSFER", "A001", "A007", "100.00", "CNY", CN),
        line("V4", &day(2), "TRANSFER", "A001", "A007", "20000.00", "CNY", CN),
        line("V5", &feb(10), "TRANSFER", "A002", "A007", "300000.00", "CNY", CN),
        line("V6", &feb(14), "TRANSFER", "A002", "A007", "300000.00", "CNY", CN),
        line("V7", &feb(20), "TRANSFER", "A002", "A007", "300000.00", "CNY", CN),
        line("V8", &day(2), "TRANSFER", "A002", "A007", "20000.00", "CNY", CN),
    ];
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    let velocity = fixture("aml.velocity_spike", &r);
    assert_eq!(subjects(&velocity), ["A001"]);
    assert_eq!(velocity["A001"], "V4");
}

/// Rules about reference data: customers added beside the examples.
#[test]
fn screening_ownership_identity_new_accounts_and_travel_data_fixtures() {
    let s = Scratch::new();
    s.load_reference();
    let ex = crate::harness::examples();
    s.ingest("sanctions", &[&ex.join("sanctions.csv")], &[]);
    let header_c = "customer_id,customer_type,full_name,date_of_birth,nationality,residence_country,id_type,id_number,id_expiry,kyc_status,verified_at,risk_rating,pep,edd_completed_at,last_review_at,beneficial_owner_id,onboarded_at";
    let onb = "2024-06-01T10:00:00+08:00";
    let customers = [
        // A listed name (OFAC 2678, "AWDA, Abd Al Aziz") in another romanisation, and a namesake.
        format!("C010,INDIVIDUAL,Abdul Aziz Awda,1960-01-01,CN,CN,NATIONAL_ID,X010,,VERIFIED,{onb},LOW,false,,,,{onb}"),
        format!("C011,INDIVIDUAL,James Awda,1980-01-01,CN,CN,NATIONAL_ID,X011,,VERIFIED,{onb},LOW,false,,,,{onb}"),
        // A company with no owner on record.
        format!("C012,BUSINESS,Ownerless Trading Co.,,CN,CN,BUSINESS_LICENCE,X012,,VERIFIED,{onb},LOW,false,,,,{onb}"),
        // Two customers behind one identity number.
        format!("C013,INDIVIDUAL,Zhao Lei,1990-01-01,CN,CN,NATIONAL_ID,X013,,VERIFIED,{onb},LOW,false,,,,{onb}"),
        format!("C014,INDIVIDUAL,Zhao Lin,1991-01-01,CN,CN,NATIONAL_ID,X013,,VERIFIED,{onb},LOW,false,,,,{onb}"),
        // A customer without a country of residence.
        format!("C015,INDIVIDUAL,Tam Ho,1985-01-01,HK,,PASSPORT,X015,,VERIFIED,{onb},LOW,false,,,,{onb}"),
    ];
    let file = s.file("more_customers.csv", format!("{header_c}\n{}\n", customers.join("\n")));
    s.ingest("customers", &[&file], &[]);
    let acct = |id: &str, c: &str, class: &str, opened: &str, home: &str, ccy: &str| {
        format!("{id},{c},{class},{opened},,ACTIVE,{home},{ccy},false")
    };
    let accounts = [
        acct("A010", "C010", "II", onb, "CN", "CNY"),
        acct("A011", "C011", "II", onb, "CN", "CNY"),
        acct("A012", "C012", "MERCHANT", onb, "CN", "CNY"),
        // Opened ten days before the period and busy at once.
        acct("A013", "C013", "III", "2025-02-19T10:00:00+08:00", "CN", "CNY"),
        acct("A014", "C014", "II", onb, "CN", "CNY"),
        acct("A015", "C015", "II", onb, "HK", "HKD"),
    ];
    let file = s.file(
        "more_accounts.csv",
        format!("account_id,customer_id,account_class,opened_at,closed_at,status,home_country,currency,foreign_card_bound\n{}\n", accounts.join("\n")),
    );
    s.ingest("accounts", &[&file], &[]);
    let t = "2025-03-01T10:00:00+08:00";
    let rows = [
        line("R1", t, "TRANSFER", "A010", "A001", "100.00", "CNY", CN),
        line("R2", t, "TRANSFER", "A011", "A001", "100.00", "CNY", CN),
        line("R3", t, "TRANSFER", "A012", "A001", "100.00", "CNY", CN),
        line("R4", t, "TRANSFER", "A002", "A013", "30000.00", "CNY", CN),
        line(
            "R5",
            "2025-03-02T10:00:00+08:00",
            "TRANSFER",
            "A013",
            "A004",
            "25000.00",
            "CNY",
            CN,
        ),
        line("R6", t, "TRANSFER", "A001", "A015", "10000.00", "CNY", ("CN", "HK")),
        line(
            "R7",
            t,
            "TRANSFER",
            "A002",
            "EXT-HK-01",
            "10000.00",
            "CNY",
            ("CN", "HK"),
        ),
    ];
    let file = s.file(
        "fixture.csv",
        format!("{}\n{}\n", crate::harness::TXN_HEADER, rows.join("\n")),
    );
    s.ingest("transactions", &[&file], &[]);
    let q = queries();
    let fired = |rule: &str| -> Vec<String> {
        s.ok(&[
            "run",
            "--rule",
            rule,
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-05",
            "--queries",
            &q,
        ]);
        s.sql(&format!(
            "select subject_id from alerts where rule_id = '{rule}' order by subject_id"
        ))
        .iter()
        .map(|r| r["subject_id"].as_str().unwrap_or_default().to_string())
        .collect()
    };
    assert_eq!(fired("aml.sanctions_screening"), ["C010"]);
    assert_eq!(fired("kyc.business_no_owner"), ["C012"]);
    assert_eq!(fired("kyc.shared_identity"), ["C013", "C014"]);
    assert_eq!(fired("aml.new_account_activity"), ["A013"]);
    assert_eq!(fired("licensing.travel_rule_data"), ["A001"]);
}
