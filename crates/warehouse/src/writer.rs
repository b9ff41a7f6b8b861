//! The single writer: lock, staging, atomic commit, and recovery from interrupted commits.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use custos_model::Table;
use datafusion::arrow::record_batch::RecordBatch;

use crate::catalog::{CATALOG_DIR, commit_file_name};
use crate::parquet_io::{WrittenFile, write_parquet};
use crate::{Catalog, CommitRecord, Error, FileEntry, LedgerEntry, Result, TableChange, failpoint};

const STAGING_DIR: &str = "_staging";
const LOCK_FILE: &str = ".lock";

/// A file written to staging, waiting for [`Writer::commit`].
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// The table it belongs to.
    pub table: Table,
    /// Its catalog entry (path is the final one, relative to the root).
    pub entry: FileEntry,
}

/// Holds the warehouse's single-writer lock for as long as it lives.
///
/// Usage: [`Writer::stage`] files, [`Writer::remove`] superseded ones, [`Writer::add_ledger`]
/// control totals, then [`Writer::commit`]; repeat for the next unit of work.
#[derive(Debug)]
pub struct Writer {
    root: PathBuf,
    _lock: File,
    catalog: Catalog,
    staged: Vec<StagedFile>,
    removed: BTreeMap<Table, Vec<String>>,
    ingests: Vec<LedgerEntry>,
    swept: Vec<String>,
}

impl Writer {
    pub(crate) fn open(root: &Path) -> Result<Writer> {
        let lock_path = root.join(CATALOG_DIR).join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        // Blocks while another custos process writes; released when `lock` is dropped, also
        // when the process dies, so a crash never leaves the warehouse locked.
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        let catalog = Catalog::load(root)?;
        let mut writer = Writer {
            root: root.to_path_buf(),
            _lock: lock,
            catalog,
            staged: Vec::new(),
            removed: BTreeMap::new(),
            ingests: Vec::new(),
            swept: Vec::new(),
        };
        writer.sweep()?;
        Ok(writer)
    }

    /// Removes what an interrupted commit left: the staging area, and data files that were
    /// moved into place but never reached the catalog. Both are invisible to readers, who see
    /// only catalogued files, so removing them changes nothing a query can observe.
    fn sweep(&mut self) -> Result<()> {
        let staging = self.root.join(STAGING_DIR);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
            self.swept
                .push(format!("{STAGING_DIR}/ (files of an unfinished commit)"));
        }
        for table in Table::ALL {
            let dir = self.root.join(table.name());
            if !dir.exists() {
                continue;
            }
            let mut stack = vec![dir];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                    let entry = entry.map_err(|e| Error::io(&dir, e))?;
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "parquet") {
                        let rel = relative(&self.root, &path);
                        if !self.catalog.references(&rel) {
                            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                            self.swept.push(rel);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Paths that opening this writer ([`Warehouse::writer`](crate::Warehouse::writer)) removed as leftovers of an interrupted commit.
    pub fn swept(&self) -> &[String] {
        &self.swept
    }

    /// The committed state, including this writer's own commits.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The version the next commit will get; unique, so good for naming files.
    pub fn next_version(&self) -> u64 {
        self.catalog.version() + 1
    }

    /// Writes `batches` as a Parquet file of `table` at `rel_path` (relative to the table's
    /// directory), in staging; it becomes visible at the next commit.
    pub fn stage(
        &mut self,
        table: Table,
        rel_path: &str,
        batches: &[RecordBatch],
        sorted_by: &[&str],
    ) -> Result<FileEntry> {
        let final_rel = format!("{}/{}", table.name(), rel_path);
        let staging_path = self.root.join(STAGING_DIR).join(&final_rel);
        if let Some(parent) = staging_path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let written = write_parquet(&staging_path, table, batches, sorted_by)?;
        let entry = FileEntry {
            path: final_rel,
            rows: written.rows,
            bytes: written.bytes,
            sha256: written.sha256,
        };
        self.staged.push(StagedFile {
            table,
            entry: entry.clone(),
        });
        Ok(entry)
    }

    /// The staging directory of `table`: files written below it by other means (a background
    /// writer) join the next commit through [`Writer::adopt`].
    pub fn staging_dir(&self, table: Table) -> PathBuf {
        self.root.join(STAGING_DIR).join(table.name())
    }

    /// Adds a file already written at `staging_dir(table)/rel_path` to the next commit.
    pub fn adopt(&mut self, table: Table, rel_path: &str, written: WrittenFile) -> FileEntry {
        let entry = FileEntry {
            path: format!("{}/{}", table.name(), rel_path),
            rows: written.rows,
            bytes: written.bytes,
            sha256: written.sha256,
        };
        self.staged.push(StagedFile {
            table,
            entry: entry.clone(),
        });
        entry
    }

    /// Marks a committed file of `table` as superseded at the next commit.
    pub fn remove(&mut self, table: Table, rel_path: &str) {
        self.removed.entry(table).or_default().push(rel_path.to_string());
    }

    /// Adds an ingest ledger entry to the next commit.
    pub fn add_ledger(&mut self, entry: LedgerEntry) {
        self.ingests.push(entry);
    }

    /// Drops everything staged since the last commit.
    pub fn abandon(&mut self) -> Result<()> {
        let staging = self.root.join(STAGING_DIR);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        self.staged.clear();
        self.removed.clear();
        self.ingests.clear();
        Ok(())
    }

    /// Makes everything staged visible at once, and returns the commit record.
    ///
    /// Order: staged files are renamed into place and their directories synced; then the
    /// commit record is written aside, synced, and renamed to its version's name, which is
    /// the moment of commit; superseded files are deleted last.
    pub fn commit(&mut self, operation: &str) -> Result<CommitRecord> {
        let version = self.next_version();
        // Check before anything moves: a record that fails to replay would break the warehouse.
        for (table, paths) in &self.removed {
            if let Some(p) = paths
                .iter()
                .find(|p| !self.catalog.files(*table).iter().any(|f| &&f.path == p))
            {
                return Err(Error::Integrity {
                    path: self.root.join(p),
                    detail: format!("cannot remove {p} from {table}: it is not a committed file of it"),
                });
            }
        }
        let mut tables: BTreeMap<String, TableChange> = BTreeMap::new();
        let mut dirs = std::collections::BTreeSet::new();
        for staged in &self.staged {
            let from = self.root.join(STAGING_DIR).join(&staged.entry.path);
            let to = self.root.join(&staged.entry.path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                dirs.insert(parent.to_path_buf());
            }
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            tables
                .entry(staged.table.name().to_string())
                .or_default()
                .added
                .push(staged.entry.clone());
        }
        for dir in &dirs {
            sync_dir(dir)?;
        }
        for (table, paths) in &self.removed {
            tables
                .entry(table.name().to_string())
                .or_default()
                .removed
                .extend(paths.iter().cloned());
        }
        failpoint("after-data-before-catalog");

        let record = CommitRecord {
            version,
            committed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            operation: operation.to_string(),
            tables,
            ingests: std::mem::take(&mut self.ingests),
        };
        let path = self.root.join(CATALOG_DIR).join(commit_file_name(version));
        if path.exists() {
            return Err(Error::Corrupt {
                path,
                detail: "commit version already exists".into(),
            });
        }
        write_atomically(&path, &serde_json::to_vec_pretty(&record)?)?;
        failpoint("after-catalog");

        self.catalog
            .apply(record.clone())
            .map_err(|detail| Error::Corrupt { path, detail })?;
        for paths in std::mem::take(&mut self.removed).values() {
            for rel in paths {
                let p = self.root.join(rel);
                if let Err(e) = std::fs::remove_file(&p)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(Error::io(&p, e));
                }
            }
        }
        self.staged.clear();
        // Only empty directories are left in staging now; a leftover later means a crash.
        let staging = self.root.join(STAGING_DIR);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        Ok(record)
    }
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use custos_model::Table;
    use datafusion::arrow::array::{Date32Array, Decimal128Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;
    use sha2::{Digest, Sha256};

    use crate::{Warehouse, WarehouseSettings};

    fn fx_batch(rows: &[(i32, &str, i128)]) -> RecordBatch {
        let dates = Date32Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let ccy = StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let rate = Decimal128Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())
            .with_precision_and_scale(18, 8)
            .unwrap();
        let ids = StringArray::from(vec!["t"; rows.len()]);
        RecordBatch::try_new(
            Table::FxRates.arrow_schema(),
            vec![Arc::new(dates), Arc::new(ccy), Arc::new(rate), Arc::new(ids)],
        )
        .unwrap()
    }

    #[test]
    fn commit_records_what_is_on_disk_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut wh = Warehouse::create_or_open(dir.path(), &WarehouseSettings::default()).unwrap();
        let mut w = wh.writer().unwrap();
        let entry = w
            .stage(Table::FxRates, "part-1.parquet", &[fx_batch(&[(1, "USD", 7)])], &[])
            .unwrap();
        // Staged files are not visible yet.
        assert!(!dir.path().join(&entry.path).exists());
        let record = w.commit("test").unwrap();
        assert_eq!(record.version, 1);
        let bytes = std::fs::read(dir.path().join(&entry.path)).unwrap();
        let sha = crate::hex(&Sha256::digest(&bytes));
        assert_eq!((entry.sha256, entry.bytes, entry.rows), (sha, bytes.len() as u64, 1));
        drop(w);
        let reopened = Warehouse::open(dir.path()).unwrap();
        assert_eq!(reopened.catalog().version(), 1);
        assert_eq!(reopened.catalog().rows(Table::FxRates), 1);
        assert!(!dir.path().join("_staging").exists());
    }

    #[test]
    fn replacing_a_file_removes_it_after_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut wh = Warehouse::create_or_open(dir.path(), &WarehouseSettings::default()).unwrap();
        let mut w = wh.writer().unwrap();
        let first = w
            .stage(Table::FxRates, "part-1.parquet", &[fx_batch(&[(1, "USD", 7)])], &[])
            .unwrap();
        w.commit("test").unwrap();
        w.stage(
            Table::FxRates,
            "part-2.parquet",
            &[fx_batch(&[(1, "USD", 7), (2, "USD", 8)])],
            &[],
        )
        .unwrap();
        w.remove(Table::FxRates, &first.path);
        w.commit("test").unwrap();
        assert!(!dir.path().join(&first.path).exists());
        assert_eq!(w.catalog().files(Table::FxRates).len(), 1);
        assert_eq!(w.catalog().rows(Table::FxRates), 2);
        // Removing what is not committed is a corrupt commit, refused on replay.
        w.remove(Table::FxRates, "fx_rates/nope.parquet");
        assert!(w.commit("test").is_err());
    }

    #[test]
    fn settings_are_fixed_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        Warehouse::create_or_open(dir.path(), &WarehouseSettings::default()).unwrap();
        let usd = WarehouseSettings {
            reporting_currency: "USD".into(),
            reporting_timezone: "UTC".into(),
        };
        let err = Warehouse::create_or_open(dir.path(), &usd).unwrap_err().to_string();
        assert!(err.contains("CNY"), "{err}");
        let bad = WarehouseSettings {
            reporting_currency: "CNY".into(),
            reporting_timezone: "Mars/Olympus".into(),
        };
        assert!(Warehouse::create_or_open(&dir.path().join("new"), &bad).is_err());
    }
}
