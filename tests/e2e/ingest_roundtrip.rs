//! What DataFusion reads back from the warehouse equals what was ingested.

use chrono::DateTime;

use crate::harness::{Scratch, examples};

#[test]
fn transactions_read_back_equal_the_source() {
    let s = Scratch::new();
    s.load_reference();
    let file = examples().join("transactions.csv");
    s.ingest("transactions", &[&file], &[]);

    let mut reader = csv::Reader::from_path(&file).expect("csv");
    let header = reader.headers().expect("header").clone();
    let mut expected: Vec<Vec<String>> = Vec::new();
    for r in reader.records() {
        let r = r.expect("row");
        let mut row = Vec::new();
        for (name, value) in header.iter().zip(r.iter()) {
            row.push(match name {
                // Instants compare in UTC, decimals at their stored scale.
                "ts" => DateTime::parse_from_rfc3339(value)
                    .expect("ts")
                    .timestamp_micros()
                    .to_string(),
                "amount" | "settlement_amount" if !value.is_empty() => custos_model::parse_decimal(value, 4, false)
                    .expect("amount")
                    .value
                    .to_string(),
                "fx_rate" if !value.is_empty() => custos_model::parse_decimal(value, 8, false)
                    .expect("rate")
                    .value
                    .to_string(),
                _ => value.to_string(),
            });
        }
        expected.push(row);
    }
    expected.sort();

    let query = "select txn_id, cast(to_unixtime(ts) * 1000000 as bigint) as ts, txn_type, channel, payer_account, \
        payee_account, cast(amount * 10000 as bigint) as amount, currency, payer_country, payee_country, status, \
        merchant_id, mcc, device_id, ip, auth_method, cast(fx_rate * 100000000 as bigint) as fx_rate, \
        cast(settlement_amount * 10000 as bigint) as settlement_amount, settlement_currency from transactions";
    let mut got: Vec<Vec<String>> = s
        .sql(query)
        .into_iter()
        .map(|row| {
            header
                .iter()
                .map(|name| match &row.get(name) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(v)) => v.clone(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
}

#[test]
fn stored_types_are_decimal_and_utc() {
    let s = Scratch::new();
    s.load_reference();
    s.ingest("transactions", &[&examples().join("transactions.csv")], &[]);
    let types = s.sql(
        "select column_name, data_type from information_schema.columns \
         where table_name = 'transactions' and column_name in ('amount', 'amount_reporting', 'ts', 'txn_date') \
         order by column_name",
    );
    let got: Vec<String> = types
        .iter()
        .map(|t| format!("{}={}", t["column_name"], t["data_type"]))
        .collect();
    assert_eq!(
        got,
        vec![
            "\"amount\"=\"Decimal128(18, 4)\"",
            "\"amount_reporting\"=\"Decimal128(18, 4)\"",
            "\"ts\"=\"Timestamp(µs, \\\"UTC\\\")\"",
            "\"txn_date\"=\"Date32\""
        ]
    );
}

#[test]
fn transactions_are_partitioned_by_utc_day_and_sorted() {
    let s = Scratch::new();
    s.load_reference();
    s.ingest("transactions", &[&examples().join("transactions.csv")], &[]);
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["status", "--json"])).expect("status");
    let days = s.count("select count(distinct txn_date) from transactions");
    assert_eq!(json["tables"]["transactions"]["files"].as_i64(), Some(days));
    for day in s.sql("select distinct cast(txn_date as varchar) as d from transactions") {
        let dir = s
            .warehouse()
            .join(format!("transactions/date={}", day["d"].as_str().unwrap_or_default()));
        assert!(dir.is_dir(), "{} missing", dir.display());
    }
    // Each file holds one UTC day: a 00:30+08:00 payment lands on the previous UTC date.
    assert_eq!(
        s.count("select count(*) from transactions where txn_date <> cast(ts as date)"),
        0,
        "txn_date is the UTC date"
    );
}

#[test]
fn transaction_files_pack_instants_and_amounts_and_skip_dictionaries_where_they_cost() {
    use custos_warehouse::datafusion::parquet::basic::Encoding;
    use custos_warehouse::datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    let s = Scratch::new();
    s.load_reference();
    s.ingest("transactions", &[&examples().join("transactions.csv")], &[]);
    let day = std::fs::read_dir(s.warehouse().join("transactions"))
        .expect("transactions directory")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("date="))
        .expect("a day directory");
    let file = std::fs::read_dir(day.path())
        .expect("day directory")
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .expect("a parquet file");
    let reader = SerializedFileReader::new(std::fs::File::open(file.path()).expect("open")).expect("parquet");
    let row_group = reader.metadata().row_group(0);
    let encodings = |name: &str| -> Vec<Encoding> {
        row_group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .encodings()
            .collect()
    };
    for name in ["ts", "amount", "amount_reporting"] {
        assert!(
            encodings(name).contains(&Encoding::DELTA_BINARY_PACKED),
            "{name}: {:?}",
            encodings(name)
        );
    }
    for name in ["txn_id", "txn_date", "report_date"] {
        assert!(
            !encodings(name).contains(&Encoding::RLE_DICTIONARY),
            "{name}: {:?}",
            encodings(name)
        );
    }
    // Codes from short lists keep their dictionary, and the ingest id, one value, is a
    // dictionary of one written from its keys (a single run).
    for name in ["txn_type", "currency", "payer_country", "ingest_id"] {
        assert!(
            encodings(name).contains(&Encoding::RLE_DICTIONARY),
            "{name}: {:?}",
            encodings(name)
        );
    }
}
