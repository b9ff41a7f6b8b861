use std::path::{Path, PathBuf};

/// Result with the warehouse [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong reading or writing a warehouse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The directory has no `_catalog/warehouse.json`.
    #[error("{0} is not a custos warehouse (no _catalog/warehouse.json); run `custos ingest` to create one")]
    NotAWarehouse(PathBuf),
    /// A catalog or settings file cannot be understood.
    #[error("{path}: corrupt catalog entry: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A committed data file is missing or differs from what the catalog recorded.
    #[error("{path}: {detail}")]
    Integrity {
        /// The data file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// The warehouse was created with other settings.
    #[error("{path} was created for {stored} (reporting currency / time zone) but {requested} was requested")]
    SettingsMismatch {
        /// The warehouse.
        path: PathBuf,
        /// Its settings.
        stored: String,
        /// The requested settings.
        requested: String,
    },
    /// A setting is not valid.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// Parquet could not be written or read.
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The data file.
        path: PathBuf,
        /// The underlying error.
        source: datafusion::parquet::errors::ParquetError,
    },
    /// Arrow failed on a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// DataFusion failed to plan or run a query.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// JSON (de)serialisation of catalog entries failed.
    #[error("catalog json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parquet(path: &Path, source: datafusion::parquet::errors::ParquetError) -> Error {
        Error::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
}
