//! ISO code lists compiled into the binary (sources in `data/reference/README.md`).

use std::collections::HashMap;
use std::sync::OnceLock;

const ISO4217: &str = include_str!("../../../data/reference/iso4217.csv");
const ISO3166: &str = include_str!("../../../data/reference/iso3166-1.csv");

fn currencies() -> &'static HashMap<&'static str, Option<u32>> {
    static MAP: OnceLock<HashMap<&'static str, Option<u32>>> = OnceLock::new();
    MAP.get_or_init(|| {
        ISO4217
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(','))
            .map(|(code, minor)| (code, minor.trim().parse::<u32>().ok()))
            .collect()
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

/// Minor units of an active ISO 4217 currency that can carry payments (`CNY` -> 2,
/// `JPY` -> 0, `BHD` -> 3); `None` for unknown codes and for codes without minor units
/// (precious metals, testing and fund codes).
pub fn currency_minor_units(code: &str) -> Option<u32> {
    currencies().get(code).copied().flatten()
}

/// Whether `code` is an ISO 3166-1 alpha-2 country code (upper case).
pub fn is_country(code: &str) -> bool {
    countries().contains_key(code)
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
        assert_eq!(currencies().len(), 178);
        assert_eq!(countries().len(), 249);
        assert_eq!(currency_minor_units("BHD"), Some(3));
        assert_eq!(currency_minor_units("XAU"), None);
        assert_eq!(currency_minor_units("cny"), None);
        assert!(is_country("CN") && is_country("HK") && !is_country("EU") && !is_country("XX"));
        assert_eq!(country_alpha3("CN"), Some("CHN"));
    }
}
