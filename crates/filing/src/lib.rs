//! Filings: what is due when, and the ledger that proves what was filed.
//!
//! # Brief overview
//! - [`Calendar`] is the filing calendar from configuration: which report goes to which
//!   regulator for which periods, and the deadline rule (e.g. five working days after the
//!   period ends). [`Calendar::due`] lists what is due or overdue on a day, given the ledger.
//! - [`Ledger`] is an append-only, hash-chained record of every filing package under
//!   `<warehouse>/filings/`: each entry names the run, inputs, rule versions, parameters and
//!   the SHA-256 of every file sent, and carries the hash of the entry before it.
//!   [`Ledger::verify`] recomputes every hash and names exactly what was altered or removed.
//!
//! The crate knows nothing about how a filing is rendered: the caller hands it finished files.
//!
//! # Example
//! ```
//! use custos_filing::{Ledger, NewFiling, Submission};
//! let dir = tempfile::tempdir().unwrap();
//! let ledger = Ledger::open(dir.path()).unwrap();
//! let entry = ledger
//!     .append(NewFiling {
//!         filing_id: "PBOC-HVTR-2024-03-05".into(),
//!         kind: "pboc-hvtr".into(),
//!         regulator: "PBOC".into(),
//!         period: "2024-03-05".into(),
//!         submission: Submission::New,
//!         corrects: None,
//!         as_of: "2024-03-06".into(),
//!         details: serde_json::json!({"run_id": "RUN-1"}),
//!         files: vec![("hvtr.xml".into(), b"<HVTR/>".to_vec())],
//!     })
//!     .unwrap();
//! assert_eq!(entry.seq, 1);
//! assert!(ledger.verify().unwrap().is_empty());
//! ```
#![deny(missing_docs)]

mod calendar;
mod ledger;

pub use calendar::{Calendar, Deadline, DueFiling, DueStatus, Frequency, Schedule};
pub use ledger::{Entry, FiledFile, Ledger, NewFiling, NextFiling, Problem, Submission};

use std::path::PathBuf;

/// What can go wrong with the calendar or the ledger.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A ledger line or manifest is not what custos wrote.
    #[error("{path}: line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A filing id is already in the ledger.
    #[error("filing {0} is already in the ledger; a re-filing is a correction with its own id")]
    Duplicate(String),
    /// A configuration value is wrong.
    #[error("{0}")]
    Config(String),
    /// The period was filed already; a re-filing must be a correction.
    #[error("{kind} {period} was filed as {filing_id} on {as_of}; re-file it as a correction (--correct)")]
    AlreadyFiled {
        /// Report kind.
        kind: String,
        /// Period.
        period: String,
        /// The original filing.
        filing_id: String,
        /// Its filing date.
        as_of: String,
    },
    /// A correction of a period never filed.
    #[error("{kind} {period} was never filed: there is nothing to correct")]
    NothingToCorrect {
        /// Report kind.
        kind: String,
        /// Period.
        period: String,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
