//! Writing transaction chunks in the background: while the reader validates the next chunk,
//! a second thread sorts the previous one and writes it as one Parquet file per UTC day into
//! the warehouse's staging area. Memory stays bounded: at most one chunk waits in the channel.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use custos_model::Table;
use custos_warehouse::datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use custos_warehouse::datafusion::arrow::compute::take_record_batch;
use custos_warehouse::datafusion::arrow::datatypes::{Date32Type, TimestampMicrosecondType};
use custos_warehouse::datafusion::arrow::row::{RowConverter, SortField};
use custos_warehouse::{Syncer, WrittenFile, write_parquet_synced_by};

use crate::values::days_to_date;
use crate::{Error, Result};

/// The order rows are written in: by day (one file each), then by account and time, so
/// per-account window rules read them without a re-sort.
const SORT: [&str; 3] = ["txn_date", "payer_account", "ts"];
/// The sort order recorded in each file (the day is constant within a file).
pub(crate) const FILE_ORDER: [&str; 2] = ["payer_account", "ts"];

/// Where chunks are written: the table's staging directory, the commit's version (which
/// names the files) and the syncer that puts them on disk.
pub(crate) struct Staging<'p> {
    pub dir: &'p Path,
    pub version: u64,
    pub syncer: &'p Syncer,
}

/// A file the sink wrote, relative to the table's staging directory.
pub(crate) struct SinkFile {
    pub rel_path: String,
    pub written: WrittenFile,
}

pub(crate) struct ChunkSink {
    tx: Option<SyncSender<RecordBatch>>,
    handle: Option<JoinHandle<Result<Vec<SinkFile>>>>,
}

impl ChunkSink {
    /// Starts the writer thread; files go under `staging_dir` (the table's staging directory)
    /// and are named after the commit `version`.
    pub(crate) fn start(staging_dir: PathBuf, version: u64) -> ChunkSink {
        let (tx, rx) = sync_channel::<RecordBatch>(1);
        let handle = std::thread::Builder::new()
            .name("custos-sink".into())
            .spawn(move || write_chunks(rx, staging_dir, version))
            .ok();
        ChunkSink { tx: Some(tx), handle }
    }

    /// Hands a chunk to the writer; waits while the previous one is still queued.
    pub(crate) fn send(&mut self, batch: RecordBatch) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            return Ok(());
        }
        // The thread stopped early: its error says why.
        self.tx = None;
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(Error::io(
                std::path::Path::new("<sink>"),
                std::io::Error::other("writer thread stopped"),
            )),
        }
    }

    /// Waits for every chunk to be written and returns the files.
    pub(crate) fn finish(mut self) -> Result<Vec<SinkFile>> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> Result<Vec<SinkFile>> {
        match self.handle.take() {
            None => Err(Error::io(
                std::path::Path::new("<sink>"),
                std::io::Error::other("could not start the writer thread"),
            )),
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(Error::io(
                    std::path::Path::new("<sink>"),
                    std::io::Error::other("writer thread panicked"),
                ))
            }),
        }
    }
}

impl Drop for ChunkSink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn write_chunks(rx: Receiver<RecordBatch>, staging_dir: PathBuf, version: u64) -> Result<Vec<SinkFile>> {
    let syncer = Syncer::start()?;
    let to = Staging {
        dir: &staging_dir,
        version,
        syncer: &syncer,
    };
    let mut files = Vec::new();
    for (seq, batch) in rx.into_iter().enumerate() {
        files.extend(write_chunk(&to, seq, &batch)?);
    }
    syncer.finish()?;
    Ok(files)
}

/// Sorts one chunk of transactions and writes it as one Parquet file per UTC day in `to`,
/// named after the commit's version and the chunk's place `seq` in the file.
pub(crate) fn write_chunk(to: &Staging<'_>, seq: usize, batch: &RecordBatch) -> Result<Vec<SinkFile>> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    write_sorted_chunk(to, seq, &sort_transactions(batch)?)
}

/// [`write_chunk`] for a chunk already in [`SORT`] order.
pub(crate) fn write_sorted_chunk(to: &Staging<'_>, seq: usize, batch: &RecordBatch) -> Result<Vec<SinkFile>> {
    let mut files = Vec::new();
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
        let date = days_to_date(day)
            .map(|d| d.to_string())
            .unwrap_or_else(|| day.to_string());
        let rel_path = format!(
            "date={date}/part-{:010}-{seq:05}-{:03}.parquet",
            to.version,
            files.len()
        );
        let path = to.dir.join(&rel_path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let written = write_parquet_synced_by(
            &path,
            Table::Transactions,
            &[batch.slice(start, end - start)],
            &FILE_ORDER,
            to.syncer,
        )?;
        files.push(SinkFile { rel_path, written });
        start = end;
    }
    Ok(files)
}

/// Sorts a transaction chunk by [`SORT`], ties in input order: the same order as
/// [`sort_batch`], in a fraction of its time (see [`transaction_order`]).
fn sort_transactions(batch: &RecordBatch) -> Result<RecordBatch> {
    let column = |name: &str| -> Result<_> { Ok(batch.column(batch.schema().index_of(name)?).clone()) };
    let (dates, payers, instants) = (column(SORT[0])?, column(SORT[1])?, column(SORT[2])?);
    if dates.null_count() + payers.null_count() + instants.null_count() > 0 {
        // Stored rows have all three; the general sort keeps the order defined regardless.
        return sort_batch(batch, &SORT);
    }
    let dates = dates.as_primitive::<Date32Type>();
    let payers = payers.as_string::<i32>();
    let instants = instants.as_primitive::<TimestampMicrosecondType>();
    let order = transaction_order(batch.num_rows(), |i| {
        (dates.value(i), payers.value(i).as_bytes(), instants.value(i))
    });
    let order = UInt32Array::from(order);
    Ok(take_record_batch(batch, &order)?)
}

/// The positions of `n` rows in [`SORT`] order, ties in input order; `key(i)` is row `i`'s
/// day, payer account and instant. Each row's key packs the day, the first eight bytes of the
/// account as one big-endian integer, the account's length and the instant; whole accounts
/// are compared only when their first eight bytes tie and one is longer.
pub(crate) fn transaction_order<'a>(n: usize, key: impl Fn(usize) -> (i32, &'a [u8], i64)) -> Vec<u32> {
    let mut keys: Vec<(i32, u64, u32, i64, u32)> = (0..n)
        .map(|i| {
            let (day, account, instant) = key(i);
            let mut prefix = [0u8; 8];
            let len = account.len().min(8);
            prefix[..len].copy_from_slice(&account[..len]);
            let account_len = u32::try_from(account.len()).unwrap_or(u32::MAX);
            (day, u64::from_be_bytes(prefix), account_len, instant, i as u32)
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| {
                if a.2 > 8 || b.2 > 8 {
                    key(a.4 as usize).1.cmp(key(b.4 as usize).1)
                } else {
                    a.2.cmp(&b.2)
                }
            })
            .then(a.3.cmp(&b.3))
            .then(a.4.cmp(&b.4))
    });
    keys.into_iter().map(|k| k.4).collect()
}

/// Sorts rows by `by` (ascending, ties keep input order) through Arrow's row format, which
/// compares multi-column keys as bytes.
pub(crate) fn sort_batch(batch: &RecordBatch, by: &[&str]) -> Result<RecordBatch> {
    let columns = by
        .iter()
        .map(|n| Ok(batch.column(batch.schema().index_of(n)?).clone()))
        .collect::<Result<Vec<_>>>()?;
    let converter = RowConverter::new(columns.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&columns)?;
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
    Ok(take_record_batch(batch, &UInt32Array::from(order))?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use custos_warehouse::datafusion::arrow::array::{Array, Date32Array, StringArray, TimestampMicrosecondArray};
    use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn packed_keys_sort_like_the_row_format() {
        // Accounts that tie on their first eight bytes, are prefixes of each other, or hold
        // a zero byte, so every branch of the comparison is taken.
        let accounts = [
            "A0000001",
            "A00000010",
            "A0000001\0",
            "A00000\0",
            "A00000",
            "B",
            "A0000001",
            "A00000010x",
            "",
            "A0000001",
        ];
        let n = accounts.len() * 3;
        let schema = Arc::new(Schema::new(vec![
            Field::new("txn_date", DataType::Date32, false),
            Field::new("payer_account", DataType::Utf8, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
            Field::new("row", DataType::UInt32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Date32Array::from_iter_values((0..n).map(|i| (i % 2) as i32))),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| accounts[i % accounts.len()]),
                )),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| (i % 4) as i64),
                )),
                Arc::new(UInt32Array::from_iter_values(0..n as u32)),
            ],
        )
        .unwrap();
        let rows = |b: &RecordBatch| {
            b.column(3)
                .as_primitive::<custos_warehouse::datafusion::arrow::datatypes::UInt32Type>()
                .values()
                .to_vec()
        };
        let packed = sort_transactions(&batch).unwrap();
        assert_eq!(rows(&packed), rows(&sort_batch(&batch, &SORT).unwrap()));
        assert_eq!(packed.column(0).len(), n);
    }
}
