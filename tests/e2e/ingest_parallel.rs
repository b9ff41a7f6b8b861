//! A CSV log read by several threads in small blocks ends up exactly as read by one thread:
//! the same rows stored, the same rows quarantined with the same reasons, lines and raw text,
//! the same control totals. Duplicate ids are the hard part: the first valid occurrence in
//! the file must win whichever thread reads it. Threads look ids and accounts up a block at
//! a time, so unknown accounts and ids stored before are in the log too. One thread checks
//! every row on the row path; several threads check them on the typed fast path and leave
//! the rest to the row path, so this also shows that the two paths store the same values and
//! that rows of both claim their ids in file order.

use serde_json::json;

use crate::harness::{Scratch, examples};

/// The example log, repeated with its ids renamed, plus duplicates that cross block
/// boundaries, a duplicate whose first occurrence is invalid, rows naming unknown accounts,
/// rows no thread can parse, and CSV's corners: a byte-order mark, a quoted field holding a
/// comma, a quote and a line break, a blank line, a CRLF line end and an MS-DOS end mark.
fn awkward_log() -> Vec<u8> {
    let source = std::fs::read_to_string(examples().join("transactions.csv")).expect("example log");
    let mut lines = source.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let mut out = vec![format!("\u{feff}{header}")];
    for copy in 0..4 {
        for row in &rows {
            out.push(row.replacen('T', &format!("C{copy}T"), 1));
        }
        // A later copy of a row of the first copy (another block at every block size here).
        out.push(rows[copy * 3].replacen('T', "C0T", 1));
    }
    // First occurrence invalid (zero amount), second valid: the second is stored.
    let late = rows[5].replacen('T', "LATE", 1);
    let fields: Vec<&str> = late.split(',').collect();
    let mut zero = fields.clone();
    zero[6] = "0";
    out.insert(3, zero.join(","));
    out.push(late.clone());
    out.push("X1,2025-03-01T10:00:00+08:00,PAYMENT".to_string());
    // Unknown payer, unknown payee; the second also repeats an id stored before (see
    // `EARLIER`): the account is checked first.
    out.push(rows[10].replacen('T', "NOPAYER", 1).replacen(",A0", ",Z0", 1));
    let mut no_payee = rows[11].replacen('T', "EARLIER", 1);
    let payee_at = no_payee.match_indices(",A0").nth(1).map_or(0, |(at, _)| at);
    no_payee.replace_range(payee_at..payee_at + 3, ",Z0");
    out.push(no_payee);
    out.push(rows[11].replacen('T', "EARLIER", 1));
    out.push(
        rows[13]
            .replacen('T', "QUOTED", 1)
            .replacen(",dev-", ",\"dev,\"\"\n", 1)
            .replacen(",10.", "\",10.", 1),
    );
    out.push(String::new());
    out.push(format!("{}\r", rows[14].replacen('T', "CRLF", 1)));
    // The same id twice in a row: always within one block.
    out.push(rows[7].replacen('T', "TWIN", 1));
    out.push(rows[7].replacen('T', "TWIN", 1));
    // Valid rows the fast checks leave to the row path (a signed amount, more decimals than
    // the amount scale that are all zero), as first and as second occurrence of an id.
    out.push(rows[8].replacen('T', "SLOWA", 1).replacen(",520.00,", ",+520.00,", 1));
    out.push(rows[8].replacen('T', "SLOWA", 1).replacen(",520.00,", ",521.00,", 1));
    out.push(rows[8].replacen('T', "SLOWB", 1));
    out.push(
        rows[8]
            .replacen('T', "SLOWB", 1)
            .replacen(",520.00,", ",520.000000,", 1),
    );
    out.push(rows[18].replacen('T', "SLOWC", 1).replacen(",520.00,", ",7.00000,", 1));
    let mut bytes = out.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n");
    let bad = rows[2].replacen('T', "UTF", 1).replacen("dev-", "dev-\u{1}", 1);
    let mut bad = bad.into_bytes();
    if let Some(at) = bad.iter().position(|b| *b == 1) {
        bad[at] = 0xfe;
    }
    bytes.extend_from_slice(&bad);
    bytes.extend_from_slice(b"\n");
    // Each of two fields holds half of one character: the record's bytes are valid UTF-8
    // together, the fields are not.
    let split = rows[15]
        .replacen('T', "SPLIT", 1)
        .replacen(",dev-2,", ",dev-2\u{1},\u{2}", 1);
    let mut split = split.into_bytes();
    for b in split.iter_mut() {
        *b = match *b {
            1 => 0xc3,
            2 => 0xa9,
            other => other,
        };
    }
    bytes.extend_from_slice(&split);
    bytes.extend_from_slice(b"\n\x1a");
    bytes
}

/// Stored before the log is ingested.
fn earlier_log() -> Vec<u8> {
    let source = std::fs::read_to_string(examples().join("transactions.csv")).expect("example log");
    let mut lines = source.lines();
    let header = lines.next().expect("header");
    let row = lines.nth(11).expect("a twelfth row");
    format!("{header}\n{}\n", row.replacen('T', "EARLIER", 1)).into_bytes()
}

type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// Every transaction file under `dir` holds one UTC day, its rows in (payer, instant) order,
/// however small the blocks it was written from. Returns the rows seen.
fn files_in_order(dir: &std::path::Path) -> usize {
    use custos_warehouse::datafusion::arrow::array::AsArray;
    use custos_warehouse::datafusion::arrow::datatypes::{Date32Type, TimestampMicrosecondType};
    use custos_warehouse::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut rows = 0;
    for day in std::fs::read_dir(dir).expect("transactions dir").flatten() {
        for file in std::fs::read_dir(day.path()).expect("day dir").flatten() {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file.path()).expect("file"))
                .expect("parquet")
                .build()
                .expect("reader");
            let mut keys = Vec::new();
            for batch in reader.map(|b| b.expect("batch")) {
                let col = |name: &str| batch.column(batch.schema().index_of(name).expect(name)).clone();
                let (payers, instants, dates) = (col("payer_account"), col("ts"), col("txn_date"));
                let (payers, instants) = (
                    payers.as_string::<i32>(),
                    instants.as_primitive::<TimestampMicrosecondType>(),
                );
                let dates = dates.as_primitive::<Date32Type>();
                for i in 0..batch.num_rows() {
                    keys.push((dates.value(i), payers.value(i).to_string(), instants.value(i)));
                }
            }
            assert!(
                keys.windows(2).all(|w| w[0] <= w[1]),
                "{}: {keys:?}",
                file.path().display()
            );
            assert!(keys.iter().all(|k| k.0 == keys[0].0), "{}", file.path().display());
            rows += keys.len();
        }
    }
    rows
}

/// What a warehouse holds after ingesting the log with `extra` options: the report, the
/// quarantine and the stored transactions.
fn ingest_with(extra: &[&str]) -> (serde_json::Value, Rows, Rows) {
    let s = Scratch::new();
    s.load_reference();
    s.ingest("transactions", &[&s.file("earlier.csv", earlier_log())], &[]);
    let file = s.file("log.csv", awkward_log());
    let mut report = s.ingest("transactions", &[&file], extra).remove(0);
    // Everything but when it ran and where the file was.
    let ledger = report["ledger"].as_object_mut().expect("ledger");
    ledger.remove("started_at");
    ledger.remove("source_file");
    let quarantine = s.sql("select line, field, reason, detail, raw_text from quarantine order by line");
    let stored = s.sql(&format!(
        "select * from transactions where ingest_id = '{}' order by txn_id",
        report["ledger"]["ingest_id"].as_str().unwrap_or_default()
    ));
    // Hashed as it is read on several threads, before it on one: either way the ledger
    // holds the file's hash, and every row names the ledger entry, after the commit.
    let sha = <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&file).expect("log"));
    assert_eq!(report["ledger"]["file_sha256"], custos_warehouse::hex(&sha).as_str());
    let id = report["ledger"]["ingest_id"].as_str().expect("ingest id").to_string();
    // Named after the commit that made the rows visible, the last one.
    let last = custos_warehouse::Warehouse::open(&s.warehouse())
        .expect("warehouse")
        .catalog()
        .version();
    assert_eq!(id, format!("ing-{last:06}"));
    assert!(stored.iter().all(|r| r["ingest_id"] == id.as_str()), "{id}");
    let named = s.count(&format!("select count(*) from quarantine where ingest_id = '{id}'"));
    assert_eq!(named as usize, quarantine.len());
    assert_eq!(files_in_order(&s.warehouse().join("transactions")), stored.len() + 1);
    (report, quarantine, stored)
}

#[test]
fn threads_and_blocks_do_not_change_what_is_stored_or_quarantined() {
    let (one, one_q, one_rows) = ingest_with(&["--threads", "1"]);
    assert_eq!(one["ledger"]["rows_read"], 4 * 38 + 5 + 3 + 2 + 2 + 5);
    let reasons = &one["ledger"]["quarantined_by_reason"];
    assert_eq!(reasons["duplicate_txn_id"], 4 + 1 + 1 + 2, "{reasons}");
    assert_eq!(reasons["unknown_account"], 2, "{reasons}");
    let fields: Vec<_> = one_q
        .iter()
        .filter(|q| q["reason"] == "unknown_account" || q["detail"].as_str().is_some_and(|d| d.contains("EARLIER")))
        .map(|q| (q["reason"].clone(), q["field"].clone()))
        .collect();
    assert_eq!(
        fields,
        [
            (json!("unknown_account"), json!("payer_account")),
            (json!("unknown_account"), json!("payee_account")),
            (json!("duplicate_txn_id"), json!("txn_id")),
        ]
    );
    assert_eq!(reasons["non_positive_amount"], 1, "{reasons}");
    assert_eq!(reasons["wrong_field_count"], 1, "{reasons}");
    assert_eq!(reasons["bad_utf8"], 2, "{reasons}");
    let late: Vec<_> = one_rows
        .iter()
        .filter(|r| r["txn_id"].as_str().is_some_and(|id| id.starts_with("LATE")))
        .collect();
    assert_eq!(late.len(), 1, "the valid second occurrence is stored");
    let amount = |id: &str| {
        let rows: Vec<_> = one_rows
            .iter()
            .filter(|r| r["txn_id"].as_str().is_some_and(|t| t.starts_with(id)))
            .map(|r| r["amount"].to_string())
            .collect();
        rows
    };
    assert!(
        matches!(&amount("SLOWA")[..], [a] if a.contains("520")),
        "{:?}",
        amount("SLOWA")
    );
    assert_eq!(amount("SLOWB").len(), 1);
    assert!(
        matches!(&amount("SLOWC")[..], [a] if a.contains('7')),
        "{:?}",
        amount("SLOWC")
    );
    let device = |id: &str| {
        let row = one_rows
            .iter()
            .find(|r| r["txn_id"].as_str().is_some_and(|t| t.starts_with(id)));
        row.map(|r| r["device_id"].clone())
    };
    assert_eq!(device("QUOTED"), Some(json!("dev,\"\n0")));
    assert_eq!(device("CRLF"), Some(json!("dev-1")));
    let split: Vec<_> = one_q
        .iter()
        .filter(|q| q["reason"] == "bad_utf8")
        .map(|q| q["field"].clone())
        .collect();
    assert_eq!(split, [json!("device_id"), json!("device_id")]);

    for extra in [
        ["--threads", "2", "--chunk-rows", "7"],
        ["--threads", "3", "--chunk-rows", "1"],
        // One block: the fast and the row path's rows of a block claim ids together.
        ["--threads", "2", "--chunk-rows", "1000"],
    ] {
        let (many, many_q, many_rows) = ingest_with(&extra);
        assert_eq!(many["ledger"], one["ledger"], "{extra:?}");
        assert_eq!(many["samples"], one["samples"], "{extra:?}");
        assert_eq!(many_q, one_q, "{extra:?}");
        assert_eq!(many_rows, one_rows, "{extra:?}");
    }
}

#[test]
fn a_failing_block_fails_the_file_and_commits_nothing() {
    let s = Scratch::new();
    s.load_reference();
    let file = s.file("log.csv", awkward_log());
    let path = file.to_str().unwrap_or_default();
    let args = ["ingest", "transactions", path, "--threads", "2", "--chunk-rows", "5"];
    // Block 3 fails after blocks before it have claimed ids and while others wait for
    // their turn: every thread must stop, and the error must reach the user.
    let out = s
        .custos()
        .env("CUSTOS_FAILPOINT", "ingest-block-3")
        .args(args)
        .output()
        .expect("run custos");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failpoint ingest-block-3"));
    assert_eq!(s.count("select count(*) from transactions"), 0);
    assert_eq!(
        s.count("select count(*) from ingest_ledger where table_name = 'transactions'"),
        0
    );
    // Nothing of the failed attempt is in the way of a rerun.
    let reports = s.ingest("transactions", &[&file], &["--threads", "2", "--chunk-rows", "5"]);
    assert_eq!(reports[0]["status"], "committed");
    assert_eq!(
        s.count("select count(*) from transactions") as u64,
        reports[0]["ledger"]["rows_stored"].as_u64().unwrap_or(0)
    );
}
