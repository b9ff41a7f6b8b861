//! Parquet files as custos writes and reads them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use custos_model::Table;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::{Error, Result, Syncer};

/// A `Write` that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What [`write_parquet`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Rows written.
    pub rows: u64,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
}

/// Writes `batches` of `table` to a new Parquet file at `path` (zstd, page statistics) and
/// syncs it to disk before returning. `sorted_by` names columns the rows are sorted by
/// (ascending), which is recorded in the file so readers can skip a re-sort.
pub fn write_parquet(path: &Path, table: Table, batches: &[RecordBatch], sorted_by: &[&str]) -> Result<WrittenFile> {
    let (written, file) = write_unsynced(path, table, batches, sorted_by)?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(written)
}

/// [`write_parquet`], but the file is synced by `syncer`: on disk once [`Syncer::finish`]
/// returns, not when this does.
pub fn write_parquet_synced_by(
    path: &Path,
    table: Table,
    batches: &[RecordBatch],
    sorted_by: &[&str],
    syncer: &Syncer,
) -> Result<WrittenFile> {
    let (written, file) = write_unsynced(path, table, batches, sorted_by)?;
    syncer.sync(path, file)?;
    Ok(written)
}

/// The file written and flushed to the kernel, not yet synced.
fn write_unsynced(
    path: &Path,
    table: Table,
    batches: &[RecordBatch],
    sorted_by: &[&str],
) -> Result<(WrittenFile, File)> {
    let schema = table.arrow_schema();
    let sorting: Vec<SortingColumn> = sorted_by
        .iter()
        .filter_map(|name| schema.index_of(name).ok())
        .map(|i| SortingColumn {
            column_idx: i as i32,
            descending: false,
            nulls_first: false,
        })
        .collect();
    let mut props = WriterProperties::builder()
        // Level 1: nearly level 3's size on this data, in much less time.
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| Error::parquet(path, e))?,
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns((!sorting.is_empty()).then_some(sorting))
        .set_created_by(format!("custos {}", env!("CARGO_PKG_VERSION")));
    for column in table.plain_columns() {
        props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    for column in table.delta_columns() {
        props = props
            .set_column_dictionary_enabled(ColumnPath::from(*column), false)
            .set_column_encoding(ColumnPath::from(*column), Encoding::DELTA_BINARY_PACKED);
    }
    let props = props.build();
    let file = File::create_new(path).map_err(|e| Error::io(path, e))?;
    let sink = HashingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut writer = ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| Error::parquet(path, e))?;
    let mut rows = 0u64;
    for batch in batches {
        rows += batch.num_rows() as u64;
        writer.write(batch).map_err(|e| Error::parquet(path, e))?;
    }
    let mut sink = writer.into_inner().map_err(|e| Error::parquet(path, e))?;
    sink.flush().map_err(|e| Error::io(path, e))?;
    let sha256 = hex(&sink.hasher.finalize());
    let bytes = sink.bytes;
    let file = sink.inner.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    Ok((WrittenFile { rows, bytes, sha256 }, file))
}

/// Reads whole Parquet files into memory, optionally only some columns (by name). Meant for
/// reference tables and id sets, not for scanning the transaction log.
pub fn read_parquet_files(paths: &[PathBuf], columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for path in paths {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(path, e))?;
        if let Some(columns) = columns {
            let arrow_schema = builder.schema().clone();
            let indices: Vec<usize> = columns
                .iter()
                .map(|name| {
                    arrow_schema.index_of(name).map_err(|_| Error::Integrity {
                        path: path.clone(),
                        detail: format!("no column {name}"),
                    })
                })
                .collect::<Result<_>>()?;
            let mask = datafusion::parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), indices);
            builder = builder.with_projection(mask);
        }
        let reader = builder
            .with_batch_size(65_536)
            .build()
            .map_err(|e| Error::parquet(path, e))?;
        for batch in reader {
            out.push(batch?);
        }
    }
    Ok(out)
}

/// Lower-case hex of `bytes`, as the catalog writes SHA-256 digests.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
