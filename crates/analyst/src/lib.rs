//! Analyst access to the warehouse: the same tables the rules read, read-only, with personal
//! data masked for the `analyst` role.
//!
//! # Brief overview
//! - [`session`] builds the DataFusion session of a [`Role`]: every table, the filing ledger
//!   as `filings`, the shared views, and for analysts the masked columns (see [`mask`]).
//! - [`check_read_only`] refuses anything but a query before it is planned.
//! - [`server`] serves the sessions over the Postgres wire protocol (`custos serve`).
//!
//! # Example
//! ```
//! use custos_analyst::{Role, check_read_only};
//! assert_eq!("analyst".parse::<Role>().unwrap(), Role::Analyst);
//! assert!(check_read_only("select 1").is_ok());
//! assert!(check_read_only("drop table customers").is_err());
//! ```
#![deny(missing_docs)]

pub mod mask;
pub mod server;
mod session;

pub use mask::mask_value;
pub use session::{Role, ViewDirs, mask_key, session};

use custos_warehouse::datafusion;
use custos_warehouse::datafusion::sql::parser::{DFParser, Statement as DfStatement};
use custos_warehouse::datafusion::sql::sqlparser::ast::Statement;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The warehouse could not be opened or registered.
    #[error(transparent)]
    Warehouse(#[from] custos_warehouse::Error),
    /// DataFusion refused or failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow failed.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Views could not be registered.
    #[error(transparent)]
    Rules(#[from] custos_rules::Error),
    /// The filing ledger could not be read.
    #[error(transparent)]
    Filing(#[from] custos_filing::Error),
    /// A statement that is not a query.
    #[error("read-only: {0}")]
    NotReadOnly(String),
    /// Configuration is wrong.
    #[error("{0}")]
    Config(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Refuses every statement but queries (`SELECT`, `WITH`, `VALUES`, `EXPLAIN` of one,
/// `SHOW`, `DESCRIBE`): DDL, DML, `COPY`, `SET` and transactions are named and refused before
/// anything is planned. Used where a statement does not go through
/// `sql_with_options` with [`custos_warehouse::ReadOnly`] (e.g. the Postgres endpoint).
pub fn check_read_only(sql: &str) -> Result<()> {
    let statements = DFParser::parse_sql(sql).map_err(|e| Error::NotReadOnly(format!("cannot parse: {e}")))?;
    for s in &statements {
        let ok = match s {
            DfStatement::Statement(inner) => match inner.as_ref() {
                Statement::Query(_) | Statement::ShowTables { .. } | Statement::ShowColumns { .. } => true,
                Statement::Explain { statement, .. } => matches!(statement.as_ref(), Statement::Query(_)),
                Statement::ExplainTable { .. } => true,
                _ => false,
            },
            DfStatement::Explain(e) => {
                matches!(e.statement.as_ref(), DfStatement::Statement(s) if matches!(s.as_ref(), Statement::Query(_)))
            }
            _ => false,
        };
        if !ok {
            let text = s.to_string();
            let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            return Err(Error::NotReadOnly(format!(
                "{verb} is refused: the warehouse is read-only here; only queries run"
            )));
        }
    }
    Ok(())
}
