//! The DataFusion session over a warehouse's committed files.

use std::sync::Arc;

use custos_model::Table;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{SortExpr, col};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};

use crate::{Error, Result, Warehouse};

/// How a session is set up.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Memory the session's operators may hold before they spill or fail (bytes); unbounded
    /// when `None`.
    pub memory_limit: Option<usize>,
    /// Parallelism; the number of cores when `None`.
    pub target_partitions: Option<usize>,
    /// DataFusion settings by their full names (`datafusion.execution.batch_size`), applied
    /// after custos's own defaults.
    pub settings: Vec<(String, String)>,
}

/// The guard for analyst and rule SQL: queries only, no DDL, DML or `SET`.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly;

impl ReadOnly {
    /// SQL options that refuse anything but queries.
    pub fn sql_options() -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
    }
}

impl Warehouse {
    /// A DataFusion session with every table registered under its SQL name. Each table is
    /// exactly its committed files, so files of an interrupted commit are never read.
    pub async fn session(&self, options: &SessionOptions) -> Result<SessionContext> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("custos", "warehouse");
        if let Some(n) = options.target_partitions {
            config = config.with_target_partitions(n.max(1));
        }
        for (key, value) in &options.settings {
            config
                .options_mut()
                .set(key, value)
                .map_err(|e| Error::InvalidSetting(format!("DataFusion {key} = {value:?}: {e}")))?;
        }
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = options.memory_limit {
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
        for table in Table::ALL {
            let schema = table.arrow_schema();
            let files = self.table_files(*table);
            if files.is_empty() {
                ctx.register_table(table.name(), Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
                continue;
            }
            let urls = files
                .iter()
                .map(|p| {
                    let s = p
                        .to_str()
                        .ok_or_else(|| Error::InvalidSetting(format!("non UTF-8 path {}", p.display())))?;
                    Ok(ListingTableUrl::parse(s)?)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut listing = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
            if *table == Table::Transactions {
                // Every transaction file is written sorted this way (see ingest), so window
                // rules over (account, time) need no re-sort.
                listing = listing.with_file_sort_order(vec![vec![
                    SortExpr::new(col("payer_account"), true, false),
                    SortExpr::new(col("ts"), true, false),
                ]]);
            }
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(listing)
                .with_schema(schema);
            ctx.register_table(table.name(), Arc::new(ListingTable::try_new(config)?))?;
        }
        Ok(ctx)
    }
}
