//! Exact decimal parsing into scaled integers.

/// A decimal value held as an integer scaled by 10^scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The value multiplied by 10^scale.
    pub value: i128,
    /// How many digits the text had after the decimal point (trailing zeros included), so
    /// callers can enforce a currency's minor units.
    pub fraction_digits: u32,
}

/// Why a string is not a decimal custos accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not of the form `[-+]digits[.digits]` (or with an exponent where allowed).
    #[error("not a decimal number")]
    Syntax,
    /// More fraction digits than the storage scale.
    #[error("more than {0} decimal places")]
    TooPrecise(u32),
    /// Does not fit the storage precision.
    #[error("out of range")]
    Overflow,
}

/// Parses `text` into an integer scaled by `10^scale`.
///
/// Plain decimal notation only (`-12.34`, `+5`, `.5`), unless `allow_exponent`: then a
/// trailing `e`/`E` exponent is accepted too (`1.916920493E7`, as PaySim writes amounts).
/// Digits beyond `scale` are an error, never rounded away, unless they are zeros.
///
/// ```
/// use custos_model::parse_decimal;
/// assert_eq!(parse_decimal("1.916920493E7", 4, true).unwrap().value, 191_692_049_300);
/// assert!(parse_decimal("1e3", 4, false).is_err());
/// assert!(parse_decimal("0.00001", 4, false).is_err());
/// ```
pub fn parse_decimal(text: &str, scale: u32, allow_exponent: bool) -> Result<Decimal, DecimalError> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|b| *b == b'e' || *b == b'E') {
        Some(i) if allow_exponent => {
            let exp_text = std::str::from_utf8(&rest[i + 1..]).map_err(|_| DecimalError::Syntax)?;
            let exp: i32 = exp_text.parse().map_err(|_| DecimalError::Syntax)?;
            (&rest[..i], exp)
        }
        Some(_) => return Err(DecimalError::Syntax),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|b| *b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &mantissa[..0]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DecimalError::Syntax);
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return Err(DecimalError::Syntax);
    }
    // Digits as one integer, with the decimal point moved by the exponent.
    let mut digits: i128 = 0;
    let mut significant = 0u32;
    for d in int_part.iter().chain(frac_part) {
        if significant > 0 || *d != b'0' {
            significant += 1;
        }
        if significant > 38 {
            return Err(DecimalError::Overflow);
        }
        digits = digits * 10 + i128::from(d - b'0');
    }
    let frac_len = frac_part.len() as i64 - i64::from(exponent);
    let mut value = digits;
    let fraction_digits;
    if frac_len <= 0 {
        fraction_digits = 0;
        for _ in 0..(i64::from(scale) - frac_len) {
            value = value.checked_mul(10).ok_or(DecimalError::Overflow)?;
        }
    } else {
        let frac_len = u32::try_from(frac_len).map_err(|_| DecimalError::Overflow)?;
        fraction_digits = frac_len;
        if frac_len > scale {
            let excess = frac_len - scale;
            let divisor = 10i128.checked_pow(excess).ok_or(DecimalError::TooPrecise(scale))?;
            if value % divisor != 0 {
                return Err(DecimalError::TooPrecise(scale));
            }
            value /= divisor;
        } else {
            for _ in 0..(scale - frac_len) {
                value = value.checked_mul(10).ok_or(DecimalError::Overflow)?;
            }
        }
    }
    Ok(Decimal {
        value: if negative { -value } else { value },
        fraction_digits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_signed() {
        assert_eq!(parse_decimal("12.34", 4, false).unwrap().value, 123_400);
        assert_eq!(parse_decimal("-0.5", 4, false).unwrap().value, -5_000);
        assert_eq!(parse_decimal("+7", 2, false).unwrap().value, 700);
        assert_eq!(parse_decimal(".25", 2, false).unwrap().fraction_digits, 2);
    }

    #[test]
    fn trailing_zeros_count_as_digits_but_fit() {
        let d = parse_decimal("1.50000", 4, false).unwrap();
        assert_eq!(d.value, 15_000);
        assert_eq!(d.fraction_digits, 5);
        assert_eq!(parse_decimal("1.00001", 4, false), Err(DecimalError::TooPrecise(4)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "-", ".", "1.2.3", "1,5", "abc", "1e5", " 1", "NaN", "0x10"] {
            assert!(parse_decimal(bad, 4, false).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn exponent_when_allowed() {
        assert_eq!(parse_decimal("1.5E-2", 4, true).unwrap().value, 150);
        assert_eq!(parse_decimal("2e3", 0, true).unwrap().value, 2000);
        assert_eq!(parse_decimal("1.916920493E7", 4, true).unwrap().fraction_digits, 2);
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(parse_decimal("1e60", 4, true), Err(DecimalError::Overflow));
        assert_eq!(parse_decimal(&"9".repeat(40), 0, false), Err(DecimalError::Overflow));
    }
}
