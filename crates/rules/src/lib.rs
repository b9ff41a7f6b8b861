//! Detection rules for custos: plain SQL files with typed parameters, run in batch on a
//! DataFusion session over the warehouse, producing alerts with their lineage.
//!
//! # Brief overview
//! - [`Rule`] is one `queries/<pack>/<name>.sql` file: a TOML metadata block in its first
//!   comment (id, title, regulation, severity, subject type, typed parameters) and the SQL.
//! - [`RuleSet::load`] reads every pack; [`check`] plans each rule against a session and
//!   reports file and line on error.
//! - [`evaluate`] runs one rule and turns its rows into [`Alert`]s: every rule returns
//!   `subject_id`, `window_start`, `window_end`, `score` and `txn_ids`, plus any key figures.
//! - [`merge`] folds a run's alerts into the stored ones (same rule, subject and an
//!   overlapping window update the existing alert) and applies snoozes.
//!
//! Rules only ever see the `SessionContext` they are given, never files, so the same packs
//! run on a Ballista cluster's context.
//!
//! # Example
//! ```no_run
//! # async fn demo(ctx: &custos_warehouse::datafusion::prelude::SessionContext) -> custos_rules::Result<()> {
//! use custos_rules::{RuleSet, evaluate};
//! let rules = RuleSet::load(std::path::Path::new("queries"))?;
//! let from = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
//! let to = chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap();
//! for rule in &rules.rules {
//!     let out = evaluate(ctx, rule, from, to, &Default::default()).await?;
//!     println!("{}: {} alerts", rule.id(), out.alerts.len());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod alert;
mod cache;
mod engine;
mod labels;
mod names;
mod rule;

use std::path::{Path, PathBuf};

pub use alert::{
    Alert, MergeOutcome, Suppression, alerts_batch, merge, read_alerts, read_suppressions, suppressions_batch,
};
pub use cache::{Cached, NotCached, TransactionScan, cache_table, columns_read, prepare_run};
pub use engine::{RuleOutput, check, evaluate};
pub use labels::{Label, read_labels};
pub use names::{score as name_score, tokens as name_tokens};
pub use rule::{BUILTINS, Meta, Param, ParamType, Rule, SUBJECT_TYPES, Severity, parse_value, placeholders};

/// Errors of rule loading, checking and running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file is wrong; names the file and line.
    #[error("{}:{line}: {message}", path.display())]
    Rule {
        /// The rule file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A parameter value given for a run is wrong.
    #[error("{0}")]
    Param(String),
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// DataFusion failed while planning or running a rule.
    #[error("{rule}: {source}")]
    Engine {
        /// The rule id.
        rule: String,
        /// The cause.
        source: custos_warehouse::datafusion::error::DataFusionError,
    },
    /// A rule's result does not follow the alert contract.
    #[error("{rule}: {message}")]
    Contract {
        /// The rule id.
        rule: String,
        /// What is missing or mistyped.
        message: String,
    },
    /// Arrow failed while building alert batches.
    #[error("alerts: {0}")]
    Arrow(#[from] custos_warehouse::datafusion::arrow::error::ArrowError),
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every rule of every pack under a directory (`queries/aml/*.sql`, `queries/kyc/*.sql`, ...).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Rules sorted by id.
    pub rules: Vec<Rule>,
}

/// Directories under `queries/` that hold analyst queries, not rules.
pub const NOT_PACKS: &[&str] = &["explore", "views"];

impl RuleSet {
    /// Loads every `<dir>/<pack>/*.sql` (packs are subdirectories other than [`NOT_PACKS`]).
    /// Fails on the first bad file, naming it and the line; duplicate ids are an error.
    pub fn load(dir: &Path) -> Result<RuleSet> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let mut packs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !NOT_PACKS.contains(&n))
            })
            .collect();
        packs.sort();
        let mut rules = Vec::new();
        for pack in packs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&pack)
                .map_err(io(&pack))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .collect();
            files.sort();
            for f in files {
                rules.push(Rule::load(&f)?);
            }
        }
        rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        for pair in rules.windows(2) {
            if pair[0].meta.id == pair[1].meta.id {
                return Err(Error::Rule {
                    path: pair[1].path.clone(),
                    line: 1,
                    message: format!("id {} is also used by {}", pair[1].meta.id, pair[0].path.display()),
                });
            }
        }
        Ok(RuleSet { rules })
    }

    /// The rules selected by pack and/or id (all when both are empty).
    pub fn select(&self, packs: &[String], ids: &[String]) -> Result<Vec<&Rule>> {
        for id in ids {
            if !self.rules.iter().any(|r| &r.meta.id == id) {
                return Err(Error::Param(format!("no rule {id:?}; `custos rules list` shows them")));
            }
        }
        for p in packs {
            if !self.rules.iter().any(|r| &r.pack == p) {
                return Err(Error::Param(format!("no pack {p:?}")));
            }
        }
        Ok(self
            .rules
            .iter()
            .filter(|r| (packs.is_empty() && ids.is_empty()) || packs.contains(&r.pack) || ids.contains(&r.meta.id))
            .collect())
    }

    /// A rule by id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.meta.id == id)
    }
}

/// Makes a session ready for rules: registers the name-screening functions and the shared
/// views of `<queries>/views/*.sql` (each file one `select`, named by its file stem). A view
/// whose file starts with the line `-- materialize` is computed once here and kept in memory:
/// DataFusion evaluates a view again at every reference, and several rules self-join the
/// same small subset of a large table.
pub async fn prepare(ctx: &custos_warehouse::datafusion::prelude::SessionContext, queries: &Path) -> Result<()> {
    names::register(ctx);
    register_views(ctx, &queries.join("views"), true).await
}

/// Like [`prepare`], but every view stays a plain view, `-- materialize` ones included: for
/// analyst sessions, which should not pay for a view they may never read.
pub async fn prepare_lazily(ctx: &custos_warehouse::datafusion::prelude::SessionContext, queries: &Path) -> Result<()> {
    names::register(ctx);
    register_views(ctx, &queries.join("views"), false).await
}

/// The view files of a directory, in name order: (path, view name, SQL). A missing directory
/// has none.
pub fn view_files(dir: &Path) -> Result<Vec<(PathBuf, String, String)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let sql = std::fs::read_to_string(&f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            Ok((f, name, sql))
        })
        .collect()
}

/// Registers every `<dir>/*.sql` as a view named by its file stem; with `materialize`, a file
/// starting `-- materialize` is computed once (see [`prepare`]). Reports use it for
/// `reports/sql/views/`.
pub async fn register_views(
    ctx: &custos_warehouse::datafusion::prelude::SessionContext,
    dir: &Path,
    materialize: bool,
) -> Result<()> {
    for (f, name, sql) in view_files(dir)? {
        let err = |e: custos_warehouse::datafusion::error::DataFusionError| Error::Rule {
            path: f.clone(),
            line: 1,
            message: e.to_string(),
        };
        if materialize && sql.trim_start().starts_with("-- materialize") {
            let df = ctx.sql(&sql).await.map_err(err)?;
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(err)?;
            let table =
                custos_warehouse::datafusion::datasource::MemTable::try_new(schema, vec![batches]).map_err(err)?;
            ctx.deregister_table(name.as_str()).map_err(err)?;
            ctx.register_table(name.as_str(), std::sync::Arc::new(table))
                .map_err(err)?;
        } else {
            // Our own files, not user input: the one place a session runs DDL.
            let create = format!("create or replace view {name} as {sql}");
            ctx.sql(&create).await.map_err(err)?;
        }
    }
    Ok(())
}
