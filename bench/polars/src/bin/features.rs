//! The rolling and lag features of two rules, computed by Polars from a custos warehouse:
//!
//! - velocity: each account's outflows per reporting day and, for the days at or above the
//!   amount floor, the sum and the number of active days of the 30 days before
//!   (`queries/aml/velocity_spike.sql`, default parameters);
//! - dormancy: each account's events whose previous event is at least 90 days older
//!   (`queries/aml/dormant_reactivation.sql`).
//!
//! Each feature table is written to Parquet, as a feature step the SQL rules would join, and
//! the time of every stage is printed, so that BENCHMARKS.md can set them beside the same
//! rules run in SQL. Amounts stay exact (decimals, or integer ten-thousandths where Polars has
//! no decimal kernel); instants are compared as integer microseconds.
//!
//! Usage: `features WAREHOUSE FROM TO OUT_DIR` (dates as YYYY-MM-DD).

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

fn parquet_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn scan(dir: &Path) -> Result<LazyFrame, Box<dyn std::error::Error>> {
    let files = parquet_files(dir)?;
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::from(p.to_str().unwrap_or_default()))
        .collect();
    Ok(LazyFrame::scan_parquet_files(
        paths.into_iter().collect(),
        ScanArgsParquet::default(),
    )?)
}

fn date(s: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).ok_or("epoch")?;
    Ok((d - epoch).num_days() as i32)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        return Err("usage: features WAREHOUSE FROM TO OUT_DIR".into());
    }
    let wh = Path::new(&args[1]);
    let (from, to) = (date(&args[2])?, date(&args[3])?);
    let out = Path::new(&args[4]);
    std::fs::create_dir_all(out)?;
    let (baseline_days, min_amount, factor, min_active) = (30i32, 20_000i64, 3i64, 3u32);
    // CUSTOS_IDLE_DAYS checks the dormancy features on a short history, where 90 days finds nothing.
    let idle_days: i64 = std::env::var("CUSTOS_IDLE_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90);
    let idle_us: i64 = idle_days * 86_400 * 1_000_000;
    let burst_us: i64 = 14 * 86_400 * 1_000_000;

    // Read once: the columns both features use, decoded into memory (the SQL run does the
    // same with its transaction cache).
    let t = Instant::now();
    let txns = scan(&wh.join("transactions"))?
        .select([
            col("txn_id"),
            col("ts").dt().timestamp(TimeUnit::Microseconds).alias("ts_us"),
            col("report_date").cast(DataType::Int32),
            col("payer_account"),
            col("payee_account"),
            col("status"),
            col("amount_reporting"),
        ])
        .filter(col("status").eq(lit("SUCCESS")))
        .collect()?;
    let accounts = scan(&wh.join("accounts"))?
        .select([col("account_id"), col("account_class")])
        .collect()?;
    let read = t.elapsed();
    println!(
        "read: {} successful transactions, {} accounts in {:.2} s",
        txns.height(),
        accounts.height(),
        read.as_secs_f64()
    );

    // Velocity: outflows of personal accounts per day; for candidate days, the 30 days before.
    let t = Instant::now();
    let personal = accounts
        .clone()
        .lazy()
        .filter(col("account_class").is_in(lit(Series::new("c".into(), ["I", "II", "III"])).implode(false), false))
        .select([col("account_id")]);
    let daily = txns
        .clone()
        .lazy()
        .filter(
            col("report_date")
                .gt_eq(lit(from - baseline_days))
                .and(col("report_date").lt_eq(lit(to))),
        )
        .join(
            personal,
            [col("payer_account")],
            [col("account_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("payer_account"), col("report_date")])
        .agg([col("amount_reporting").sum().alias("day_out")])
        .sort(["payer_account", "report_date"], SortMultipleOptions::default())
        // Polars 0.55 has no rolling sums of decimals: the trailing sums run on exact integer
        // ten-thousandths of the reporting currency (the column's scale) instead.
        .with_columns([
            col("report_date").cast(DataType::Date).alias("day"),
            (col("day_out") * lit(10_000)).cast(DataType::Int64).alias("day_units"),
            lit(1u32).alias("one"),
        ]);
    let window = RollingOptionsDynamicWindow {
        window_size: Duration::parse(&format!("{baseline_days}d")),
        min_periods: 0,
        closed_window: ClosedWindow::Left,
        fn_params: None,
    };
    let mut velocity = daily
        .with_columns([
            col("day_units")
                .rolling_sum_by(col("day"), window.clone())
                .over([col("payer_account")])?
                .alias("history"),
            col("one")
                .rolling_sum_by(col("day"), window)
                .over([col("payer_account")])?
                .alias("active_days"),
        ])
        .filter(
            col("report_date")
                .gt_eq(lit(from))
                .and(col("day_out").gt_eq(lit(min_amount).cast(DataType::Decimal(18, 4)))),
        )
        .collect()?;
    let velocity_time = t.elapsed();
    let spikes =
        velocity
            .clone()
            .lazy()
            .filter(col("active_days").gt_eq(lit(min_active)).and(
                (col("day_out").cast(DataType::Float64) * lit(baseline_days as f64)).gt_eq(
                    col("history").fill_null(lit(0)).cast(DataType::Float64) / lit(10_000.0) * lit(factor as f64),
                ),
            ))
            .collect()?;
    let t = Instant::now();
    ParquetWriter::new(std::fs::File::create(out.join("velocity_features.parquet"))?).finish(&mut velocity)?;
    let velocity_write = t.elapsed();
    println!(
        "velocity: {} candidate account-days, {} spikes; compute {:.2} s, write {:.2} s",
        velocity.height(),
        spikes.height(),
        velocity_time.as_secs_f64(),
        velocity_write.as_secs_f64()
    );

    // Dormancy: every successful event of a customer account, its previous event, and the
    // bursts after a gap of at least 90 days.
    let t = Instant::now();
    let own = accounts
        .lazy()
        .filter(col("account_class").is_in(
            lit(Series::new("c".into(), ["AGENT", "INTERNAL"])).implode(false),
            false,
        ))
        .select([col("account_id")]);
    let to_us = (to as i64 + 1) * 86_400 * 1_000_000;
    let side = |account: &str| {
        txns.clone()
            .lazy()
            .filter(col("ts_us").lt(lit(to_us)))
            .select([
                col(account).alias("account_id"),
                col("txn_id"),
                col("ts_us"),
                col("amount_reporting"),
            ])
            .join(
                own.clone(),
                [col("account_id")],
                [col("account_id")],
                JoinArgs::new(JoinType::Anti),
            )
    };
    let acts = concat([side("payer_account"), side("payee_account")], UnionArgs::default())?
        .sort(["account_id", "ts_us"], SortMultipleOptions::default())
        .collect()?;
    let from_us = from as i64 * 86_400 * 1_000_000;
    let mut wakes = acts
        .clone()
        .lazy()
        .with_columns([col("ts_us").shift(lit(1)).over([col("account_id")])?.alias("prev_us")])
        .filter(
            col("prev_us")
                .is_not_null()
                .and(col("prev_us").lt_eq(col("ts_us") - lit(idle_us)))
                .and(col("ts_us").gt_eq(lit(from_us))),
        )
        .select([col("account_id"), col("ts_us").alias("wake_us"), col("prev_us")])
        .collect()?;
    let bursts = wakes
        .clone()
        .lazy()
        .join(
            acts.lazy(),
            [col("account_id")],
            [col("account_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("ts_us")
                .gt_eq(col("wake_us"))
                .and(col("ts_us").lt(col("wake_us") + lit(burst_us))),
        )
        .group_by([col("account_id"), col("wake_us")])
        .agg([col("amount_reporting").sum().alias("moved"), col("txn_id")])
        .filter(col("moved").gt_eq(lit(10_000).cast(DataType::Decimal(18, 4))))
        .collect()?;
    let dormancy_time = t.elapsed();
    let t = Instant::now();
    ParquetWriter::new(std::fs::File::create(out.join("dormancy_features.parquet"))?).finish(&mut wakes)?;
    println!(
        "dormancy: {} wakes, {} bursts moving 10,000 or more; compute {:.2} s, write {:.2} s",
        wakes.height(),
        bursts.height(),
        dormancy_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
