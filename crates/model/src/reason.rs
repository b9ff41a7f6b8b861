//! Quarantine reason codes.

use serde::{Deserialize, Serialize};

/// Why a row was quarantined instead of stored. The `snake_case` code is what the quarantine
/// table and the ingest ledger record; it is a stable contract for analysts and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The CSV record has more or fewer fields than the header.
    WrongFieldCount,
    /// A field is not valid UTF-8.
    BadUtf8,
    /// An NDJSON line is not a JSON object of scalar values.
    BadJson,
    /// A timestamp is not RFC 3339 with an offset (or the profile's format).
    BadTimestamp,
    /// A timestamp parses but lies outside the plausible range (1990 to 2100).
    TimestampOutOfRange,
    /// A date is not `YYYY-MM-DD`.
    BadDate,
    /// A number is not a plain decimal.
    BadDecimal,
    /// An amount or rate is zero or negative.
    NonPositiveAmount,
    /// An amount has more decimals than its currency's minor units.
    TooManyDecimals,
    /// A number does not fit the stored precision.
    AmountOutOfRange,
    /// Not an active ISO 4217 currency with minor units.
    UnknownCurrency,
    /// Not an ISO 3166-1 alpha-2 country code.
    UnknownCountry,
    /// A value outside the field's enumeration.
    UnknownEnumValue,
    /// A required field is absent or empty.
    MissingRequiredField,
    /// A boolean that is none of true/false/1/0/Y/N.
    BadBoolean,
    /// An integer that does not parse.
    BadInteger,
    /// A value of the wrong shape for its field (MCC, IP address, ...).
    BadValue,
    /// The transaction id was already seen in this batch or is already in the warehouse.
    DuplicateTxnId,
    /// A reference row repeats a key earlier in the same file.
    DuplicateKey,
    /// Payer or payee account is not in the loaded accounts table.
    UnknownAccount,
    /// No FX rate to the reporting currency for the transaction's date.
    MissingFxRate,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: &'static [Reason] = &[
        Reason::WrongFieldCount,
        Reason::BadUtf8,
        Reason::BadJson,
        Reason::BadTimestamp,
        Reason::TimestampOutOfRange,
        Reason::BadDate,
        Reason::BadDecimal,
        Reason::NonPositiveAmount,
        Reason::TooManyDecimals,
        Reason::AmountOutOfRange,
        Reason::UnknownCurrency,
        Reason::UnknownCountry,
        Reason::UnknownEnumValue,
        Reason::MissingRequiredField,
        Reason::BadBoolean,
        Reason::BadInteger,
        Reason::BadValue,
        Reason::DuplicateTxnId,
        Reason::DuplicateKey,
        Reason::UnknownAccount,
        Reason::MissingFxRate,
    ];

    /// The stable code stored in the warehouse.
    pub fn code(self) -> &'static str {
        match self {
            Reason::WrongFieldCount => "wrong_field_count",
            Reason::BadUtf8 => "bad_utf8",
            Reason::BadJson => "bad_json",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::TimestampOutOfRange => "timestamp_out_of_range",
            Reason::BadDate => "bad_date",
            Reason::BadDecimal => "bad_decimal",
            Reason::NonPositiveAmount => "non_positive_amount",
            Reason::TooManyDecimals => "too_many_decimals",
            Reason::AmountOutOfRange => "amount_out_of_range",
            Reason::UnknownCurrency => "unknown_currency",
            Reason::UnknownCountry => "unknown_country",
            Reason::UnknownEnumValue => "unknown_enum_value",
            Reason::MissingRequiredField => "missing_required_field",
            Reason::BadBoolean => "bad_boolean",
            Reason::BadInteger => "bad_integer",
            Reason::BadValue => "bad_value",
            Reason::DuplicateTxnId => "duplicate_txn_id",
            Reason::DuplicateKey => "duplicate_key",
            Reason::UnknownAccount => "unknown_account",
            Reason::MissingFxRate => "missing_fx_rate",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()), "{r:?} repeats a code");
            assert!(
                r.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        assert_eq!(seen.len(), 21);
    }
}
