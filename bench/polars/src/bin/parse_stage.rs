//! The ingest parse stage with Polars' CSV reader, to set beside `bench/parse-stage` (the csv
//! crate, which custos uses, and arrow-csv): every column read as text (no schema inference,
//! no validation), into one DataFrame.
//!
//! Usage: `parse-stage FILE.csv [THREADS]` (all cores when THREADS is left out).

use std::time::Instant;

use polars::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parse-stage FILE.csv [THREADS]")?;
    let threads = args.next().map(|t| t.parse::<usize>()).transpose()?;
    let start = Instant::now();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_n_threads(threads)
        .try_into_reader_with_file_path(Some(path.into()))?
        .finish()?;
    println!(
        "polars csv ({} threads): {} rows of {} text columns in {:.2} s",
        threads.map_or_else(|| "all".to_string(), |t| t.to_string()),
        df.height(),
        df.width(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
