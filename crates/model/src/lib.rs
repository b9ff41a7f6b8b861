//! The custos data model: what every table looks like and which values are valid. No I/O.
//!
//! # Brief overview
//! - [`Table`] names every warehouse table; [`Table::columns`] lists its [`Column`]s with
//!   their [`FieldType`], whether they are required, and whether they come from the input or
//!   are derived at ingest. [`Table::arrow_schema`] is the stored Parquet/Arrow schema.
//! - [`Reason`] is the closed vocabulary of quarantine reason codes.
//! - [`currency_minor_units`] and [`is_country`] check ISO 4217 and ISO 3166-1 codes against
//!   lists compiled into the binary (see `data/reference/README.md`).
//! - [`parse_decimal`] turns a decimal string into a scaled integer without ever touching a
//!   float: money in custos is `Decimal128` end to end.
//!
//! # Example
//! ```
//! use custos_model::{Table, currency_minor_units, parse_decimal, AMOUNT_SCALE};
//!
//! let schema = Table::Transactions.arrow_schema();
//! assert!(schema.field_with_name("amount").is_ok());
//! assert_eq!(currency_minor_units("CNY"), Some(2));
//! let d = parse_decimal("12.5", AMOUNT_SCALE, false).unwrap();
//! assert_eq!((d.value, d.fraction_digits), (125_000, 1));
//! ```
#![deny(missing_docs)]

mod decimal;
mod period;
mod reason;
mod reference;
mod table;
mod vocab;

pub use decimal::{Decimal, DecimalError, parse_decimal};
pub use period::{Period, PeriodError, PeriodKind};
pub use reason::Reason;
pub use reference::{country_alpha3, currency_minor_units, is_country};
pub use table::{AMOUNT_PRECISION, AMOUNT_SCALE, Column, FieldType, Origin, RATE_PRECISION, RATE_SCALE, Table};
pub use vocab::*;
