//! `custos demo`: the end-to-end run on the bundled data, for a first look.
//!
//! Loads every file of the data directory (by default the generated sample in `data/sample/`)
//! into a fresh warehouse, reference tables first (`<table>*.csv` or `.ndjson`, e.g.
//! `fx_rates.csv`, `transactions-2024-01.ndjson`), then runs the example analyst queries of
//! `queries/explore/` and prints where everything went, and what the sample's labels say is
//! hidden in it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Date32Type;
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
    /// Directory of rule packs (`<pack>/*.sql`), shared views (`views/`) and example
    /// queries (`explore/`).
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
    /// Templates and report SQL.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports: PathBuf,
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
    let rt = super::runtime()?;

    // Every rule pack over the whole period of the data.
    let period = rt.block_on(async {
        let session = wh.session(&SessionOptions::default()).await?;
        let batches = session
            .sql("select min(report_date) as first, max(report_date) as last from transactions")
            .await?
            .collect()
            .await?;
        let day = |b: &arrow::array::RecordBatch, i: usize| b.column(i).as_primitive::<Date32Type>().value_as_date(0);
        let period = batches
            .iter()
            .find(|b| b.num_rows() == 1 && b.column(0).is_valid(0))
            .and_then(|b| Some((day(b, 0)?, day(b, 1)?)));
        anyhow::Ok(period)
    })?;
    if let Some((from, to)) = period {
        println!("\nRunning every rule pack over {from} to {to}:\n");
        super::run::run(
            ctx,
            super::run::RunArgs {
                pack: Vec::new(),
                rule: Vec::new(),
                from,
                to,
                params: Vec::new(),
                profile: None,
                queries: args.queries.clone(),
                concurrency: 1,
                no_cache: false,
            },
        )?;
        if let Some(line) = ground_truth(ctx, &args.data, &args.queries, from, to)? {
            println!("\n{line}");
        }
    }
    let session = rt.block_on(async {
        let wh = Warehouse::open(&ctx.warehouse)?;
        let session = wh.session(&SessionOptions::default()).await?;
        custos_rules::prepare(&session, &args.queries).await?;
        anyhow::Ok(session)
    })?;
    let explore = args.queries.join("explore");
    let mut queries: Vec<PathBuf> = std::fs::read_dir(&explore)
        .with_context(|| format!("reading {}", explore.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    queries.sort();
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
    if let Some((from, to)) = period {
        draft_reports(ctx, &args, from, to)?;
    }
    println!(
        "\ndone in {:.1}s. Explore it with SQL (`custos` is `cargo run --` until you `cargo install --path crates/cli`):\n  \
         custos --warehouse {} sql \"select reason, count(*) from quarantine group by reason\"",
        started.elapsed().as_secs_f64(),
        ctx.warehouse.display()
    );
    Ok(Exit::Ok)
}

/// How many of the patterns `labels.ndjson` (written by `custos generate`) says were planted
/// the stored alerts of the rules that target them found.
fn ground_truth(
    ctx: &Context,
    data: &Path,
    queries: &Path,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<Option<String>> {
    let path = data.join("labels.ndjson");
    if !path.exists() {
        return Ok(None);
    }
    let labels = custos_rules::read_labels(&path)?;
    let rules = custos_rules::RuleSet::load(queries)?;
    let wh = Warehouse::open(&ctx.warehouse)?;
    let alerts = super::runtime()?.block_on(async {
        let session = wh.session(&SessionOptions::default()).await?;
        anyhow::Ok(custos_rules::read_alerts(&session).await?)
    })?;
    let mut found = 0;
    let mut missed = Vec::new();
    for l in &labels {
        let targeting: Vec<&str> = rules
            .rules
            .iter()
            .filter(|r| r.meta.typologies.contains(&l.typology))
            .map(|r| r.id())
            .collect();
        if alerts
            .iter()
            .any(|a| targeting.contains(&a.rule_id.as_str()) && l.matches(a))
        {
            found += 1;
        } else {
            missed.push(l.typology.clone());
        }
    }
    let mut line = format!(
        "Ground truth ({}): the rules found {found} of the {} patterns planted in {from} to {to}.",
        path.display(),
        labels.len()
    );
    if !missed.is_empty() {
        line.push_str(&format!(" Missed: {}.", missed.join(", ")));
    }
    Ok(Some(line))
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

/// Renders the officer summary of the whole period and the PBOC large-value report of its
/// first month next to the warehouse, validated, as drafts (nothing is filed).
fn draft_reports(ctx: &Context, args: &DemoArgs, from: chrono::NaiveDate, to: chrono::NaiveDate) -> anyhow::Result<()> {
    use custos_model::Period;
    use custos_report::Kind;
    let out = ctx.warehouse.with_file_name("demo-reports");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // The sample has no reporting entity of its own: a placeholder unless custos.toml names one.
    let mut config = ctx.config.clone();
    config.filing.entity.get_or_insert_with(|| custos_report::Entity {
        name: "Sample Pay Ltd (demo)".into(),
        code: "SAMPLEPAY".into(),
        ..Default::default()
    });
    let demo = Context {
        config,
        warehouse: ctx.warehouse.clone(),
        quiet: ctx.quiet,
    };
    let wh = Warehouse::open(&ctx.warehouse)?;
    let month = Period::month_of(from);
    let jobs = [
        (Kind::OfficerSummary, Period::range(from, to).unwrap_or(month)),
        (Kind::PbocHvtr, month),
    ];
    println!("\nDraft reports (validated, not filed) in {}:", out.display());
    for (kind, period) in jobs {
        let rendered = super::report::render(
            &demo,
            &wh,
            kind,
            period,
            super::report::RenderInput {
                reports: &args.reports,
                queries: &args.queries,
                as_of: to.succ_opt().unwrap_or(to),
                filing_id: format!("DRAFT-{}-{}", kind.id_prefix(), month),
                filed_cases: Vec::new(),
                correction: None,
            },
        )?;
        for (name, bytes) in &rendered.files {
            let path = out.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            println!("  {} ({kind} {period}: {})", path.display(), rendered.summary);
        }
    }
    Ok(())
}
