//! `custos case list|escalate|close`: an officer's decision on a case, kept in the
//! warehouse with its reason and author. Escalated cases go into the next goAML suspicious-
//! transaction filing; closed ones feed the false-positive rate per rule.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use custos_model::Table;
use custos_warehouse::Warehouse;
use custos_warehouse::datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use sha2::{Digest, Sha256};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct CaseArgs {
    #[command(subcommand)]
    pub command: CaseCommand,
    /// Report SQL (the case listing query).
    #[arg(long, default_value = "reports", value_name = "DIR", global = true)]
    pub reports: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Every case with its alerts and latest decision.
    List,
    /// Escalate a case: it goes into the next suspicious-transaction filing.
    Escalate {
        /// Case id (see `custos case list`).
        case_id: String,
        /// Why: printed in the filing's reason.
        #[arg(long)]
        reason: String,
        /// Who decided.
        #[arg(long)]
        author: String,
    },
    /// Close a case without filing.
    Close {
        /// Case id.
        case_id: String,
        /// The alerts were false positives (counts against the rules' precision).
        #[arg(long, conflicts_with = "no_action")]
        false_positive: bool,
        /// Real activity, but nothing to report.
        #[arg(long)]
        no_action: bool,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who decided.
        #[arg(long)]
        author: String,
    },
}

pub fn run(ctx: &Context, args: CaseArgs) -> anyhow::Result<Exit> {
    let mut wh = Warehouse::open(&ctx.warehouse)?;
    let cases = list(ctx, &wh, &args.reports)?;
    let (case_id, decision, reason, author) = match args.command {
        CaseCommand::List => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<24} {:<28} {:>6} {:>5} {:<15} rules",
                "case", "subject", "alerts", "txns", "decision"
            )?;
            for c in &cases {
                let t = |k: &str| custos_report::rows::text(c, k).to_string();
                writeln!(
                    out,
                    "{:<24} {:<28} {:>6} {:>5} {:<15} {}",
                    t("case_id"),
                    format!("{} {}", t("subject_type"), t("subject_id")),
                    t("alerts"),
                    t("transactions"),
                    if t("decision").is_empty() {
                        "-".to_string()
                    } else {
                        t("decision")
                    },
                    t("rule_ids")
                )?;
            }
            return Ok(Exit::Ok);
        }
        CaseCommand::Escalate {
            case_id,
            reason,
            author,
        } => (case_id, "ESCALATE", reason, author),
        CaseCommand::Close {
            case_id,
            false_positive,
            no_action,
            reason,
            author,
        } => {
            anyhow::ensure!(
                false_positive || no_action,
                "say why it closes: --false-positive or --no-action"
            );
            (
                case_id,
                if false_positive { "FALSE_POSITIVE" } else { "NO_ACTION" },
                reason,
                author,
            )
        }
    };
    anyhow::ensure!(
        cases.iter().any(|c| custos_report::rows::text(c, "case_id") == case_id),
        "no case {case_id:?} in the warehouse (see `custos case list`)"
    );
    anyhow::ensure!(
        !reason.trim().is_empty() && !author.trim().is_empty(),
        "a decision needs a reason and an author"
    );
    let now = chrono::Utc::now().timestamp_micros();
    let id: String = Sha256::digest(format!("{case_id}\u{1f}{decision}\u{1f}{now}").as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let decision_id = format!("D-{id}");
    let col = |v: &str| Arc::new(StringArray::from(vec![v.to_string()])) as ArrayRef;
    let ts = Arc::new(TimestampMicrosecondArray::from(vec![now]).with_timezone("UTC")) as ArrayRef;
    let batch = RecordBatch::try_new(
        Table::CaseDecisions.arrow_schema(),
        vec![
            col(&decision_id),
            col(&case_id),
            col(decision),
            col(&reason),
            col(&author),
            ts,
        ],
    )?;
    let mut writer = wh.writer()?;
    let version = writer.next_version();
    writer.stage(
        Table::CaseDecisions,
        &format!("part-{version:010}.parquet"),
        &[batch],
        &[],
    )?;
    writer.commit("case decision")?;
    println!("{decision_id}: case {case_id} {decision} by {author}: {reason}");
    Ok(Exit::Ok)
}

fn list(ctx: &Context, wh: &Warehouse, reports: &std::path::Path) -> anyhow::Result<Vec<custos_report::rows::Row>> {
    let options = ctx.session_options()?;
    let tz: chrono_tz::Tz = wh.settings().reporting_timezone.parse().unwrap_or(chrono_tz::UTC);
    let rt = super::runtime()?;
    rt.block_on(async {
        let session = wh.session(&options).await?;
        custos_report::register_views(&session, reports).await?;
        // Every case: the export query over all of time.
        anyhow::Ok(
            custos_report::rows::query_file(
                &session,
                &reports.join("sql").join("export").join("cases.sql"),
                &[
                    ("from_ts", custos_report::rows::timestamp_literal(i64::MIN)),
                    ("to_ts", custos_report::rows::timestamp_literal(i64::MAX)),
                ],
                tz,
            )
            .await?,
        )
    })
}
