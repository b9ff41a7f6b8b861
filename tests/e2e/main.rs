//! End-to-end tests over the `custos` binary and a real on-disk warehouse.
//!
//! One test binary (one link of DataFusion); each module covers one concern.

mod analyst;
mod cli;
mod filings;
mod generate;
mod harness;
mod ingest_crash;
mod ingest_idempotency;
mod ingest_parallel;
mod ingest_profiles;
mod ingest_reasons;
mod ingest_roundtrip;
mod rules;
