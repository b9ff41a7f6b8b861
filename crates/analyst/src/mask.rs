//! Masking of personal data for the `analyst` role: keyed hashes that still join, and
//! redaction where joining makes no sense.

use std::sync::Arc;

use custos_warehouse::datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use custos_warehouse::datafusion::arrow::datatypes::DataType;
use custos_warehouse::datafusion::error::DataFusionError;
use custos_warehouse::datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use sha2::{Digest, Sha256};

/// Keys of `alerts.figures` that carry a customer's personal data.
pub const PERSONAL_FIGURES: &[&str] = &[
    "customer_name",
    "full_name",
    "payer_name",
    "payee_name",
    "id_number",
    "date_of_birth",
];

/// HMAC-SHA256 (RFC 2104) of `value` under `key`.
pub fn hmac_sha256(key: &[u8], value: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(value);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The masked form of a value: `anon:` and 16 hex digits of its keyed hash. The same value
/// always masks the same way under one key, so masked columns still join and group.
///
/// ```
/// let a = custos_analyst::mask_value(b"k", "Wang Wei");
/// assert_eq!(a, custos_analyst::mask_value(b"k", "Wang Wei"));
/// assert_ne!(a, custos_analyst::mask_value(b"other key", "Wang Wei"));
/// assert!(a.starts_with("anon:") && !a.contains("Wang"));
/// ```
pub fn mask_value(key: &[u8], value: &str) -> String {
    let h = hmac_sha256(key, value.as_bytes());
    let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("anon:{hex}")
}

fn map_strings(args: &[ColumnarValue], f: impl Fn(&str) -> String) -> Result<ColumnarValue, DataFusionError> {
    let rows = args.iter().find_map(|a| match a {
        ColumnarValue::Array(a) => Some(a.len()),
        ColumnarValue::Scalar(_) => None,
    });
    let arr: ArrayRef = args[0].clone().into_array(rows.unwrap_or(1))?;
    let arr = custos_warehouse::datafusion::arrow::compute::cast(&arr, &DataType::Utf8)?;
    let s = arr.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(s.len(), s.len() * 21);
    for i in 0..s.len() {
        if s.is_null(i) {
            out.append_null();
        } else {
            out.append_value(f(s.value(i)));
        }
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

/// `custos_mask(text)`: the keyed hash of a value (see [`mask_value`]). The key lives in the
/// function, not in any view definition an analyst could read.
pub fn mask_udf(key: Vec<u8>) -> ScalarUDF {
    create_udf(
        "custos_mask",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| map_strings(args, |v| mask_value(&key, v))),
    )
}

/// `custos_mask_figures(json)`: an alert's figures with personal values masked.
pub fn mask_figures_udf(key: Vec<u8>) -> ScalarUDF {
    create_udf(
        "custos_mask_figures",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            map_strings(args, |json| match serde_json::from_str::<serde_json::Value>(json) {
                Ok(serde_json::Value::Object(mut m)) => {
                    for k in PERSONAL_FIGURES {
                        if let Some(v) = m.get_mut(*k) {
                            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                            *v = serde_json::Value::String(mask_value(&key, &text));
                        }
                    }
                    serde_json::Value::Object(m).to_string()
                }
                // Not an object: nothing custos wrote; hide it rather than guess.
                _ => "{}".to_string(),
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = super::hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
