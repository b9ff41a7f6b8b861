//! Command-line behaviour: exit codes, messages, the demo, read-only SQL.

use crate::harness::{Scratch, TXN_HEADER, examples, repo_root};

#[test]
fn max_reject_refuses_the_file_and_exits_3() {
    let s = Scratch::new();
    s.load_reference();
    let good = "T1,2025-03-01T10:00:00+08:00,PAYMENT,QR,A001,A005,10.00,CNY,CN,CN,SUCCESS,,,,,,,,";
    let file = s.file(
        "t.csv",
        format!(
            "{TXN_HEADER}\n{good}\n{}\n",
            good.replace("T1,", "T2,").replace("CNY", "XXX")
        ),
    );
    let out = s.run(&[
        "ingest",
        "transactions",
        file.to_str().unwrap_or_default(),
        "--max-reject",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
    assert_eq!(s.count("select count(*) from transactions"), 0);
    assert_eq!(
        s.count("select count(*) from quarantine where table_name = 'transactions'"),
        0
    );
    // Within the limit it goes through.
    let out = s.run(&[
        "ingest",
        "transactions",
        file.to_str().unwrap_or_default(),
        "--max-reject",
        "50%",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(s.count("select count(*) from transactions"), 1);
}

#[test]
fn a_bad_header_names_file_line_and_column() {
    let s = Scratch::new();
    let file = s.file("t.csv", "txn_id,when,amount\nT1,now,1\n");
    let out = s.run(&["ingest", "transactions", file.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t.csv: line 1: column 2 (\"when\")"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    let s = Scratch::new();
    assert_eq!(s.run(&["ingest", "wrong-kind", "x.csv"]).status.code(), Some(2));
    assert_eq!(
        s.run(&["ingest", "transactions", "x.csv", "--max-reject", "lots"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn sql_is_read_only() {
    let s = Scratch::new();
    s.load_reference();
    for q in [
        "create table x as select 1",
        "insert into customers select * from customers",
        "drop table customers",
        "set datafusion.execution.batch_size = 1",
    ] {
        let out = s.run(&["sql", q]);
        assert_eq!(out.status.code(), Some(1), "{q} was not refused");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("read-only")
                && String::from_utf8_lossy(&out.stderr).contains("refused"),
            "{q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let csv = s.ok(&[
        "sql",
        "select currency, count(*) as n from fx_rates group by currency order by currency",
        "--format",
        "csv",
    ]);
    assert!(csv.starts_with("currency,n\nEUR,3\n"), "{csv}");
}

#[test]
fn demo_runs_end_to_end_and_reconciles() {
    let s = Scratch::new();
    let out = s
        .custos()
        .current_dir(repo_root())
        .args(["demo", "--data", examples().to_str().unwrap_or_default()])
        .output()
        .expect("demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for table in [
        "fx_rates",
        "country_risk",
        "sanctions",
        "customers",
        "accounts",
        "merchants",
        "licences",
        "transactions",
    ] {
        assert!(stdout.contains(table), "{table} missing from the demo:\n{stdout}");
    }
    assert!(stdout.contains("Control totals"), "the explore queries ran:\n{stdout}");
    // Every file of the sample reconciles and the NDJSON batch shows the quarantine at work.
    assert_eq!(
        s.count("select count(*) from ingest_ledger where rows_read <> rows_stored + rows_quarantined"),
        0
    );
    let reasons: Vec<String> = s
        .sql("select distinct reason from quarantine order by reason")
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "duplicate_txn_id",
            "missing_fx_rate",
            "too_many_decimals",
            "unknown_account",
            "unknown_currency"
        ]
    );
    // The demo starts afresh each time.
    let again = s
        .custos()
        .current_dir(repo_root())
        .args(["demo", "--data", examples().to_str().unwrap_or_default()])
        .output()
        .expect("demo");
    assert!(again.status.success());
    assert_eq!(s.count("select count(*) from ingest_ledger"), 9);
}

#[test]
fn sanctions_load_from_the_original_headerless_ofac_file() {
    let s = Scratch::new();
    let file = crate::harness::shared().join("reference/sanctions/ofac-sdn-2024-05-03.csv");
    let r = s.ingest("sanctions", &[&file], &[]);
    assert_eq!(
        crate::harness::ledger(&r[0]),
        (14_965, 14_965, 0),
        "{:#?}",
        r[0]["samples"]
    );
    // `-0-` is empty, values are trimmed.
    assert_eq!(
        s.count("select count(*) from sanctions where remarks = '-0-' or sdn_type = '-0-'"),
        0
    );
    assert_eq!(
        s.count("select count(*) from sanctions where sdn_name = 'BANCO NACIONAL DE CUBA' and program = 'CUBA'"),
        1
    );
}

#[test]
fn warehouse_locations_may_be_file_urls_and_object_stores_are_refused_clearly() {
    let s = Scratch::new();
    s.load_reference();
    let url = format!("file://{}", s.warehouse().display());
    // Not `s.custos()`, which names the warehouse by its path already.
    let bare = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_custos"));
        c.env_remove("CUSTOS_WAREHOUSE")
            .env_remove("CUSTOS_CONFIG")
            .current_dir(s.dir.path());
        c
    };
    let query = ["sql", "select count(*) as n from accounts", "--format", "json"];
    let out = bare().arg("--warehouse").arg(&url).args(query).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"n\":"));
    let out = bare()
        .args(["--warehouse", "s3://bucket/wh", "status"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("file:// URLs"), "{err}");
}
