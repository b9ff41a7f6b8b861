//! Human-readable summaries on stdout.

use std::collections::BTreeMap;

use custos_ingest::{FileReport, FileStatus};

pub fn print_ingest_summary(reports: &[FileReport]) {
    println!(
        "{:<44} {:<13} {:>10} {:>10} {:>11}  status",
        "file", "table", "read", "stored", "quarantined"
    );
    for r in reports {
        let l = &r.ledger;
        let status = match &r.status {
            FileStatus::Committed { version } => format!("committed (commit {version})"),
            FileStatus::AlreadyIngested { ingest_id } => format!("already ingested as {ingest_id}: nothing to do"),
            FileStatus::Refused => "REFUSED: over --max-reject, nothing stored".to_string(),
        };
        println!(
            "{:<44} {:<13} {:>10} {:>10} {:>11}  {status}",
            shorten(&l.source_file, 44),
            l.table,
            l.rows_read,
            l.rows_stored,
            l.rows_quarantined
        );
        if r.replaced > 0 {
            println!(
                "{:<44} {} stored rows replaced earlier rows with the same key",
                "", r.replaced
            );
        }
    }
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut amounts: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for r in reports
        .iter()
        .filter(|r| !matches!(r.status, FileStatus::AlreadyIngested { .. }))
    {
        for (reason, n) in &r.ledger.quarantined_by_reason {
            *reasons.entry(reason).or_default() += n;
        }
        for (ccy, sum) in &r.ledger.amount_by_currency {
            amounts.insert((r.ledger.source_file.as_str(), ccy), sum);
        }
    }
    if !reasons.is_empty() {
        println!("\nquarantined by reason:");
        for (reason, n) in &reasons {
            println!("  {reason:<28} {n:>10}");
        }
    }
    for r in reports.iter().filter(|r| !r.samples.is_empty()) {
        println!("\nfirst rejects in {}:", r.ledger.source_file);
        for s in &r.samples {
            println!(
                "  {}:{}: {} [{}]: {}",
                r.ledger.source_file,
                s.line,
                s.field.as_deref().unwrap_or("-"),
                s.reason,
                s.detail
            );
        }
    }
    if !amounts.is_empty() {
        println!("\nstored amount per currency (control totals):");
        for ((file, ccy), sum) in &amounts {
            println!("  {:<44} {ccy} {sum:>22}", shorten(file, 44));
        }
    }
    let read: u64 = reports.iter().map(|r| r.ledger.rows_read).sum();
    let stored: u64 = reports.iter().map(|r| r.ledger.rows_stored).sum();
    let quarantined: u64 = reports.iter().map(|r| r.ledger.rows_quarantined).sum();
    println!("\nreconciled: {read} read = {stored} stored + {quarantined} quarantined");
}

fn shorten(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        s.to_string()
    } else {
        format!("...{}", s.chars().skip(n - width + 3).collect::<String>())
    }
}
