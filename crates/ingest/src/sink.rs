//! Writing transaction chunks in the background: while the reader validates the next chunk,
//! a second thread sorts the previous one and writes it as one Parquet file per UTC day into
//! the warehouse's staging area. Memory stays bounded: at most one chunk waits in the channel.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use custos_model::Table;
use custos_warehouse::datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use custos_warehouse::datafusion::arrow::compute::take_record_batch;
use custos_warehouse::datafusion::arrow::datatypes::Date32Type;
use custos_warehouse::datafusion::arrow::row::{RowConverter, SortField};
use custos_warehouse::{WrittenFile, write_parquet};

use crate::values::days_to_date;
use crate::{Error, Result};

/// The order rows are written in: by day (one file each), then by account and time, so
/// per-account window rules read them without a re-sort.
const SORT: [&str; 3] = ["txn_date", "payer_account", "ts"];
/// The sort order recorded in each file (the day is constant within a file).
pub(crate) const FILE_ORDER: [&str; 2] = ["payer_account", "ts"];

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
    let mut files = Vec::new();
    for batch in rx {
        let batch = sort_batch(&batch, &SORT)?;
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
            let rel_path = format!("date={date}/part-{version:010}-{:05}.parquet", files.len());
            let path = staging_dir.join(&rel_path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let written = write_parquet(
                &path,
                Table::Transactions,
                &[batch.slice(start, end - start)],
                &FILE_ORDER,
            )?;
            files.push(SinkFile { rel_path, written });
            start = end;
        }
    }
    Ok(files)
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
