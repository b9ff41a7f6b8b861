use std::path::PathBuf;

/// Result with the ingest [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors that stop the ingest of a file. Problems with single rows are never errors: they
/// are quarantined with a [`custos_model::Reason`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header lacks a required column or has one custos does not know.
    #[error("{path}: line 1: {detail}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A mapping profile is invalid.
    #[error("{path}: mapping profile: {detail}")]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] custos_warehouse::Error),
    /// Arrow failed building a batch (a bug, not bad input).
    #[error("arrow: {0}")]
    Arrow(#[from] custos_warehouse::datafusion::arrow::error::ArrowError),
    /// Read and stored + quarantined disagree: a bug, and the file is not committed.
    #[error("{path}: control totals do not reconcile: read {read}, stored {stored}, quarantined {quarantined}")]
    Unreconciled {
        /// The file.
        path: PathBuf,
        /// Rows read.
        read: u64,
        /// Rows stored.
        stored: u64,
        /// Rows quarantined.
        quarantined: u64,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
