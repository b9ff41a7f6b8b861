//! The single writer: lock, staging, atomic commit, and recovery from interrupted commits.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use custos_model::Table;
use datafusion::arrow::record_batch::RecordBatch;

use crate::catalog::{CATALOG_DIR, commit_file_name};
use crate::parquet_io::write_parquet;
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

    /// Paths that [`Writer::open`] removed as leftovers of an interrupted commit.
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
        let written = write_parquet(&staging_path, &table.arrow_schema(), batches, sorted_by)?;
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
