//! `custos sql ["<query>"]`: read-only SQL over every warehouse table, as a one-shot query or
//! an interactive shell.
//!
//! DDL, DML, COPY and statements such as `SET` are refused before they run. Output is a
//! table, or CSV, JSON lines or Parquet for other tools.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use custos_analyst::{Role, ViewDirs};
use custos_warehouse::datafusion::arrow::array::RecordBatch;
use custos_warehouse::datafusion::arrow::datatypes::SchemaRef;
use custos_warehouse::datafusion::prelude::SessionContext;
use custos_warehouse::{ReadOnly, Warehouse};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query; without one, an interactive shell opens.
    pub query: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Write the result to this file instead of standard output (required for parquet).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// See the warehouse as this role: analyst masks personal data.
    #[arg(long, default_value = "officer")]
    pub role: Role,
    /// Directory whose `views/*.sql` are registered as views (missing is fine).
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
    /// Directory whose `sql/views/*.sql` are registered as views (missing is fine).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

pub fn run(ctx: &Context, args: SqlArgs) -> anyhow::Result<Exit> {
    let wh = Warehouse::open(&ctx.warehouse)?;
    let options = ctx.analyst_session_options()?;
    let rt = super::runtime()?;
    let views = ViewDirs {
        queries: Some(args.queries.clone()),
        reports: Some(args.reports.clone()),
    };
    let session = rt.block_on(custos_analyst::session(&wh, &options, args.role, &views))?;
    let Some(query) = &args.query else {
        let exit = super::shell::run(ctx, &rt, &session, args.format, args.role);
        // A cancelled query whose operator never yields may still hold a worker thread:
        // leave without waiting for it.
        rt.shutdown_background();
        return exit;
    };
    let (schema, batches) = rt.block_on(query_batches(&session, query))?;
    write_result(&schema, &batches, args.format, args.output.as_deref())?;
    Ok(Exit::Ok)
}

/// Runs one read-only query to completion.
pub async fn query_batches(session: &SessionContext, query: &str) -> anyhow::Result<(SchemaRef, Vec<RecordBatch>)> {
    // A clear refusal before planning; the read-only SQL options below check the plan too.
    custos_analyst::check_read_only(query)?;
    let df = session.sql_with_options(query, ReadOnly::sql_options()).await?;
    let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok((schema, batches))
}

/// Writes a result in a format, to a file or standard output.
pub fn write_result(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let mut sink: Box<dyn Write + Send> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None if format == OutputFormat::Parquet => {
            anyhow::bail!("--format parquet writes a file: give --output FILE")
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    match format {
        OutputFormat::Table => {
            writeln!(sink, "{}", arrow::util::pretty::pretty_format_batches(batches)?)?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut sink);
            if batches.is_empty() {
                // A header even when nothing matched, so a reader knows the columns.
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut sink);
            for b in batches {
                w.write(&decimals_as_text(b)?)?;
            }
            w.finish()?;
        }
        OutputFormat::Parquet => {
            use custos_warehouse::datafusion::parquet::arrow::ArrowWriter;
            let mut w = ArrowWriter::try_new(&mut sink, schema.clone(), None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
    }
    sink.flush()?;
    Ok(())
}

/// Decimals as exact text for JSON: a JSON number would reach most readers as a float and
/// lose the scale (`512.0200` would become `512.02`), and money is never a float.
fn decimals_as_text(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Decimal128(..)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if matches!(f.data_type(), DataType::Decimal128(..)) {
            fields.push(Field::new(f.name(), DataType::Utf8, f.is_nullable()));
            columns.push(arrow::compute::cast(c, &DataType::Utf8)?);
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    Ok(RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)?)
}
