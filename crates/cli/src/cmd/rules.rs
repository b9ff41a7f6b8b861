//! `custos rules list|show|check`: the rule library as files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use custos_rules::RuleSet;
use custos_warehouse::{SessionOptions, Warehouse};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
    /// Directory of rule packs (`<dir>/<pack>/*.sql`) and shared views (`<dir>/views`).
    #[arg(long, global = true, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// One line per rule: id, severity, subject, title.
    List,
    /// A rule's metadata, parameters and SQL.
    Show {
        /// Rule id, e.g. aml.lv_cash.
        id: String,
    },
    /// The SQL exactly as a run would execute it: parameters rendered as typed literals.
    Render {
        /// Rule id.
        id: String,
        /// First day of the period.
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: chrono::NaiveDate,
        /// Last day of the period, inclusive.
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: chrono::NaiveDate,
        /// Parameter override, `PARAM=VALUE`; repeatable.
        #[arg(long = "param", value_name = "PARAM=VALUE")]
        params: Vec<String>,
    },
    /// Load every rule, validate its metadata and parameters, and plan its SQL against the
    /// warehouse schema (an empty warehouse is made in memory when none exists). Names file
    /// and line on error.
    Check,
}

pub fn run(ctx: &Context, args: RulesArgs) -> anyhow::Result<Exit> {
    let rules = RuleSet::load(&args.queries)?;
    match args.command {
        RulesCommand::List => {
            println!("{:<40} {:<9} {:<9} title", "id", "severity", "subject");
            for r in &rules.rules {
                println!(
                    "{:<40} {:<9} {:<9} {}",
                    r.meta.id,
                    r.meta.severity.as_str(),
                    r.meta.subject_type,
                    r.meta.title
                );
            }
            println!("\n{} rules in {}", rules.rules.len(), args.queries.display());
        }
        RulesCommand::Show { id } => {
            let r = rules
                .get(&id)
                .ok_or_else(|| anyhow::anyhow!("no rule {id:?}; `custos rules list` shows them"))?;
            let m = &r.meta;
            println!("{} (version {}, {})\n{}\n", m.id, m.version, r.path.display(), m.title);
            println!("{}\n", m.description.trim());
            println!(
                "regulation: {}\nsource:     {}\nseverity:   {}\nsubject:    {}\nowner:      {}",
                m.regulation,
                m.source,
                m.severity.as_str(),
                m.subject_type,
                m.owner
            );
            if !m.typologies.is_empty() {
                println!("finds:      {}", m.typologies.join(", "));
            }
            println!("sha256:     {}\n\nparameters:", r.sha256);
            for (name, p) in &m.params {
                println!(
                    "  ${name:<22} {:?} default {} {}  {}",
                    p.kind, p.default, p.unit, p.description
                );
            }
            println!("\n{}", r.sql().trim());
        }
        RulesCommand::Render { id, from, to, params } => {
            let r = rules
                .get(&id)
                .ok_or_else(|| anyhow::anyhow!("no rule {id:?}; `custos rules list` shows them"))?;
            let resolved = super::run::resolve_params(ctx, &[r], None, &params)?;
            let empty = std::collections::BTreeMap::new();
            println!("{}", r.render(from, to, resolved.get(r.id()).unwrap_or(&empty))?.trim());
        }
        RulesCommand::Check => {
            let rt = super::runtime()?;
            // Without a warehouse, rules are planned against an empty one made for the check.
            let dir = tempfile::tempdir()?;
            let wh = match Warehouse::open(&ctx.warehouse) {
                Ok(wh) => wh,
                Err(_) => Warehouse::create_or_open(dir.path(), &ctx.settings())?,
            };
            let failures = rt.block_on(async {
                let session = wh.session(&SessionOptions::default()).await?;
                custos_rules::prepare(&session, &args.queries).await?;
                let mut failures = Vec::new();
                for r in &rules.rules {
                    if let Err(e) = custos_rules::check(&session, r).await {
                        failures.push(e.to_string());
                    }
                }
                anyhow::Ok(failures)
            })?;
            for f in &failures {
                eprintln!("{f}");
            }
            anyhow::ensure!(
                failures.is_empty(),
                "{} of {} rules failed the check",
                failures.len(),
                rules.rules.len()
            );
            println!(
                "{} rules checked: metadata, parameters and plans are valid",
                rules.rules.len()
            );
        }
    }
    Ok(Exit::Ok)
}
