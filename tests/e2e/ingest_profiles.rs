//! Foreign layouts through the shipped mapping profiles, on the public datasets in ../shared.

use std::collections::BTreeMap;

use crate::harness::{Scratch, ledger, repo_root, shared};

fn profile(name: &str) -> String {
    repo_root().join("data/profiles").join(name).display().to_string()
}

/// Sums decimal strings exactly, in units of 10^-4.
fn exact_sum<'a>(values: impl Iterator<Item = &'a str>, exponent: bool) -> i128 {
    values
        .map(|v| custos_model::parse_decimal(v, 4, exponent).expect("decimal").value)
        .sum()
}

#[test]
fn paysim_original_layout_loads_every_row() {
    let s = Scratch::new();
    let file = shared().join("datasets/paysim/paysim_kaggle_head_2688rows_origformat.csv");
    let reports = s.ingest("transactions", &[&file], &["--profile", &profile("paysim.toml")]);
    let (read, stored, quarantined) = ledger(&reports[0]);
    assert_eq!(
        (read, stored, quarantined),
        (2688, 2688, 0),
        "{:#?}",
        reports[0]["samples"]
    );

    let mut reader = csv::Reader::from_path(&file).expect("paysim");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let expected = exact_sum(rows.iter().map(|r| &r[2]), true);
    let got = s.count("select cast(sum(amount) * 10000 as bigint) from transactions");
    assert_eq!(i128::from(got), expected);
    // Types map as the profile says; DEBIT becomes WITHDRAWAL.
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        let t = match &r[1] {
            "DEBIT" => "WITHDRAWAL",
            other => other,
        };
        *by_type.entry(t.to_string()).or_default() += 1;
    }
    for (t, n) in by_type {
        assert_eq!(
            s.count(&format!("select count(*) from transactions where txn_type = '{t}'")),
            n,
            "{t}"
        );
    }
    // step 1 is one hour after the epoch (2025-01-01T00:00+08:00).
    assert_eq!(
        s.sql("select cast(min(ts) as varchar) as t from transactions")[0]["t"].as_str(),
        Some("2024-12-31T17:00:00Z")
    );
}

#[test]
fn paysim_enriched_sample_with_float_labels_loads() {
    let s = Scratch::new();
    let file = shared().join("datasets/paysim/paysim_sample_51392rows_fraud_enriched.csv");
    let reports = s.ingest("transactions", &[&file], &["--profile", &profile("paysim.toml")]);
    assert_eq!(ledger(&reports[0]), (51_392, 51_392, 0));
    assert_eq!(s.count("select count(distinct txn_id) from transactions"), 51_392);
}

#[test]
fn amlworld_layout_maps_currencies_and_quarantines_bitcoin() {
    let s = Scratch::new();
    // The patterns file is the transaction layout wrapped in BEGIN/END blocks; keep the rows.
    let source = std::fs::read_to_string(shared().join("datasets/amlworld/HI-Medium_Patterns.txt")).expect("amlworld");
    let rows: Vec<&str> = source
        .lines()
        .filter(|l| l.contains(',') && !l.contains("LAUNDERING ATTEMPT"))
        .collect();
    let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering";
    let file = s.file("HI-Medium_Trans.csv", format!("{header}\n{}\n", rows.join("\n")));

    // Rates for every currency the file uses, every day of September 2022.
    let currencies = [
        "USD", "EUR", "JPY", "GBP", "CHF", "AUD", "CAD", "MXN", "RUB", "INR", "BRL", "SAR", "ILS",
    ];
    let mut fx = String::from("rate_date,currency,rate\n");
    for day in 1..=30 {
        for c in currencies {
            fx.push_str(&format!("2022-09-{day:02},{c},1.5\n"));
        }
    }
    s.ingest("fx-rates", &[&s.file("fx.csv", fx)], &[]);

    let reports = s.ingest("transactions", &[&file], &["--profile", &profile("amlworld.toml")]);
    let (read, stored, quarantined) = ledger(&reports[0]);
    assert_eq!(read as usize, rows.len());
    let bitcoin = rows.iter().filter(|r| r.contains("Bitcoin")).count() as u64;
    assert_eq!(quarantined, bitcoin, "{:#?}", reports[0]["samples"]);
    assert_eq!(stored + quarantined, read);
    // Bitcoin rows fail on their first bad field: six decimals, or the currency itself.
    assert_eq!(
        s.count("select count(*) from quarantine where raw_text not like '%Bitcoin%'"),
        0
    );
    // Currency names map to ISO codes, row for row; yen are whole after rounding.
    for (name, code) in [("US Dollar", "USD"), ("Euro", "EUR"), ("Yuan", "CNY"), ("Yen", "JPY")] {
        let n = rows.iter().filter(|r| r.split(',').nth(8) == Some(name)).count() as i64;
        assert_eq!(
            s.count(&format!("select count(*) from transactions where currency = '{code}'")),
            n,
            "{name}"
        );
    }
    assert_eq!(
        s.count(
            "select count(*) from transactions where currency = 'JPY' and cast(amount * 10000 as bigint) % 10000 <> 0"
        ),
        0
    );
    // Accounts are bank-qualified: the same account number at two banks is two accounts.
    assert_eq!(
        s.count("select count(*) from transactions where payer_account like '%:%'") as u64,
        stored
    );
}

#[test]
fn a_headerless_semicolon_layout_through_a_profile() {
    let s = Scratch::new();
    let profile = s.file(
        "pos.toml",
        r#"
name = "pos-export"
table = "transactions"
header = false
delimiter = ";"
[fields]
txn_id = { index = 0 }
ts = { index = 1, format = "%d.%m.%Y %H:%M:%S", timezone = "Europe/Berlin" }
txn_type = { constant = "PAYMENT" }
channel = { constant = "POS" }
payer_account = { index = 2 }
payee_account = { index = 3 }
amount = { index = 4, exponent = true }
currency = { constant = "EUR" }
payer_country = { constant = "DE" }
payee_country = { constant = "DE" }
status = { index = 5, map = { ok = "SUCCESS", ko = "FAILED" } }
"#,
    );
    let fx = s.file("fx.csv", "rate_date,currency,rate\n2025-03-01,EUR,7.8\n");
    s.ingest("fx-rates", &[&fx], &[]);
    let data = s.file(
        "pos.txt",
        "P1;01.03.2025 09:30:00;A;B;1.25E2;ok\nP2;01.03.2025 25:00:00;A;B;5;ok\nP3;01.03.2025 10:00:00;A;B;7.5;maybe\n",
    );
    let r = s.ingest(
        "transactions",
        &[&data],
        &["--profile", profile.to_str().unwrap_or_default()],
    );
    assert_eq!(ledger(&r[0]), (3, 1, 2));
    let reasons: Vec<String> = s
        .sql("select reason from quarantine order by line")
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(reasons, ["bad_timestamp", "unknown_enum_value"]);
    // 09:30 in Berlin (UTC+1 in March) is 08:30 UTC; 125 EUR at 7.8 is 975 CNY.
    let row = &s.sql("select cast(ts as varchar) as ts, cast(amount_reporting as varchar) as cny from transactions")[0];
    assert_eq!(row["ts"], "2025-03-01T08:30:00Z");
    assert_eq!(row["cny"], "975.0000");
}
