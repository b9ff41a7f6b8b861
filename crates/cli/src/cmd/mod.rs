//! Command-line interface: global options and the dispatch to one module per subcommand.

mod backtest;
mod case;
mod demo;
mod file;
mod generate;
mod ingest;
mod report;
mod rules;
mod run;
mod serve;
mod shell;
mod snooze;
mod sql;
mod status;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use custos_warehouse::WarehouseSettings;

use crate::config::Config;
use crate::exit::{Exit, HELP};

/// custos: a compliance and analytics warehouse for payment transactions.
///
/// Ingest transaction logs and reference data into a Parquet warehouse (every rejected row
/// kept with its reason), and query it with SQL.
#[derive(Debug, Parser)]
#[command(name = "custos", version, after_help = HELP)]
pub struct Args {
    /// Warehouse directory.
    #[arg(long, global = true, env = "CUSTOS_WAREHOUSE", value_name = "DIR")]
    pub warehouse: Option<PathBuf>,
    /// Configuration file (default: ./custos.toml when present).
    #[arg(long, global = true, env = "CUSTOS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate files and load them into a warehouse table.
    Ingest(ingest::IngestArgs),
    /// Serve the warehouse read-only over the Postgres wire protocol (psql, DBeaver, ...).
    Serve(serve::ServeArgs),
    /// Run a read-only SQL query over the warehouse, or open a SQL shell.
    Sql(sql::SqlArgs),
    /// Show what the warehouse holds: tables, rows, files, and the ingest ledger.
    Status(status::StatusArgs),
    /// List, show and check the detection rules under queries/.
    Rules(rules::RulesArgs),
    /// Run rule packs over a period and commit their alerts with a run manifest.
    Run(run::RunArgs),
    /// Evaluate a rule at other parameter settings without writing alerts.
    Backtest(backtest::BacktestArgs),
    /// Hold back a rule's alerts for a subject, with a reason, until a day.
    Snooze(snooze::SnoozeArgs),
    /// Record an officer's decision on a case (escalate, close), or list cases.
    Case(case::CaseArgs),
    /// Render a filing or report for a period, validated, without filing it.
    Report(report::ReportArgs),
    /// List filings due, or file a period: render, validate, package, and append to the ledger.
    File(file::FileArgs),
    /// Recompute every hash of the filing ledger and the filed files; name what was altered.
    Verify(verify::VerifyArgs),
    /// Write a synthetic transaction log and reference data with labelled typologies.
    Generate(generate::GenerateArgs),
    /// Load the bundled sample (data/sample) into a fresh warehouse (./demo-warehouse unless
    /// --warehouse is given) and show what it holds.
    Demo(demo::DemoArgs),
}

/// What every command needs: the resolved configuration.
pub struct Context {
    pub config: Config,
    pub warehouse: PathBuf,
    pub quiet: bool,
}

impl Context {
    pub fn settings(&self) -> WarehouseSettings {
        let d = WarehouseSettings::default();
        WarehouseSettings {
            reporting_currency: self.config.reporting_currency.clone().unwrap_or(d.reporting_currency),
            reporting_timezone: self.config.reporting_timezone.clone().unwrap_or(d.reporting_timezone),
        }
    }

    /// Session options from the configuration: memory limit and DataFusion settings.
    pub fn session_options(&self) -> anyhow::Result<custos_warehouse::SessionOptions> {
        Ok(custos_warehouse::SessionOptions {
            memory_limit: self.memory_limit()?,
            target_partitions: None,
            settings: self
                .config
                .datafusion
                .iter()
                .map(|(k, v)| (k.clone(), crate::config::param_text(v)))
                .collect(),
        })
    }

    /// The statement timeout of analyst queries (shell and server), if configured.
    pub fn statement_timeout(&self) -> anyhow::Result<Option<std::time::Duration>> {
        self.config
            .statement_timeout
            .as_deref()
            .map(crate::config::parse_duration)
            .transpose()
    }

    /// Session options for analyst queries: as [`Context::session_options`], but never
    /// without a memory limit. Unconfigured, operators may hold half of this machine's memory
    /// before they spill or fail with a clear error, so one query cannot exhaust it.
    pub fn analyst_session_options(&self) -> anyhow::Result<custos_warehouse::SessionOptions> {
        let mut options = self.session_options()?;
        if options.memory_limit.is_none() {
            options.memory_limit = Some(half_of_memory());
        }
        Ok(options)
    }

    pub fn memory_limit(&self) -> anyhow::Result<Option<usize>> {
        self.config
            .memory_limit
            .as_deref()
            .map(crate::config::parse_size)
            .transpose()
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let config = Config::load(args.config.as_deref())?;
    let warehouse = match (&args.command, args.warehouse) {
        (_, Some(explicit)) => local_path(explicit)?,
        // The demo wipes its warehouse first: never default it to the real one.
        (Command::Demo(_), None) => PathBuf::from("demo-warehouse"),
        (_, None) => local_path(config.warehouse.clone().unwrap_or_else(|| PathBuf::from("warehouse")))?,
    };
    let ctx = Context {
        config,
        warehouse,
        quiet: args.quiet,
    };
    match args.command {
        Command::Ingest(a) => ingest::run(&ctx, a),
        Command::Sql(a) => sql::run(&ctx, a),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Generate(a) => generate::run(&ctx, a),
        Command::Rules(a) => rules::run(&ctx, a),
        Command::Run(a) => run::run(&ctx, a),
        Command::Backtest(a) => backtest::run(&ctx, a),
        Command::Snooze(a) => snooze::run(&ctx, a),
        Command::Case(a) => case::run(&ctx, a),
        Command::Report(a) => report::run(&ctx, a),
        Command::File(a) => file::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
    }
}

/// The directory of a warehouse location: a path, or a `file://` URL. Object-store URLs
/// (`s3://`, `gs://`) are refused with a clear message until the warehouse supports them.
fn local_path(location: PathBuf) -> anyhow::Result<PathBuf> {
    let Some(text) = location.to_str() else {
        return Ok(location);
    };
    if let Some(path) = text.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    if let Some((scheme, _)) = text.split_once("://") {
        anyhow::bail!(
            "warehouse location {text}: only local directories and file:// URLs are supported, not {scheme}://"
        );
    }
    Ok(location)
}

/// A tokio runtime for DataFusion work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Half of the machine's memory (from /proc/meminfo), or 2 GiB where that cannot be read.
pub(crate) fn half_of_memory() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(2 << 30, |kb| kb * 1024 / 2)
}
