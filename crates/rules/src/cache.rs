//! Decoding a large table once per run instead of once per rule.
//!
//! Most rules scan `transactions`, and DataFusion decodes the Parquet again for every query: at
//! 10M transactions that is about a second per rule, a third of a whole run. [`cache_table`]
//! reads the columns the selected rules use once, keeps them in memory as the table, and
//! accounts for them in the session's memory pool, so operators see that much less room and
//! the run's total stays under the configured limit. A table that does not fit its budget is
//! left on Parquet; the run is slower, never wrong.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use custos_model::{FieldType, Table};
use custos_warehouse::datafusion::arrow::array::RecordBatch;
use custos_warehouse::datafusion::arrow::compute::cast;
use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use custos_warehouse::datafusion::catalog::{Session, TableProvider};
use custos_warehouse::datafusion::common::tree_node::TreeNodeRecursion;
use custos_warehouse::datafusion::datasource::MemTable;
use custos_warehouse::datafusion::datasource::TableType;
use custos_warehouse::datafusion::error::DataFusionError;
use custos_warehouse::datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use custos_warehouse::datafusion::logical_expr::Expr;
use custos_warehouse::datafusion::logical_expr::LogicalPlan;
use custos_warehouse::datafusion::physical_plan::ExecutionPlan;
use custos_warehouse::datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::{Error, Result};

/// A table held in memory for the rest of a run.
///
/// Its bytes stay reserved in the session's memory pool until this is dropped.
#[derive(Debug)]
pub struct Cached {
    /// The table.
    pub table: String,
    /// The columns kept (the ones the planned queries read).
    pub columns: Vec<String>,
    /// Rows kept.
    pub rows: usize,
    /// Bytes of Arrow memory they take.
    pub bytes: usize,
    _reservation: MemoryReservation,
}

/// Why a table was not cached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCached {
    /// It needs more than the budget.
    #[error("its columns need more than the {} MiB allowed", .0 / 1048576)]
    OverBudget(usize),
    /// The memory pool could not give the bytes it needs.
    #[error("the memory pool could not hold {} MiB", .0 / 1048576)]
    PoolFull(usize),
}

/// How a run's rules read the transactions, as [`prepare_run`] arranged it.
#[derive(Debug)]
pub enum TransactionScan {
    /// Decoded once and held in memory (reserved in the memory pool while this lives).
    Cached(Cached),
    /// Read from Parquet by each rule: the cache did not fit.
    Parquet(NotCached),
    /// Read from Parquet by each rule, as asked.
    NotAsked,
    /// No rule reads transactions.
    Unused,
}

impl std::fmt::Display for TransactionScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransactionScan::Cached(c) => write!(
                f,
                "{}: {} rows of {} columns decoded once ({:.0} MiB)",
                c.table,
                c.rows,
                c.columns.len(),
                c.bytes as f64 / 1048576.0
            ),
            TransactionScan::Parquet(why) => write!(f, "transactions read from Parquet by each rule: {why}"),
            TransactionScan::NotAsked => write!(f, "transactions read from Parquet by each rule (--no-cache)"),
            TransactionScan::Unused => write!(f, "no rule reads transactions"),
        }
    }
}

/// Makes a session ready for a run of the rules rendered in `rules` (see [`crate::prepare`]),
/// first decoding the transaction columns they and the views read into memory when
/// `cache_budget` allows (`None`: leave them on Parquet).
///
/// Views are planned over the Parquet table to find those columns, then registered again
/// over the cached one.
pub async fn prepare_run(
    ctx: &SessionContext,
    queries: &Path,
    rules: &[String],
    cache_budget: Option<usize>,
) -> Result<TransactionScan> {
    crate::prepare_lazily(ctx, queries).await?;
    let scan = match cache_budget {
        None => TransactionScan::NotAsked,
        Some(budget) => {
            let views = crate::view_files(&queries.join("views"))?;
            let sqls = rules
                .iter()
                .map(String::as_str)
                .chain(views.iter().map(|(_, _, sql)| sql.as_str()));
            match columns_read(ctx, Table::Transactions.name(), sqls).await? {
                None => TransactionScan::Unused,
                Some(columns) => {
                    // Codes from short lists: two bytes a row as a dictionary.
                    let coded: Vec<&str> = Table::Transactions
                        .columns()
                        .iter()
                        .filter(|c| matches!(c.ty, FieldType::Enum(_) | FieldType::Country | FieldType::Currency))
                        .map(|c| c.name)
                        .collect();
                    match cache_table(ctx, Table::Transactions.name(), &columns, &coded, budget).await? {
                        Ok(cached) => TransactionScan::Cached(cached),
                        Err(why) => TransactionScan::Parquet(why),
                    }
                }
            }
        }
    };
    crate::prepare(ctx, queries).await?;
    Ok(scan)
}

/// The columns of `table` that the queries in `sqls` read, found from their optimised plans
/// (views are inlined there, so a view over the table counts); `None` when none reads it.
///
/// ```no_run
/// # async fn demo(ctx: &custos_warehouse::datafusion::prelude::SessionContext) -> custos_rules::Result<()> {
/// let cols = custos_rules::columns_read(ctx, "transactions", ["select ts from transactions"]).await?;
/// assert_eq!(cols, Some(["ts".to_string()].into()));
/// # Ok(()) }
/// ```
pub async fn columns_read<'a>(
    ctx: &SessionContext,
    table: &str,
    sqls: impl IntoIterator<Item = &'a str>,
) -> Result<Option<BTreeSet<String>>> {
    let state = ctx.state();
    let mut columns = BTreeSet::new();
    let mut all = false;
    for sql in sqls {
        let plan = state.create_logical_plan(sql).await.map_err(engine(table))?;
        let plan = state.optimize(&plan).map_err(engine(table))?;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == table
            {
                let schema = scan.source.schema();
                match &scan.projection {
                    Some(indices) => columns.extend(indices.iter().map(|i| schema.field(*i).name().clone())),
                    None => all = true,
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(engine(table))?;
    }
    Ok(if all {
        let schema = ctx.table_provider(table).await.map_err(engine(table))?.schema();
        Some(schema.fields().iter().map(|f| f.name().clone()).collect())
    } else if columns.is_empty() {
        None
    } else {
        Some(columns)
    })
}

/// Reads `columns` of `table` once and registers them in its place as an in-memory table, if
/// they take at most `budget` bytes and the session's memory pool can hold them.
///
/// Text columns named in `coded` (codes from a short list: statuses, countries, currencies)
/// are kept dictionary-encoded, two bytes a row instead of up to a dozen; SQL reads them as
/// text all the same.
///
/// Views registered before the swap keep reading the old table: register views after this.
pub async fn cache_table(
    ctx: &SessionContext,
    table: &str,
    columns: &BTreeSet<String>,
    coded: &[&str],
    budget: usize,
) -> Result<std::result::Result<Cached, NotCached>> {
    let err = engine(table);
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let df = ctx
        .table(table)
        .await
        .map_err(&err)?
        .select_columns(&names)
        .map_err(&err)?;
    // Int16 keys: a coded column takes its values from a list of a few hundred codes (ISO
    // countries and currencies, our enums), whatever the batch size.
    let code = DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8));
    let fields: Vec<Field> = df
        .schema()
        .as_arrow()
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if coded.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                f.with_data_type(code.clone())
            } else {
                f
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let reservation = MemoryConsumer::new(format!("{table} cache")).register(&ctx.runtime_env().memory_pool);
    let mut stream = df.execute_stream().await.map_err(&err)?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let (mut rows, mut bytes) = (0, 0);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(&err)?;
        let arrays = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| {
                if a.data_type() == f.data_type() {
                    Ok(a.clone())
                } else {
                    cast(a, f.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        let size = batch.get_array_memory_size();
        bytes += size;
        if bytes > budget {
            return Ok(Err(NotCached::OverBudget(budget)));
        }
        if reservation.try_grow(size).is_err() {
            return Ok(Err(NotCached::PoolFull(bytes)));
        }
        rows += batch.num_rows();
        batches.push(batch);
    }
    // As many partitions as the session runs in parallel, so scans of the cache keep every
    // core busy.
    let parts = ctx.state().config().target_partitions().max(1);
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); parts];
    for (i, b) in batches.into_iter().enumerate() {
        partitions[i % parts].push(b);
    }
    let original = ctx.table_provider(table).await.map_err(&err)?.schema();
    let mem = CachedTable::new(&original, MemTable::try_new(schema, partitions).map_err(&err)?);
    ctx.deregister_table(table).map_err(&err)?;
    ctx.register_table(table, Arc::new(mem)).map_err(&err)?;
    Ok(Ok(Cached {
        table: table.to_string(),
        columns: columns.iter().cloned().collect(),
        rows,
        bytes,
        _reservation: reservation,
    }))
}

/// The cached columns under the table's whole schema. A rule's SQL may name a column its
/// optimised plan never reads (`select x.*` narrowed later); planning needs it to exist, and
/// scans only ever ask for the cached ones, which were collected from those optimised plans.
#[derive(Debug)]
struct CachedTable {
    schema: SchemaRef,
    /// For each column of `schema`, its index in `mem`, if cached.
    index: Vec<Option<usize>>,
    mem: MemTable,
}

impl CachedTable {
    fn new(original: &SchemaRef, mem: MemTable) -> CachedTable {
        let cached = mem.schema();
        let (fields, index): (Vec<Field>, Vec<Option<usize>>) = original
            .fields()
            .iter()
            .map(|f| match cached.index_of(f.name()) {
                // The cached type: a code column is dictionary-encoded there.
                Ok(i) => (cached.field(i).clone(), Some(i)),
                Err(_) => (f.as_ref().clone(), None),
            })
            .unzip();
        CachedTable {
            schema: Arc::new(Schema::new(fields)),
            index,
            mem,
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for CachedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> custos_warehouse::datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let inner = wanted
            .iter()
            .map(|&i| {
                self.index.get(i).copied().flatten().ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "column {} was not read into this run's cache (a plan read more than the planned rules did)",
                        self.schema.field(i).name()
                    ))
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.mem.scan(state, Some(&inner), filters, limit).await
    }
}

fn engine(table: &str) -> impl Fn(DataFusionError) -> Error + '_ {
    move |source| Error::Engine {
        rule: format!("caching {table}"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_warehouse::datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};

    async fn session() -> SessionContext {
        let ctx = SessionContext::new();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "status",
                Arc::new(StringArray::from(vec!["OK", "FAILED", "OK"])) as ArrayRef,
            ),
            ("note", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef),
        ])
        .expect("batch");
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        ctx.sql("create view ok_ids as select id from t where status = 'OK'")
            .await
            .expect("view");
        ctx
    }

    fn set(names: &[&str]) -> Option<BTreeSet<String>> {
        Some(names.iter().map(|n| n.to_string()).collect())
    }

    #[tokio::test]
    async fn columns_come_from_the_plans_views_included() {
        let ctx = session().await;
        assert_eq!(
            columns_read(&ctx, "t", ["select note from t"]).await.ok(),
            Some(set(&["note"]))
        );
        assert_eq!(
            columns_read(
                &ctx,
                "t",
                ["select count(*) from ok_ids", "select note from t where id > 1"]
            )
            .await
            .ok(),
            Some(set(&["id", "note", "status"]))
        );
        assert_eq!(
            columns_read(&ctx, "t", ["select * from t"]).await.ok(),
            Some(set(&["id", "note", "status"]))
        );
        assert_eq!(columns_read(&ctx, "t", ["select 1"]).await.ok(), Some(None));
    }

    #[tokio::test]
    async fn a_cached_table_answers_the_same_and_codes_stay_text_to_sql() {
        let ctx = session().await;
        let cols = set(&["id", "status"]).unwrap_or_default();
        let cached = cache_table(&ctx, "t", &cols, &["status"], 1 << 20)
            .await
            .expect("no engine error")
            .expect("fits");
        assert_eq!((cached.rows, cached.columns.len()), (3, 2));
        let schema = ctx.table("t").await.expect("t").schema().as_arrow().clone();
        assert!(matches!(
            schema.field_with_name("status").map(|f| f.data_type()),
            Ok(DataType::Dictionary(..))
        ));
        let rows = ctx
            .sql("select sum(id) as s from t where status = 'OK'")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        let sum = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .map(|a| a.value(0));
        assert_eq!(sum, Some(4));
        // SQL may name a column that was not cached as long as the plan never reads it; a
        // plan that reads one is refused with a clear error, never answered wrongly.
        let named = ctx
            .sql("with x as (select id, note from t) select id from x")
            .await
            .expect("plan");
        assert_eq!(
            named
                .collect()
                .await
                .map(|b| b.iter().map(RecordBatch::num_rows).sum::<usize>())
                .ok(),
            Some(3)
        );
        let read = ctx.sql("select note from t").await.expect("plan").collect().await;
        assert!(read.is_err_and(|e| e.to_string().contains("not read into this run's cache")));
        // The pool holds the bytes until the cache is dropped.
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), cached.bytes);
        drop(cached);
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0);
    }

    #[tokio::test]
    async fn over_budget_leaves_the_table_alone() {
        let ctx = session().await;
        let cols = set(&["id", "status", "note"]).unwrap_or_default();
        let outcome = cache_table(&ctx, "t", &cols, &[], 16).await.expect("no engine error");
        assert_eq!(outcome.err(), Some(NotCached::OverBudget(16)));
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0);
        let count = ctx
            .sql("select note from t")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        assert_eq!(count.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    }
}
