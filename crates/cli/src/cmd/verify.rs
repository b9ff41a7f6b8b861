//! `custos verify`: recompute every hash of the filing ledger and of every filed file, and
//! name exactly what was altered or removed.

use clap::Args;
use custos_filing::Ledger;

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct VerifyArgs {}

pub fn run(ctx: &Context, _args: VerifyArgs) -> anyhow::Result<Exit> {
    let dir = ctx.warehouse.join("filings");
    if !dir.exists() {
        println!("no filings in {}", ctx.warehouse.display());
        return Ok(Exit::Ok);
    }
    let ledger = Ledger::open(&dir)?;
    let problems = ledger.verify()?;
    let entries = ledger.entries().map(|e| e.len()).unwrap_or(0);
    if problems.is_empty() {
        println!("filing ledger intact: {entries} filing(s), every hash and link recomputed and matching");
        return Ok(Exit::Ok);
    }
    println!("filing ledger NOT intact: {} problem(s)", problems.len());
    for p in &problems {
        println!("  {p}");
    }
    Ok(Exit::Tampered)
}
