//! custos ingest: turns transaction logs and reference files into warehouse tables, storing
//! every valid row and quarantining every other one with its reason, so that rows read always
//! equal rows stored plus rows quarantined.
//!
//! # Brief overview
//! - [`Ingestor`] loads one file at a time through a warehouse [`Writer`](custos_warehouse::Writer);
//!   each file is one atomic commit holding its data, its quarantined rows and its
//!   [`LedgerEntry`](custos_warehouse::LedgerEntry) (control totals).
//! - [`IngestOptions`] picks the table, a [`Profile`] for foreign layouts, the [`Format`], and
//!   a [`RejectLimit`].
//! - [`FileReport`] is what happened to a file: committed, already ingested (same content,
//!   a no-op), or refused (too many rejects, nothing written).
//!
//! Validation is per field, by the column's [`FieldType`](custos_model::FieldType), then per
//! row: an amount's decimals against its currency, accounts against the accounts table (once
//! loaded), a rate to the reporting currency for the transaction's day, and id uniqueness
//! within the file and against the warehouse.
//!
//! A canonical CSV transaction log is validated and written by [`IngestOptions::threads`]
//! threads, in blocks of [`IngestOptions::chunk_rows`] rows; blocks claim their ids in file
//! order, so the rows stored and quarantined are the same with any number of threads. A file
//! is recognised as already ingested by its SHA-256; when no earlier file of the table has
//! its size (so none can have its content), the hash is computed on a thread of its own
//! while the file is read, and blocks wait for it only before they are written.
//!
//! # Example
//! ```
//! use custos_ingest::{IngestOptions, Ingestor, FileStatus};
//! use custos_model::Table;
//! use custos_warehouse::{Warehouse, WarehouseSettings};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let csv = dir.path().join("fx.csv");
//! std::fs::write(&csv, "rate_date,currency,rate\n2024-01-02,USD,7.1\n2024-01-02,USD,7.2\n").unwrap();
//! let mut wh = Warehouse::create_or_open(&dir.path().join("wh"), &WarehouseSettings::default()).unwrap();
//! let settings = wh.settings().clone();
//! let mut writer = wh.writer().unwrap();
//! let mut ingestor = Ingestor::new(&mut writer, &settings).unwrap();
//! let report = ingestor.ingest(&csv, &IngestOptions::new(Table::FxRates), &mut |_| {}).unwrap();
//! assert!(matches!(report.status, FileStatus::Committed { .. }));
//! assert_eq!((report.ledger.rows_read, report.ledger.rows_stored, report.ledger.rows_quarantined), (2, 1, 1));
//! assert_eq!(report.samples[0].reason.code(), "duplicate_key");
//! ```
#![deny(missing_docs)]

mod batches;
mod columnar;
mod error;
mod ids;
mod ingest;
mod lookups;
mod parallel;
mod profile;
mod read;
mod sink;
mod values;

pub use error::{Error, Result};
pub use ingest::{FileReport, FileStatus, Format, IngestOptions, Ingestor, RejectLimit, RejectSample};
pub use profile::Profile;
