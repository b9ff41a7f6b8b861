//! Parquet column chunks written straight from Arrow dictionary arrays.
//!
//! Parquet's Arrow writer dictionary-encodes a text column by looking every value up in a
//! hash table, even when the caller already holds the column as keys into a short list of
//! values (a currency, a country, an enumeration, the ingest id). Here the keys *are* the
//! dictionary indices: the values the chunk uses are written once as its dictionary page,
//! the keys (renumbered over those values) as one `RLE_DICTIONARY` data page, and the
//! statistics come from the used values, not from comparing every row's text.
//!
//! Only the encoding is custos's: the pages are framed by Parquet's own
//! [`SerializedPageWriter`] and spliced into the row group with
//! [`SerializedRowGroupWriter::append_column`](datafusion::parquet::file::writer::SerializedRowGroupWriter::append_column),
//! and the file's footer is Parquet's. The layout is the one the Arrow writer produces for
//! a dictionary column (PLAIN dictionary page, data page v1, RLE definition levels), so
//! every reader that reads those files reads these.

use std::cell::RefCell;

use bytes::Bytes;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType, Type as PhysicalType};
use datafusion::parquet::column::page::{CompressedPage, Page, PageWriter};
use datafusion::parquet::column::writer::ColumnCloseResult;
use datafusion::parquet::data_type::ByteArray;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use datafusion::parquet::file::statistics::{Statistics, ValueStatistics};
use datafusion::parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use datafusion::parquet::schema::types::ColumnDescPtr;

/// The longest value written this way: the Arrow writer truncates longer values in the
/// column index, which this writer does not do, so it refuses them instead.
const MAX_VALUE_LEN: usize = 64;

/// Whether [`encode`] can write `array` as a column whose stored type is `stored`: a
/// dictionary of `stored` values (text or dates).
pub(crate) fn writes(array: &dyn Array, stored: &DataType) -> bool {
    match array.data_type() {
        DataType::Dictionary(_, value) => {
            value.as_ref() == stored && matches!(stored, DataType::Utf8 | DataType::Date32)
        }
        _ => false,
    }
}

/// Encodes the dictionary array `array` as a complete column chunk for `descr`, compressed
/// with zstd at `level`: its bytes (dictionary page first) and what the row group needs to
/// splice them in.
pub(crate) fn encode(descr: &ColumnDescPtr, array: &dyn Array, level: i32) -> Result<(Bytes, ColumnCloseResult)> {
    let dictionary = array
        .as_any_dictionary_opt()
        .ok_or_else(|| ParquetError::General(format!("column {} is not a dictionary", descr.path())))?;
    let rows = array.len();
    let nulls = array.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    let null_count = nulls.as_ref().map_or(0, |n| n.null_count());
    if null_count > 0 && descr.max_def_level() == 0 {
        return Err(ParquetError::General(format!(
            "column {} is required but has {null_count} nulls",
            descr.path()
        )));
    }
    let values = dictionary.values();
    let keys = if values.is_empty() {
        vec![0; rows]
    } else {
        dictionary.normalized_keys()
    };

    // The values the chunk uses, in the values' order, and how often each is used.
    let mut uses = vec![0u32; values.len()];
    for (i, &k) in keys.iter().enumerate() {
        if valid(i) {
            uses[k] += 1;
        }
    }
    let used: Vec<usize> = (0..values.len()).filter(|&v| uses[v] > 0).collect();
    let mut slot = vec![0u32; values.len()];
    for (at, &v) in used.iter().enumerate() {
        slot[v] = at as u32;
    }

    let plain = Plain::of(values.as_ref(), &used, &uses)?;

    // Data page v1: definition levels (length-prefixed) if the column is optional, then
    // the indices' bit width and the indices of the non-null rows.
    let mut page = Vec::with_capacity(rows / 2 + 16);
    if descr.max_def_level() > 0 {
        let levels: Vec<u32> = (0..rows).map(|i| u32::from(valid(i))).collect();
        let mut encoded = Vec::with_capacity(rows / 8 + 8);
        rle_hybrid(&levels, 1, &mut encoded);
        page.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        page.extend_from_slice(&encoded);
    }
    let bit_width = bits_for(used.len().saturating_sub(1) as u32);
    page.push(bit_width);
    let indices: Vec<u32> = (0..rows).filter(|&i| valid(i)).map(|i| slot[keys[i]]).collect();
    rle_hybrid(&indices, bit_width, &mut page);

    let dictionary_page = Page::DictionaryPage {
        buf: compress(level, &plain.page)?.into(),
        num_values: used.len() as u32,
        encoding: Encoding::PLAIN,
        is_sorted: false,
    };
    let data_page = Page::DataPage {
        buf: compress(level, &page)?.into(),
        num_values: rows as u32,
        encoding: Encoding::RLE_DICTIONARY,
        def_level_encoding: Encoding::RLE,
        rep_level_encoding: Encoding::RLE,
        statistics: None,
    };
    let mut sink = TrackedWrite::new(Vec::with_capacity(page.len() + plain.page.len() + 64));
    let (dictionary_spec, data_spec) = {
        let mut pages = SerializedPageWriter::new(&mut sink);
        let dictionary_spec = pages.write_page(CompressedPage::new(dictionary_page, plain.page.len()))?;
        let data_spec = pages.write_page(CompressedPage::new(data_page, page.len()))?;
        pages.close()?;
        (dictionary_spec, data_spec)
    };
    let buf = Bytes::from(sink.into_inner()?);

    let null_page = null_count == rows;
    let mut column_index = ColumnIndexBuilder::new(descr.physical_type());
    column_index.append(
        null_page,
        plain.min.clone().unwrap_or_default(),
        plain.max.clone().unwrap_or_default(),
        null_count as i64,
    );
    column_index.set_boundary_order(BoundaryOrder::ASCENDING);
    let mut offset_index = OffsetIndexBuilder::new();
    offset_index.append_row_count(rows as i64);
    offset_index.append_offset_and_size(data_spec.offset as i64, data_spec.compressed_size as i32);
    offset_index.append_unencoded_byte_array_data_bytes(plain.text_bytes);

    let metadata = ColumnChunkMetaData::builder(descr.clone())
        .set_compression(Compression::ZSTD(datafusion::parquet::basic::ZstdLevel::try_new(
            level,
        )?))
        .set_encodings_mask(EncodingMask::new_from_encodings(
            [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY].iter(),
        ))
        .set_page_encoding_stats(vec![
            PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            },
            PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::RLE_DICTIONARY,
                count: 1,
            },
        ])
        .set_total_compressed_size((dictionary_spec.compressed_size + data_spec.compressed_size) as i64)
        .set_total_uncompressed_size((dictionary_spec.uncompressed_size + data_spec.uncompressed_size) as i64)
        .set_num_values(rows as i64)
        .set_dictionary_page_offset(Some(dictionary_spec.offset as i64))
        .set_data_page_offset(data_spec.offset as i64)
        .set_statistics(plain.statistics(null_count as u64, descr.sort_order().is_signed()))
        .set_unencoded_byte_array_data_bytes(plain.text_bytes)
        .build()?;
    let close = ColumnCloseResult {
        bytes_written: buf.len() as u64,
        rows_written: rows as u64,
        metadata,
        bloom_filter: None,
        column_index: Some(column_index.build()?),
        offset_index: Some(offset_index.build()),
    };
    Ok((buf, close))
}

/// The used values of a dictionary as a PLAIN dictionary page, with their minimum and
/// maximum as Parquet writes them in statistics.
struct Plain {
    page: Vec<u8>,
    physical: PhysicalType,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    /// Bytes of text in the non-null rows (texts only).
    text_bytes: Option<i64>,
}

impl Plain {
    fn of(values: &dyn Array, used: &[usize], uses: &[u32]) -> Result<Plain> {
        match values.data_type() {
            DataType::Utf8 => {
                let texts = values.as_string::<i32>();
                let mut page = Vec::new();
                let (mut min, mut max): (Option<&[u8]>, Option<&[u8]>) = (None, None);
                let mut text_bytes = 0i64;
                for &v in used {
                    let text = texts.value(v).as_bytes();
                    if text.len() > MAX_VALUE_LEN {
                        return Err(ParquetError::General(format!(
                            "dictionary value of {} bytes, more than {MAX_VALUE_LEN}",
                            text.len()
                        )));
                    }
                    page.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    page.extend_from_slice(text);
                    text_bytes += text.len() as i64 * i64::from(uses[v]);
                    min = Some(min.map_or(text, |m| m.min(text)));
                    max = Some(max.map_or(text, |m| m.max(text)));
                }
                Ok(Plain {
                    page,
                    physical: PhysicalType::BYTE_ARRAY,
                    min: min.map(<[u8]>::to_vec),
                    max: max.map(<[u8]>::to_vec),
                    text_bytes: Some(text_bytes),
                })
            }
            DataType::Date32 => {
                let days = values.as_primitive::<Date32Type>();
                let mut page = Vec::with_capacity(used.len() * 4);
                let (mut min, mut max): (Option<i32>, Option<i32>) = (None, None);
                for &v in used {
                    let day = days.value(v);
                    page.extend_from_slice(&day.to_le_bytes());
                    min = Some(min.map_or(day, |m| m.min(day)));
                    max = Some(max.map_or(day, |m| m.max(day)));
                }
                Ok(Plain {
                    page,
                    physical: PhysicalType::INT32,
                    min: min.map(|d| d.to_le_bytes().to_vec()),
                    max: max.map(|d| d.to_le_bytes().to_vec()),
                    text_bytes: None,
                })
            }
            other => Err(ParquetError::General(format!(
                "no dictionary encoding for {other} values"
            ))),
        }
    }

    /// The chunk's statistics, as the Arrow writer records them.
    fn statistics(&self, null_count: u64, signed: bool) -> Statistics {
        match self.physical {
            PhysicalType::INT32 => {
                let day = |b: &Option<Vec<u8>>| {
                    b.as_deref()
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(i32::from_le_bytes)
                };
                ValueStatistics::<i32>::new(day(&self.min), day(&self.max), None, Some(null_count), false)
                    .with_backwards_compatible_min_max(signed)
                    .into()
            }
            _ => ValueStatistics::<ByteArray>::new(
                self.min.clone().map(ByteArray::from),
                self.max.clone().map(ByteArray::from),
                None,
                Some(null_count),
                false,
            )
            .with_backwards_compatible_min_max(signed)
            .into(),
        }
    }
}

/// Bits needed to write `max`: 0 for a dictionary of one value, as the Arrow writer does.
fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

thread_local! {
    /// One zstd context per writing thread, kept between column chunks: creating one per
    /// chunk (as Parquet's codec does, with a decompressor beside it) costs more than
    /// compressing a chunk of a few thousand indices.
    static ZSTD: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

/// `data` as one zstd frame at `level`.
fn compress(level: i32, data: &[u8]) -> Result<Vec<u8>> {
    ZSTD.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(l, _)| *l != level) {
            *cell = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        match cell.as_mut() {
            Some((_, compressor)) => compressor.compress(data),
            None => Err(std::io::Error::other("no zstd compressor")),
        }
    })
    .map_err(|e| ParquetError::External(Box::new(e)))
}

/// Appends `values` (each below 2^`bit_width`) to `out` in Parquet's RLE / bit-packed
/// hybrid encoding: a run of at least eight equal values that starts on a group boundary
/// is one RLE run, everything else is bit-packed in groups of eight.
fn rle_hybrid(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let value_bytes = usize::from(bit_width).div_ceil(8);
    // Values from here on wait to be bit-packed.
    let mut packed_from = 0;
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let mut end = i + 1;
        while end < values.len() && values[end] == v {
            end += 1;
        }
        // Values of this run that complete the waiting group of eight.
        let fill = (8 - (i - packed_from) % 8) % 8;
        if end - i >= fill + 8 {
            bit_pack(&values[packed_from..i + fill], bit_width, out);
            uleb128(((end - i - fill) as u64) << 1, out);
            out.extend_from_slice(&v.to_le_bytes()[..value_bytes]);
            packed_from = end;
        }
        i = end;
    }
    bit_pack(&values[packed_from..], bit_width, out);
}

/// Most groups of eight in one bit-packed run, so its header fits in one byte.
const MAX_GROUPS: usize = 63;

/// `values` bit-packed, least significant bit first, in runs of at most [`MAX_GROUPS`]
/// groups; only the last group may be short, and is padded with zeros.
fn bit_pack(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    for run in values.chunks(MAX_GROUPS * 8) {
        let groups = run.len().div_ceil(8);
        uleb128(((groups as u64) << 1) | 1, out);
        let (mut acc, mut bits) = (0u64, 0u32);
        for k in 0..groups * 8 {
            acc |= u64::from(run.get(k).copied().unwrap_or(0)) << bits;
            bits += u32::from(bit_width);
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
    }
}

/// `value` as an unsigned LEB128 varint.
fn uleb128(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes the hybrid encoding back, as the format defines it.
    fn decode(mut bytes: &[u8], bit_width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let value_bytes = usize::from(bit_width).div_ceil(8);
        while out.len() < n {
            let (mut header, mut shift) = (0u64, 0);
            loop {
                let b = bytes[0];
                bytes = &bytes[1..];
                header |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            if header & 1 == 1 {
                let count = (header >> 1) as usize * 8;
                let len = count * usize::from(bit_width) / 8;
                let (packed, rest) = bytes.split_at(len);
                bytes = rest;
                for k in 0..count {
                    let mut v = 0u32;
                    for b in 0..usize::from(bit_width) {
                        let bit = k * usize::from(bit_width) + b;
                        v |= u32::from((packed[bit / 8] >> (bit % 8)) & 1) << b;
                    }
                    out.push(v);
                }
            } else {
                let mut v = [0u8; 4];
                v[..value_bytes].copy_from_slice(&bytes[..value_bytes]);
                bytes = &bytes[value_bytes..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(v), (header >> 1) as usize));
            }
        }
        assert!(bytes.is_empty(), "{} bytes left over", bytes.len());
        out.truncate(n);
        out
    }

    /// A seeded stream of 31-bit numbers for test data (a linear congruential generator).
    pub(crate) fn numbers(seed: u64) -> impl FnMut() -> u32 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        }
    }

    #[test]
    fn the_hybrid_encoding_decodes_to_its_values() {
        let mut next = numbers(7);
        for bit_width in 0..=9u8 {
            let max = (1u32 << bit_width) - 1;
            for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 504, 505, 1000, 5000] {
                // Random values, long runs, and runs starting off a group boundary.
                let mut values = Vec::with_capacity(n);
                while values.len() < n {
                    let v = next() & max;
                    let run = match next() % 4 {
                        0 => 1 + next() as usize % 40,
                        _ => 1,
                    };
                    values.extend(std::iter::repeat_n(v, run.min(n - values.len())));
                }
                let mut encoded = Vec::new();
                rle_hybrid(&values, bit_width, &mut encoded);
                assert_eq!(decode(&encoded, bit_width, n), values, "width {bit_width}, {n} values");
            }
        }
    }

    #[test]
    fn a_long_run_is_one_rle_run() {
        let mut encoded = Vec::new();
        rle_hybrid(&[3; 1000], 2, &mut encoded);
        // Header 1000 << 1 as a varint (two bytes), then the value in one byte.
        assert_eq!(encoded, vec![0xd0, 0x0f, 3]);
    }

    #[test]
    fn bits_for_dictionary_sizes() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(2), 2);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }
}
