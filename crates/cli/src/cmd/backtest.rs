//! `custos backtest`: a rule over history at other parameter settings, without writing
//! alerts; with the generator's labels, precision and recall per setting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use custos_rules::{Label, RuleSet};
use custos_warehouse::{SessionOptions, Warehouse};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Rule id.
    pub rule: String,
    /// A parameter and the values to try, `PARAM=V1,V2,...`; several give every combination.
    #[arg(long = "param", value_name = "PARAM=V1,V2")]
    pub params: Vec<String>,
    /// First day (reporting time zone).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day, inclusive.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// `labels.ndjson` from `custos generate`: adds precision and recall.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Directory of rule packs and shared views.
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
}

pub fn run(ctx: &Context, args: BacktestArgs) -> anyhow::Result<Exit> {
    let set = RuleSet::load(&args.queries)?;
    let rule = set
        .get(&args.rule)
        .ok_or_else(|| anyhow::anyhow!("no rule {:?}; `custos rules list` shows them", args.rule))?;
    let mut grid: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    for spec in &args.params {
        let (name, values) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--param {spec:?}: expected PARAM=V1,V2"))?;
        anyhow::ensure!(
            rule.meta.params.contains_key(name),
            "{} has no parameter {name:?}",
            rule.id()
        );
        grid = grid
            .into_iter()
            .flat_map(|g| {
                values.split(',').map(move |v| {
                    let mut g = g.clone();
                    g.insert(name.to_string(), v.trim().to_string());
                    g
                })
            })
            .collect();
    }
    let labels = args.labels.as_deref().map(custos_rules::read_labels).transpose()?;
    let targets: Vec<&Label> = labels
        .iter()
        .flatten()
        .filter(|l| rule.meta.typologies.contains(&l.typology))
        .collect();
    let wh = Warehouse::open(&ctx.warehouse)?;
    let rt = super::runtime()?;
    let results = rt.block_on(async {
        let session = wh.session(&SessionOptions::default()).await?;
        custos_rules::prepare(&session, &args.queries).await?;
        let mut results = Vec::new();
        for setting in &grid {
            results.push((
                setting,
                custos_rules::evaluate(&session, rule, args.from, args.to, setting).await?,
            ));
        }
        anyhow::Ok(results)
    })?;
    println!(
        "{} over {} to {}{}",
        rule.id(),
        args.from,
        args.to,
        if labels.is_some() {
            format!(", {} labelled target patterns", targets.len())
        } else {
            String::new()
        }
    );
    println!(
        "{:<48} {:>7} {:>9} {:>10} {:>8}",
        "setting", "alerts", "subjects", "precision", "recall"
    );
    for (setting, out) in &results {
        let subjects: BTreeSet<&str> = out.alerts.iter().map(|a| a.subject_id.as_str()).collect();
        let text = if setting.is_empty() {
            "defaults".to_string()
        } else {
            setting
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (precision, recall) = match &labels {
            Some(all) if !out.alerts.is_empty() || !targets.is_empty() => {
                let tp = out.alerts.iter().filter(|a| all.iter().any(|l| l.matches(a))).count();
                let found = targets
                    .iter()
                    .filter(|l| out.alerts.iter().any(|a| l.matches(a)))
                    .count();
                (
                    if out.alerts.is_empty() {
                        "-".into()
                    } else {
                        format!("{:.3}", tp as f64 / out.alerts.len() as f64)
                    },
                    if targets.is_empty() {
                        "-".into()
                    } else {
                        format!("{:.3}", found as f64 / targets.len() as f64)
                    },
                )
            }
            _ => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{text:<48} {:>7} {:>9} {precision:>10} {recall:>8}",
            out.alerts.len(),
            subjects.len()
        );
    }
    Ok(Exit::Ok)
}
