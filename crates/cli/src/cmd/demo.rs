//! `custos demo`: the end-to-end run on the bundled data, for a first look.
//!
//! Loads every file of the data directory (by default the generated sample in `data/sample/`)
//! into a fresh warehouse, reference tables first (`<table>*.csv` or `.ndjson`, e.g.
//! `fx_rates.csv`, `transactions-2024-01.ndjson`), then runs the example analyst queries of
//! `queries/explore/` and prints where everything went, and what the sample's labels say is
//! hidden in it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use custos_ingest::IngestOptions;
use custos_model::Table;
use custos_warehouse::{ReadOnly, SessionOptions, Warehouse};

use super::Context;
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding the sample files.
    #[arg(long, default_value = "data/sample", value_name = "DIR")]
    pub data: PathBuf,
    /// Directory of example queries to run afterwards.
    #[arg(long, default_value = "queries/explore", value_name = "DIR")]
    pub queries: PathBuf,
}

pub fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    fresh_warehouse(&ctx.warehouse)?;
    println!(
        "custos demo: loading {} into a fresh warehouse at {}\n",
        args.data.display(),
        ctx.warehouse.display()
    );
    let mut reports = Vec::new();
    for table in Table::INGESTIBLE {
        let files = files_for(&args.data, *table)?;
        if files.is_empty() {
            continue;
        }
        reports.extend(super::ingest::ingest_files(ctx, &IngestOptions::new(*table), &files)?);
    }
    anyhow::ensure!(!reports.is_empty(), "no sample files found in {}", args.data.display());
    output::print_ingest_summary(&reports);

    let wh = Warehouse::open(&ctx.warehouse)?;
    let mut queries: Vec<PathBuf> = std::fs::read_dir(&args.queries)
        .with_context(|| format!("reading {}", args.queries.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    queries.sort();
    let rt = super::runtime()?;
    let session = rt.block_on(wh.session(&SessionOptions::default()))?;
    for q in &queries {
        let sql = std::fs::read_to_string(q).with_context(|| format!("reading {}", q.display()))?;
        let title = sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let batches = rt
            .block_on(async {
                session
                    .sql_with_options(&sql, ReadOnly::sql_options())
                    .await?
                    .collect()
                    .await
            })
            .with_context(|| format!("running {}", q.display()))?;
        println!(
            "\n{} ({})\n{}",
            title,
            q.display(),
            arrow::util::pretty::pretty_format_batches(&batches)?
        );
    }
    if let Some(line) = labels_summary(&args.data)? {
        println!("\n{line}");
    }
    println!(
        "\ndone in {:.1}s. Explore it with SQL (`custos` is `cargo run --` until you `cargo install --path crates/cli`):\n  \
         custos --warehouse {} sql \"select reason, count(*) from quarantine group by reason\"",
        started.elapsed().as_secs_f64(),
        ctx.warehouse.display()
    );
    Ok(Exit::Ok)
}

/// What `labels.ndjson` (written by `custos generate`) says was planted in the data.
fn labels_summary(dir: &Path) -> anyhow::Result<Option<String>> {
    let path = dir.join("labels.ndjson");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut packs: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
    let mut typologies = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let label: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        *packs
            .entry(label["pack"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        typologies.insert(label["typology"].as_str().unwrap_or("?").to_string());
    }
    let total: u32 = packs.values().sum();
    let by_pack: Vec<String> = packs.iter().map(|(p, n)| format!("{p} {n}")).collect();
    Ok(Some(format!(
        "Ground truth: {} lists {total} planted patterns of {} typologies ({}), each with its subject and transaction ids.",
        path.display(),
        typologies.len(),
        by_pack.join(", ")
    )))
}

/// Removes the demo warehouse of an earlier run, but never a directory that is not a custos
/// warehouse.
fn fresh_warehouse(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if Warehouse::open(dir).is_err() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} exists and is not a custos warehouse; choose another --warehouse",
            dir.display()
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing the earlier demo warehouse {}", dir.display()))
}

fn files_for(dir: &Path, table: Table) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let ext_ok = matches!(p.extension().and_then(|e| e.to_str()), Some("csv" | "ndjson" | "jsonl"));
            let stem = name.split('.').next().unwrap_or_default();
            ext_ok && (stem == table.name() || stem.starts_with(&format!("{}-", table.name())))
        })
        .collect();
    // `transactions.csv` before `transactions-late.ndjson`: the plain name is the base file.
    let base = format!("{}.", table.name());
    files.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        (!name.starts_with(&base), name)
    });
    Ok(files)
}
