//! The catalog: an append-only sequence of commit records, replayed into the current state.

use std::collections::BTreeMap;
use std::path::Path;

use custos_model::Table;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub(crate) const CATALOG_DIR: &str = "_catalog";

/// One committed Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the warehouse root, with `/` separators.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
}

/// What one commit changed in one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableChange {
    /// Files that became part of the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<FileEntry>,
    /// Paths of files that stopped being part of it (a reference table's previous version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// Control totals of one ingested source file: the regulator's "show me nothing was dropped".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Identifies this ingest of this file; stored on every row it produced.
    pub ingest_id: String,
    /// Target table.
    pub table: String,
    /// The source file as named on the command line.
    pub source_file: String,
    /// SHA-256 of the source file; the same table and hash again is a no-op.
    pub file_sha256: String,
    /// Size of the source file.
    pub file_bytes: u64,
    /// Mapping profile used, if any.
    pub profile: Option<String>,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows stored.
    pub rows_stored: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Quarantined rows per reason code.
    pub quarantined_by_reason: BTreeMap<String, u64>,
    /// Sum of stored amounts per currency, as exact decimal strings.
    pub amount_by_currency: BTreeMap<String, String>,
    /// When the ingest started (UTC, RFC 3339).
    pub started_at: String,
}

impl LedgerEntry {
    /// Whether read = stored + quarantined.
    pub fn reconciles(&self) -> bool {
        self.rows_read == self.rows_stored + self.rows_quarantined
            && self.quarantined_by_reason.values().sum::<u64>() == self.rows_quarantined
    }
}

/// One commit: the unit of atomic change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitRecord {
    /// 1, 2, 3, ... with no gaps.
    pub version: u64,
    /// Wall-clock time of the commit (UTC, RFC 3339): an audit fact, never used in results.
    pub committed_at: String,
    /// What made the commit (`ingest`, ...).
    pub operation: String,
    /// Changes per table name.
    pub tables: BTreeMap<String, TableChange>,
    /// Control totals of the files this commit ingested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingests: Vec<LedgerEntry>,
}

/// The committed state: which files make up each table, and every ledger entry.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    version: u64,
    files: BTreeMap<Table, Vec<FileEntry>>,
    ledger: Vec<LedgerEntry>,
}

pub(crate) fn commit_file_name(version: u64) -> String {
    format!("{version:010}.json")
}

impl Catalog {
    /// Replays every commit record under `root/_catalog`.
    pub fn load(root: &Path) -> Result<Catalog> {
        let dir = root.join(CATALOG_DIR);
        let mut versions = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".json")
                && stem.len() == 10
                && let Ok(v) = stem.parse::<u64>()
            {
                versions.push(v);
            }
        }
        versions.sort_unstable();
        let mut catalog = Catalog::default();
        for v in versions {
            let path = dir.join(commit_file_name(v));
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let record: CommitRecord = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            if record.version != v || v != catalog.version + 1 {
                return Err(Error::Corrupt {
                    path,
                    detail: format!("expected commit {} but found {}", catalog.version + 1, record.version),
                });
            }
            catalog.apply(record).map_err(|detail| Error::Corrupt {
                path: dir.join(commit_file_name(v)),
                detail,
            })?;
        }
        Ok(catalog)
    }

    pub(crate) fn apply(&mut self, record: CommitRecord) -> std::result::Result<(), String> {
        for (name, change) in record.tables {
            let table = Table::from_name(&name).ok_or_else(|| format!("unknown table {name}"))?;
            let files = self.files.entry(table).or_default();
            for removed in &change.removed {
                let before = files.len();
                files.retain(|f| &f.path != removed);
                if files.len() == before {
                    return Err(format!("{name}: removes {removed}, which is not committed"));
                }
            }
            files.extend(change.added);
        }
        self.ledger.extend(record.ingests);
        self.version = record.version;
        Ok(())
    }

    /// The last committed version (0 for an empty warehouse).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Committed files of `table`, oldest first.
    pub fn files(&self, table: Table) -> &[FileEntry] {
        self.files.get(&table).map(Vec::as_slice).unwrap_or_default()
    }

    /// Rows committed in `table`.
    pub fn rows(&self, table: Table) -> u64 {
        self.files(table).iter().map(|f| f.rows).sum()
    }

    /// Every ledger entry, oldest first.
    pub fn ledger(&self) -> &[LedgerEntry] {
        &self.ledger
    }

    /// The ledger entry of an earlier ingest of the same content into the same table.
    pub fn already_ingested(&self, table: Table, file_sha256: &str) -> Option<&LedgerEntry> {
        self.ledger
            .iter()
            .find(|e| e.table == table.name() && e.file_sha256 == file_sha256)
    }

    /// Whether a file of `file_bytes` bytes was ingested into `table`: if not, no file of
    /// that size can be [`Catalog::already_ingested`], whatever its hash.
    pub fn has_ingested_size(&self, table: Table, file_bytes: u64) -> bool {
        self.ledger
            .iter()
            .any(|e| e.table == table.name() && e.file_bytes == file_bytes)
    }

    /// Whether `path` (relative to the root) is a committed file of any table.
    pub fn references(&self, path: &str) -> bool {
        self.files.values().flatten().any(|f| f.path == path)
    }
}
