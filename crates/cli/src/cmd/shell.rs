//! The interactive SQL shell: `custos sql` without a query.
//!
//! Statements end with `;` and may span lines. Backslash commands: `\dt` lists tables,
//! `\d NAME` describes one, `\format table|csv|json`, `\timing on|off`, `\q` quits. History
//! is kept in `~/.custos_history`. Ctrl-C cancels a running query and returns to the prompt;
//! a query that panics inside the engine is reported and the shell goes on.

use std::time::{Duration, Instant};

use custos_analyst::Role;
use custos_warehouse::datafusion::prelude::SessionContext;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::Context;
use super::sql::{OutputFormat, query_batches, write_result};
use crate::exit::Exit;

pub fn run(
    ctx: &Context,
    rt: &tokio::runtime::Runtime,
    session: &SessionContext,
    mut format: OutputFormat,
    role: Role,
) -> anyhow::Result<Exit> {
    if format == OutputFormat::Parquet {
        format = OutputFormat::Table;
    }
    let timeout = ctx.statement_timeout()?;
    let mut editor = DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".custos_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "custos {} SQL shell on {} (role {role}, read-only). End statements with ';'. \\dt tables, \\d NAME columns, \\format, \\timing, \\q quit.",
        env!("CARGO_PKG_VERSION"),
        ctx.warehouse.display()
    );
    let mut timing = true;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "custos> " } else { "   ...> " };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            let mut words = trimmed.split_whitespace();
            match (words.next().unwrap_or(""), words.next()) {
                ("\\q", _) => break,
                ("\\dt", _) => {
                    buffer = "select table_name, table_type from information_schema.tables where table_schema = 'warehouse' order by table_name;".into();
                }
                ("\\d", Some(name)) => {
                    let name = name.replace('\'', "''");
                    buffer = format!(
                        "select column_name, data_type, is_nullable from information_schema.columns where table_name = '{name}' order by ordinal_position;"
                    );
                }
                ("\\format", Some(f)) => {
                    format = match f {
                        "csv" => OutputFormat::Csv,
                        "json" => OutputFormat::Json,
                        "table" => OutputFormat::Table,
                        other => {
                            println!("unknown format {other:?}: table, csv or json");
                            format
                        }
                    };
                    continue;
                }
                ("\\timing", Some(v)) => {
                    timing = v == "on";
                    continue;
                }
                (other, _) => {
                    println!("unknown command {other}; \\dt, \\d NAME, \\format, \\timing, \\q");
                    continue;
                }
            }
        } else {
            if trimmed.is_empty() {
                continue;
            }
            if matches!(trimmed.to_ascii_lowercase().as_str(), "quit" | "exit") && buffer.is_empty() {
                break;
            }
            buffer.push_str(&line);
            buffer.push('\n');
            if !trimmed.ends_with(';') {
                continue;
            }
            let _ = editor.add_history_entry(buffer.trim());
        }
        let statement = std::mem::take(&mut buffer);
        let sql = rewrite_describe(statement.trim().trim_end_matches(';'));
        let started = Instant::now();
        let outcome = rt.block_on(run_cancellable(session, sql, timeout));
        match outcome {
            Ok((schema, batches)) => {
                if let Err(e) = write_result(&schema, &batches, format, None) {
                    println!("error: {e:#}");
                }
                if timing {
                    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                    eprintln!("{rows} row(s) in {:.3}s", started.elapsed().as_secs_f64());
                }
            }
            Err(e) => println!("error: {e:#}"),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(Exit::Ok)
}

/// `DESCRIBE t` as a query over information_schema, which the read-only guard allows.
fn rewrite_describe(sql: &str) -> String {
    let mut words = sql.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(d), Some(name), None) if d.eq_ignore_ascii_case("describe") || d.eq_ignore_ascii_case("desc") => {
            let name = name.replace('\'', "''");
            format!(
                "select column_name, data_type, is_nullable from information_schema.columns where table_name = '{name}' order by ordinal_position"
            )
        }
        _ => sql.to_string(),
    }
}

/// Runs a query on its own task: Ctrl-C or the statement timeout cancel it, and a panic in
/// the engine becomes an error instead of ending the shell.
async fn run_cancellable(
    session: &SessionContext,
    sql: String,
    timeout: Option<Duration>,
) -> anyhow::Result<(
    custos_warehouse::datafusion::arrow::datatypes::SchemaRef,
    Vec<custos_warehouse::datafusion::arrow::array::RecordBatch>,
)> {
    let session = session.clone();
    let task = tokio::spawn(async move { query_batches(&session, &sql).await });
    let abort = task.abort_handle();
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        joined = task => match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => anyhow::bail!("the query engine failed on this query (internal panic); the shell goes on"),
            Err(e) => anyhow::bail!("query task failed: {e}"),
        },
        _ = tokio::signal::ctrl_c() => {
            abort.abort();
            anyhow::bail!("cancelled")
        }
        _ = limit => {
            abort.abort();
            anyhow::bail!("cancelled: over the statement timeout of {:?} (statement_timeout in custos.toml)", timeout.unwrap_or_default())
        }
    }
}
