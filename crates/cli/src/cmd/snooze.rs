//! `custos snooze add|list`: hold back a rule's alerts for a subject until a day, with a
//! reason and an author, recorded in the warehouse.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use custos_model::Table;
use custos_rules::Suppression;
use custos_warehouse::{SessionOptions, Warehouse};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct SnoozeArgs {
    #[command(subcommand)]
    pub command: SnoozeCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnoozeCommand {
    /// Snooze a rule for one subject.
    Add {
        /// Rule id, e.g. aml.fan_in.
        rule: String,
        /// customer, account, merchant or licence.
        subject_type: String,
        /// The subject's id.
        subject_id: String,
        /// Why (kept with every alert it holds back).
        #[arg(long)]
        reason: String,
        /// Who decided.
        #[arg(long)]
        author: String,
        /// Last day covered: alerts whose window starts after it are raised again.
        #[arg(long, value_name = "YYYY-MM-DD")]
        until: NaiveDate,
    },
    /// Every snooze, with whether it still holds today.
    List,
}

pub fn run(ctx: &Context, args: SnoozeArgs) -> anyhow::Result<Exit> {
    let mut wh = Warehouse::open(&ctx.warehouse)?;
    let rt = super::runtime()?;
    let existing = rt.block_on(async {
        let session = wh.session(&SessionOptions::default()).await?;
        anyhow::Ok(custos_rules::read_suppressions(&session).await?)
    })?;
    match args.command {
        SnoozeCommand::Add {
            rule,
            subject_type,
            subject_id,
            reason,
            author,
            until,
        } => {
            anyhow::ensure!(
                custos_rules::SUBJECT_TYPES.contains(&subject_type.as_str()),
                "subject type {subject_type:?} is not one of {}",
                custos_rules::SUBJECT_TYPES.join(", ")
            );
            anyhow::ensure!(
                !reason.trim().is_empty() && !author.trim().is_empty(),
                "a snooze needs a reason and an author"
            );
            let expires = (until - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32;
            let s = Suppression::new(
                &rule,
                &subject_type,
                &subject_id,
                &reason,
                &author,
                chrono::Utc::now().timestamp_micros(),
                expires,
            );
            let id = s.suppression_id.clone();
            let mut all = existing;
            all.push(s);
            let mut writer = wh.writer()?;
            let version = writer.next_version();
            let old: Vec<String> = writer
                .catalog()
                .files(Table::Suppressions)
                .iter()
                .map(|f| f.path.clone())
                .collect();
            writer.stage(
                Table::Suppressions,
                &format!("part-{version:010}.parquet"),
                &[custos_rules::suppressions_batch(&all)?],
                &[],
            )?;
            for f in &old {
                writer.remove(Table::Suppressions, f);
            }
            writer.commit("snooze")?;
            println!(
                "{id}: {rule} for {subject_type} {subject_id} snoozed until {until} ({reason}, {author}); the next run honours it"
            );
        }
        SnoozeCommand::List => {
            let today = chrono::Utc::now().date_naive();
            println!(
                "{:<16} {:<36} {:<30} {:<11} {:<7} {:<16} reason",
                "id", "rule", "subject", "until", "active", "author"
            );
            for s in &existing {
                let until = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
                    + chrono::Duration::days(i64::from(s.expires_on));
                println!(
                    "{:<16} {:<36} {:<30} {:<11} {:<7} {:<16} {}",
                    s.suppression_id,
                    s.rule_id,
                    format!("{} {}", s.subject_type, s.subject_id),
                    until,
                    if until >= today { "yes" } else { "expired" },
                    s.author,
                    s.reason
                );
            }
        }
    }
    Ok(Exit::Ok)
}
