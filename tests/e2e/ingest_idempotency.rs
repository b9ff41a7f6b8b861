//! The same file twice is a no-op; an overlapping file stores only new ids.

use crate::harness::{Scratch, examples, ledger};

#[test]
fn same_file_twice_is_a_no_op_said_so() {
    let s = Scratch::new();
    s.load_reference();
    let file = examples().join("transactions.csv");
    let first = s.ingest("transactions", &[&file], &[]);
    assert_eq!(first[0]["status"], "committed");
    let version = s.count("select max(catalog_version) from ingest_ledger");
    let again = s.ingest("transactions", &[&file], &[]);
    assert_eq!(again[0]["status"], "already_ingested");
    assert_eq!(again[0]["ingest_id"], first[0]["ledger"]["ingest_id"]);
    assert_eq!(
        s.count("select max(catalog_version) from ingest_ledger"),
        version,
        "nothing committed"
    );
    assert_eq!(s.count("select count(*) from transactions") as u64, ledger(&first[0]).1);
    let text = s.ok(&["ingest", "transactions", file.to_str().unwrap_or_default()]);
    assert!(text.contains("already ingested"), "{text}");
}

#[test]
fn an_overlapping_file_stores_only_new_ids() {
    let s = Scratch::new();
    s.load_reference();
    let source = std::fs::read_to_string(examples().join("transactions.csv")).expect("example");
    let lines: Vec<&str> = source.lines().collect();
    let header = lines[0];
    let (a, b) = (&lines[1..20], &lines[10..]);
    let fa = s.file("a.csv", format!("{header}\n{}\n", a.join("\n")));
    let fb = s.file("b.csv", format!("{header}\n{}\n", b.join("\n")));
    s.ingest("transactions", &[&fa], &[]);
    let r = s.ingest("transactions", &[&fb], &[]);
    let overlap = 10u64; // lines 10..20
    assert_eq!(ledger(&r[0]), (b.len() as u64, b.len() as u64 - overlap, overlap));
    assert_eq!(s.count("select count(*) from transactions") as usize, lines.len() - 1);
    assert_eq!(
        s.count("select count(distinct txn_id) from transactions") as usize,
        lines.len() - 1
    );
    assert_eq!(
        s.count("select count(*) from quarantine where reason = 'duplicate_txn_id'"),
        overlap as i64
    );
}
