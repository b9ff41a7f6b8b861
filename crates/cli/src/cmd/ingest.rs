//! `custos ingest <kind> <files...>`: validate files and commit them to a warehouse table.
//!
//! Each file is one atomic commit of its stored rows, its quarantined rows and its control
//! totals. A file whose content was ingested before is skipped, said so. With `--max-reject`,
//! a file with more rejected rows than allowed is not ingested at all and the command exits 3.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use custos_ingest::{FileReport, FileStatus, Format, IngestOptions, Ingestor, Profile, RejectLimit};
use custos_model::Table;
use custos_warehouse::Warehouse;

use super::Context;
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// What the files hold.
    #[arg(value_parser = kind_parser())]
    pub kind: Table,
    /// Files to load, each committed on its own.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Mapping profile (TOML) for a foreign layout, e.g. data/profiles/paysim.toml.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Input format; by default from the file name (.ndjson/.jsonl = NDJSON, else CSV).
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Refuse a file with more rejected rows than N, or than P% of its rows.
    #[arg(long, value_name = "N|P%")]
    pub max_reject: Option<RejectLimit>,
    /// Print the per-file reports as JSON on stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Threads validating and writing a CSV transaction log (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Transactions sorted and written together (default 524288); fewer bound memory
    /// more tightly but write more, smaller files.
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_rows: Option<u32>,
}

/// Accepts the kind names of the ingestible tables and lists them in `--help`.
fn kind_parser() -> impl clap::builder::TypedValueParser<Value = Table> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Table::INGESTIBLE.iter().map(|t| t.kind_name())).map(|name| {
        Table::INGESTIBLE
            .iter()
            .copied()
            .find(|t| t.kind_name() == name)
            .unwrap_or(Table::Transactions)
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    Csv,
    Ndjson,
}

pub fn run(ctx: &Context, args: IngestArgs) -> anyhow::Result<Exit> {
    let table = args.kind;
    let mut options = IngestOptions::new(table);
    options.max_reject = args.max_reject;
    if let Some(n) = args.threads {
        options.threads = usize::from(n);
    }
    if let Some(n) = args.chunk_rows {
        options.chunk_rows = n as usize;
    }
    options.format = args.format.map(|f| match f {
        InputFormat::Csv => Format::Csv,
        InputFormat::Ndjson => Format::Ndjson,
    });
    if let Some(p) = &args.profile {
        let profile = Profile::load(p)?;
        anyhow::ensure!(
            profile.table == table,
            "{}: the profile loads {}, not {}",
            p.display(),
            profile.table,
            table
        );
        options.profile = Some(profile);
    }
    let reports = ingest_files(ctx, &options, &args.files)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        output::print_ingest_summary(&reports);
    }
    Ok(if reports.iter().any(|r| matches!(r.status, FileStatus::Refused)) {
        Exit::Rejected
    } else {
        Exit::Ok
    })
}

/// Ingests `files` in order under one writer lock. Shared with `custos demo`.
pub fn ingest_files(ctx: &Context, options: &IngestOptions, files: &[PathBuf]) -> anyhow::Result<Vec<FileReport>> {
    let mut wh = Warehouse::create_or_open(&ctx.warehouse, &ctx.settings())?;
    let settings = wh.settings().clone();
    let mut writer = wh.writer()?;
    for swept in writer.swept() {
        eprintln!("custos: removed {swept}, left by an interrupted commit");
    }
    let mut ingestor = Ingestor::new(&mut writer, &settings)?;
    let mut reports = Vec::with_capacity(files.len());
    for file in files {
        let size = std::fs::metadata(file)
            .with_context(|| format!("{}", file.display()))?
            .len();
        let bar = progress_bar(ctx, size, file);
        let report = ingestor.ingest(file, options, &mut |bytes| bar.set_position(bytes))?;
        bar.finish_and_clear();
        reports.push(report);
    }
    Ok(reports)
}

fn progress_bar(ctx: &Context, size: u64, file: &std::path::Path) -> indicatif::ProgressBar {
    if ctx.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(file.display().to_string());
    bar
}
