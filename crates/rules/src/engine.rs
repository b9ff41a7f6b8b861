//! Planning and running rules on a DataFusion session, and reading their rows as alerts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use custos_warehouse::ReadOnly;
use custos_warehouse::datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use custos_warehouse::datafusion::arrow::compute::cast;
use custos_warehouse::datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, TimeUnit, TimestampMicrosecondType,
};
use custos_warehouse::datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use custos_warehouse::datafusion::common::DFSchema;
use custos_warehouse::datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use custos_warehouse::datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};
use custos_warehouse::datafusion::prelude::SessionContext;

use crate::alert::Alert;
use crate::rule::Rule;
use crate::{Error, Result};

/// Columns every rule returns besides its figures.
const CONTRACT: &[&str] = &["subject_id", "window_start", "window_end", "score", "txn_ids"];

/// What one rule produced.
#[derive(Debug, Clone)]
pub struct RuleOutput {
    /// Its alerts, sorted by subject and window.
    pub alerts: Vec<Alert>,
    /// Wall time of planning and running it.
    pub millis: u64,
}

fn engine(rule: &Rule) -> impl Fn(custos_warehouse::datafusion::error::DataFusionError) -> Error + '_ {
    move |source| {
        // Parser errors carry a position in the rendered SQL, whose lines are the file's.
        let text = source.to_string();
        if let Some(line) = text
            .split("Line: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            return Error::Rule {
                path: rule.path.clone(),
                line: rule.sql_line + line - 1,
                message: text,
            };
        }
        Error::Engine {
            rule: rule.meta.id.clone(),
            source,
        }
    }
}

/// Plans a rule with its default parameters over a period and checks its output against the
/// alert contract, without running it.
pub async fn check(ctx: &SessionContext, rule: &Rule) -> Result<()> {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let sql = rule.render(day, day, &BTreeMap::new())?;
    let df = ctx
        .sql_with_options(&sql, ReadOnly::sql_options())
        .await
        .map_err(|e| match engine(rule)(e) {
            Error::Engine { source, .. } => Error::Rule {
                path: rule.path.clone(),
                line: rule.sql_line,
                message: source.to_string(),
            },
            other => other,
        })?;
    contract(rule, df.schema())?;
    let plan = df.into_optimized_plan().map_err(engine(rule))?;
    if let Some(expr) = duration_as_interval(&plan) {
        return Err(Error::Rule {
            path: rule.path.clone(),
            line: rule.sql_line,
            message: format!(
                "`{expr}` compares a difference of timestamps with an INTERVAL; DataFusion turns the \
                 difference into an interval of nanoseconds, which is smaller than any interval of \
                 days, so the comparison is silently wrong: write `a <= b - INTERVAL '...'` instead"
            ),
        });
    }
    Ok(())
}

/// The first place where the plan casts a duration (a difference of timestamps) to an
/// interval. Intervals compare field by field (months, then days, then nanoseconds), so
/// `ts - prev_ts >= INTERVAL '90 days'` is false for any gap: the gap has 0 days and the
/// nanoseconds only.
fn duration_as_interval(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = plan.apply_with_subqueries(|node| {
        let inputs = node.inputs();
        let schema = match inputs.as_slice() {
            [one] => Arc::clone(one.schema()),
            [left, right] => match left.schema().join(right.schema()) {
                Ok(joined) => Arc::new(joined),
                Err(_) => return Ok(TreeNodeRecursion::Continue),
            },
            _ => Arc::clone(node.schema()),
        };
        node.apply_expressions(|e| {
            e.apply(|x| {
                if let Expr::Cast(c) = x
                    && matches!(c.field.data_type(), DataType::Interval(_))
                    && matches!(c.expr.get_type(&schema), Ok(DataType::Duration(_)))
                {
                    found = Some(x.to_string());
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(if found.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

fn contract(rule: &Rule, schema: &DFSchema) -> Result<()> {
    let err = |message: String| Error::Rule {
        path: rule.path.clone(),
        line: rule.sql_line,
        message,
    };
    for name in CONTRACT {
        let Some(field) = schema.fields().iter().find(|f| f.name() == name) else {
            return Err(err(format!(
                "the result has no `{name}` column; every rule returns {}",
                CONTRACT.join(", ")
            )));
        };
        let ok = match *name {
            "window_start" | "window_end" => matches!(field.data_type(), DataType::Timestamp(_, _) | DataType::Date32),
            "score" => field.data_type().is_numeric(),
            "txn_ids" => {
                matches!(field.data_type(), DataType::List(f) | DataType::LargeList(f) if f.data_type() == &DataType::Utf8 || f.data_type() == &DataType::Utf8View)
            }
            _ => true,
        };
        if !ok {
            return Err(err(format!(
                "`{name}` has type {}, which the alert contract does not take",
                field.data_type()
            )));
        }
    }
    Ok(())
}

/// Runs a rule over `[from, to]` with parameter overrides and returns its alerts (not yet
/// merged with stored ones).
pub async fn evaluate(
    ctx: &SessionContext,
    rule: &Rule,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    overrides: &BTreeMap<String, String>,
) -> Result<RuleOutput> {
    let started = Instant::now();
    let sql = rule.render(from, to, overrides)?;
    let df = ctx
        .sql_with_options(&sql, ReadOnly::sql_options())
        .await
        .map_err(engine(rule))?;
    contract(rule, df.schema())?;
    let batches = df.collect().await.map_err(engine(rule))?;
    let mut alerts = Vec::new();
    for batch in &batches {
        read_batch(rule, batch, &mut alerts)?;
    }
    alerts.sort_by(|a, b| {
        (&a.subject_id, a.window_start, a.window_end).cmp(&(&b.subject_id, b.window_start, b.window_end))
    });
    Ok(RuleOutput {
        alerts,
        millis: started.elapsed().as_millis() as u64,
    })
}

fn column(rule: &Rule, batch: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef> {
    let array = batch.column_by_name(name).ok_or_else(|| Error::Contract {
        rule: rule.meta.id.clone(),
        message: format!("no `{name}` column"),
    })?;
    let array = if matches!(to, DataType::Timestamp(_, _)) && array.data_type() == &DataType::Date32 {
        cast(&cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?, to)?
    } else {
        cast(array, to)?
    };
    Ok(array)
}

fn read_batch(rule: &Rule, batch: &RecordBatch, out: &mut Vec<Alert>) -> Result<()> {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let subject = column(rule, batch, "subject_id", &DataType::Utf8)?;
    let start = column(rule, batch, "window_start", &ts)?;
    let end = column(rule, batch, "window_end", &ts)?;
    let score = column(rule, batch, "score", &DataType::Float64)?;
    let ids = column(
        rule,
        batch,
        "txn_ids",
        &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    )?;
    let (subject, start, end, score, ids) = (
        subject.as_string::<i32>(),
        start.as_primitive::<TimestampMicrosecondType>(),
        end.as_primitive::<TimestampMicrosecondType>(),
        score.as_primitive::<Float64Type>(),
        ids.as_list::<i32>(),
    );
    let options = FormatOptions::default().with_null("");
    let figures: Vec<(String, ArrayFormatter<'_>)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| !CONTRACT.contains(&f.name().as_str()))
        .map(|(f, c)| Ok((f.name().clone(), ArrayFormatter::try_new(c.as_ref(), &options)?)))
        .collect::<Result<_>>()?;
    for row in 0..batch.num_rows() {
        if subject.is_null(row) || start.is_null(row) || end.is_null(row) {
            return Err(Error::Contract {
                rule: rule.meta.id.clone(),
                message: format!("row {row} has no subject_id, window_start or window_end"),
            });
        }
        let mut txn_ids: Vec<String> = if ids.is_null(row) {
            Vec::new()
        } else {
            let list = ids.value(row);
            let list = list.as_string::<i32>();
            list.iter().flatten().map(str::to_string).collect()
        };
        txn_ids.sort_unstable();
        txn_ids.dedup();
        let figures: BTreeMap<&str, String> = figures
            .iter()
            .map(|(name, f)| (name.as_str(), f.value(row).to_string()))
            .collect();
        out.push(Alert::new(
            rule,
            subject.value(row).to_string(),
            start.value(row),
            end.value(row),
            if score.is_null(row) { 0.0 } else { score.value(row) },
            serde_json::to_string(&figures).unwrap_or_default(),
            txn_ids,
        ));
    }
    Ok(())
}
