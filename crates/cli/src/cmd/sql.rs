//! `custos sql "<query>"`: one read-only query over every warehouse table.
//!
//! DDL, DML and statements such as `SET` are refused before they run. Output is a table, or
//! CSV or JSON lines for other tools.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use custos_warehouse::{ReadOnly, Warehouse};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query.
    pub query: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Directory whose `views/*.sql` are registered as views (missing is fine).
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

pub fn run(ctx: &Context, args: SqlArgs) -> anyhow::Result<Exit> {
    let wh = Warehouse::open(&ctx.warehouse)?;
    let options = ctx.session_options()?;
    let batches = super::runtime()?.block_on(async {
        let session = wh.session(&options).await?;
        // The shared views (flows, cases, ...) and name-screening functions of the rules.
        custos_rules::prepare(&session, &args.queries).await?;
        let df = session.sql_with_options(&args.query, ReadOnly::sql_options()).await?;
        anyhow::Ok(df.collect().await?)
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => {
            use std::io::Write;
            writeln!(out, "{}", arrow::util::pretty::pretty_format_batches(&batches)?)?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(out);
            for b in &batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(Exit::Ok)
}
