//! Reading source files: canonical CSV, NDJSON, and CSV through a mapping profile. Each
//! reader turns rows into texts per table column and hands them to [`FileRun::process`];
//! rows that cannot even be split into fields are quarantined here.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use custos_model::{Origin, Reason, Table};
use sha2::{Digest, Sha256};

use crate::ingest::{FileRun, LookedUp, Quarantined, Raw, Reject, reject};
use crate::profile::{BoundProfile, Profile, SourceRow};
use crate::{Error, Result};

/// A file's SHA-256 (lower-case hex) and its size in bytes.
pub(crate) type FileHash = (String, u64);

/// Reads `path` to its end: its [`FileHash`].
pub(crate) fn hash_file(path: &Path) -> Result<FileHash> {
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
    Ok((custos_warehouse::hex(&digest), total))
}

/// Maps header names onto table columns; the header must name every required input column
/// and nothing custos does not know.
pub(crate) fn bind_header(path: &Path, table: Table, header: &[String]) -> Result<Vec<Option<usize>>> {
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

pub(crate) fn csv_reader(path: &Path, delimiter: u8) -> Result<csv::Reader<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(csv::ReaderBuilder::new()
        // The default 8 KiB buffer would take 150,000 reads for a 1.2 GB log.
        .buffer_capacity(1 << 20)
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

/// Reads the next record; returns its line and the byte range it spans in the source (kept
/// so a quarantined row's raw text can be read back exactly).
pub(crate) fn next_record(
    path: &Path,
    reader: &mut csv::Reader<File>,
    record: &mut csv::ByteRecord,
) -> Result<Option<(u64, u64, u64)>> {
    let start = reader.position().byte();
    if !reader.read_byte_record(record).map_err(|e| csv_err(path, e))? {
        return Ok(None);
    }
    let line = record.position().map_or(0, |p| p.line());
    Ok(Some((line, start, reader.position().byte())))
}

/// A lone Ctrl-Z (0x1A) after the last line is an MS-DOS end-of-file mark, as OFAC's
/// sdn.csv ends; it is not a row.
pub(crate) fn is_dos_eof<'f>(mut fields: impl ExactSizeIterator<Item = &'f [u8]>) -> bool {
    fields.len() == 1 && fields.next() == Some(b"\x1a")
}

pub(crate) fn record_strings(record: &csv::ByteRecord) -> Vec<String> {
    record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

/// Splits one canonical CSV record, whose fields `binding` maps onto table columns, into
/// texts and hands it to `run` (with the row's lookups if a pre-pass made them); a record
/// with the wrong field count or invalid UTF-8 is quarantined here. The record is its
/// fields' bytes back to back and where each field ends in them.
pub(crate) fn csv_row(
    run: &mut FileRun<'_>,
    (bytes, ends): (&[u8], impl ExactSizeIterator<Item = usize>),
    binding: &[Option<usize>],
    (line, start, end): (u64, u64, u64),
    looked_up: Option<&LookedUp>,
) {
    let table = run.table;
    if ends.len() != binding.len() {
        let r = reject(
            None,
            Reason::WrongFieldCount,
            format!("{} fields, the header has {}", ends.len(), binding.len()),
        );
        run.reject_row(line, r, Raw::Range(start, end));
        return;
    }
    // One UTF-8 check for the whole record; a field is checked alone only when the record
    // fails it or the field's bounds split a character (then the field itself is invalid).
    let whole = std::str::from_utf8(bytes).ok();
    let (null_tokens, trim) = (table.null_tokens(), table.trims_values());
    let mut texts: Vec<Option<&str>> = vec![None; table.columns().len()];
    let mut from = 0;
    for (to, col) in ends.zip(binding) {
        let range = from..to;
        from = to;
        let Some(col) = *col else { continue };
        let text = match whole.and_then(|w| w.get(range.clone())) {
            Some(text) => Ok(text),
            None => std::str::from_utf8(bytes.get(range).unwrap_or_default()),
        };
        match text {
            Ok(mut s) => {
                if trim {
                    s = s.trim();
                }
                if !s.is_empty() && !null_tokens.contains(&s) {
                    texts[col] = Some(s);
                }
            }
            Err(e) => {
                let detail = format!("invalid UTF-8 after byte {} of the field", e.valid_up_to());
                let r = reject(Some(table.columns()[col].name), Reason::BadUtf8, detail);
                run.reject_row(line, r, Raw::Range(start, end));
                return;
            }
        }
    }
    run.process(&texts, line, start, end, looked_up);
}

pub(crate) fn read_csv(
    path: &Path,
    run: &mut FileRun<'_>,
    chunk_rows: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let table = run.table;
    let mut reader = csv_reader(path, b',')?;
    let mut record = csv::ByteRecord::new();
    // The OFAC list ships without a header: its first field is a number, never a name.
    let headerless = table == Table::Sanctions;
    let mut binding: Option<Vec<Option<usize>>> = None;
    let mut first = true;
    while let Some((line, start, end)) = next_record(path, &mut reader, &mut record)? {
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
        if is_dos_eof(record.iter()) {
            continue;
        }
        if line.is_multiple_of(65_536) {
            progress(end);
        }
        let ends = (0..record.len()).map(|i| record.range(i).map_or(0, |r| r.end));
        csv_row(run, (record.as_slice(), ends), binding, (line, start, end), None);
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

pub(crate) fn read_profiled_csv(
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
    let ncols = run.table.columns().len();
    let mut bound: Option<BoundProfile<'_>> = None;
    if !profile.header {
        let b = profile.bind(None)?;
        run.exponent_columns = (0..ncols).map(|i| b.allows_exponent(i)).collect();
        bound = Some(b);
    }
    let mut out: Vec<Option<String>> = vec![None; ncols];
    let mut expected_fields = None;
    while let Some((line, start, end)) = next_record(path, &mut reader, &mut record)? {
        let Some(b) = bound.as_ref() else {
            let header = record_strings(&record);
            expected_fields = Some(header.len());
            let b = profile.bind(Some(&header))?;
            run.exponent_columns = (0..ncols).map(|i| b.allows_exponent(i)).collect();
            bound = Some(b);
            continue;
        };
        if line.is_multiple_of(65_536) {
            progress(end);
        }
        let expected = *expected_fields.get_or_insert(record.len());
        if record.len() != expected {
            let r = reject(
                None,
                Reason::WrongFieldCount,
                format!("{} fields, expected {expected}", record.len()),
            );
            run.reject_row(line, r, Raw::Range(start, end));
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
                let r = reject(None, Reason::BadUtf8, format!("source column {i} is not valid UTF-8"));
                run.reject_row(line, r, Raw::Range(start, end));
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
            run.reject_row(line, reject(Some(name), reason, detail), Raw::Range(start, end));
            continue;
        }
        let texts: Vec<Option<&str>> = out.iter().map(|o| o.as_deref()).collect();
        run.process(&texts, line, start, end, None);
        run.maybe_flush(chunk_rows)?;
    }
    Ok(())
}

pub(crate) fn read_ndjson(
    path: &Path,
    run: &mut FileRun<'_>,
    chunk_rows: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
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
        let start = offset;
        offset += n as u64;
        let end = offset;
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
                let r = reject(
                    None,
                    Reason::BadUtf8,
                    format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                );
                run.reject_row(line, r, Raw::Range(start, end));
                continue;
            }
        };
        match ndjson_texts(table, text) {
            Ok(owned) => {
                let texts: Vec<Option<&str>> = owned.iter().map(|o| o.as_deref()).collect();
                debug_assert_eq!(texts.len(), ncols);
                run.process(&texts, line, start, end, None);
            }
            Err(r) => {
                run.reject_row(line, r, Raw::Range(start, end));
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
pub(crate) fn fill_raw(path: &Path, rows: &mut [Quarantined]) -> Result<()> {
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
            // A reader gives a record the place it stood at when it began: right after the
            // record before. That is before any blank lines, and after a CRLF before its
            // `\n` (the parser stops at the `\r`). Those bytes are dropped here, and the line
            // moved past each newline among them, so the line names the record's own.
            let lead = buf.iter().take_while(|b| matches!(b, b'\n' | b'\r')).count();
            q.line += buf[..lead].iter().filter(|b| **b == b'\n').count() as u64;
            buf.drain(..lead);
            q.raw = Raw::Bytes(buf);
        }
    }
    Ok(())
}
