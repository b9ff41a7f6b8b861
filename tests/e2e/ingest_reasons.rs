//! Every quarantine reason code, each pinned to its line and field.

use crate::harness::{Scratch, TXN_HEADER, ledger};

/// A valid row with one field replaced.
fn row(id: &str, changes: &[(&str, &str)]) -> String {
    let names: Vec<&str> = TXN_HEADER.split(',').collect();
    let mut values = vec![
        id,
        "2025-03-01T10:00:00+08:00",
        "PAYMENT",
        "QR",
        "A001",
        "A005",
        "10.00",
        "CNY",
        "CN",
        "CN",
        "SUCCESS",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ];
    for (name, value) in changes {
        let i = names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no field {name}"));
        values[i] = value;
    }
    values.join(",")
}

#[test]
fn every_transaction_reason_is_caught_with_line_and_field() {
    let s = Scratch::new();
    s.load_reference();
    // (line, row, expected reason, expected field)
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (row("G1", &[]), "", None),
        (
            "G2,2025-03-01T10:00:00+08:00,PAYMENT".to_string(),
            "wrong_field_count",
            None,
        ),
        (row("B2", &[("ts", "2025-03-01 10:00:00")]), "bad_timestamp", Some("ts")),
        (
            row("B3", &[("ts", "1969-12-31T23:59:59Z")]),
            "timestamp_out_of_range",
            Some("ts"),
        ),
        (row("B4", &[("amount", "12.5.0")]), "bad_decimal", Some("amount")),
        (row("B4b", &[("amount", "\"12,50\"")]), "bad_decimal", Some("amount")),
        (row("B5", &[("amount", "0")]), "non_positive_amount", Some("amount")),
        (row("B6", &[("amount", "-3.00")]), "non_positive_amount", Some("amount")),
        (row("B7", &[("amount", "10.001")]), "too_many_decimals", Some("amount")),
        (row("B8", &[("currency", "RMB")]), "unknown_currency", Some("currency")),
        (
            row("B9", &[("payee_country", "XX")]),
            "unknown_country",
            Some("payee_country"),
        ),
        (
            row("B10", &[("txn_type", "PAYMNT")]),
            "unknown_enum_value",
            Some("txn_type"),
        ),
        (
            row("B11", &[("channel", "")]),
            "missing_required_field",
            Some("channel"),
        ),
        (row("G1", &[]), "duplicate_txn_id", Some("txn_id")),
        (
            row("B13", &[("payee_account", "A999")]),
            "unknown_account",
            Some("payee_account"),
        ),
        (
            row("B14", &[("currency", "USD"), ("ts", "2025-04-01T10:00:00+08:00")]),
            "missing_fx_rate",
            Some("currency"),
        ),
        (row("B15", &[("mcc", "58a2")]), "bad_value", Some("mcc")),
        (
            row("B16", &[("amount", "100000000000000.00")]),
            "amount_out_of_range",
            Some("amount"),
        ),
        (
            row("B17", &[("amount", "50.5"), ("currency", "JPY")]),
            "too_many_decimals",
            Some("amount"),
        ),
        (
            row("B18", &[("settlement_amount", "5.00")]),
            "missing_required_field",
            Some("settlement_currency"),
        ),
        (row("G19", &[("currency", "USD"), ("amount", "100.00")]), "", None),
    ];
    let mut content = format!("{TXN_HEADER}\n");
    for (r, _, _) in &cases {
        content.push_str(r);
        content.push('\n');
    }
    // Bad UTF-8 in one field, as raw bytes.
    let mut bytes = content.into_bytes();
    bytes.extend_from_slice(row("B20", &[("device_id", "dev-@")]).replace('@', "\u{1}").as_bytes());
    let last = bytes.len();
    let at = bytes[..last].iter().rposition(|b| *b == 1).expect("marker");
    bytes[at] = 0xff;
    bytes.push(b'\n');
    let file = s.file("reasons.csv", &bytes);

    let reports = s.ingest("transactions", &[&file], &[]);
    let (read, stored, quarantined) = ledger(&reports[0]);
    assert_eq!(read, cases.len() as u64 + 1);
    assert_eq!(stored, 2, "only G1 and G19 are valid");
    assert_eq!(read, stored + quarantined);

    let rows = s.sql("select line, field, reason, raw_text from quarantine order by line");
    let expected: Vec<(u64, &str, Option<&str>)> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.1.is_empty())
        .map(|(i, c)| (i as u64 + 2, c.1, c.2))
        .chain(std::iter::once((cases.len() as u64 + 2, "bad_utf8", Some("device_id"))))
        .collect();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (got, (line, reason, field)) in rows.iter().zip(&expected) {
        assert_eq!(got["line"].as_u64(), Some(*line), "{got:?}");
        assert_eq!(got["reason"].as_str(), Some(*reason), "line {line}: {got:?}");
        assert_eq!(
            got.get("field").and_then(|f| f.as_str()),
            *field,
            "line {line}: {got:?}"
        );
    }
    // The raw line is kept as it was read (invalid bytes escaped).
    let utf8 = rows.last().expect("rows");
    assert!(
        utf8["raw_text"]
            .as_str()
            .is_some_and(|r| r.starts_with("B20,") && r.contains("dev-\\xFF")),
        "{utf8:?}"
    );
    assert_eq!(
        rows[0]["raw_text"].as_str(),
        Some("G2,2025-03-01T10:00:00+08:00,PAYMENT")
    );

    // Per-reason counts in the ledger agree with the quarantine table.
    let by_reason = reports[0]["ledger"]["quarantined_by_reason"]
        .as_object()
        .expect("by reason")
        .clone();
    assert_eq!(by_reason["non_positive_amount"], 2);
    assert_eq!(by_reason["too_many_decimals"], 2);
    assert_eq!(
        by_reason.values().map(|v| v.as_u64().unwrap_or(0)).sum::<u64>(),
        quarantined
    );

    // Control totals: stored amounts per currency, exact.
    let amounts = &reports[0]["ledger"]["amount_by_currency"];
    assert_eq!(amounts["CNY"], "10.00");
    assert_eq!(amounts["USD"], "100.00");
    // The USD row got its reporting-currency amount from the day's rate (7.2451).
    assert_eq!(
        s.count("select cast(amount_reporting * 100 as bigint) from transactions where txn_id = 'G19'"),
        72451
    );
}

#[test]
fn a_duplicate_already_in_the_warehouse_is_quarantined() {
    let s = Scratch::new();
    s.load_reference();
    let first = s.file("a.csv", format!("{TXN_HEADER}\n{}\n", row("X1", &[])));
    let second = s.file(
        "b.csv",
        format!(
            "{TXN_HEADER}\n{}\n{}\n",
            row("X1", &[("amount", "11.00")]),
            row("X2", &[])
        ),
    );
    s.ingest("transactions", &[&first], &[]);
    let reports = s.ingest("transactions", &[&second], &[]);
    assert_eq!(ledger(&reports[0]), (2, 1, 1));
    let q = s.sql("select line, reason, detail from quarantine");
    assert_eq!(q[0]["reason"], "duplicate_txn_id");
    assert!(
        q[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already in the warehouse"))
    );
    assert_eq!(s.count("select count(*) from transactions"), 2);
    assert_eq!(
        s.count("select count(*) from transactions where txn_id = 'X1' and amount = 10"),
        1
    );
}

#[test]
fn reference_reasons_and_key_replacement() {
    let s = Scratch::new();
    let header = "customer_id,customer_type,full_name,date_of_birth,nationality,residence_country,id_type,id_number,id_expiry,kyc_status,verified_at,risk_rating,pep,edd_completed_at,last_review_at,beneficial_owner_id,onboarded_at";
    let good =
        "K1,INDIVIDUAL,Alice,1990-01-01,CN,CN,NATIONAL_ID,1,2030-01-01,VERIFIED,,LOW,false,,,,2024-01-01T00:00:00Z";
    let v1 = format!(
        "{header}\n{good}\n{}\n{}\n{}\n{}\n",
        good.replace("K1,", "K2,").replace("1990-01-01", "1990-13-01"),
        good.replace("K1,", "K3,").replace("false", "maybe"),
        good.replace("K1,", "K4,")
            .replace("Alice", "\"Bob, \"\"the\"\" builder\""),
        good.replace("Alice", "Alice again"),
    );
    let f1 = s.file("customers-1.csv", v1);
    let r = s.ingest("customers", &[&f1], &[]);
    assert_eq!(ledger(&r[0]), (5, 2, 3));
    let reasons = s.sql("select line, field, reason from quarantine order by line");
    let got: Vec<(u64, &str, &str)> = reasons
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r.get("field").and_then(|f| f.as_str()).unwrap_or(""),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "date_of_birth", "bad_date"),
            (4, "pep", "bad_boolean"),
            (6, "customer_id", "duplicate_key")
        ]
    );
    // Quoted CSV fields survive intact.
    assert_eq!(
        s.sql("select full_name from customers where customer_id = 'K4'")[0]["full_name"],
        "Bob, \"the\" builder"
    );

    // A later file replaces rows by key and keeps the others.
    let f2 = s.file(
        "customers-2.csv",
        format!("{header}\n{}\n", good.replace("LOW", "HIGH")),
    );
    let r = s.ingest("customers", &[&f2], &[]);
    assert_eq!(r[0]["replaced"], 1);
    assert_eq!(r[0]["table_rows_after"], 2);
    assert_eq!(
        s.count("select count(*) from customers where customer_id = 'K1' and risk_rating = 'HIGH'"),
        1
    );
    assert_eq!(s.count("select count(*) from customers"), 2);
}

#[test]
fn crlf_and_blank_lines_keep_each_rows_own_line_and_raw_text() {
    let s = Scratch::new();
    s.load_reference();
    let bad_type = row("B1", &[("txn_type", "BOGUS")]);
    let bad_amount = row("B2", &[("amount", "12.5.0")]);
    // Lines: 1 header, 2 G1, 3 B1, 4 and 5 blank, 6 B2, 7 G2; CRLF throughout.
    let txns = s.file(
        "crlf.csv",
        format!(
            "{TXN_HEADER}\r\n{}\r\n{bad_type}\r\n\r\n\r\n{bad_amount}\r\n{}\r\n",
            row("G1", &[]),
            row("G2", &[])
        ),
    );
    let reports = s.ingest("transactions", &[&txns], &[]);
    assert_eq!(ledger(&reports[0]), (4, 2, 2));
    let samples: Vec<u64> = reports[0]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    assert_eq!(samples, [3, 6]);
    // The reference tables' reader (the csv crate) places records the same way.
    let rates = s.file(
        "rates.csv",
        "rate_date,currency,rate\r\n2025-03-02,USD,7.2\r\n\r\n2025-03-02,XXQ,1.0\r\n",
    );
    s.ingest("fx-rates", &[&rates], &[]);
    let q = s.sql("select source_file, line, raw_text from quarantine order by source_file, line");
    let got: Vec<(String, u64, String)> = q
        .iter()
        .map(|r| {
            let file = r["source_file"].as_str().unwrap_or_default();
            let name = file.rsplit(['/', '\\']).next().unwrap_or_default().to_string();
            let raw = r["raw_text"].as_str().unwrap_or_default().to_string();
            (name, r["line"].as_u64().unwrap_or(0), raw)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("crlf.csv".to_string(), 3, bad_type),
            ("crlf.csv".to_string(), 6, bad_amount),
            ("rates.csv".to_string(), 4, "2025-03-02,XXQ,1.0".to_string()),
        ]
    );
}

#[test]
fn ndjson_rows_are_validated_like_csv() {
    let s = Scratch::new();
    s.load_reference();
    let good = r#"{"txn_id":"J1","ts":"2025-03-01T10:00:00+08:00","txn_type":"PAYMENT","channel":"QR","payer_account":"A001","payee_account":"A005","amount":"10.50","currency":"CNY","payer_country":"CN","payee_country":"CN","status":"SUCCESS"}"#;
    let content = [
        good.to_string(),
        good.replace("J1", "J2").replace(r#""10.50""#, "12.25"),
        "{not json".to_string(),
        good.replace("J1", "J4").replace(r#""channel":"QR","#, ""),
        good.replace("J1", "J5").replace("\"status\"", "\"colour\""),
        good.replace("J1", "J6").replace(r#""10.50""#, "[1]"),
        String::new(),
        good.replace("J1", "J7")
            .replace(r#""amount":"10.50""#, r#""amount":0.1e1"#),
    ]
    .join("\n");
    let f = s.file("t.ndjson", content);
    let r = s.ingest("transactions", &[&f], &[]);
    assert_eq!(ledger(&r[0]), (7, 2, 5));
    let got: Vec<(u64, String)> = s
        .sql("select line, reason from quarantine order by line")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        (3, "bad_json"),
        (4, "missing_required_field"),
        (5, "bad_json"),
        (6, "bad_json"),
        (8, "bad_decimal"),
    ];
    assert_eq!(got, want.iter().map(|(l, r)| (*l, r.to_string())).collect::<Vec<_>>());
    // A JSON number keeps its exact decimal text.
    assert_eq!(
        s.count("select cast(amount * 100 as bigint) from transactions where txn_id = 'J2'"),
        1225
    );
}

#[test]
fn sanctions_and_licences_reasons() {
    let s = Scratch::new();
    let sdn = s.file(
        "sdn.csv",
        "ent_num,SDN_Name,SDN_Type,Program,Title,Call_Sign,Vess_type,Tonnage,GRT,Vess_flag,Vess_owner,Remarks\n\
         12x,\"DOE, John\",individual,SDGT,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n\
         13,-0- ,individual,SDGT,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n\
         14,\"ROE, Jane\",individual,SDGT,-0-,-0-,-0-,-0-,-0-,-0-,-0-,DOB 1970.\n",
    );
    let r = s.ingest("sanctions", &[&sdn], &[]);
    assert_eq!(ledger(&r[0]), (3, 1, 2));
    let got: Vec<(String, String)> = s
        .sql("select field, reason from quarantine order by line")
        .iter()
        .map(|r| {
            (
                r["field"].as_str().unwrap_or("").to_string(),
                r["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("ent_num".into(), "bad_integer".into()),
            ("sdn_name".into(), "missing_required_field".into())
        ]
    );

    let lic = s.file(
        "licences.csv",
        "licence_id,jurisdiction,licence_type,corridor_from,corridor_to,currencies,max_txn_amount,cap_currency,valid_from,valid_to,status\n\
         L1,HK,MSO,CN,HK,CNY|HKD,50000,USD,2022-01-01,2026-12-31,ACTIVE\n\
         L2,HK,MSO,CN,HK,CNY|HKX,50000,USD,2022-01-01,2026-12-31,ACTIVE\n\
         L3,HK,MSO,CN,HK,CNY,50000,USD,2022-01-01,,PENDING\n",
    );
    let r = s.ingest("licences", &[&lic], &[]);
    assert_eq!(ledger(&r[0]), (3, 1, 2));
    assert_eq!(
        s.count("select count(*) from licences where array_has(currencies, 'HKD')"),
        1
    );
    assert_eq!(
        s.count("select count(*) from quarantine where table_name = 'licences' and reason = 'unknown_currency'"),
        1
    );
    assert_eq!(
        s.count("select count(*) from quarantine where table_name = 'licences' and reason = 'unknown_enum_value'"),
        1
    );
}
