//! `custos run`: run rule packs over a period and commit their alerts, with a manifest.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use custos_model::Table;
use custos_rules::{Rule, RuleSet};
use custos_warehouse::Warehouse;
use custos_warehouse::datafusion::arrow::array::{
    ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only these packs (aml, kyc, licensing); repeatable.
    #[arg(long)]
    pub pack: Vec<String>,
    /// Only these rules, by id; repeatable.
    #[arg(long)]
    pub rule: Vec<String>,
    /// First day of the period (reporting time zone).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day of the period, inclusive.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// Parameter override, `RULE.PARAM=VALUE` or `PARAM=VALUE` for every selected rule that
    /// has it; repeatable.
    #[arg(long = "param", value_name = "RULE.PARAM=VALUE")]
    pub params: Vec<String>,
    /// A parameter profile of custos.toml (`[profiles.<name>."<rule>"]`), e.g. a jurisdiction.
    #[arg(long)]
    pub profile: Option<String>,
    /// Directory of rule packs and shared views.
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
    /// Rules evaluated at the same time.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// Read the transactions from Parquet in every rule instead of decoding them once into
    /// memory: slower, for runs that must leave the memory to the rules' own operators.
    #[arg(long)]
    pub no_cache: bool,
}

/// Parameter values for each rule: defaults, then custos.toml `[params]`, then the profile,
/// then the command line.
pub fn resolve_params(
    ctx: &Context,
    rules: &[&Rule],
    profile: Option<&str>,
    cli: &[String],
) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut layer = |rule_id: &str, values: &BTreeMap<String, toml::Value>| {
        for (k, v) in values {
            out.entry(rule_id.to_string())
                .or_default()
                .insert(k.clone(), crate::config::param_text(v));
        }
    };
    for (rule_id, values) in &ctx.config.params {
        layer(rule_id, values);
    }
    if let Some(name) = profile {
        let p = ctx
            .config
            .profiles
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no profile {name:?} in custos.toml"))?;
        for (rule_id, values) in p {
            layer(rule_id, values);
        }
    }
    for spec in cli {
        let (key, value) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--param {spec:?}: expected RULE.PARAM=VALUE or PARAM=VALUE"))?;
        let targets: Vec<(&str, &str)> = match rules.iter().find(|r| key.starts_with(&format!("{}.", r.id()))) {
            Some(r) => vec![(r.id(), &key[r.id().len() + 1..])],
            None => rules
                .iter()
                .filter(|r| r.meta.params.contains_key(key))
                .map(|r| (r.id(), key))
                .collect(),
        };
        anyhow::ensure!(
            !targets.is_empty(),
            "--param {spec:?}: no selected rule has that parameter"
        );
        for (rule_id, name) in targets {
            out.entry(rule_id.to_string())
                .or_default()
                .insert(name.to_string(), value.to_string());
        }
    }
    Ok(out)
}

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<Exit> {
    anyhow::ensure!(args.from <= args.to, "--from {} is after --to {}", args.from, args.to);
    let set = RuleSet::load(&args.queries)?;
    let rules = set.select(&args.pack, &args.rule)?;
    let params = resolve_params(ctx, &rules, args.profile.as_deref(), &args.params)?;
    let mut wh = Warehouse::open(&ctx.warehouse)?;
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let options = ctx.session_options()?;
    let bar = if ctx.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(rules.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("rules [{bar:40}] {pos}/{len} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    };
    let input_version = wh.catalog().version();
    let rt = super::runtime()?;
    let empty = BTreeMap::new();
    let (outputs, stored, suppressions, cached) = rt.block_on(async {
        let session = wh.session(&options).await?;
        let rendered = rules
            .iter()
            .map(|r| r.render(args.from, args.to, params.get(r.id()).unwrap_or(&empty)))
            .collect::<Result<Vec<_>, _>>()?;
        // Transactions decoded once for the whole run, within half the memory limit.
        let budget = options
            .memory_limit
            .map_or_else(|| super::half_of_memory() / 2, |l| l / 2);
        let scan =
            custos_rules::prepare_run(&session, &args.queries, &rendered, (!args.no_cache).then_some(budget)).await?;
        // Rules are independent and may run a few at a time; on two cores DataFusion already
        // keeps both busy within a rule (two at a time measured no faster at 10M
        // transactions and held 3.0 GiB instead of 2.5), so one is the default.
        let mut pending = rules.iter().enumerate();
        let mut running = tokio::task::JoinSet::new();
        let mut results: Vec<Option<custos_rules::RuleOutput>> = vec![None; rules.len()];
        loop {
            while running.len() < args.concurrency.max(1) {
                let Some((i, r)) = pending.next() else { break };
                let (session, rule) = (session.clone(), (*r).clone());
                let overrides = params.get(r.id()).cloned().unwrap_or_default();
                let (from, to) = (args.from, args.to);
                running.spawn(async move { (i, custos_rules::evaluate(&session, &rule, from, to, &overrides).await) });
            }
            let Some(done) = running.join_next().await else { break };
            let (i, out) = done?;
            bar.set_message(rules[i].id().to_string());
            bar.inc(1);
            results[i] = Some(out?);
        }
        let outputs: Vec<(&Rule, custos_rules::RuleOutput)> = rules
            .iter()
            .zip(results)
            .filter_map(|(r, o)| o.map(|o| (*r, o)))
            .collect();
        let stored = custos_rules::read_alerts(&session).await?;
        let suppressions = custos_rules::read_suppressions(&session).await?;
        // The cache's reservation is held until here; only the line about it goes on.
        let cached = scan.to_string();
        anyhow::Ok((outputs, stored, suppressions, cached))
    })?;
    bar.finish_and_clear();

    let mut writer = wh.writer()?;
    let version = writer.next_version();
    let run_id = format!("RUN-{version:06}");
    let fresh: Vec<_> = outputs.iter().flat_map(|(_, o)| o.alerts.iter().cloned()).collect();
    let merged = custos_rules::merge(stored, fresh, &suppressions, &run_id);
    let old_files: Vec<String> = writer
        .catalog()
        .files(Table::Alerts)
        .iter()
        .map(|f| f.path.clone())
        .collect();
    let batch = custos_rules::alerts_batch(&merged.alerts)?;
    writer.stage(
        Table::Alerts,
        &format!("part-{version:010}.parquet"),
        &[batch],
        &["alert_id"],
    )?;
    for f in &old_files {
        writer.remove(Table::Alerts, f);
    }
    let manifest: Vec<serde_json::Value> = outputs
        .iter()
        .map(|(r, o)| {
            serde_json::json!({
                "id": r.id(),
                "version": r.meta.version,
                "sha256": r.sha256,
                "params": r.effective_params(params.get(r.id()).unwrap_or(&empty)),
                "alerts": o.alerts.len(),
                "millis": o.millis,
            })
        })
        .collect();
    let millis = clock.elapsed().as_millis() as i64;
    let run_row = RecordBatch::try_new(
        Table::RuleRuns.arrow_schema(),
        vec![
            Arc::new(StringArray::from(vec![run_id.clone()])) as ArrayRef,
            Arc::new(TimestampMicrosecondArray::from(vec![started.timestamp_micros()]).with_timezone("UTC")),
            Arc::new(Date32Array::from(vec![days(args.from)])),
            Arc::new(Date32Array::from(vec![days(args.to)])),
            Arc::new(Int64Array::from(vec![input_version as i64])),
            Arc::new(StringArray::from(vec![serde_json::to_string(&manifest)?])),
            Arc::new(Int64Array::from(vec![merged.new as i64])),
            Arc::new(Int64Array::from(vec![merged.updated as i64])),
            Arc::new(Int64Array::from(vec![merged.suppressed as i64])),
            Arc::new(Int64Array::from(vec![millis])),
        ],
    )?;
    writer.stage(Table::RuleRuns, &format!("part-{version:010}.parquet"), &[run_row], &[])?;
    writer.commit("run").context("committing the run")?;

    println!("{:<40} {:>8} {:>9}", "rule", "alerts", "ms");
    for (r, o) in &outputs {
        println!("{:<40} {:>8} {:>9}", r.id(), o.alerts.len(), o.millis);
    }
    println!("\n{cached}");
    println!(
        "{run_id} over {} to {} (input catalog version {input_version}): {} new, {} updated, {} suppressed; {} alerts stored, in {:.1}s",
        args.from,
        args.to,
        merged.new,
        merged.updated,
        merged.suppressed,
        merged.alerts.len(),
        millis as f64 / 1000.0
    );
    Ok(Exit::Ok)
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}
