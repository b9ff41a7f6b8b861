//! The custos warehouse: where every table lives on disk, which files make up its committed
//! state, how a change is committed atomically, and the DataFusion session that reads it.
//!
//! This crate owns DataFusion and re-exports it (`custos_warehouse::datafusion`), so every
//! other crate uses the same engine, Arrow and Parquet versions.
//!
//! # Brief overview
//! - [`Warehouse`] opens (or creates) a warehouse directory and reads its [`Catalog`].
//! - [`Writer`] holds the single-writer lock, stages Parquet files, and [`Writer::commit`]s
//!   them: files are written aside and synced, renamed into place, and the catalog entry is
//!   written last. A crash at any point leaves the previous state readable; files a crash
//!   left behind are swept when the next writer opens.
//! - [`write_parquet_synced_by`] and a [`Syncer`] stage many files without the writing
//!   threads waiting for the disk: the syncer's own thread syncs them, and
//!   [`Syncer::finish`] returns once the last is on disk, before the commit.
//! - The Parquet writers take a column either in the type the table stores or as an Arrow
//!   dictionary of those values; a dictionary column's pages are written from its keys
//!   (`dictionary.rs`), without looking each row's text up again.
//! - [`Warehouse::session`] registers every table, exactly the committed files, in a
//!   DataFusion [`SessionContext`](datafusion::prelude::SessionContext).
//!
//! # Layout
//! ```text
//! warehouse/
//!   _catalog/warehouse.json        settings fixed at creation (reporting currency, zone)
//!   _catalog/0000000001.json ...   one file per commit: files added/removed, ledger entries
//!   _staging/                      files being written (swept by the next writer)
//!   transactions/date=2024-01-01/part-<commit>-<n>.parquet
//!   customers/part-<commit>.parquet  (reference tables: one file per version)
//!   quarantine/part-<commit>.parquet
//! ```
//!
//! # Example
//! ```
//! use custos_warehouse::{Warehouse, WarehouseSettings};
//! let dir = tempfile::tempdir().unwrap();
//! let wh = Warehouse::create_or_open(dir.path(), &WarehouseSettings::default()).unwrap();
//! assert_eq!(wh.catalog().version(), 0);
//! assert_eq!(wh.settings().reporting_currency, "CNY");
//! ```
#![deny(missing_docs)]

mod catalog;
mod dictionary;
mod error;
mod failpoint;
mod parquet_io;
mod session;
mod settings;
mod syncer;
mod writer;

pub use catalog::{Catalog, CommitRecord, FileEntry, LedgerEntry, TableChange};
pub use datafusion;
pub use error::{Error, Result};
pub use failpoint::{failpoint, failpoint_error};
pub use parquet_io::{WrittenFile, hex, read_parquet_files, write_parquet, write_parquet_synced_by};
pub use session::{ReadOnly, SessionOptions};
pub use settings::WarehouseSettings;
pub use syncer::Syncer;
pub use writer::{StagedFile, Writer};

use std::path::{Path, PathBuf};

/// A warehouse directory and its committed state, as of when it was opened.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
    settings: WarehouseSettings,
    catalog: Catalog,
}

impl Warehouse {
    /// Opens the warehouse at `root`, creating it with `settings` if it does not exist yet.
    ///
    /// An existing warehouse keeps the settings it was created with; asking for a different
    /// reporting currency or time zone is an error rather than a silent mix of two.
    pub fn create_or_open(root: &Path, settings: &WarehouseSettings) -> Result<Warehouse> {
        let settings_path = root.join(catalog::CATALOG_DIR).join(settings::SETTINGS_FILE);
        if !settings_path.exists() {
            settings.validate()?;
            std::fs::create_dir_all(root.join(catalog::CATALOG_DIR)).map_err(|e| Error::io(root, e))?;
            writer::write_atomically(&settings_path, &serde_json::to_vec_pretty(settings)?)?;
        }
        let wh = Warehouse::open(root)?;
        if wh.settings.reporting_currency != settings.reporting_currency
            || wh.settings.reporting_timezone != settings.reporting_timezone
        {
            return Err(Error::SettingsMismatch {
                path: root.to_path_buf(),
                stored: format!(
                    "{} / {}",
                    wh.settings.reporting_currency, wh.settings.reporting_timezone
                ),
                requested: format!("{} / {}", settings.reporting_currency, settings.reporting_timezone),
            });
        }
        Ok(wh)
    }

    /// Opens an existing warehouse; an error if `root` is not one.
    pub fn open(root: &Path) -> Result<Warehouse> {
        let settings_path = root.join(catalog::CATALOG_DIR).join(settings::SETTINGS_FILE);
        let bytes = std::fs::read(&settings_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotAWarehouse(root.to_path_buf()),
            _ => Error::io(&settings_path, e),
        })?;
        let settings: WarehouseSettings = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: settings_path,
            detail: e.to_string(),
        })?;
        let catalog = Catalog::load(root)?;
        Ok(Warehouse {
            root: root.to_path_buf(),
            settings,
            catalog,
        })
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Settings fixed when the warehouse was created.
    pub fn settings(&self) -> &WarehouseSettings {
        &self.settings
    }

    /// The committed state as of opening (or of the last [`Warehouse::refresh`]).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Re-reads the catalog, picking up commits made since opening.
    pub fn refresh(&mut self) -> Result<()> {
        self.catalog = Catalog::load(&self.root)?;
        Ok(())
    }

    /// Takes the single-writer lock (waiting for another writer to finish) and sweeps what
    /// an interrupted commit left behind.
    pub fn writer(&mut self) -> Result<Writer> {
        let writer = Writer::open(&self.root)?;
        self.catalog = writer.catalog().clone();
        Ok(writer)
    }

    /// Absolute paths of the committed files of `table`.
    pub fn table_files(&self, table: custos_model::Table) -> Vec<PathBuf> {
        self.catalog
            .files(table)
            .iter()
            .map(|f| self.root.join(&f.path))
            .collect()
    }
}
