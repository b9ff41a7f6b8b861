//! Query results as rows of display strings: the only form figures reach a template in.
//!
//! Decimals keep every digit they were stored with (Arrow's exact decimal text, never a
//! float), timestamps are shown in the reporting time zone, and a missing value is `None`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::TimeZone;
use chrono_tz::Tz;
use custos_warehouse::ReadOnly;
use custos_warehouse::datafusion::arrow::array::{Array, AsArray, RecordBatch};
use custos_warehouse::datafusion::arrow::compute::cast;
use custos_warehouse::datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use custos_warehouse::datafusion::prelude::SessionContext;

use crate::{Error, Result};

/// One result row: column name to display text.
pub type Row = BTreeMap<String, Option<String>>;

/// Runs a report query file read-only, with `$from` and `$to` bound to the period's days
/// (as `DATE` literals) and `$keys` to a list of quoted ids.
pub async fn query_file(ctx: &SessionContext, path: &Path, binds: &[(&str, String)], tz: Tz) -> Result<Vec<Row>> {
    let df = plan_file(ctx, path, binds).await?;
    let batches = df.collect().await.map_err(|e| Error::Query {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut rows = Vec::new();
    for b in &batches {
        rows.extend(batch_rows(b, tz).map_err(|message| Error::Query {
            path: path.to_path_buf(),
            message,
        })?);
    }
    Ok(rows)
}

/// The column names a query file returns, in order (for CSV headers, even with no rows).
pub async fn columns_of(ctx: &SessionContext, path: &Path, binds: &[(&str, String)]) -> Result<Vec<String>> {
    let df = plan_file(ctx, path, binds).await?;
    Ok(df.schema().fields().iter().map(|f| f.name().clone()).collect())
}

/// Reads a query file, binds its parameters and plans it read-only.
async fn plan_file(
    ctx: &SessionContext,
    path: &Path,
    binds: &[(&str, String)],
) -> Result<custos_warehouse::datafusion::dataframe::DataFrame> {
    let mut sql = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Longest names first, so `$from` never clobbers a `$from_ts`.
    let mut binds: Vec<&(&str, String)> = binds.iter().collect();
    binds.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in binds {
        sql = sql.replace(&format!("${k}"), v);
    }
    ctx.sql_with_options(&sql, ReadOnly::sql_options())
        .await
        .map_err(|e| Error::Query {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A UTC timestamp literal of `micros` since the epoch, typed like the stored timestamps.
pub fn timestamp_literal(micros: i64) -> String {
    format!("arrow_cast({micros}, 'Timestamp(µs, \"UTC\")')")
}

/// A `DATE 'YYYY-MM-DD'` literal.
pub fn date_literal(d: chrono::NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

/// A list of SQL string literals, for `IN (...)`: ids are quoted, never spliced raw.
pub fn string_list(values: &[String]) -> String {
    if values.is_empty() {
        return "NULL".to_string();
    }
    values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn batch_rows(b: &RecordBatch, tz: Tz) -> std::result::Result<Vec<Row>, String> {
    let schema = b.schema();
    let mut columns: Vec<Vec<Option<String>>> = Vec::with_capacity(b.num_columns());
    for (i, field) in schema.fields().iter().enumerate() {
        let col = b.column(i);
        let values: Vec<Option<String>> = match field.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                let a = col.as_primitive::<TimestampMicrosecondType>();
                (0..a.len())
                    .map(|r| {
                        a.is_valid(r).then(|| {
                            tz.timestamp_micros(a.value(r))
                                .single()
                                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                                .unwrap_or_default()
                        })
                    })
                    .collect()
            }
            DataType::List(_) | DataType::LargeList(_) => {
                let a = col.as_list::<i32>();
                (0..a.len())
                    .map(|r| {
                        a.is_valid(r).then(|| {
                            let inner = a.value(r);
                            let s = cast(&inner, &DataType::Utf8).unwrap_or(inner);
                            let s = s.as_string::<i32>();
                            (0..s.len())
                                .map(|k| s.value(k).to_string())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                    })
                    .collect()
            }
            _ => {
                let s = cast(col, &DataType::Utf8).map_err(|e| format!("column {}: {e}", field.name()))?;
                let s = s.as_string::<i32>();
                (0..s.len())
                    .map(|r| s.is_valid(r).then(|| s.value(r).to_string()))
                    .collect()
            }
        };
        columns.push(values);
    }
    Ok((0..b.num_rows())
        .map(|r| {
            schema
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, c)| (f.name().clone(), c[r].clone()))
                .collect()
        })
        .collect())
}

/// The text of a column, or "" when missing.
pub fn text<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or("")
}
