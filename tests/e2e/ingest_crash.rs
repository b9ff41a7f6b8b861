//! A crash in the middle of a commit leaves the previous state readable, and a rerun
//! completes the work.

use crate::harness::{Scratch, examples};

fn crash_at(s: &Scratch, point: &str, file: &std::path::Path) {
    let out = s
        .custos()
        .env("CUSTOS_FAILPOINT", point)
        .args(["ingest", "transactions", file.to_str().unwrap_or_default()])
        .output()
        .expect("run custos");
    assert!(!out.status.success(), "the failpoint {point} must stop the process");
    assert!(String::from_utf8_lossy(&out.stderr).contains(point));
}

fn parquet_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn crash_between_data_and_catalog_is_invisible_and_rerun_completes() {
    let s = Scratch::new();
    s.load_reference();
    let file = examples().join("transactions.csv");
    let ledger_before = s.count("select count(*) from ingest_ledger");
    crash_at(&s, "after-data-before-catalog", &file);

    // Data files were moved into place, but the catalog does not name them: nothing shows.
    assert!(
        parquet_files(&s.warehouse().join("transactions")) > 0,
        "the crash left data files behind"
    );
    assert_eq!(s.count("select count(*) from transactions"), 0);
    assert_eq!(s.count("select count(*) from ingest_ledger"), ledger_before);
    let status = s.ok(&["status"]);
    assert!(status.contains("transactions"), "{status}");

    // The rerun sweeps the leftovers and commits the file once.
    let out = s
        .custos()
        .args(["ingest", "transactions", file.to_str().unwrap_or_default(), "--json"])
        .output()
        .expect("rerun");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted commit"));
    let lines = std::fs::read_to_string(&file).expect("file").lines().count() as i64 - 1;
    assert_eq!(s.count("select count(*) from transactions"), lines);
    let catalogued = s.count("select count(*) from ingest_ledger") - ledger_before;
    assert_eq!(catalogued, 1);
    // Only catalogued files remain on disk.
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["status", "--json"])).expect("status json");
    let files = json["tables"]["transactions"]["files"].as_u64().unwrap_or(0) as usize;
    assert_eq!(parquet_files(&s.warehouse().join("transactions")), files);
}

#[test]
fn crash_after_catalog_is_committed_and_rerun_is_a_no_op() {
    let s = Scratch::new();
    s.load_reference();
    let file = examples().join("transactions.csv");
    crash_at(&s, "after-catalog", &file);
    let n = s.count("select count(*) from transactions");
    assert!(n > 0);
    let again = s.ingest("transactions", &[&file], &[]);
    assert_eq!(again[0]["status"], "already_ingested");
    assert_eq!(s.count("select count(*) from transactions"), n);
}

#[test]
fn a_corrupt_catalog_entry_is_an_error_naming_the_file() {
    let s = Scratch::new();
    s.load_reference();
    let blocker = s.warehouse().join("_catalog/0000000099.json");
    std::fs::write(&blocker, b"not json").expect("write");
    let out = s.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0000000099.json") && stderr.contains("corrupt"),
        "{stderr}"
    );
}
