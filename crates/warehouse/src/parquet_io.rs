//! Parquet files as custos writes and reads them.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use custos_model::Table;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
#[allow(deprecated)]
use datafusion::parquet::arrow::arrow_writer::{compute_leaves, get_column_writers};
use datafusion::parquet::arrow::{ArrowSchemaConverter, ArrowWriter, add_encoded_arrow_schema_to_metadata};
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::errors::{ParquetError, Result as ParquetResult};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::file::writer::SerializedFileWriter;
use datafusion::parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::{Error, Result, Syncer, dictionary};

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
///
/// A text or date column may be given as an Arrow dictionary of the values the table
/// stores (say, `Dictionary(UInt8, Utf8)` for a currency): its Parquet dictionary is then
/// the values the rows use and its indices are the keys, with no per-row lookup; readers
/// see the stored type. Such a file has one row group per batch.
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
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let dictionaries = batches.iter().any(|batch| {
        (batch.schema().fields().iter().zip(schema.fields()))
            .any(|(given, stored)| given.data_type() != stored.data_type())
    });
    let mut sink = if dictionaries {
        write_with_dictionaries(sink, &schema, batches, props).map_err(|e| Error::parquet(path, e))?
    } else {
        let mut writer = ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| Error::parquet(path, e))?;
        for batch in batches {
            writer.write(batch).map_err(|e| Error::parquet(path, e))?;
        }
        writer.into_inner().map_err(|e| Error::parquet(path, e))?
    };
    sink.flush().map_err(|e| Error::io(path, e))?;
    let sha256 = hex(&sink.hasher.finalize());
    let bytes = sink.bytes;
    let file = sink.inner.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    Ok((WrittenFile { rows, bytes, sha256 }, file))
}

/// Writes `batches`, one row group each, where some columns are dictionary arrays of the
/// values `schema` stores (see [`dictionary`](crate::dictionary)): those are encoded from
/// their keys, the others by Parquet's Arrow column writers, exactly as [`ArrowWriter`]
/// would. The file's schema (and the Arrow schema recorded in it) is `schema`, so readers
/// see the stored types.
fn write_with_dictionaries<W: Write + Send>(
    sink: W,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    mut props: WriterProperties,
) -> ParquetResult<W> {
    let mismatch = |what: String| ParquetError::General(what);
    let level = match props.compression(&ColumnPath::from("")) {
        Compression::ZSTD(level) => level.compression_level(),
        other => {
            return Err(mismatch(format!(
                "dictionary columns are written with zstd only, not {other}"
            )));
        }
    };
    let parquet_schema = ArrowSchemaConverter::new().convert(schema)?;
    add_encoded_arrow_schema_to_metadata(schema, &mut props);
    let props = Arc::new(props);
    let mut file = SerializedFileWriter::new(sink, parquet_schema.root_schema_ptr(), Arc::clone(&props))?;
    for batch in batches {
        if batch.num_columns() != schema.fields().len() {
            return Err(mismatch(format!(
                "a batch of {} columns for {}",
                batch.num_columns(),
                schema.fields().len()
            )));
        }
        // Parquet's own writers for the columns given as stored, and only for them: each
        // creates a compressor for its chunk.
        let plain: Vec<usize> = (0..batch.num_columns())
            .filter(|&col| !dictionary::writes(batch.column(col).as_ref(), schema.field(col).data_type()))
            .collect();
        let plain_schema = Arc::new(schema.project(&plain)?);
        let plain_parquet = ArrowSchemaConverter::new().convert(&plain_schema)?;
        #[allow(deprecated)] // Its replacement makes a writer for every column of the file.
        let mut writers = get_column_writers(&plain_parquet, &props, &plain_schema)?.into_iter();
        let mut row_group = file.next_row_group()?;
        for (col, field) in schema.fields().iter().enumerate() {
            let array = batch.column(col);
            if plain.contains(&col) {
                if array.data_type() != field.data_type() {
                    return Err(mismatch(format!(
                        "column {} is {}, stored as {}",
                        field.name(),
                        array.data_type(),
                        field.data_type()
                    )));
                }
                let mut writer = writers
                    .next()
                    .ok_or_else(|| mismatch("too few column writers".into()))?;
                for leaf in compute_leaves(field, array)? {
                    writer.write(&leaf)?;
                }
                writer.close()?.append_to_row_group(&mut row_group)?;
            } else {
                let (bytes, close) = dictionary::encode(&parquet_schema.column(col), array.as_ref(), level)?;
                row_group.append_column(&bytes, close)?;
            }
        }
        row_group.close()?;
    }
    file.into_inner()
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Array, ArrayRef, Date32Array, Decimal128Array, DictionaryArray, StringArray, TimestampMicrosecondArray,
        UInt8Array, UInt16Array,
    };
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
    use datafusion::parquet::file::page_index::column_index::ColumnIndexMetaData;

    /// A day of transactions with every kind of column: texts from short lists (required,
    /// optional with nulls, all null), one ingest id, dates, instants and amounts.
    fn transactions(rows: usize) -> RecordBatch {
        let schema = Table::Transactions.arrow_schema();
        let mut numbers = crate::dictionary::tests::numbers(11);
        let mut next = move || numbers() as usize;
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (col, field) in schema.fields().iter().enumerate() {
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 if field.name() == "ingest_id" => Arc::new(StringArray::from(vec!["ing-000042"; rows])),
                DataType::Utf8 if field.name() == "settlement_currency" => Arc::new(StringArray::new_null(rows)),
                DataType::Utf8 => {
                    // Each column its own list; runs of one value, as payers' rows give.
                    let kinds = 1 + col % 9;
                    let mut last = 0;
                    Arc::new(StringArray::from_iter((0..rows).map(|_| {
                        let v = next();
                        if v % 3 != 0 {
                            last = v % kinds;
                        }
                        (!field.is_nullable() || v % 7 != 0).then(|| format!("{}-{last}", field.name()))
                    })))
                }
                DataType::Date32 => Arc::new(Date32Array::from_iter_values(
                    (0..rows).map(|i| 19_800 + (i * 2 / rows) as i32),
                )),
                DataType::Timestamp(..) => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        (0..rows).map(|i| 1_700_000_000_000_000 + i as i64 * 997),
                    )
                    .with_timezone("UTC"),
                ),
                DataType::Decimal128(p, s) => Arc::new(
                    Decimal128Array::from_iter((0..rows).map(|_| {
                        let v = next();
                        (!field.is_nullable() || v % 5 != 0).then_some((v % 100_000) as i128)
                    }))
                    .with_precision_and_scale(*p, *s)
                    .expect("valid precision"),
                ),
                other => panic!("no test values for {other}"),
            };
            columns.push(array);
        }
        RecordBatch::try_new(schema, columns).expect("a valid batch")
    }

    /// `batch` with its text and date columns given as dictionaries: texts with u8 keys into
    /// values in first-seen order, dates with u16 keys into a list holding unused days too.
    fn as_dictionaries(batch: &RecordBatch) -> RecordBatch {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 if !["txn_id", "payer_account"].contains(&field.name().as_str()) => cast(
                    array,
                    &DataType::Dictionary(Box::new(DataType::UInt8), Box::new(DataType::Utf8)),
                )
                .expect("cast to a dictionary"),
                DataType::Date32 => {
                    let days = array.as_any().downcast_ref::<Date32Array>().expect("dates");
                    let values = Date32Array::from_iter_values(19_790..19_810);
                    let keys = UInt16Array::from_iter(days.iter().map(|d| d.map(|d| (d - 19_790) as u16)));
                    Arc::new(DictionaryArray::try_new(keys, Arc::new(values)).expect("a dictionary"))
                }
                _ => Arc::clone(array),
            };
            fields.push(Field::new(field.name(), array.data_type().clone(), field.is_nullable()));
            columns.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("a valid batch")
    }

    fn metadata(path: &Path) -> ParquetMetaData {
        let file = File::open(path).expect("the file");
        ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Required)
            .parse_and_finish(&file)
            .expect("its metadata")
    }

    /// Each page's null flag, minimum, maximum and null count, as bytes.
    type PageStats = Vec<(bool, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>)>;

    fn pages(index: &ColumnIndexMetaData) -> PageStats {
        (0..index.num_pages() as usize)
            .map(|p| {
                let (min, max) = match index {
                    ColumnIndexMetaData::BYTE_ARRAY(i) => {
                        (i.min_value(p).map(<[u8]>::to_vec), i.max_value(p).map(<[u8]>::to_vec))
                    }
                    ColumnIndexMetaData::INT32(i) => (
                        i.min_value(p).map(|v| v.to_le_bytes().to_vec()),
                        i.max_value(p).map(|v| v.to_le_bytes().to_vec()),
                    ),
                    _ => (None, None),
                };
                (index.is_null_page(p), min, max, index.null_count(p))
            })
            .collect()
    }

    #[test]
    fn dictionary_columns_read_back_as_written_with_the_arrow_writers_statistics() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for rows in [1, 9, 5_000, 70_000] {
            let plain = transactions(rows);
            let coded = as_dictionaries(&plain);
            let by_arrow = dir.path().join(format!("arrow-{rows}.parquet"));
            let by_keys = dir.path().join(format!("keys-{rows}.parquet"));
            write_parquet(
                &by_arrow,
                Table::Transactions,
                std::slice::from_ref(&plain),
                &["payer_account"],
            )
            .expect("written");
            let written = write_parquet(&by_keys, Table::Transactions, &[coded], &["payer_account"]).expect("written");
            assert_eq!(written.rows, rows as u64);

            // What readers get back is the plain batch, in the stored types.
            let read = read_parquet_files(std::slice::from_ref(&by_keys), None).expect("read back");
            let read = datafusion::arrow::compute::concat_batches(&plain.schema(), &read).expect("one batch");
            assert_eq!(read, plain, "{rows} rows");

            // Chunk statistics and page indexes agree with the Arrow writer's.
            let (a, k) = (metadata(&by_arrow), metadata(&by_keys));
            let (a_index, k_index) = (a.column_index().expect("indexed"), k.column_index().expect("indexed"));
            let schema = plain.schema();
            for (col, field) in schema.fields().iter().enumerate() {
                let (ac, kc) = (a.row_group(0).column(col), k.row_group(0).column(col));
                assert_eq!(ac.statistics(), kc.statistics(), "{rows} rows, {}", field.name());
                assert_eq!(ac.num_values(), kc.num_values(), "{}", field.name());
                let (ap, kp) = (pages(&a_index[0][col]), pages(&k_index[0][col]));
                let summary = |p: &PageStats| {
                    let present: Vec<_> = p.iter().filter(|s| !s.0).collect();
                    (
                        present.iter().filter_map(|s| s.1.clone()).min(),
                        present.iter().filter_map(|s| s.2.clone()).max(),
                        p.iter().filter_map(|s| s.3).sum::<i64>(),
                    )
                };
                assert_eq!(summary(&ap), summary(&kp), "{rows} rows, {} pages", field.name());
                if kc.dictionary_page_offset().is_some() && !ac.encodings_mask().is_set(Encoding::PLAIN) {
                    panic!("{} has a dictionary the Arrow writer did not write", field.name());
                }
            }
            // The ingest id went through the dictionary writer: the Arrow writer's is plain.
            let ingest_id = schema.index_of("ingest_id").expect("ingest_id");
            assert!(a.row_group(0).column(ingest_id).dictionary_page_offset().is_none());
            assert!(k.row_group(0).column(ingest_id).dictionary_page_offset().is_some());
            assert_eq!(
                a.file_metadata().key_value_metadata(),
                k.file_metadata().key_value_metadata(),
                "the same Arrow schema recorded"
            );
        }
    }

    #[test]
    fn a_dictionary_for_a_required_column_may_not_hold_nulls() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let plain = transactions(10);
        let coded = as_dictionaries(&plain);
        let col = plain.schema().index_of("currency").expect("currency");
        let keys = UInt8Array::from(vec![
            Some(0),
            None,
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
        ]);
        let values = StringArray::from(vec!["CNY"]);
        let mut columns = coded.columns().to_vec();
        columns[col] = Arc::new(DictionaryArray::try_new(keys, Arc::new(values)).expect("a dictionary"));
        // Arrow refuses nulls in a column declared required, so the batch declares it optional.
        let mut fields: Vec<Field> = coded.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[col] = fields[col].clone().with_nullable(true);
        let bad = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("a batch");
        let err =
            write_parquet(&dir.path().join("bad.parquet"), Table::Transactions, &[bad], &[]).expect_err("refused");
        assert!(err.to_string().contains("required but has 1 nulls"), "{err}");
    }
}
