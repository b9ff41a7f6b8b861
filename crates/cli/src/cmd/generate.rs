//! `custos generate`: synthetic transaction logs and reference data with labelled typologies.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use custos_generate::{Format, GenerateOptions, TYPOLOGIES, generate};

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Customers: people, merchants, agents and companies (at least 200).
    #[arg(long, default_value_t = 2000)]
    pub customers: u32,
    /// Days of traffic.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed: the same arguments give byte-identical output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Directory to write into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the transaction log; reference tables are always CSV.
    #[arg(long, value_enum, default_value_t = LogFormat::Csv)]
    pub format: LogFormat,
    /// First day of the log.
    #[arg(long, default_value = "2025-01-01", value_name = "YYYY-MM-DD")]
    pub start: chrono::NaiveDate,
    /// Background transactions each person starts per day, on average.
    #[arg(long, default_value = "0.8", value_name = "N")]
    pub activity: String,
    /// Patterns of a typology to inject, e.g. `--inject structuring=10`; `all=N` sets every
    /// typology. Default: one per 300 customers, at least 3. See `--list-typologies`.
    #[arg(long, value_name = "TYPOLOGY=N")]
    pub inject: Vec<String>,
    /// List the typologies and exit.
    #[arg(long, exclusive = true)]
    pub list_typologies: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Csv,
    Ndjson,
}

pub fn run(ctx: &Context, args: GenerateArgs) -> anyhow::Result<Exit> {
    if args.list_typologies {
        for (id, pack, what) in TYPOLOGIES {
            println!("{id:<28} {pack:<10} {what}");
        }
        return Ok(Exit::Ok);
    }
    let mut options = GenerateOptions::new(args.customers, args.days, args.seed);
    options.start = args.start;
    options.format = match args.format {
        LogFormat::Csv => Format::Csv,
        LogFormat::Ndjson => Format::Ndjson,
    };
    options.activity_milli = parse_thousandths(&args.activity)
        .ok_or_else(|| anyhow::anyhow!("--activity {:?}: expected a number like 0.8", args.activity))?;
    for spec in &args.inject {
        let (name, count) = spec
            .split_once('=')
            .and_then(|(n, c)| Some((n.trim(), c.trim().parse::<u32>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("--inject {spec:?}: expected TYPOLOGY=N"))?;
        if name == "all" {
            for (id, _, _) in TYPOLOGIES {
                options.counts.insert(id, count);
            }
        } else {
            options.set_count(name, count)?;
        }
    }

    let bar = if ctx.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(u64::from(args.days));
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("generating [{bar:40}] day {pos}/{len} {msg} eta {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    };
    let started = std::time::Instant::now();
    let summary = generate(&options, &args.out, &mut |p| {
        bar.set_position(u64::from(p.days_done));
        bar.set_message(format!("{} transactions", p.transactions));
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();

    println!("wrote {}:", args.out.display());
    println!(
        "  {:<22} {:>12} rows  ({:.1} MB)",
        summary.log_file,
        summary.transactions,
        summary.log_bytes as f64 / 1e6
    );
    for (file, rows) in &summary.files {
        println!("  {file:<22} {rows:>12} rows");
    }
    let patterns: u32 = summary.patterns.values().sum();
    println!(
        "  {:<22} {:>12} patterns over {} typologies, naming {} transactions",
        "labels.ndjson",
        patterns,
        summary.patterns.len(),
        summary.labelled_transactions
    );
    println!("  {:<22} the options and row counts, to make it again", "generate.json");
    for (typology, n) in &summary.skipped {
        println!("  note: {n} {typology} pattern(s) could not be placed (too few days or eligible customers)");
    }
    println!(
        "in {secs:.2}s ({:.0} transactions/s). Load it with:\n  custos demo --data {}",
        summary.transactions as f64 / secs.max(1e-9),
        args.out.display()
    );
    Ok(Exit::Ok)
}

/// "0.8" -> 800; at most three decimals.
fn parse_thousandths(s: &str) -> Option<u64> {
    let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if frac.len() > 3 || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    Some(int * 1000 + frac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousandths() {
        assert_eq!(super::parse_thousandths("0.8"), Some(800));
        assert_eq!(super::parse_thousandths("2"), Some(2000));
        assert_eq!(super::parse_thousandths("1.25"), Some(1250));
        assert_eq!(super::parse_thousandths("x"), None);
        assert_eq!(super::parse_thousandths("0.0001"), None);
    }
}
