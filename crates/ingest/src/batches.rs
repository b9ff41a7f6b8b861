//! The quarantine and ingest-ledger rows of one file, as Arrow batches.

use custos_model::Table;
use custos_warehouse::LedgerEntry;
use custos_warehouse::datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::ingest::{FileRun, Raw};
use crate::values::{ColumnBuilder, Value};

/// The raw line as text: valid UTF-8 as is, invalid bytes as `\xNN`.
pub(crate) fn raw_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

pub(crate) fn quarantine_batch(run: &FileRun<'_>, source_file: &str) -> Result<Option<RecordBatch>> {
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

pub(crate) fn ledger_batch(e: &LedgerEntry, version: u64) -> Result<RecordBatch> {
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
    fn raw_text_escapes_invalid_bytes() {
        assert_eq!(raw_text(b"a\xffb"), "a\\xFFb");
    }
}
