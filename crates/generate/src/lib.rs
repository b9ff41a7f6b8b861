//! Synthetic mobile-payment data for custos: a transaction log and every reference table in
//! the canonical ingest formats, with AML, KYC and licensing typologies injected into
//! realistic background traffic and labelled in a separate file.
//!
//! # Brief overview
//! - [`GenerateOptions`] says how many customers, how many days, which seed, which format,
//!   and how many patterns of each [`TYPOLOGIES`] entry to inject.
//! - [`generate`] builds the world (customers, accounts, merchants, agents, licences, FX),
//!   plans the injected patterns, then streams the log day by day: one thread generates and
//!   sorts a day, another formats and writes it. Memory is bounded by the world and one day.
//! - Output is a pure function of the options: no clock, no hash-map order, no floats (see
//!   `rng.rs`), so the same options give byte-identical files on any machine.
//!
//! # Example
//! ```
//! use custos_generate::{GenerateOptions, generate};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let options = GenerateOptions::new(400, 3, 7);
//! let summary = generate(&options, dir.path(), &mut |_| {}).unwrap();
//! assert!(summary.transactions > 0);
//! assert!(dir.path().join("transactions.csv").exists());
//! assert!(dir.path().join("labels.ndjson").exists());
//! ```
#![deny(missing_docs)]

mod calendar;
mod names;
mod output;
mod rng;
mod traffic;
mod typology;
mod world;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use output::Format;
pub use typology::TYPOLOGIES;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options cannot produce a sensible world.
    #[error("{0}")]
    Options(String),
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Data compiled into the binary could not be read (a build defect).
    #[error("embedded data: {0}")]
    Embedded(String),
}

/// Result of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Customers (people, merchants, agents, companies), at least 200.
    pub customers: u32,
    /// Days of traffic.
    pub days: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// First day of the log.
    pub start: NaiveDate,
    /// Format of the transaction log (reference tables are always CSV).
    pub format: Format,
    /// Background transactions each person initiates per day, in thousandths.
    pub activity_milli: u64,
    /// Patterns to inject per typology; typologies not named get none.
    pub counts: BTreeMap<&'static str, u32>,
}

impl GenerateOptions {
    /// Options with default start (2025-01-01), CSV, 0.8 transactions per person per day,
    /// and [`GenerateOptions::default_count`] patterns of every typology.
    pub fn new(customers: u32, days: u32, seed: u64) -> GenerateOptions {
        let n = GenerateOptions::default_count(customers);
        GenerateOptions {
            customers,
            days,
            seed,
            start: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            format: Format::Csv,
            activity_milli: 800,
            counts: TYPOLOGIES.iter().map(|t| (t.0, n)).collect(),
        }
    }

    /// Default patterns per typology: one per 300 customers, at least 3.
    pub fn default_count(customers: u32) -> u32 {
        (customers / 300).max(3)
    }

    /// Sets the count of one typology by name.
    pub fn set_count(&mut self, typology: &str, count: u32) -> Result<()> {
        let Some((id, _, _)) = TYPOLOGIES.iter().find(|t| t.0 == typology) else {
            let known: Vec<&str> = TYPOLOGIES.iter().map(|t| t.0).collect();
            return Err(Error::Options(format!(
                "unknown typology {typology:?}; known: {}",
                known.join(", ")
            )));
        };
        self.counts.insert(id, count);
        Ok(())
    }
}

/// Progress of a run, reported after each day.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Days written so far.
    pub days_done: u32,
    /// Days in all.
    pub days: u32,
    /// Transactions generated so far.
    pub transactions: u64,
}

/// What a run wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Transactions in the log.
    pub transactions: u64,
    /// Size of the log in bytes.
    pub log_bytes: u64,
    /// Name of the log file.
    pub log_file: String,
    /// Reference files and their rows.
    pub files: Vec<(String, u64)>,
    /// Patterns placed per typology.
    pub patterns: BTreeMap<&'static str, u32>,
    /// Patterns that could not be placed per typology (too few days or subjects).
    pub skipped: BTreeMap<&'static str, u32>,
    /// Distinct transactions that some label names.
    pub labelled_transactions: u64,
}

/// Generates everything into `dir` (created if needed).
pub fn generate(options: &GenerateOptions, dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<Summary> {
    if options.days == 0 {
        return Err(Error::Options("--days must be at least 1".into()));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let start = calendar::day_of(options.start);
    let mut w = world::World::build(options.seed, options.customers, start, options.days)?;
    let mut plan = typology::plan(&mut w, options.seed, &options.counts);

    let log_file = format!("transactions.{}", options.format.extension());
    let log_path = dir.join(&log_file);
    let mut injected = std::mem::take(&mut plan.events);
    let mut traffic = traffic::Traffic::new(&w, options.seed, options.activity_milli);
    let mut formatter = output::LogFormatter::new(&w, options.format);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u32, Vec<traffic::Event>)>(2);

    let (written, files) = std::thread::scope(|scope| {
        // Reference tables are written beside the log, not before it.
        let w = &w;
        let reference = scope.spawn(move || output::write_reference(w, dir));
        let plan = &plan;
        let log_path = &log_path;
        let writer = scope.spawn(move || -> Result<(Vec<Vec<u64>>, u64, u64)> {
            let file = std::fs::File::create(log_path).map_err(|source| Error::Io {
                path: log_path.clone(),
                source,
            })?;
            let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut labels = vec![Vec::new(); plan.labels.len()];
            let mut buf = formatter.header();
            let (mut rows, mut bytes) = (0u64, 0u64);
            for (d, events) in rx {
                // Chunks small enough that the buffer stays in cache until it is written.
                for chunk in events.chunks(8192) {
                    formatter.day(start + d as calendar::Day, chunk, &mut buf, |e, seq| {
                        output::record(plan, &mut labels, d, e, seq);
                    });
                    bytes += buf.len() as u64;
                    output::flush(&mut file, &mut buf, log_path)?;
                }
                rows += events.len() as u64;
            }
            bytes += buf.len() as u64;
            output::flush(&mut file, &mut buf, log_path)?;
            file.flush().map_err(|source| Error::Io {
                path: log_path.clone(),
                source,
            })?;
            Ok((labels, rows, bytes))
        });
        let mut total = 0u64;
        for d in 0..options.days {
            let mut events = Vec::new();
            traffic.day(d, &mut events);
            events.append(&mut injected[d as usize]);
            // Time order; equal seconds keep generation order, itself deterministic. Sorting
            // (second, index) keys moves 8 bytes per event instead of the whole event.
            let mut keys: Vec<u64> = events
                .iter()
                .enumerate()
                .map(|(i, e)| (u64::from(e.sec) << 32) | i as u64)
                .collect();
            keys.sort_unstable();
            let events: Vec<traffic::Event> = keys.into_iter().map(|k| events[k as u32 as usize]).collect();
            total += events.len() as u64;
            if tx.send((d, events)).is_err() {
                break;
            }
            progress(Progress {
                days_done: d + 1,
                days: options.days,
                transactions: total,
            });
        }
        drop(tx);
        let panicked = |what: &str| Error::Embedded(format!("the {what} thread panicked"));
        let written = writer.join().unwrap_or_else(|_| Err(panicked("log writer")));
        let files = reference.join().unwrap_or_else(|_| Err(panicked("reference writer")));
        Ok::<_, Error>((written?, files?))
    })?;
    let (label_txns, transactions, log_bytes) = written;
    for (label, txns) in plan.labels.iter_mut().zip(label_txns) {
        label.txns = txns;
    }
    output::write_labels(&w, &plan.labels, &dir.join("labels.ndjson"))?;
    let mut labelled: Vec<u64> = plan.labels.iter().flat_map(|l| l.txns.iter().copied()).collect();
    labelled.sort_unstable();
    labelled.dedup();
    let mut patterns = BTreeMap::new();
    for l in &plan.labels {
        *patterns.entry(l.typology).or_insert(0) += 1;
    }
    let summary = Summary {
        transactions,
        log_bytes,
        log_file,
        files,
        patterns,
        skipped: plan.skipped.clone(),
        labelled_transactions: labelled.len() as u64,
    };
    write_manifest(options, &summary, &dir.join("generate.json"))?;
    Ok(summary)
}

/// `generate.json`: the options and what came of them, so a directory says how to make it
/// again. Contains nothing that varies between runs.
fn write_manifest(options: &GenerateOptions, s: &Summary, path: &Path) -> Result<()> {
    let files: BTreeMap<&str, u64> = s
        .files
        .iter()
        .map(|(n, r)| (n.as_str(), *r))
        .chain([(s.log_file.as_str(), s.transactions)])
        .collect();
    let manifest = serde_json::json!({
        "generator": format!("custos-generate {}", env!("CARGO_PKG_VERSION")),
        "seed": options.seed,
        "customers": options.customers,
        "days": options.days,
        "start": options.start.to_string(),
        "format": options.format.extension(),
        "activity": output::decimal(options.activity_milli as i64, 3),
        "requested": options.counts,
        "patterns": s.patterns,
        "skipped": s.skipped,
        "rows": files,
        "labelled_transactions": s.labelled_transactions,
    });
    let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Embedded(e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
