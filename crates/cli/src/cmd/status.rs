//! `custos status`: rows and files per table, and the ingest ledger's control totals.

use clap::Args;
use custos_model::Table;
use custos_warehouse::Warehouse;

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<Exit> {
    let wh = Warehouse::open(&ctx.warehouse)?;
    let catalog = wh.catalog();
    if args.json {
        let tables: serde_json::Map<String, serde_json::Value> = Table::ALL
            .iter()
            .map(|t| {
                let files = catalog.files(*t);
                (
                    t.name().to_string(),
                    serde_json::json!({ "rows": catalog.rows(*t), "files": files.len(),
                        "bytes": files.iter().map(|f| f.bytes).sum::<u64>() }),
                )
            })
            .collect();
        let json = serde_json::json!({
            "warehouse": wh.root().display().to_string(),
            "version": catalog.version(),
            "settings": wh.settings(),
            "tables": tables,
            "ledger": catalog.ledger(),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(Exit::Ok);
    }
    println!(
        "warehouse {} at commit {} (reporting {} / {})",
        wh.root().display(),
        catalog.version(),
        wh.settings().reporting_currency,
        wh.settings().reporting_timezone
    );
    println!("{:<16} {:>12} {:>7} {:>12}", "table", "rows", "files", "bytes");
    for t in Table::ALL {
        let files = catalog.files(*t);
        println!(
            "{:<16} {:>12} {:>7} {:>12}",
            t.name(),
            catalog.rows(*t),
            files.len(),
            files.iter().map(|f| f.bytes).sum::<u64>()
        );
    }
    let read: u64 = catalog.ledger().iter().map(|e| e.rows_read).sum();
    let stored: u64 = catalog.ledger().iter().map(|e| e.rows_stored).sum();
    let quarantined: u64 = catalog.ledger().iter().map(|e| e.rows_quarantined).sum();
    println!(
        "\n{} files ingested: {read} rows read = {stored} stored + {quarantined} quarantined{}",
        catalog.ledger().len(),
        if read == stored + quarantined {
            ""
        } else {
            "  (DOES NOT RECONCILE)"
        }
    );
    Ok(Exit::Ok)
}
