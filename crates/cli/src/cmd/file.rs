//! `custos file`: what is due, and filing it. A filing is rendered and validated exactly as
//! `custos report` does, then written as a package with a manifest and appended to the
//! hash-chained ledger under `<warehouse>/filings/`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use custos_filing::{DueStatus, Ledger, NewFiling, Submission};
use custos_model::Period;
use custos_report::{Kind, Original};
use custos_warehouse::Warehouse;

use super::Context;
use super::report::RenderInput;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct FileArgs {
    /// List what the calendar expects and the ledger does not hold yet.
    #[arg(long, conflicts_with = "period")]
    pub due: bool,
    /// File every scheduled report of this period (or only --kind).
    #[arg(long, required_unless_present = "due")]
    pub period: Option<Period>,
    /// Only these kinds; repeatable. Needed for a period no schedule files.
    #[arg(long)]
    pub kind: Vec<String>,
    /// The filing date (default: today): printed in the files and used for --due.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Re-file a period already filed: a correction citing the original.
    #[arg(long)]
    pub correct: bool,
    /// Templates, report SQL and schemas.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports: PathBuf,
    /// Rule packs (for rule titles).
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
}

/// Cases already in filed suspicious-transaction reports.
pub fn filed_cases(ledger: &Ledger) -> anyhow::Result<Vec<String>> {
    let mut cases: Vec<String> = ledger
        .entries()?
        .iter()
        .filter(|e| e.kind == Kind::GoamlStr.name())
        .flat_map(|e| {
            e.details["cases"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    cases.sort();
    cases.dedup();
    Ok(cases)
}

pub fn run(ctx: &Context, args: FileArgs) -> anyhow::Result<Exit> {
    let as_of = args.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let calendar = ctx.config.filing.calendar();
    let mut wh = Warehouse::open(&ctx.warehouse)?;
    let ledger = Ledger::open(&ctx.warehouse.join("filings"))?;
    if args.due {
        let due = calendar.due(as_of, &ledger.entries()?)?;
        if calendar.schedule.is_empty() {
            println!("no filing calendar: add [[filing.schedule]] entries to custos.toml");
        } else if due.is_empty() {
            println!("nothing due as of {as_of}");
        } else {
            println!(
                "{:<16} {:<10} {:<12} {:<11} status",
                "kind", "regulator", "period", "deadline"
            );
            for d in &due {
                let status = match d.status {
                    DueStatus::Due => format!("due in {} day(s)", (d.deadline - as_of).num_days()),
                    DueStatus::Overdue => format!("OVERDUE by {} day(s)", (as_of - d.deadline).num_days()),
                };
                println!(
                    "{:<16} {:<10} {:<12} {:<11} {status}",
                    d.kind,
                    d.regulator,
                    d.period.to_string(),
                    d.deadline.to_string()
                );
            }
        }
        return Ok(Exit::Ok);
    }
    let Some(period) = args.period else {
        anyhow::bail!("--period is required unless --due is given")
    };
    // Which kinds: named, or every schedule whose periods look like this one.
    let mut targets: Vec<(Kind, String)> = Vec::new();
    if args.kind.is_empty() {
        for s in &calendar.schedule {
            if custos_filing::Calendar::period_of(s.frequency, period.first()) == period {
                targets.push((s.kind.parse()?, s.regulator.clone()));
            }
        }
        anyhow::ensure!(
            !targets.is_empty(),
            "no schedule in custos.toml files periods like {period}; name the report with --kind"
        );
    } else {
        for k in &args.kind {
            let kind: Kind = k.parse()?;
            let regulator = calendar
                .schedule
                .iter()
                .find(|s| s.kind == kind.name())
                .map_or_else(|| kind.regulator().to_string(), |s| s.regulator.clone());
            targets.push((kind, regulator));
        }
    }
    // One filer at a time: the warehouse's writer lock also guards the ledger.
    let mut lock = wh.writer()?;
    let provenance = provenance(ctx, &wh, &args.reports, period)?;
    for (kind, regulator) in targets {
        let label = period.to_string();
        let next = ledger.next_filing(kind.id_prefix(), kind.name(), &label, args.correct)?;
        // A correction compares with what the latest filing of the period said.
        let correction = next.original.as_ref().map(|o| Original {
            filing_id: o.filing_id.clone(),
            records: next
                .latest
                .as_ref()
                .and_then(|l| l.details["records"].as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        });
        let (filing_id, submission) = (next.filing_id, next.submission);
        let rendered = super::report::render(
            ctx,
            &wh,
            kind,
            period,
            RenderInput {
                reports: &args.reports,
                queries: &args.queries,
                as_of,
                filing_id: filing_id.clone(),
                filed_cases: filed_cases(&ledger)?,
                correction: correction.clone(),
            },
        )?;
        let details = serde_json::json!({
            "summary": rendered.summary,
            "run_id": provenance["run_id"],
            "run_period": [provenance["from_date"], provenance["to_date"]],
            "input_version": provenance["input_version"],
            "catalog_version": wh.catalog().version(),
            "rules": provenance["rules"],
            "records": rendered.records,
            "cases": rendered.cases,
            "warnings": rendered.warnings,
            "custos_version": env!("CARGO_PKG_VERSION"),
        });
        let entry = ledger.append(NewFiling {
            filing_id: filing_id.clone(),
            kind: kind.name().to_string(),
            regulator,
            period: label.clone(),
            submission,
            corrects: correction.map(|c| c.filing_id),
            as_of: as_of.to_string(),
            details,
            files: rendered.files.clone(),
        })?;
        println!(
            "filed {filing_id} ({kind} {label}, {}): {}",
            match entry.submission {
                Submission::New => "new".to_string(),
                Submission::Correction => format!("correction of {}", entry.corrects.clone().unwrap_or_default()),
            },
            rendered.summary
        );
        for f in &entry.files {
            println!("  {}/{} sha256 {}", filing_id, f.name, f.sha256);
        }
        println!("  ledger entry {} hash {}", entry.seq, entry.hash);
        super::report::print_warnings(&rendered.warnings);
        wh.refresh()?;
    }
    lock.abandon()?;
    Ok(Exit::Ok)
}

/// The rule run a filing's alerts come from, as JSON values.
fn provenance(
    ctx: &Context,
    wh: &Warehouse,
    reports: &std::path::Path,
    period: Period,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let options = ctx.session_options()?;
    let tz: chrono_tz::Tz = wh
        .settings()
        .reporting_timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("bad time zone"))?;
    let rt = super::runtime()?;
    let rows = rt.block_on(async {
        let session = wh.session(&options).await?;
        anyhow::Ok(
            custos_report::rows::query_file(
                &session,
                &reports.join("sql").join("provenance.sql"),
                &[
                    ("from", custos_report::rows::date_literal(period.first())),
                    ("to", custos_report::rows::date_literal(period.last())),
                ],
                tz,
            )
            .await?,
        )
    })?;
    let Some(row) = rows.into_iter().next() else {
        anyhow::bail!(
            "no rule run covers {period} ({} to {}): run `custos run --from {} --to {}` first, so the filing names the run its alerts come from",
            period.first(),
            period.last(),
            period.first(),
            period.last()
        )
    };
    let mut out = serde_json::Map::new();
    for (k, v) in row {
        let value = match (k.as_str(), v) {
            ("rules", Some(text)) => serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            (_, Some(text)) => serde_json::Value::String(text),
            (_, None) => serde_json::Value::Null,
        };
        out.insert(k, value);
    }
    Ok(out)
}
