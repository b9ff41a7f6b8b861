//! The per-file driver: read, validate, quarantine, stage, reconcile, commit.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::TimeZone;
use custos_model::{AMOUNT_SCALE, FieldType, Origin, RATE_SCALE, Reason, Table};
use custos_warehouse::datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch};
use custos_warehouse::datafusion::arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use custos_warehouse::datafusion::arrow::datatypes::Date32Type;
use custos_warehouse::datafusion::arrow::row::{RowConverter, SortField};
use custos_warehouse::{LedgerEntry, WarehouseSettings, Writer, read_parquet_files};
use sha2::{Digest, Sha256};

use crate::lookups::{Lookups, id_fingerprint};
use crate::profile::{BoundProfile, Profile, SourceRow};
use crate::values::{ColumnBuilder, Value, date_to_days, days_to_date, format_decimal, parse_value};
use crate::{Error, Result};

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
}

impl IngestOptions {
    /// Defaults for `table`.
    pub fn new(table: Table) -> IngestOptions {
        IngestOptions {
            table,
            profile: None,
            format: None,
            max_reject: None,
            chunk_rows: 1 << 20,
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

struct Quarantined {
    line: u64,
    field: Option<&'static str>,
    reason: Reason,
    detail: String,
    raw: Raw,
}

enum Raw {
    Bytes(Vec<u8>),
    /// Byte range in the source file, read back at the end (only for quarantined rows).
    Range(u64, u64),
}

struct Reject {
    field: Option<&'static str>,
    reason: Reason,
    detail: String,
}

fn reject(field: Option<&'static str>, reason: Reason, detail: impl Into<String>) -> Reject {
    Reject {
        field,
        reason,
        detail: detail.into(),
    }
}

/// The state of one file being ingested.
struct FileRun<'a> {
    table: Table,
    columns: &'static [custos_model::Column],
    builders: Vec<ColumnBuilder>,
    buffered: usize,
    ingest_id: String,
    round_amounts: bool,
    exponent_columns: Vec<bool>,
    quarantine: Vec<Quarantined>,
    by_reason: BTreeMap<Reason, u64>,
    rows_read: u64,
    rows_stored: u64,
    amounts: BTreeMap<String, i128>,
    new_ids: HashSet<u128>,
    keys: HashSet<Vec<u8>>,
    chunk: u32,
    lookups: Option<&'a Lookups>,
    tz: chrono_tz::Tz,
    reporting_currency: &'a str,
    reporting_minor: u32,
    /// Transaction batches already sorted and split, waiting for staging.
    staged: Vec<(i32, RecordBatch)>,
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
        let (sha, file_bytes) = hash_file(path)?;
        let table = options.table;
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
        if table == Table::Transactions && self.lookups.is_none() {
            let root = self.writer_root();
            self.lookups = Some(Lookups::load(&root, self.writer.catalog())?);
        }
        let version = self.writer.next_version();
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let ingest_id = format!("ing-{version:06}-{}", &sha[..8]);
        let format = options.format.unwrap_or_else(|| {
            if options.profile.is_some() {
                Format::Csv
            } else {
                Format::from_path(path)
            }
        });
        let mut run = FileRun {
            table,
            columns: table.columns(),
            builders: table.columns().iter().map(|c| ColumnBuilder::new(c.ty)).collect(),
            buffered: 0,
            ingest_id: ingest_id.clone(),
            round_amounts: options.profile.as_ref().is_some_and(|p| p.round_to_minor_units),
            exponent_columns: vec![false; table.columns().len()],
            quarantine: Vec::new(),
            by_reason: BTreeMap::new(),
            rows_read: 0,
            rows_stored: 0,
            amounts: BTreeMap::new(),
            new_ids: HashSet::new(),
            keys: HashSet::new(),
            chunk: 0,
            lookups: self.lookups.as_ref(),
            tz: self.tz,
            reporting_currency: &self.settings.reporting_currency,
            reporting_minor: self.reporting_minor,
            staged: Vec::new(),
        };
        match (&options.profile, format) {
            (Some(profile), _) => read_profiled_csv(path, profile, &sha, &mut run, options.chunk_rows, progress)?,
            (None, Format::Csv) => read_csv(path, &mut run, options.chunk_rows, progress)?,
            (None, Format::Ndjson) => read_ndjson(path, &mut run, options.chunk_rows, progress)?,
        }
        run.flush()?;
        fill_raw(path, &mut run.quarantine)?;

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
        let staged = std::mem::take(&mut run.staged);
        let quarantine = quarantine_batch(&run, &ledger.source_file)?;
        let reference_batch = if table == Table::Transactions {
            None
        } else {
            Some(run.finish_batch()?)
        };
        drop(run);
        for (n, (day, batch)) in staged.iter().enumerate() {
            let date = days_to_date(*day)
                .map(|d| d.to_string())
                .unwrap_or_else(|| day.to_string());
            let rel = format!("date={date}/part-{version:010}-{n:05}.parquet");
            self.writer
                .stage(table, &rel, std::slice::from_ref(batch), &["payer_account", "ts"])?;
        }
        if let Some(batch) = reference_batch {
            replaced = self.stage_reference(table, batch, version)?;
        }
        if let Some(q) = quarantine {
            self.writer
                .stage(Table::Quarantine, &format!("part-{version:010}.parquet"), &[q], &[])?;
        }
        let ledger_batch = ledger_batch(&ledger, version)?;
        self.writer.stage(
            Table::IngestLedger,
            &format!("part-{version:010}.parquet"),
            &[ledger_batch],
            &[],
        )?;
        self.writer.add_ledger(ledger.clone());
        let record = self.writer.commit("ingest")?;
        if let Some(lookups) = self.lookups.as_mut() {
            lookups.txn_ids.extend(new_ids);
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

    fn writer_root(&self) -> PathBuf {
        self.writer.root().to_path_buf()
    }

    /// A reference table is replaced by one file: stored rows whose key the new file repeats
    /// give way to the new rows, everything else is kept.
    fn stage_reference(&mut self, table: Table, new: RecordBatch, version: u64) -> Result<u64> {
        let root = self.writer_root();
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

fn sort_batch(batch: &RecordBatch, by: &[&str]) -> Result<RecordBatch> {
    let columns = by
        .iter()
        .map(|n| {
            Ok(SortColumn {
                values: batch.column(batch.schema().index_of(n)?).clone(),
                options: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

impl FileRun<'_> {
    /// Validates one row given as texts per table column (`None` = empty) and stores or
    /// quarantines it.
    fn process(&mut self, texts: &[Option<&str>], line: u64, raw: impl FnOnce() -> Raw) -> Result<()> {
        self.rows_read += 1;
        match self.validate(texts) {
            Ok(values) => {
                for (builder, value) in self.builders.iter_mut().zip(&values) {
                    builder.append(value);
                }
                self.buffered += 1;
                self.rows_stored += 1;
            }
            Err(r) => self.quarantine(line, r, raw()),
        }
        Ok(())
    }

    fn quarantine(&mut self, line: u64, r: Reject, raw: Raw) {
        *self.by_reason.entry(r.reason).or_default() += 1;
        self.quarantine.push(Quarantined {
            line,
            field: r.field,
            reason: r.reason,
            detail: r.detail,
            raw,
        });
    }

    fn validate<'t>(&mut self, texts: &[Option<&'t str>]) -> std::result::Result<Vec<Value<'t>>, Reject> {
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
        if self.table == Table::Transactions {
            self.check_transaction(&mut values)?;
        } else {
            self.check_key(&values)?;
        }
        if let Some(i) = self.columns.iter().position(|c| c.name == "ingest_id") {
            // The id outlives the row: it is the same for every row of the file.
            values[i] = Value::Null;
        }
        Ok(values)
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

    fn check_transaction(&mut self, values: &mut [Value<'_>]) -> std::result::Result<(), Reject> {
        let idx = |name: &str| self.columns.iter().position(|c| c.name == name).unwrap_or(0);
        let (i_amount, i_currency, i_ts) = (idx("amount"), idx("currency"), idx("ts"));
        let currency = match values[i_currency] {
            Value::Str(c) => c,
            _ => {
                return Err(reject(
                    Some("currency"),
                    Reason::MissingRequiredField,
                    "currency is required",
                ));
            }
        };
        self.check_minor_units(values, i_amount, currency, "amount")?;
        let i_settle = idx("settlement_amount");
        let i_settle_ccy = idx("settlement_currency");
        match (&values[i_settle], &values[i_settle_ccy]) {
            (Value::Null, _) => {}
            (_, Value::Str(c)) => {
                let c = *c;
                self.check_minor_units(values, i_settle, c, "settlement_amount")?;
            }
            _ => {
                return Err(reject(
                    Some("settlement_currency"),
                    Reason::MissingRequiredField,
                    "settlement_currency is required when settlement_amount is given",
                ));
            }
        }
        let Value::Ts(ts) = values[i_ts] else {
            return Err(reject(Some("ts"), Reason::MissingRequiredField, "ts is required"));
        };
        let Value::Dec(amount, _) = values[i_amount] else {
            return Err(reject(
                Some("amount"),
                Reason::MissingRequiredField,
                "amount is required",
            ));
        };
        let lookups = self.lookups;
        // Accounts.
        if let Some(accounts) = lookups.and_then(|l| l.accounts.as_ref()) {
            for field in ["payer_account", "payee_account"] {
                if let Value::Str(a) = values[idx(field)]
                    && !accounts.contains(a)
                {
                    let field = if field == "payer_account" {
                        "payer_account"
                    } else {
                        "payee_account"
                    };
                    return Err(reject(
                        Some(field),
                        Reason::UnknownAccount,
                        format!("account {a:?} is not in the accounts table"),
                    ));
                }
            }
        }
        // FX to the reporting currency, on the transaction's date in the reporting zone.
        let utc = chrono::Utc
            .timestamp_micros(ts)
            .single()
            .ok_or_else(|| reject(Some("ts"), Reason::TimestampOutOfRange, "not a valid instant"))?;
        let local_day = date_to_days(utc.with_timezone(&self.tz).date_naive());
        let rate = if currency == self.reporting_currency {
            10i128.pow(RATE_SCALE)
        } else {
            *lookups
                .and_then(|l| l.fx.get(&(local_day, currency.to_string())))
                .ok_or_else(|| {
                    let day = days_to_date(local_day).map(|d| d.to_string()).unwrap_or_default();
                    reject(
                        Some("currency"),
                        Reason::MissingFxRate,
                        format!("no {currency} rate to {} for {day}", self.reporting_currency),
                    )
                })?
        };
        let reporting = convert(amount, rate, self.reporting_minor).ok_or_else(|| {
            reject(
                Some("amount"),
                Reason::AmountOutOfRange,
                "the reporting-currency amount does not fit",
            )
        })?;
        // Uniqueness last, so a row rejected for another reason does not claim its id.
        let Value::Str(id) = values[idx("txn_id")] else {
            return Err(reject(
                Some("txn_id"),
                Reason::MissingRequiredField,
                "txn_id is required",
            ));
        };
        let fp = id_fingerprint(id);
        if self.new_ids.contains(&fp) {
            return Err(reject(
                Some("txn_id"),
                Reason::DuplicateTxnId,
                format!("{id:?} appears earlier in this file"),
            ));
        }
        if lookups.is_some_and(|l| l.txn_ids.contains(&fp)) {
            return Err(reject(
                Some("txn_id"),
                Reason::DuplicateTxnId,
                format!("{id:?} is already in the warehouse"),
            ));
        }
        self.new_ids.insert(fp);
        let utc_day = date_to_days(utc.date_naive());
        values[idx("txn_date")] = Value::Date(utc_day);
        values[idx("reporting_rate")] = Value::Dec(rate, RATE_SCALE);
        values[idx("amount_reporting")] = Value::Dec(reporting, AMOUNT_SCALE);
        if let Value::Dec(a, _) = values[i_amount] {
            *self.amounts.entry(currency.to_string()).or_default() += a;
        }
        Ok(())
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

    /// Sorts and splits the buffered transactions by UTC day (bounded memory).
    fn flush(&mut self) -> Result<()> {
        if self.table != Table::Transactions || self.buffered == 0 {
            return Ok(());
        }
        let batch = self.finish_batch()?;
        let batch = sort_batch(&batch, &["txn_date", "payer_account", "ts"])?;
        let dates = batch
            .column(batch.schema().index_of("txn_date")?)
            .as_primitive::<Date32Type>()
            .clone();
        let mut start = 0;
        while start < batch.num_rows() {
            let day = dates.value(start);
            let mut end = start;
            while end < batch.num_rows() && dates.value(end) == day {
                end += 1;
            }
            self.staged.push((day, batch.slice(start, end - start)));
            start = end;
        }
        self.chunk += 1;
        Ok(())
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

    fn maybe_flush(&mut self, chunk_rows: usize) -> Result<()> {
        if self.table == Table::Transactions && self.buffered >= chunk_rows {
            self.flush()?;
        }
        Ok(())
    }
}

/// `amount * rate` in the reporting currency, rounded half away from zero to its minor units,
/// at the amount scale.
fn convert(amount: i128, rate: i128, minor: u32) -> Option<i128> {
    let product = amount.checked_mul(rate)?; // scale AMOUNT_SCALE + RATE_SCALE
    let drop = AMOUNT_SCALE + RATE_SCALE - minor;
    let unit = 10i128.pow(drop);
    let q = product / unit;
    let r = product % unit;
    let rounded = if r * 2 >= unit { q + 1 } else { q };
    let value = rounded.checked_mul(10i128.pow(AMOUNT_SCALE - minor))?;
    (value < 10i128.pow(u32::from(custos_model::AMOUNT_PRECISION))).then_some(value)
}

fn round_half_even(v: i128, unit: i128) -> i128 {
    let q = v / unit;
    let r = v % unit;
    match (r * 2).cmp(&unit) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), total))
}

/// Maps header names onto table columns; the header must name every required input column
/// and nothing custos does not know.
fn bind_header(path: &Path, table: Table, header: &[String]) -> Result<Vec<Option<usize>>> {
    let mut map = Vec::with_capacity(header.len());
    let mut seen = HashSet::new();
    for (pos, name) in header.iter().enumerate() {
        let norm = name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
        let col = table
            .columns()
            .iter()
            .position(|c| c.name == norm && c.origin == Origin::Input)
            .ok_or_else(|| Error::Header {
                path: path.to_path_buf(),
                detail: format!(
                    "column {} ({name:?}) is not a {table} field; expected some of: {}",
                    pos + 1,
                    table.input_columns().map(|c| c.name).collect::<Vec<_>>().join(", ")
                ),
            })?;
        if !seen.insert(col) {
            return Err(Error::Header {
                path: path.to_path_buf(),
                detail: format!("column {name:?} appears twice"),
            });
        }
        map.push(Some(col));
    }
    let missing: Vec<&str> = table
        .input_columns()
        .filter(|c| {
            c.required
                && !seen.contains(
                    &table
                        .columns()
                        .iter()
                        .position(|x| x.name == c.name)
                        .unwrap_or(usize::MAX),
                )
        })
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Header {
            path: path.to_path_buf(),
            detail: format!("required columns missing: {}", missing.join(", ")),
        });
    }
    Ok(map)
}

fn csv_reader(path: &Path, delimiter: u8) -> Result<csv::Reader<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(file))
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::io(path, std::io::Error::other(format!("{other:?}"))),
    }
}

/// A lone Ctrl-Z (0x1A) after the last line is an MS-DOS end-of-file mark, as OFAC's
/// sdn.csv ends; it is not a row.
fn is_dos_eof(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record.get(0) == Some(b"\x1a")
}

fn record_strings(record: &csv::ByteRecord) -> Vec<String> {
    record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

fn read_csv(path: &Path, run: &mut FileRun<'_>, chunk_rows: usize, progress: &mut dyn FnMut(u64)) -> Result<()> {
    let table = run.table;
    let mut reader = csv_reader(path, b',')?;
    let mut record = csv::ByteRecord::new();
    let ncols = table.columns().len();
    // The OFAC list ships without a header: its first field is a number, never a name.
    let headerless = table == Table::Sanctions;
    let mut binding: Option<Vec<Option<usize>>> = None;
    let mut first = true;
    let null_tokens = table.null_tokens();
    let trim = table.trims_values();
    loop {
        let start = reader.position().byte();
        if !reader.read_byte_record(&mut record).map_err(|e| csv_err(path, e))? {
            break;
        }
        let end = reader.position().byte();
        let line = record.position().map_or(0, |p| p.line());
        if first {
            first = false;
            let header = record_strings(&record);
            let looks_numeric = header
                .first()
                .is_some_and(|f| f.trim().trim_start_matches('\u{feff}').parse::<i64>().is_ok());
            if !(headerless && looks_numeric) {
                binding = Some(bind_header(path, table, &header)?);
                continue;
            }
            binding = Some(
                (0..header.len())
                    .map(|i| {
                        table
                            .input_columns()
                            .nth(i)
                            .and_then(|c| table.columns().iter().position(|x| x.name == c.name))
                    })
                    .collect(),
            );
        }
        let Some(binding) = binding.as_ref() else { continue };
        if is_dos_eof(&record) {
            continue;
        }
        if line.is_multiple_of(65_536) {
            progress(end);
        }
        if record.len() != binding.len() {
            let r = reject(
                None,
                Reason::WrongFieldCount,
                format!("{} fields, the header has {}", record.len(), binding.len()),
            );
            run.rows_read += 1;
            run.quarantine(line, r, Raw::Range(start, end));
            continue;
        }
        let mut texts: Vec<Option<&str>> = vec![None; ncols];
        let mut bad_utf8 = None;
        for (field, col) in record.iter().zip(binding) {
            let Some(col) = *col else { continue };
            match std::str::from_utf8(field) {
                Ok(mut s) => {
                    if trim {
                        s = s.trim();
                    }
                    if !s.is_empty() && !null_tokens.contains(&s) {
                        texts[col] = Some(s);
                    }
                }
                Err(e) => {
                    bad_utf8 = Some((table.columns()[col].name, e.valid_up_to()));
                    break;
                }
            }
        }
        if let Some((name, at)) = bad_utf8 {
            run.rows_read += 1;
            run.quarantine(
                line,
                reject(
                    Some(name),
                    Reason::BadUtf8,
                    format!("invalid UTF-8 after byte {at} of the field"),
                ),
                Raw::Range(start, end),
            );
            continue;
        }
        run.process(&texts, line, || Raw::Range(start, end))?;
        run.maybe_flush(chunk_rows)?;
    }
    if binding.is_none() {
        return Err(Error::Header {
            path: path.to_path_buf(),
            detail: "the file is empty: no header line".into(),
        });
    }
    Ok(())
}

fn read_profiled_csv(
    path: &Path,
    profile: &Profile,
    sha: &str,
    run: &mut FileRun<'_>,
    chunk_rows: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    if profile.table != run.table {
        return Err(Error::Profile {
            path: profile.path.clone(),
            detail: format!("loads {}, not {}", profile.table, run.table),
        });
    }
    let mut reader = csv_reader(path, profile.delimiter)?;
    let mut record = csv::ByteRecord::new();
    let mut bound: Option<BoundProfile<'_>> = None;
    if !profile.header {
        bound = Some(profile.bind(None)?);
    }
    let ncols = run.table.columns().len();
    let mut out: Vec<Option<String>> = vec![None; ncols];
    let mut expected_fields = None;
    loop {
        let start = reader.position().byte();
        if !reader.read_byte_record(&mut record).map_err(|e| csv_err(path, e))? {
            break;
        }
        let end = reader.position().byte();
        let line = record.position().map_or(0, |p| p.line());
        let Some(b) = bound.as_ref() else {
            let header = record_strings(&record);
            expected_fields = Some(header.len());
            let b = profile.bind(Some(&header))?;
            run.exponent_columns = (0..ncols).map(|i| b.allows_exponent(i)).collect();
            bound = Some(b);
            continue;
        };
        if run.exponent_columns.iter().all(|e| !e) {
            run.exponent_columns = (0..ncols).map(|i| b.allows_exponent(i)).collect();
        }
        if line.is_multiple_of(65_536) {
            progress(end);
        }
        let expected = *expected_fields.get_or_insert(record.len());
        if record.len() != expected {
            run.rows_read += 1;
            let r = reject(
                None,
                Reason::WrongFieldCount,
                format!("{} fields, expected {expected}", record.len()),
            );
            run.quarantine(line, r, Raw::Range(start, end));
            continue;
        }
        let fields: std::result::Result<Vec<&str>, usize> = record
            .iter()
            .enumerate()
            .map(|(i, f)| std::str::from_utf8(f).map_err(|_| i))
            .collect();
        let fields = match fields {
            Ok(f) => f,
            Err(i) => {
                run.rows_read += 1;
                let r = reject(None, Reason::BadUtf8, format!("source column {i} is not valid UTF-8"));
                run.quarantine(line, r, Raw::Range(start, end));
                continue;
            }
        };
        out.iter_mut().for_each(|o| *o = None);
        let file_sha8 = &sha[..8];
        if let Err((name, reason, detail)) = b.map_row(
            run.table,
            &SourceRow {
                fields: &fields,
                line,
                file_sha8,
            },
            &mut out,
        ) {
            run.rows_read += 1;
            run.quarantine(line, reject(Some(name), reason, detail), Raw::Range(start, end));
            continue;
        }
        let texts: Vec<Option<&str>> = out.iter().map(|o| o.as_deref()).collect();
        run.process(&texts, line, || Raw::Range(start, end))?;
        run.maybe_flush(chunk_rows)?;
    }
    Ok(())
}

fn read_ndjson(path: &Path, run: &mut FileRun<'_>, chunk_rows: usize, progress: &mut dyn FnMut(u64)) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut offset = 0u64;
    let ncols = run.table.columns().len();
    let table = run.table;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        offset += n as u64;
        if line.is_multiple_of(65_536) {
            progress(offset);
        }
        let trimmed = buf.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let text = match std::str::from_utf8(trimmed) {
            Ok(t) => t,
            Err(e) => {
                run.rows_read += 1;
                let r = reject(
                    None,
                    Reason::BadUtf8,
                    format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                );
                run.quarantine(line, r, Raw::Bytes(trimmed.to_vec()));
                continue;
            }
        };
        match ndjson_texts(table, text) {
            Ok(owned) => {
                let texts: Vec<Option<&str>> = owned.iter().map(|o| o.as_deref()).collect();
                debug_assert_eq!(texts.len(), ncols);
                run.process(&texts, line, || Raw::Bytes(trimmed.to_vec()))?;
            }
            Err(r) => {
                run.rows_read += 1;
                run.quarantine(line, r, Raw::Bytes(trimmed.to_vec()));
            }
        }
        run.maybe_flush(chunk_rows)?;
    }
    Ok(())
}

fn ndjson_texts(table: Table, text: &str) -> std::result::Result<Vec<Option<String>>, Reject> {
    let object: BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).map_err(|e| reject(None, Reason::BadJson, format!("not a JSON object: {e}")))?;
    let mut out = vec![None; table.columns().len()];
    for (key, raw) in object {
        let col = table
            .columns()
            .iter()
            .position(|c| c.name == key && c.origin == Origin::Input)
            .ok_or_else(|| reject(None, Reason::BadJson, format!("unknown key {key:?}")))?;
        let name = table.columns()[col].name;
        let r = raw.get();
        let value = match r.as_bytes().first() {
            Some(b'"') => {
                serde_json::from_str::<String>(r).map_err(|e| reject(Some(name), Reason::BadJson, e.to_string()))?
            }
            Some(b'{' | b'[') => return Err(reject(Some(name), Reason::BadJson, format!("{key} must be a scalar"))),
            _ if r == "null" => String::new(),
            _ => r.to_string(),
        };
        if !value.is_empty() {
            out[col] = Some(value);
        }
    }
    Ok(out)
}

/// Reads the raw bytes of quarantined CSV rows back from the source.
fn fill_raw(path: &Path, rows: &mut [Quarantined]) -> Result<()> {
    if !rows.iter().any(|q| matches!(q.raw, Raw::Range(..))) {
        return Ok(());
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    for q in rows.iter_mut() {
        if let Raw::Range(start, end) = q.raw {
            let len = usize::try_from(end.saturating_sub(start)).unwrap_or(0).min(1 << 20);
            let mut buf = vec![0u8; len];
            file.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, e))?;
            file.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            q.raw = Raw::Bytes(buf);
        }
    }
    Ok(())
}

/// The raw line as text: valid UTF-8 as is, invalid bytes as `\xNN`.
fn raw_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

fn quarantine_batch(run: &FileRun<'_>, source_file: &str) -> Result<Option<RecordBatch>> {
    if run.quarantine.is_empty() {
        return Ok(None);
    }
    let table = Table::Quarantine;
    let mut b: Vec<ColumnBuilder> = table.columns().iter().map(|c| ColumnBuilder::new(c.ty)).collect();
    for q in &run.quarantine {
        let raw = match &q.raw {
            Raw::Bytes(bytes) => raw_text(bytes),
            Raw::Range(..) => String::new(),
        };
        b[0].append_str(&run.ingest_id);
        b[1].append_str(run.table.name());
        b[2].append_str(source_file);
        b[3].append(&Value::Int(q.line as i64));
        match q.field {
            Some(f) => b[4].append_str(f),
            None => b[4].append(&Value::Null),
        }
        b[5].append_str(q.reason.code());
        b[6].append_str(&q.detail);
        b[7].append_str(&raw);
    }
    let arrays = b
        .iter_mut()
        .map(|b| b.finish())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Some(RecordBatch::try_new(table.arrow_schema(), arrays)?))
}

fn ledger_batch(e: &LedgerEntry, version: u64) -> Result<RecordBatch> {
    let table = Table::IngestLedger;
    let mut b: Vec<ColumnBuilder> = table.columns().iter().map(|c| ColumnBuilder::new(c.ty)).collect();
    let by_reason = serde_json::to_string(&e.quarantined_by_reason).unwrap_or_default();
    let amounts = serde_json::to_string(&e.amount_by_currency).unwrap_or_default();
    let started = chrono::DateTime::parse_from_rfc3339(&e.started_at)
        .map(|d| d.timestamp_micros())
        .unwrap_or(0);
    let int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
    b[0].append_str(&e.ingest_id);
    b[1].append_str(&e.table);
    b[2].append_str(&e.source_file);
    b[3].append_str(&e.file_sha256);
    b[4].append(&int(e.file_bytes));
    match &e.profile {
        Some(p) => b[5].append_str(p),
        None => b[5].append(&Value::Null),
    }
    b[6].append(&int(e.rows_read));
    b[7].append(&int(e.rows_stored));
    b[8].append(&int(e.rows_quarantined));
    b[9].append_str(&by_reason);
    b[10].append_str(&amounts);
    b[11].append(&Value::Ts(started));
    b[12].append(&int(version));
    let arrays = b
        .iter_mut()
        .map(|b| b.finish())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(table.arrow_schema(), arrays)?)
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

    #[test]
    fn raw_text_escapes_invalid_bytes() {
        assert_eq!(raw_text(b"a\xffb"), "a\\xFFb");
    }
}
