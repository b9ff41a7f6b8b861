//! The per-file driver: read, validate, quarantine, stage, reconcile, commit.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{Offset, TimeZone};
use custos_model::{AMOUNT_SCALE, FieldType, Origin, RATE_SCALE, Reason, Table};
use custos_warehouse::datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch};
use custos_warehouse::datafusion::arrow::compute::{concat_batches, filter_record_batch};
use custos_warehouse::datafusion::arrow::datatypes::Decimal128Type;
use custos_warehouse::datafusion::arrow::row::{RowConverter, SortField};
use custos_warehouse::{LedgerEntry, Syncer, WarehouseSettings, Writer, read_parquet_files};

use crate::ids::FingerprintSet;
use crate::lookups::{Lookups, fingerprint, fx_key};
use crate::profile::Profile;
use crate::sink::{ChunkSink, Staging, sort_batch};
use crate::values::{ColumnBuilder, Value, date_to_days, days_to_date, format_decimal, parse_value};
use crate::{Error, Result};
use crate::{batches, parallel, read};

/// Source file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// One JSON object per line, with the canonical field names as keys.
    Ndjson,
}

impl Format {
    /// The format a file name suggests: `.ndjson`, `.jsonl` and `.json` are NDJSON, anything
    /// else CSV.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("ndjson" | "jsonl" | "json") => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

/// How many quarantined rows a file may have before it is refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    /// At most this many rows.
    Rows(u64),
    /// At most this share of the rows read, in percent.
    Percent(f64),
}

impl std::str::FromStr for RejectLimit {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| format!("{s:?} is not a percentage"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("{s:?} is not between 0% and 100%"));
            }
            Ok(RejectLimit::Percent(v))
        } else {
            s.trim()
                .parse()
                .map(RejectLimit::Rows)
                .map_err(|_| format!("{s:?} is neither a row count nor a percentage"))
        }
    }
}

impl RejectLimit {
    fn exceeded(self, quarantined: u64, read: u64) -> bool {
        match self {
            RejectLimit::Rows(n) => quarantined > n,
            RejectLimit::Percent(p) => read > 0 && (quarantined as f64) * 100.0 > p * read as f64,
        }
    }
}

/// Options of one `custos ingest` run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The table loaded.
    pub table: Table,
    /// A mapping profile for a foreign layout.
    pub profile: Option<Profile>,
    /// Force the format instead of guessing it from the file name.
    pub format: Option<Format>,
    /// Refuse a file with more quarantined rows than this.
    pub max_reject: Option<RejectLimit>,
    /// Transaction rows buffered before they are sorted and written (bounds memory).
    pub chunk_rows: usize,
    /// Threads validating and writing a canonical CSV transaction log; 1 reads it on the
    /// calling thread (other formats and profiles always do).
    pub threads: usize,
}

impl IngestOptions {
    /// Defaults for `table`.
    pub fn new(table: Table) -> IngestOptions {
        IngestOptions {
            table,
            profile: None,
            format: None,
            max_reject: None,
            chunk_rows: 1 << 19,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// A quarantined row as reported to the user (the first few per file).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectSample {
    /// Source line.
    pub line: u64,
    /// Canonical field at fault, if one.
    pub field: Option<String>,
    /// Reason code.
    pub reason: Reason,
    /// What was wrong.
    pub detail: String,
}

/// What happened to one file.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileStatus {
    /// Committed at this catalog version.
    Committed {
        /// The catalog version.
        version: u64,
    },
    /// The same content was ingested into the same table before; nothing was done.
    AlreadyIngested {
        /// The earlier ingest.
        ingest_id: String,
    },
    /// More rows were quarantined than `--max-reject` allows; nothing was committed.
    Refused,
}

/// The result of ingesting one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// What happened.
    #[serde(flatten)]
    pub status: FileStatus,
    /// The control totals (for an already-ingested file, those of the earlier ingest).
    pub ledger: LedgerEntry,
    /// Rows of the table before and after (reference tables replace rows by key).
    pub table_rows_after: u64,
    /// Stored rows that replaced an earlier row with the same key (reference tables).
    pub replaced: u64,
    /// The first quarantined rows, for the user to see at once.
    pub samples: Vec<RejectSample>,
}

/// Loads files into a warehouse through its writer.
pub struct Ingestor<'w> {
    writer: &'w mut Writer,
    settings: WarehouseSettings,
    tz: chrono_tz::Tz,
    reporting_minor: u32,
    lookups: Option<Lookups>,
}

const SAMPLES: usize = 10;

pub(crate) struct Quarantined {
    pub(crate) line: u64,
    pub(crate) field: Option<&'static str>,
    pub(crate) reason: Reason,
    pub(crate) detail: String,
    pub(crate) raw: Raw,
}

pub(crate) enum Raw {
    Bytes(Vec<u8>),
    /// Byte range in the source file, read back at the end (only for quarantined rows).
    Range(u64, u64),
}

/// Buffered transaction rows taken as one batch, before their ids are claimed.
pub(crate) struct Chunk {
    pub(crate) batch: RecordBatch,
    /// Fingerprints of the rows' ids, in row order.
    pub(crate) ids: Vec<u128>,
    origins: Vec<[u64; 3]>,
}

pub(crate) struct Reject {
    pub(crate) field: Option<&'static str>,
    pub(crate) reason: Reason,
    pub(crate) detail: String,
}

pub(crate) fn reject(field: Option<&'static str>, reason: Reason, detail: impl Into<String>) -> Reject {
    Reject {
        field,
        reason,
        detail: detail.into(),
    }
}

/// What a block's pre-pass already looked up for one transaction row, so that the row's
/// checks do not probe the warehouse's sets one row at a time (see [`FingerprintSet::contains_all`]).
pub(crate) struct LookedUp {
    /// The fingerprint of the row's `txn_id`.
    pub(crate) id: u128,
    /// Whether that id is in the warehouse already.
    pub(crate) id_stored: bool,
    /// Whether the payer and the payee are known accounts.
    pub(crate) accounts_known: [bool; 2],
}

/// Positions of the transaction columns the row checks and the fast path (`columnar.rs`) use.
pub(crate) struct TxnColumns {
    pub(crate) txn_id: usize,
    pub(crate) ts: usize,
    pub(crate) amount: usize,
    pub(crate) currency: usize,
    pub(crate) payer: usize,
    pub(crate) payee: usize,
    pub(crate) fx_rate: usize,
    pub(crate) settlement_amount: usize,
    pub(crate) settlement_currency: usize,
    pub(crate) txn_date: usize,
    pub(crate) report_date: usize,
    pub(crate) reporting_rate: usize,
    pub(crate) amount_reporting: usize,
    pub(crate) ingest_id: usize,
}

impl TxnColumns {
    fn new() -> TxnColumns {
        let idx = |name: &str| {
            Table::Transactions
                .columns()
                .iter()
                .position(|c| c.name == name)
                .unwrap_or(usize::MAX)
        };
        TxnColumns {
            txn_id: idx("txn_id"),
            ts: idx("ts"),
            amount: idx("amount"),
            currency: idx("currency"),
            payer: idx("payer_account"),
            payee: idx("payee_account"),
            fx_rate: idx("fx_rate"),
            settlement_amount: idx("settlement_amount"),
            settlement_currency: idx("settlement_currency"),
            txn_date: idx("txn_date"),
            report_date: idx("report_date"),
            reporting_rate: idx("reporting_rate"),
            amount_reporting: idx("amount_reporting"),
            ingest_id: idx("ingest_id"),
        }
    }
}

/// The state of one file being ingested.
pub(crate) struct FileRun<'a> {
    pub(crate) table: Table,
    pub(crate) txn: TxnColumns,
    /// UTC hour -> day in the reporting zone (zone conversion is the costly part).
    pub(crate) local_days: std::collections::HashMap<i64, i32, foldhash::fast::RandomState>,
    pub(crate) columns: &'static [custos_model::Column],
    pub(crate) builders: Vec<ColumnBuilder>,
    pub(crate) buffered: usize,
    pub(crate) ingest_id: String,
    pub(crate) round_amounts: bool,
    pub(crate) exponent_columns: Vec<bool>,
    pub(crate) quarantine: Vec<Quarantined>,
    pub(crate) by_reason: BTreeMap<Reason, u64>,
    pub(crate) rows_read: u64,
    pub(crate) rows_stored: u64,
    pub(crate) amounts: BTreeMap<String, i128>,
    /// Ids the stored rows of the file claimed so far (chunks claim theirs in file order).
    pub(crate) new_ids: FingerprintSet,
    /// Id fingerprint and (line, start byte, end byte) of each buffered transaction row: a
    /// row whose id an earlier chunk claimed is quarantined when its chunk is settled.
    pub(crate) pending_ids: Vec<u128>,
    pub(crate) pending_origins: Vec<[u64; 3]>,
    pub(crate) keys: HashSet<Vec<u8>>,
    pub(crate) lookups: Option<&'a Lookups>,
    pub(crate) tz: chrono_tz::Tz,
    pub(crate) reporting_currency: &'a str,
    pub(crate) reporting_minor: u32,
    /// Transaction batches already sorted and split, waiting for staging.
    pub(crate) sink: Option<ChunkSink>,
}

impl<'w> Ingestor<'w> {
    /// An ingestor writing through `writer` with the warehouse's `settings`.
    pub fn new(writer: &'w mut Writer, settings: &WarehouseSettings) -> Result<Ingestor<'w>> {
        let tz: chrono_tz::Tz = settings.reporting_timezone.parse().map_err(|_| {
            custos_warehouse::Error::InvalidSetting(format!("time zone {:?}", settings.reporting_timezone))
        })?;
        let reporting_minor = custos_model::currency_minor_units(&settings.reporting_currency).unwrap_or(2);
        Ok(Ingestor {
            writer,
            settings: settings.clone(),
            tz,
            reporting_minor,
            lookups: None,
        })
    }

    /// Ingests one file as one atomic commit, calling `progress` with bytes read so far.
    pub fn ingest(
        &mut self,
        path: &Path,
        options: &IngestOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<FileReport> {
        let table = options.table;
        let format = options.format.unwrap_or_else(|| {
            if options.profile.is_some() {
                Format::Csv
            } else {
                Format::from_path(path)
            }
        });
        let parallel =
            table == Table::Transactions && options.profile.is_none() && format == Format::Csv && options.threads > 1;
        let file_len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        // Only a file of the same size can be one ingested before. When there is none, the
        // thread that reads the file hashes it as it reads: hashing first would read the file
        // twice and take about a second on one core while the other waits.
        let hash_while_reading = parallel && !self.writer.catalog().has_ingested_size(table, file_len);
        let hashed_first = if hash_while_reading {
            None
        } else {
            let (sha, file_bytes) = read::hash_file(path)?;
            if let Some(earlier) = self.writer.catalog().already_ingested(table, &sha) {
                return Ok(FileReport {
                    status: FileStatus::AlreadyIngested {
                        ingest_id: earlier.ingest_id.clone(),
                    },
                    ledger: earlier.clone(),
                    table_rows_after: self.writer.catalog().rows(table),
                    replaced: 0,
                    samples: Vec::new(),
                });
            }
            Some((sha, file_bytes))
        };
        if table == Table::Transactions && self.lookups.is_none() {
            let root = self.writer.root().to_path_buf();
            self.lookups = Some(Lookups::load(&root, self.writer.catalog())?);
        }
        let version = self.writer.next_version();
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // Named after the commit, not the file's hash, so rows can be written before the
        // file is read to its end; the ledger entry of the same id holds the hash.
        let ingest_id = format!("ing-{version:06}");
        let staging = self.writer.staging_dir(Table::Transactions);
        let mut run = FileRun::new(
            table,
            ingest_id.clone(),
            options.profile.as_ref().is_some_and(|p| p.round_to_minor_units),
            self.lookups.as_ref(),
            self.tz,
            &self.settings.reporting_currency,
            self.reporting_minor,
        );
        if table == Table::Transactions {
            // Sized from the file (canonical rows are rarely under 100 bytes) so the set never
            // grows while millions of ids go in.
            run.new_ids = FingerprintSet::with_capacity((file_len / 100) as usize);
            if !parallel {
                run.sink = Some(ChunkSink::start(staging.clone(), version));
            }
        }
        let mut hashed_reading: Option<read::FileHash> = None;
        let read = match (&options.profile, format) {
            // Every file is on disk (in staging) once the syncer has finished.
            _ if parallel => Syncer::start().map_err(Error::from).and_then(|syncer| {
                let out = Staging {
                    dir: &staging,
                    version,
                    syncer: &syncer,
                };
                let shape = (options.chunk_rows, options.threads);
                let (files, hashed) = parallel::read_csv(path, &mut run, shape, &out, hash_while_reading, progress)?;
                hashed_reading = hashed;
                syncer.finish()?;
                Ok(files)
            }),
            (Some(profile), _) => {
                let sha = hashed_first.as_ref().map(|(sha, _)| sha.as_str()).unwrap_or_default();
                read::read_profiled_csv(path, profile, sha, &mut run, options.chunk_rows, progress).map(|()| Vec::new())
            }
            (None, Format::Csv) => read::read_csv(path, &mut run, options.chunk_rows, progress).map(|()| Vec::new()),
            (None, Format::Ndjson) => {
                read::read_ndjson(path, &mut run, options.chunk_rows, progress).map(|()| Vec::new())
            }
        };
        // Every chunk is on disk (in staging) before anything is decided about the file.
        let sink_files = read.and_then(|mut files| {
            run.flush()?;
            if let Some(sink) = run.sink.take() {
                files.extend(sink.finish()?);
            }
            Ok(files)
        });
        let sink_files = match sink_files {
            Ok(files) => files,
            Err(e) => {
                self.writer.abandon()?;
                return Err(e);
            }
        };
        let Some((sha, file_bytes)) = hashed_first.or(hashed_reading) else {
            self.writer.abandon()?;
            return Err(Error::io(path, std::io::Error::other("the file was not hashed")));
        };
        if file_bytes != file_len {
            self.writer.abandon()?;
            return Err(Error::io(
                path,
                std::io::Error::other(format!(
                    "the file changed while it was read ({file_len} bytes, then {file_bytes})"
                )),
            ));
        }
        // Chunks quarantine the ids they find claimed when they are settled, after their
        // other rejects: the report lists rows in file order.
        run.quarantine.sort_by_key(|q| q.line);
        read::fill_raw(path, &mut run.quarantine)?;

        let rows_quarantined = run.quarantine.len() as u64;
        let minor = |c: &str| custos_model::currency_minor_units(c).unwrap_or(AMOUNT_SCALE);
        let ledger = LedgerEntry {
            ingest_id: ingest_id.clone(),
            table: table.name().to_string(),
            source_file: path.display().to_string(),
            file_sha256: sha.clone(),
            file_bytes,
            profile: options.profile.as_ref().map(|p| p.name.clone()),
            rows_read: run.rows_read,
            rows_stored: run.rows_stored,
            rows_quarantined,
            quarantined_by_reason: run.by_reason.iter().map(|(r, n)| (r.code().to_string(), *n)).collect(),
            amount_by_currency: run
                .amounts
                .iter()
                .map(|(c, v)| (c.clone(), format_decimal(*v, AMOUNT_SCALE, minor(c))))
                .collect(),
            started_at,
        };
        let samples = run
            .quarantine
            .iter()
            .take(SAMPLES)
            .map(|q| RejectSample {
                line: q.line,
                field: q.field.map(str::to_string),
                reason: q.reason,
                detail: q.detail.clone(),
            })
            .collect();
        if !ledger.reconciles() {
            self.writer.abandon()?;
            return Err(Error::Unreconciled {
                path: path.to_path_buf(),
                read: ledger.rows_read,
                stored: ledger.rows_stored,
                quarantined: ledger.rows_quarantined,
            });
        }
        if options
            .max_reject
            .is_some_and(|limit| limit.exceeded(rows_quarantined, run.rows_read))
        {
            self.writer.abandon()?;
            return Ok(FileReport {
                status: FileStatus::Refused,
                ledger,
                table_rows_after: self.writer.catalog().rows(table),
                replaced: 0,
                samples,
            });
        }

        // Stage data, quarantine and ledger; then commit them together.
        let mut replaced = 0;
        let new_ids = std::mem::take(&mut run.new_ids);
        let quarantine = batches::quarantine_batch(&run, &ledger.source_file)?;
        let reference_batch = if table == Table::Transactions {
            None
        } else {
            Some(run.finish_batch()?)
        };
        drop(run);
        for file in sink_files {
            self.writer.adopt(table, &file.rel_path, file.written);
        }
        if let Some(batch) = reference_batch {
            replaced = self.stage_reference(table, batch, version)?;
        }
        if let Some(q) = quarantine {
            self.writer
                .stage(Table::Quarantine, &format!("part-{version:010}.parquet"), &[q], &[])?;
        }
        let ledger_batch = batches::ledger_batch(&ledger, version)?;
        self.writer.stage(
            Table::IngestLedger,
            &format!("part-{version:010}.parquet"),
            &[ledger_batch],
            &[],
        )?;
        self.writer.add_ledger(ledger.clone());
        let record = self.writer.commit("ingest")?;
        if let Some(lookups) = self.lookups.as_mut() {
            lookups.txn_ids.absorb(new_ids);
        }
        Ok(FileReport {
            status: FileStatus::Committed {
                version: record.version,
            },
            ledger,
            table_rows_after: self.writer.catalog().rows(table),
            replaced,
            samples,
        })
    }

    /// A reference table is replaced by one file: stored rows whose key the new file repeats
    /// give way to the new rows, everything else is kept.
    fn stage_reference(&mut self, table: Table, new: RecordBatch, version: u64) -> Result<u64> {
        let root = self.writer.root().to_path_buf();
        let old_files: Vec<String> = self
            .writer
            .catalog()
            .files(table)
            .iter()
            .map(|f| f.path.clone())
            .collect();
        let old_paths: Vec<PathBuf> = old_files.iter().map(|p| root.join(p)).collect();
        let schema = table.arrow_schema();
        let key_idx: Vec<usize> = table.key().iter().filter_map(|k| schema.index_of(k).ok()).collect();
        let fields = key_idx
            .iter()
            .map(|i| SortField::new(schema.field(*i).data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let key_cols = |b: &RecordBatch| key_idx.iter().map(|i| b.column(*i).clone()).collect::<Vec<ArrayRef>>();
        let new_rows = converter.convert_columns(&key_cols(&new))?;
        let new_keys: HashSet<&[u8]> = new_rows.iter().map(|r| r.data()).collect();
        let mut batches = Vec::new();
        let mut replaced = 0u64;
        for old in read_parquet_files(&old_paths, None)? {
            let old_rows = converter.convert_columns(&key_cols(&old))?;
            let keep: BooleanArray = old_rows.iter().map(|r| Some(!new_keys.contains(r.data()))).collect();
            replaced += keep.iter().filter(|k| *k == Some(false)).count() as u64;
            batches.push(filter_record_batch(&old, &keep)?);
        }
        batches.push(new);
        let merged = concat_batches(&schema, &batches)?;
        let sort_by: Vec<&str> = table.key().to_vec();
        let merged = sort_batch(&merged, &sort_by)?;
        self.writer
            .stage(table, &format!("part-{version:010}.parquet"), &[merged], &sort_by)?;
        for f in old_files {
            self.writer.remove(table, &f);
        }
        Ok(replaced)
    }
}

impl<'a> FileRun<'a> {
    /// Validates one row given as texts per table column (`None` = empty) and stores or
    /// quarantines it. `line` and the byte range `start..end` say where it is in the source.
    /// `looked_up`: the row's lookups when a pre-pass made them (texts as given here).
    pub(crate) fn process(
        &mut self,
        texts: &[Option<&str>],
        line: u64,
        start: u64,
        end: u64,
        looked_up: Option<&LookedUp>,
    ) {
        self.rows_read += 1;
        match self.validate(texts, looked_up) {
            Ok((values, id)) => {
                for (builder, value) in self.builders.iter_mut().zip(&values) {
                    builder.append(value);
                }
                if let Some(fp) = id {
                    self.pending_ids.push(fp);
                    self.pending_origins.push([line, start, end]);
                }
                self.buffered += 1;
                self.rows_stored += 1;
            }
            Err(r) => self.quarantine(line, r, Raw::Range(start, end)),
        }
    }

    /// A run with empty buffers and counts, no id set and no sink.
    fn new(
        table: Table,
        ingest_id: String,
        round_amounts: bool,
        lookups: Option<&'a Lookups>,
        tz: chrono_tz::Tz,
        reporting_currency: &'a str,
        reporting_minor: u32,
    ) -> FileRun<'a> {
        FileRun {
            table,
            txn: TxnColumns::new(),
            local_days: std::collections::HashMap::default(),
            columns: table.columns(),
            builders: table.columns().iter().map(|c| ColumnBuilder::new(c.ty)).collect(),
            buffered: 0,
            ingest_id,
            round_amounts,
            exponent_columns: vec![false; table.columns().len()],
            quarantine: Vec::new(),
            by_reason: BTreeMap::new(),
            rows_read: 0,
            rows_stored: 0,
            amounts: BTreeMap::new(),
            new_ids: FingerprintSet::default(),
            pending_ids: Vec::new(),
            pending_origins: Vec::new(),
            keys: HashSet::new(),
            lookups,
            tz,
            reporting_currency,
            reporting_minor,
            sink: None,
        }
    }

    /// A run for one more thread reading the same file: same settings and lookups, its own
    /// buffers and counts (folded back with [`FileRun::absorb`]), no id set and no sink.
    pub(crate) fn worker(&self) -> FileRun<'a> {
        let mut run = FileRun::new(
            self.table,
            self.ingest_id.clone(),
            self.round_amounts,
            self.lookups,
            self.tz,
            self.reporting_currency,
            self.reporting_minor,
        );
        run.exponent_columns = self.exponent_columns.clone();
        run
    }

    /// Adds a worker's counts, quarantined rows and control totals to this run's.
    pub(crate) fn absorb(&mut self, worker: FileRun<'_>) {
        self.rows_read += worker.rows_read;
        self.rows_stored += worker.rows_stored;
        self.quarantine.extend(worker.quarantine);
        for (reason, n) in worker.by_reason {
            *self.by_reason.entry(reason).or_default() += n;
        }
        for (currency, sum) in worker.amounts {
            *self.amounts.entry(currency).or_default() += sum;
        }
    }

    /// Counts a row the reader could not even split into fields as read, and quarantines it.
    /// Readers use this and [`FileRun::process`] only, so every row read is counted once.
    pub(crate) fn reject_row(&mut self, line: u64, r: Reject, raw: Raw) {
        self.rows_read += 1;
        self.quarantine(line, r, raw);
    }

    pub(crate) fn quarantine(&mut self, line: u64, r: Reject, raw: Raw) {
        *self.by_reason.entry(r.reason).or_default() += 1;
        self.quarantine.push(Quarantined {
            line,
            field: r.field,
            reason: r.reason,
            detail: r.detail,
            raw,
        });
    }

    /// The row's values, and for a transaction its id's fingerprint (claimed later, per chunk).
    #[allow(clippy::type_complexity)]
    fn validate<'t>(
        &mut self,
        texts: &[Option<&'t str>],
        looked_up: Option<&LookedUp>,
    ) -> std::result::Result<(Vec<Value<'t>>, Option<u128>), Reject> {
        let mut values = Vec::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter().enumerate() {
            if column.origin == Origin::Derived {
                values.push(Value::Null);
                continue;
            }
            match texts.get(i).copied().flatten() {
                None if column.required => {
                    return Err(reject(
                        Some(column.name),
                        Reason::MissingRequiredField,
                        format!("{} is required", column.name),
                    ));
                }
                None => values.push(Value::Null),
                Some(text) => values.push(
                    parse_value(column.ty, text, self.exponent_columns[i])
                        .map_err(|(reason, detail)| reject(Some(column.name), reason, detail))?,
                ),
            }
        }
        let id = if self.table == Table::Transactions {
            Some(self.check_transaction(&mut values, looked_up)?)
        } else {
            self.check_key(&values)?;
            None
        };
        if let Some(i) = self.columns.iter().position(|c| c.name == "ingest_id") {
            // The id outlives the row: it is the same for every row of the file.
            values[i] = Value::Null;
        }
        Ok((values, id))
    }

    fn check_key(&mut self, values: &[Value<'_>]) -> std::result::Result<(), Reject> {
        let mut key = Vec::new();
        for k in self.table.key() {
            let i = self.columns.iter().position(|c| c.name == *k).unwrap_or(0);
            key.extend_from_slice(format!("{:?}\u{1f}", values[i]).as_bytes());
        }
        if !self.keys.insert(key) {
            let names = self.table.key().join(", ");
            return Err(reject(
                Some(self.table.key()[0]),
                Reason::DuplicateKey,
                format!("repeats the key ({names}) of an earlier row in this file"),
            ));
        }
        Ok(())
    }

    /// Row checks of a transaction; returns its id's fingerprint.
    fn check_transaction(
        &mut self,
        values: &mut [Value<'_>],
        looked_up: Option<&LookedUp>,
    ) -> std::result::Result<u128, Reject> {
        let c = &self.txn;
        let currency = match values[c.currency] {
            Value::Str(code) => code,
            _ => {
                return Err(reject(
                    Some("currency"),
                    Reason::MissingRequiredField,
                    "currency is required",
                ));
            }
        };
        let (i_amount, i_settle) = (c.amount, c.settlement_amount);
        match (&values[c.settlement_amount], &values[c.settlement_currency]) {
            (Value::Null, _) => {}
            (_, Value::Str(code)) => {
                let code = *code;
                self.check_minor_units(values, i_settle, code, "settlement_amount")?;
            }
            _ => {
                return Err(reject(
                    Some("settlement_currency"),
                    Reason::MissingRequiredField,
                    "settlement_currency is required when settlement_amount is given",
                ));
            }
        }
        self.check_minor_units(values, i_amount, currency, "amount")?;
        let c = &self.txn;
        let Value::Ts(ts) = values[c.ts] else {
            return Err(reject(Some("ts"), Reason::MissingRequiredField, "ts is required"));
        };
        let Value::Dec(amount, _) = values[c.amount] else {
            return Err(reject(
                Some("amount"),
                Reason::MissingRequiredField,
                "amount is required",
            ));
        };
        let lookups = self.lookups;
        if let Some(accounts) = lookups.and_then(|l| l.accounts.as_ref()) {
            for (k, (i, field)) in [(c.payer, "payer_account"), (c.payee, "payee_account")]
                .into_iter()
                .enumerate()
            {
                if let Value::Str(a) = values[i]
                    && !looked_up.map_or_else(|| accounts.contains(fingerprint(a.as_bytes())), |l| l.accounts_known[k])
                {
                    return Err(reject(
                        Some(field),
                        Reason::UnknownAccount,
                        format!("account {a:?} is not in the accounts table"),
                    ));
                }
            }
        }
        // FX to the reporting currency, on the transaction's date in the reporting zone.
        let local_day = self.local_day(ts)?;
        let rate = self.reporting_rate(currency.as_bytes(), local_day)?;
        let reporting = self.to_reporting(amount, rate)?;
        // Uniqueness last, so a row rejected for another reason does not claim its id (ids
        // are claimed in file order when the row's chunk is settled).
        let c = &self.txn;
        let Value::Str(id) = values[c.txn_id] else {
            return Err(reject(
                Some("txn_id"),
                Reason::MissingRequiredField,
                "txn_id is required",
            ));
        };
        let fp = looked_up.map_or_else(|| fingerprint(id.as_bytes()), |l| l.id);
        let stored = match looked_up {
            Some(l) => l.id_stored,
            None => lookups.is_some_and(|l| !l.txn_ids.is_empty() && l.txn_ids.contains(fp)),
        };
        if stored {
            return Err(reject(
                Some("txn_id"),
                Reason::DuplicateTxnId,
                format!("{id:?} is already in the warehouse"),
            ));
        }
        values[c.txn_date] = Value::Date(ts.div_euclid(86_400_000_000) as i32);
        values[c.report_date] = Value::Date(local_day);
        values[c.reporting_rate] = Value::Dec(rate, RATE_SCALE);
        values[c.amount_reporting] = Value::Dec(reporting, AMOUNT_SCALE);
        Ok(fp)
    }

    /// The day of instant `ts` (microseconds, UTC) in the reporting time zone.
    pub(crate) fn local_day(&mut self, ts: i64) -> std::result::Result<i32, Reject> {
        let utc_hour = ts.div_euclid(3_600_000_000);
        if let Some(day) = self.local_days.get(&utc_hour) {
            return Ok(*day);
        }
        let utc = chrono::Utc
            .timestamp_micros(utc_hour * 3_600_000_000)
            .single()
            .ok_or_else(|| reject(Some("ts"), Reason::TimestampOutOfRange, "not a valid instant"))?;
        let day = date_to_days(utc.with_timezone(&self.tz).date_naive());
        // Zones whose offset is not a whole number of hours need the exact instant.
        if utc.with_timezone(&self.tz).offset().fix().local_minus_utc() % 3600 == 0 {
            self.local_days.insert(utc_hour, day);
            return Ok(day);
        }
        let exact = chrono::Utc
            .timestamp_micros(ts)
            .single()
            .map(|u| u.with_timezone(&self.tz).date_naive());
        Ok(exact.map(date_to_days).unwrap_or(day))
    }

    /// The rate from `currency` to the reporting currency on `local_day`, scaled by
    /// 10^RATE_SCALE; a missing rate is the row's fault.
    pub(crate) fn reporting_rate(&self, currency: &[u8], local_day: i32) -> std::result::Result<i128, Reject> {
        if currency == self.reporting_currency.as_bytes() {
            return Ok(10i128.pow(RATE_SCALE));
        }
        self.lookups
            .and_then(|l| l.fx.get(&(local_day, fx_key(currency))))
            .copied()
            .ok_or_else(|| {
                let day = days_to_date(local_day).map(|d| d.to_string()).unwrap_or_default();
                let currency = String::from_utf8_lossy(currency);
                reject(
                    Some("currency"),
                    Reason::MissingFxRate,
                    format!("no {currency} rate to {} for {day}", self.reporting_currency),
                )
            })
    }

    /// `amount` (at the amount scale) in the reporting currency at `rate`.
    pub(crate) fn to_reporting(&self, amount: i128, rate: i128) -> std::result::Result<i128, Reject> {
        convert(amount, rate, self.reporting_minor).ok_or_else(|| {
            reject(
                Some("amount"),
                Reason::AmountOutOfRange,
                "the reporting-currency amount does not fit",
            )
        })
    }

    fn check_minor_units(
        &self,
        values: &mut [Value<'_>],
        i: usize,
        currency: &str,
        field: &'static str,
    ) -> std::result::Result<(), Reject> {
        let minor = custos_model::currency_minor_units(currency).unwrap_or(AMOUNT_SCALE);
        if let Value::Dec(v, digits) = values[i]
            && digits > minor
        {
            let unit = 10i128.pow(AMOUNT_SCALE - minor);
            if v % unit == 0 {
                return Ok(());
            }
            if !self.round_amounts {
                return Err(reject(
                    Some(field),
                    Reason::TooManyDecimals,
                    format!(
                        "{} has {digits} decimals but {currency} has {minor}",
                        format_decimal(v, AMOUNT_SCALE, digits.min(AMOUNT_SCALE))
                    ),
                ));
            }
            let rounded = round_half_even(v, unit) * unit;
            if rounded <= 0 {
                return Err(reject(
                    Some(field),
                    Reason::NonPositiveAmount,
                    format!("rounds to zero in {currency}"),
                ));
            }
            values[i] = Value::Dec(rounded, minor);
        }
        Ok(())
    }

    /// Settles the buffered transactions against the file's id set and hands them to the
    /// background writer (bounded memory).
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.table != Table::Transactions || self.buffered == 0 {
            return Ok(());
        }
        let chunk = self.take_chunk()?;
        let taken = self.new_ids.claim_all(&chunk.ids);
        let batch = self.settle(chunk, &taken)?;
        match self.sink.as_mut() {
            Some(sink) => sink.send(batch),
            None => Ok(()),
        }
    }

    /// The buffered transactions as one batch, with their ids still to be claimed.
    pub(crate) fn take_chunk(&mut self) -> Result<Chunk> {
        let batch = self.finish_batch()?;
        Ok(Chunk {
            batch,
            ids: std::mem::take(&mut self.pending_ids),
            origins: std::mem::take(&mut self.pending_origins),
        })
    }

    /// Quarantines the chunk's rows at positions `taken` (their ids were claimed by earlier
    /// rows of the file), adds the remaining rows' amounts to the control totals and returns
    /// those rows.
    pub(crate) fn settle(&mut self, chunk: Chunk, taken: &[usize]) -> Result<RecordBatch> {
        let Chunk { batch, origins, .. } = chunk;
        let batch = if taken.is_empty() {
            batch
        } else {
            let ids = batch.column(self.txn.txn_id).as_string::<i32>();
            let mut keep = vec![true; batch.num_rows()];
            for &k in taken {
                keep[k] = false;
                let [line, start, end] = origins[k];
                let detail = format!("{:?} appears earlier in this file", ids.value(k));
                self.rows_stored -= 1;
                self.quarantine(
                    line,
                    reject(Some("txn_id"), Reason::DuplicateTxnId, detail),
                    Raw::Range(start, end),
                );
            }
            filter_record_batch(&batch, &BooleanArray::from(keep))?
        };
        let currencies = batch.column(self.txn.currency).as_string::<i32>();
        let amounts = batch.column(self.txn.amount).as_primitive::<Decimal128Type>();
        // Few currencies, long runs: a short list beats a map lookup per row.
        let mut sums: Vec<(&str, i128)> = Vec::new();
        for (currency, amount) in currencies.iter().zip(amounts.iter()) {
            let (Some(currency), Some(amount)) = (currency, amount) else {
                continue;
            };
            match sums.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += amount,
                None => sums.push((currency, amount)),
            }
        }
        for (currency, sum) in sums {
            *self.amounts.entry(currency.to_string()).or_default() += sum;
        }
        Ok(batch)
    }

    fn finish_batch(&mut self) -> Result<RecordBatch> {
        let n = self.buffered;
        let mut arrays = Vec::with_capacity(self.builders.len());
        for (column, builder) in self.columns.iter().zip(self.builders.iter_mut()) {
            if column.name == "ingest_id" {
                let mut b = ColumnBuilder::new(FieldType::Text);
                for _ in 0..n {
                    b.append_str(&self.ingest_id);
                }
                // Drain the placeholder nulls appended per row.
                let _ = builder.finish()?;
                arrays.push(b.finish()?);
            } else {
                arrays.push(builder.finish()?);
            }
        }
        self.buffered = 0;
        Ok(RecordBatch::try_new(self.table.arrow_schema(), arrays)?)
    }

    pub(crate) fn maybe_flush(&mut self, chunk_rows: usize) -> Result<()> {
        if self.table == Table::Transactions && self.buffered >= chunk_rows {
            self.flush()?;
        }
        Ok(())
    }
}

/// `amount * rate` in the reporting currency, rounded half away from zero to its minor units,
/// at the amount scale.
///
/// Ingest converts every stored transaction, and 128-bit division is a library call: a
/// conversion took about 300 instructions that way. When the product fits in 64 bits (an
/// amount times a rate up to 9.2 * 10^18, at their scales) the same arithmetic runs there,
/// in about 65.
fn convert(amount: i128, rate: i128, minor: u32) -> Option<i128> {
    let limit = 10i128.pow(u32::from(custos_model::AMOUNT_PRECISION));
    let power = |k: Option<u32>| k.and_then(|k| POW10.get(k as usize)).copied();
    // A currency has at most AMOUNT_SCALE minor units; any other `minor` converts nothing.
    let drop = (AMOUNT_SCALE + RATE_SCALE).checked_sub(minor);
    let (Some(unit), Some(back), Some(drop)) = (power(drop), power(AMOUNT_SCALE.checked_sub(minor)), drop) else {
        return None;
    };
    if let (Ok(amount), Ok(rate)) = (i64::try_from(amount), i64::try_from(rate))
        && let Some(product) = amount.checked_mul(rate)
    {
        let (q, r) = (product / unit, product % unit);
        // |r| < unit <= 10^18, so doubling it stays in range.
        let rounded = if r * 2 >= unit { q + 1 } else { q };
        // Past 64 bits the value is past the limit too (10^18 < 2^63).
        return rounded.checked_mul(back).map(i128::from).filter(|value| *value < limit);
    }
    let value = convert_wide(amount, rate, drop)?.checked_mul(i128::from(back))?;
    (value < limit).then_some(value)
}

/// `amount * rate` divided by 10^`drop`, rounded half away from zero, in 128 bits.
fn convert_wide(amount: i128, rate: i128, drop: u32) -> Option<i128> {
    let product = amount.checked_mul(rate)?; // scale AMOUNT_SCALE + RATE_SCALE
    let unit = 10i128.pow(drop);
    let (q, r) = (product / unit, product % unit);
    Some(if r * 2 >= unit { q + 1 } else { q })
}

/// 10^0 to 10^18: the powers of ten an `i64` holds.
const POW10: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut i = 1;
    while i < p.len() {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

fn round_half_even(v: i128, unit: i128) -> i128 {
    let q = v / unit;
    let r = v % unit;
    match (r * 2).cmp(&unit) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_half_away_from_zero_to_minor_units() {
        // 100.00 USD at 7.12345678 CNY = 712.345678 -> 712.35
        assert_eq!(convert(1_000_000, 712_345_678, 2), Some(7_123_500));
        // 0.01 at 0.5 = 0.005 -> 0.01
        assert_eq!(convert(100, 50_000_000, 2), Some(100));
    }

    #[test]
    fn narrow_conversion_agrees_with_wide() {
        // A fixed pseudo-random walk over amounts and rates of every size, both signs, and
        // products on either side of the 64-bit limit.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut narrow, mut wide) = (0, 0);
        for _ in 0..200_000 {
            let amount = i128::from(next() >> (next() % 64)) * if next() % 7 == 0 { -1 } else { 1 };
            let rate = i128::from(next() >> (next() % 64));
            let minor = (next() % 5) as u32;
            let in_64 = i64::try_from(amount)
                .ok()
                .zip(i64::try_from(rate).ok())
                .is_some_and(|(a, r)| a.checked_mul(r).is_some());
            if in_64 {
                narrow += 1
            } else {
                wide += 1
            }
            let expected = convert_wide(amount, rate, AMOUNT_SCALE + RATE_SCALE - minor)
                .and_then(|v| v.checked_mul(10i128.pow(AMOUNT_SCALE - minor)))
                .filter(|v| *v < 10i128.pow(u32::from(custos_model::AMOUNT_PRECISION)));
            assert_eq!(
                convert(amount, rate, minor),
                expected,
                "{amount} * {rate}, {minor} minor units"
            );
        }
        // Exact halves of the last minor unit, where the rounding direction shows.
        for minor in 0..=4 {
            let half = 10i128.pow(AMOUNT_SCALE + RATE_SCALE - minor) / 2;
            let unit = 10i128.pow(AMOUNT_SCALE - minor);
            assert_eq!(convert(1, half, minor), Some(unit), "half rounds up");
            assert_eq!(convert(3, half, minor), Some(2 * unit), "one and a half rounds up");
            assert_eq!(convert(1, half - 1, minor), Some(0), "under half rounds down");
            for amount in [1, 3, -1, -3] {
                let expected = convert_wide(amount, half, AMOUNT_SCALE + RATE_SCALE - minor).map(|v| v * unit);
                assert_eq!(convert(amount, half, minor), expected);
            }
        }
        assert!(narrow > 10_000 && wide > 10_000, "{narrow} narrow, {wide} wide");
        assert_eq!(convert(100, 100_000_000, AMOUNT_SCALE + 1), None);
    }

    #[test]
    fn half_even() {
        assert_eq!(round_half_even(25, 10), 2);
        assert_eq!(round_half_even(35, 10), 4);
        assert_eq!(round_half_even(36, 10), 4);
    }

    #[test]
    fn reject_limits() {
        assert_eq!("5".parse::<RejectLimit>(), Ok(RejectLimit::Rows(5)));
        assert_eq!("1.5%".parse::<RejectLimit>(), Ok(RejectLimit::Percent(1.5)));
        assert!("x".parse::<RejectLimit>().is_err());
        assert!(RejectLimit::Percent(10.0).exceeded(2, 10));
        assert!(!RejectLimit::Rows(2).exceeded(2, 10));
    }
}
