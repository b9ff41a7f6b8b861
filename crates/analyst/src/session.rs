//! The session analysts query: every warehouse table, the filing ledger as a table, the
//! shared views, and, for the `analyst` role, personal data masked in the plan itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custos_filing::Ledger;
use custos_model::Table;
use custos_warehouse::datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field, Schema};
use custos_warehouse::datafusion::datasource::MemTable;
use custos_warehouse::datafusion::execution::FunctionRegistry;
use custos_warehouse::datafusion::logical_expr::{Expr, col, lit};
use custos_warehouse::datafusion::prelude::SessionContext;
use custos_warehouse::{SessionOptions, Warehouse};

use crate::mask::{mask_figures_udf, mask_udf};
use crate::{Error, Result};

/// Who is asking: what they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Personal data masked: names and ID numbers keyed-hashed, dates of birth removed.
    Analyst,
    /// Everything, as stored.
    Officer,
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "analyst" => Ok(Role::Analyst),
            "officer" => Ok(Role::Officer),
            other => Err(Error::Config(format!("role {other:?} is not analyst or officer"))),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Analyst => "analyst",
            Role::Officer => "officer",
        })
    }
}

/// Where the shared views come from.
#[derive(Debug, Clone, Default)]
pub struct ViewDirs {
    /// Rule views (`queries/`): flows, cases, ...; its `views/` folder is read.
    pub queries: Option<PathBuf>,
    /// Report views (`reports/`): txn_parties; its `sql/views/` folder is read.
    pub reports: Option<PathBuf>,
}

/// Builds the session for a role. Tables are registered first and masked before any view is
/// defined, so every view, join and subquery reads the masked columns: the raw columns are
/// not reachable by name from an analyst's session at all.
pub async fn session(wh: &Warehouse, options: &SessionOptions, role: Role, views: &ViewDirs) -> Result<SessionContext> {
    let ctx = wh.session(options).await?;
    register_filings(&ctx, &wh.root().join("filings"))?;
    if role == Role::Analyst {
        let key = mask_key(wh.root())?;
        ctx.register_udf(mask_udf(key.clone()));
        ctx.register_udf(mask_figures_udf(key));
        replace(&ctx, Table::Customers, |name| match name {
            "full_name" | "id_number" => Some(call(&ctx, "custos_mask", name)),
            "date_of_birth" => Some(lit(custos_warehouse::datafusion::scalar::ScalarValue::Date32(None))),
            _ => None,
        })
        .await?;
        replace(&ctx, Table::Alerts, |name| match name {
            "figures" => Some(call(&ctx, "custos_mask_figures", name)),
            _ => None,
        })
        .await?;
        replace(&ctx, Table::Quarantine, |name| match name {
            // Rejected rows hold whatever the source file held, personal data included.
            "raw_text" | "detail" => Some(lit("[redacted]")),
            _ => None,
        })
        .await?;
    }
    if let Some(q) = &views.queries {
        custos_rules::prepare_lazily(&ctx, q).await?;
    }
    if let Some(r) = &views.reports {
        custos_rules::register_views(&ctx, &r.join("sql").join("views"), false).await?;
    }
    Ok(ctx)
}

fn call(ctx: &SessionContext, udf: &str, column: &str) -> Expr {
    match ctx.udf(udf) {
        Ok(f) => f.call(vec![col(column)]),
        // Registered just above; if it were missing, hide the column rather than show it.
        Err(_) => lit("[redacted]"),
    }
}

/// Re-registers `table` as a projection of itself with some columns replaced.
async fn replace(ctx: &SessionContext, table: Table, f: impl Fn(&str) -> Option<Expr>) -> Result<()> {
    let name = table.name();
    let provider = ctx.table_provider(name).await?;
    let df = ctx.read_table(provider)?;
    let exprs: Vec<Expr> = table
        .columns()
        .iter()
        .map(|c| match f(c.name) {
            Some(e) => e.alias(c.name),
            None => col(c.name),
        })
        .collect();
    let view = df.select(exprs)?.into_view();
    ctx.deregister_table(name)?;
    ctx.register_table(name, view)?;
    Ok(())
}

/// The masking key of a warehouse: 32 random bytes in `_catalog/mask.key`, made on first use.
/// Masked values stay stable across sessions and servers of one warehouse, and differ
/// between warehouses.
pub fn mask_key(root: &Path) -> Result<Vec<u8>> {
    let path = root.join("_catalog").join("mask.key");
    if let Ok(k) = std::fs::read(&path)
        && k.len() == 32
    {
        return Ok(k);
    }
    use std::io::Read;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Error::Config(format!("no randomness for a masking key: {e}")))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &key).map_err(|e| Error::Config(format!("{}: {e}", tmp.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
    }
    std::fs::rename(&tmp, &path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(key)
}

/// The filing ledger as the `filings` table: one row per filing.
fn register_filings(ctx: &SessionContext, dir: &Path) -> Result<()> {
    let entries = if dir.join("ledger.jsonl").exists() {
        Ledger::open(dir)?.entries()?
    } else {
        Vec::new()
    };
    let text = |f: &dyn Fn(&custos_filing::Entry) -> Option<String>| {
        Arc::new(StringArray::from(entries.iter().map(f).collect::<Vec<_>>())) as ArrayRef
    };
    let fields = [
        "filing_id",
        "kind",
        "regulator",
        "period",
        "submission",
        "corrects",
        "as_of",
        "run_id",
        "hash",
        "prev_hash",
    ];
    let mut schema: Vec<Field> = vec![Field::new("seq", DataType::Int64, false)];
    schema.extend(fields.iter().map(|f| Field::new(*f, DataType::Utf8, true)));
    schema.push(Field::new("files", DataType::Int64, false));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            entries.iter().map(|e| e.seq as i64).collect::<Vec<_>>(),
        )),
        text(&|e| Some(e.filing_id.clone())),
        text(&|e| Some(e.kind.clone())),
        text(&|e| Some(e.regulator.clone())),
        text(&|e| Some(e.period.clone())),
        text(&|e| {
            serde_json::to_value(e.submission)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        }),
        text(&|e| e.corrects.clone()),
        text(&|e| Some(e.as_of.clone())),
        text(&|e| e.details["run_id"].as_str().map(str::to_string)),
        text(&|e| Some(e.hash.clone())),
        text(&|e| Some(e.prev_hash.clone())),
        Arc::new(Int64Array::from(
            entries.iter().map(|e| e.files.len() as i64).collect::<Vec<_>>(),
        )),
    ];
    let schema = Arc::new(Schema::new(schema));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    ctx.register_table("filings", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    Ok(())
}
