//! Field parsing (text -> typed value or reason) and the column builders typed values go to.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use custos_model::{AMOUNT_PRECISION, AMOUNT_SCALE, FieldType, RATE_PRECISION, RATE_SCALE, Reason, parse_decimal};
use custos_warehouse::datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};

/// A validated field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Str(&'a str),
    /// Microseconds since the epoch, UTC.
    Ts(i64),
    /// Days since the epoch.
    Date(i32),
    /// Scaled integer and how many fraction digits the text had.
    Dec(i128, u32),
    Bool(bool),
    Int(i64),
    Float(f64),
    List(Vec<&'a str>),
}

/// Earliest and latest accepted instants: 1990-01-01 and 2100-01-01 (exclusive), UTC.
pub(crate) const TS_MIN: i64 = 631_152_000_000_000;
pub(crate) const TS_MAX: i64 = 4_102_444_800_000_000;

const EPOCH_DAYS_CE: i32 = 719_163;

/// Parses the text of one field. `None` text means empty.
pub(crate) fn parse_value(ty: FieldType, text: &str, allow_exponent: bool) -> Result<Value<'_>, (Reason, String)> {
    Ok(match ty {
        FieldType::Text => Value::Str(text),
        FieldType::Enum(values) => {
            if values.contains(&text) {
                Value::Str(text)
            } else {
                return Err((
                    Reason::UnknownEnumValue,
                    format!("{text:?} is not one of {}", values.join(", ")),
                ));
            }
        }
        FieldType::Country => {
            if custos_model::is_country(text) {
                Value::Str(text)
            } else {
                return Err((
                    Reason::UnknownCountry,
                    format!("{text:?} is not an ISO 3166-1 alpha-2 code"),
                ));
            }
        }
        FieldType::Currency => {
            if custos_model::currency_minor_units(text).is_some() {
                Value::Str(text)
            } else {
                return Err((
                    Reason::UnknownCurrency,
                    format!("{text:?} is not an active ISO 4217 currency"),
                ));
            }
        }
        FieldType::CurrencyList => {
            let mut list = Vec::new();
            for code in text.split('|').map(str::trim) {
                if custos_model::currency_minor_units(code).is_none() {
                    return Err((
                        Reason::UnknownCurrency,
                        format!("{code:?} is not an active ISO 4217 currency"),
                    ));
                }
                list.push(code);
            }
            Value::List(list)
        }
        FieldType::TextList => Value::List(text.split('|').map(str::trim).collect()),
        FieldType::Float => Value::Float(
            text.parse()
                .map_err(|_| (Reason::BadDecimal, format!("{text:?} is not a number")))?,
        ),
        FieldType::Timestamp => {
            let ts = DateTime::parse_from_rfc3339(text).map_err(|e| {
                (
                    Reason::BadTimestamp,
                    format!("{text:?} is not RFC 3339 with an offset: {e}"),
                )
            })?;
            let micros = ts.timestamp_micros();
            if !(TS_MIN..TS_MAX).contains(&micros) {
                return Err((
                    Reason::TimestampOutOfRange,
                    format!("{text:?} is outside 1990-01-01..2100-01-01"),
                ));
            }
            Value::Ts(micros)
        }
        FieldType::Date => {
            let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| (Reason::BadDate, format!("{text:?} is not a YYYY-MM-DD date")))?;
            Value::Date(date_to_days(d))
        }
        FieldType::Amount | FieldType::Rate => {
            let (scale, precision) = if ty == FieldType::Amount {
                (AMOUNT_SCALE, AMOUNT_PRECISION)
            } else {
                (RATE_SCALE, RATE_PRECISION)
            };
            let d = parse_decimal(text, scale, allow_exponent).map_err(|e| match e {
                custos_model::DecimalError::Syntax => (Reason::BadDecimal, format!("{text:?} is not a decimal number")),
                custos_model::DecimalError::TooPrecise(s) => (
                    Reason::TooManyDecimals,
                    format!("{text:?} has more than {s} decimal places"),
                ),
                custos_model::DecimalError::Overflow => (Reason::AmountOutOfRange, format!("{text:?} is out of range")),
            })?;
            if d.value.unsigned_abs() >= 10u128.pow(u32::from(precision)) {
                return Err((
                    Reason::AmountOutOfRange,
                    format!("{text:?} does not fit {precision} digits"),
                ));
            }
            if d.value <= 0 {
                return Err((Reason::NonPositiveAmount, format!("{text:?} is not greater than zero")));
            }
            Value::Dec(d.value, d.fraction_digits)
        }
        FieldType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "y" | "yes" | "t" => Value::Bool(true),
            "false" | "0" | "n" | "no" | "f" => Value::Bool(false),
            _ => return Err((Reason::BadBoolean, format!("{text:?} is not true or false"))),
        },
        FieldType::Int => Value::Int(
            text.parse()
                .map_err(|_| (Reason::BadInteger, format!("{text:?} is not an integer")))?,
        ),
        FieldType::Mcc => {
            if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
                Value::Str(text)
            } else {
                return Err((
                    Reason::BadValue,
                    format!("{text:?} is not a four-digit merchant category code"),
                ));
            }
        }
        FieldType::Ip => {
            if text.parse::<std::net::IpAddr>().is_ok() {
                Value::Str(text)
            } else {
                return Err((Reason::BadValue, format!("{text:?} is not an IPv4 or IPv6 address")));
            }
        }
    })
}

/// Days since 1970-01-01.
pub(crate) fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - EPOCH_DAYS_CE
}

/// The date of a days-since-epoch value.
pub(crate) fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_CE)
}

/// An Arrow builder for one column.
pub(crate) enum ColumnBuilder {
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Dec(Decimal128Builder, u8, i8),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    List(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    pub(crate) fn new(ty: FieldType) -> ColumnBuilder {
        match ty {
            FieldType::Text
            | FieldType::Enum(_)
            | FieldType::Country
            | FieldType::Currency
            | FieldType::Mcc
            | FieldType::Ip => ColumnBuilder::Str(StringBuilder::new()),
            FieldType::CurrencyList | FieldType::TextList => {
                ColumnBuilder::List(ListBuilder::new(StringBuilder::new()))
            }
            FieldType::Float => ColumnBuilder::Float(Float64Builder::new()),
            FieldType::Timestamp => ColumnBuilder::Ts(TimestampMicrosecondBuilder::new()),
            FieldType::Date => ColumnBuilder::Date(Date32Builder::new()),
            FieldType::Amount => ColumnBuilder::Dec(Decimal128Builder::new(), AMOUNT_PRECISION, AMOUNT_SCALE as i8),
            FieldType::Rate => ColumnBuilder::Dec(Decimal128Builder::new(), RATE_PRECISION, RATE_SCALE as i8),
            FieldType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            FieldType::Int => ColumnBuilder::Int(Int64Builder::new()),
        }
    }

    /// Appends a value; the value's variant always matches the builder's (ingest parsed it
    /// with the same field type).
    pub(crate) fn append(&mut self, value: &Value<'_>) {
        match (self, value) {
            (ColumnBuilder::Str(b), Value::Str(s)) => b.append_value(s),
            (ColumnBuilder::Ts(b), Value::Ts(v)) => b.append_value(*v),
            (ColumnBuilder::Date(b), Value::Date(v)) => b.append_value(*v),
            (ColumnBuilder::Dec(b, _, _), Value::Dec(v, _)) => b.append_value(*v),
            (ColumnBuilder::Bool(b), Value::Bool(v)) => b.append_value(*v),
            (ColumnBuilder::Int(b), Value::Int(v)) => b.append_value(*v),
            (ColumnBuilder::Float(b), Value::Float(v)) => b.append_value(*v),
            (ColumnBuilder::List(b), Value::List(items)) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (builder, _) => builder.append_null(),
        }
    }

    pub(crate) fn append_str(&mut self, s: &str) {
        if let ColumnBuilder::Str(b) = self {
            b.append_value(s);
        }
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Str(b) => b.append_null(),
            ColumnBuilder::Ts(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Dec(b, _, _) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Float(b) => b.append_null(),
            ColumnBuilder::List(b) => b.append(false),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef, custos_warehouse::datafusion::arrow::error::ArrowError> {
        Ok(match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish().with_timezone("UTC")),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Dec(b, p, s) => Arc::new(b.finish().with_precision_and_scale(*p, *s)?),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::List(b) => Arc::new(b.finish()),
        })
    }
}

/// Formats a scaled integer as a decimal string with `digits` fraction digits (the value's
/// scale is `scale`; `digits <= scale`, extra digits are zero by construction).
pub(crate) fn format_decimal(value: i128, scale: u32, digits: u32) -> String {
    let negative = value < 0;
    let abs = value.unsigned_abs();
    let unit = 10u128.pow(scale);
    let int = abs / unit;
    let frac = abs % unit / 10u128.pow(scale - digits.min(scale));
    let sign = if negative { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac:0width$}", width = digits as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_instants() {
        assert_eq!(
            parse_value(FieldType::Timestamp, "2024-03-01T08:00:00+08:00", false),
            parse_value(FieldType::Timestamp, "2024-03-01T00:00:00Z", false)
        );
        assert_eq!(
            parse_value(FieldType::Timestamp, "2024-03-01 08:00:00", false)
                .unwrap_err()
                .0,
            Reason::BadTimestamp
        );
        assert_eq!(
            parse_value(FieldType::Timestamp, "1970-01-01T00:00:00Z", false)
                .unwrap_err()
                .0,
            Reason::TimestampOutOfRange
        );
    }

    #[test]
    fn amounts() {
        assert_eq!(
            parse_value(FieldType::Amount, "0", false).unwrap_err().0,
            Reason::NonPositiveAmount
        );
        assert_eq!(
            parse_value(FieldType::Amount, "-1.00", false).unwrap_err().0,
            Reason::NonPositiveAmount
        );
        assert_eq!(
            parse_value(FieldType::Amount, "1.23456", false).unwrap_err().0,
            Reason::TooManyDecimals
        );
        assert_eq!(
            parse_value(FieldType::Amount, "12,50", false).unwrap_err().0,
            Reason::BadDecimal
        );
        assert_eq!(
            parse_value(FieldType::Amount, "100000000000000", false).unwrap_err().0,
            Reason::AmountOutOfRange
        );
        assert_eq!(
            parse_value(FieldType::Amount, "99.9", false).unwrap(),
            Value::Dec(999_000, 1)
        );
    }

    #[test]
    fn decimal_formatting() {
        assert_eq!(format_decimal(123_456_700, 4, 2), "12345.67");
        assert_eq!(format_decimal(-5, 4, 4), "-0.0005");
        assert_eq!(format_decimal(70_000, 4, 0), "7");
    }

    #[test]
    fn dates_round_trip() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(days_to_date(date_to_days(d)), Some(d));
        assert_eq!(date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}
