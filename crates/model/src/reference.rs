//! ISO code lists compiled into the binary (sources in `data/reference/README.md`).

use std::collections::HashMap;
use std::sync::OnceLock;

const ISO4217: &str = include_str!("../../../data/reference/iso4217.csv");
const ISO3166: &str = include_str!("../../../data/reference/iso3166-1.csv");

/// Currencies indexed by their three upper-case letters (26^3 slots): a lookup is an index,
/// not a hash, because ingest asks once or twice per transaction.
fn currency_table() -> &'static [Option<u8>] {
    static TABLE: OnceLock<Vec<Option<u8>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![None; 26 * 26 * 26];
        for line in ISO4217.lines().skip(1) {
            if let Some((code, minor)) = line.split_once(',')
                && let (Some(i), Ok(m)) = (letters_index(code.as_bytes()), minor.trim().parse::<u8>())
            {
                table[i] = Some(m);
            }
        }
        table
    })
}

fn letters_index(code: &[u8]) -> Option<usize> {
    code.iter().try_fold(0usize, |acc, &b| {
        b.is_ascii_uppercase().then(|| acc * 26 + usize::from(b - b'A'))
    })
}

fn countries() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        ISO3166
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut parts = line.splitn(3, ',');
                Some((parts.next()?, parts.next()?))
            })
            .collect()
    })
}

/// Alpha-2 codes indexed by their two letters (26^2 slots).
fn country_table() -> &'static [bool] {
    static TABLE: OnceLock<Vec<bool>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![false; 26 * 26];
        for code in countries().keys() {
            if let Some(i) = letters_index(code.as_bytes()) {
                table[i] = true;
            }
        }
        table
    })
}

/// Minor units of an active ISO 4217 currency that can carry payments (`CNY` -> 2,
/// `JPY` -> 0, `BHD` -> 3); `None` for unknown codes and for codes without minor units
/// (precious metals, testing and fund codes). Takes the code as text or as bytes, so ingest
/// can check a field before it knows the field is UTF-8.
pub fn currency_minor_units(code: impl AsRef<[u8]>) -> Option<u32> {
    let code = code.as_ref();
    if code.len() != 3 {
        return None;
    }
    letters_index(code).and_then(|i| currency_table()[i]).map(u32::from)
}

/// Whether `code` (text or bytes) is an ISO 3166-1 alpha-2 country code (upper case).
pub fn is_country(code: impl AsRef<[u8]>) -> bool {
    let code = code.as_ref();
    code.len() == 2 && letters_index(code).is_some_and(|i| country_table()[i])
}

/// The ISO 3166-1 alpha-3 code for an alpha-2 code, as goAML and other filings want it.
pub fn country_alpha3(alpha2: &str) -> Option<&'static str> {
    countries().get(alpha2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_complete() {
        assert_eq!(currency_table().iter().filter(|m| m.is_some()).count(), 165);
        assert_eq!(countries().len(), 249);
        assert_eq!(country_table().iter().filter(|c| **c).count(), 249);
        assert_eq!(currency_minor_units("BHD"), Some(3));
        assert_eq!(currency_minor_units("XAU"), None);
        assert_eq!(currency_minor_units("cny"), None);
        assert!(is_country("CN") && is_country("HK") && !is_country("EU") && !is_country("XX"));
        assert_eq!(country_alpha3("CN"), Some("CHN"));
    }
}
