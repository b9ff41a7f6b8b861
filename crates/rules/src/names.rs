//! Name screening functions for rules: `name_tokens(name)` (normalised, transliteration-
//! folded tokens, for blocking joins) and `name_match(a, b)` (a 0..1 similarity).
//!
//! Normalisation lower-cases, drops punctuation and folds common romanisation variants
//! (Mohammed/Muhammad, Abdul/Abd Al, ou/u, y/i, kh/h, ...), so that spelling variants of one
//! name meet. The score aligns tokens both ways (each token's best Jaro-Winkler partner in
//! the other name, counted only from 0.85, averaged over all tokens of both), so word order
//! does not matter, a misspelt or dropped name costs little, and sharing one surname with a
//! listed person is far from a match.

use std::collections::HashMap;
use std::sync::Arc;

use custos_warehouse::datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, ListBuilder, StringBuilder,
};
use custos_warehouse::datafusion::arrow::datatypes::{DataType, Field};
use custos_warehouse::datafusion::common::DataFusionError;
use custos_warehouse::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use custos_warehouse::datafusion::prelude::SessionContext;

// Applied in order to the lower-cased, space-separated name (with a space at each end).
const FOLDS: &[(&str, &str)] = &[
    (" abdul ", " abd al "),
    (" abdel ", " abd al "),
    (" abd el ", " abd al "),
    ("mohammed", "muhammad"),
    ("mohammad", "muhammad"),
    ("mohamed", "muhammad"),
    ("muhammed", "muhammad"),
    (" el ", " al "),
    ("ou", "u"),
    ("ph", "f"),
    ("kh", "h"),
    ("ch", "sh"),
    ("ay", "ei"),
    ("ie", "i"),
    ("y", "i"),
    ("ee", "i"),
];

/// Normalised, folded tokens of a name.
pub fn tokens(name: &str) -> Vec<String> {
    let mut s = String::with_capacity(name.len() + 2);
    s.push(' ');
    for c in name.chars() {
        if c.is_alphanumeric() {
            s.extend(c.to_lowercase());
        } else if !s.ends_with(' ') {
            s.push(' ');
        }
    }
    if !s.ends_with(' ') {
        s.push(' ');
    }
    for (from, to) in FOLDS {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s.split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

fn jaro(a: &[char], b: &[char]) -> f64 {
    // Tokens are short: mark matches on the stack, not in two fresh vectors per pair.
    if a.len() <= 64 && b.len() <= 64 {
        let (mut a_hit, mut b_hit) = ([false; 64], [false; 64]);
        jaro_marked(a, b, &mut a_hit[..a.len()], &mut b_hit[..b.len()])
    } else {
        jaro_marked(a, b, &mut vec![false; a.len()], &mut vec![false; b.len()])
    }
}

fn jaro_marked(a: &[char], b: &[char], a_hit: &mut [bool], b_hit: &mut [bool]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() { 1.0 } else { 0.0 };
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        for j in lo..hi {
            if !b_hit[j] && b[j] == *ca {
                a_hit[i] = true;
                b_hit[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let (mut k, mut transpositions) = (0, 0);
    for (i, ca) in a.iter().enumerate() {
        if a_hit[i] {
            while !b_hit[k] {
                k += 1;
            }
            if *ca != b[k] {
                transpositions += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions as f64 / 2.0) / m) / 3.0
}

/// Jaro-Winkler similarity from which two tokens count as the same word misspelt.
const TOKEN_MATCH: f64 = 0.85;

/// Jaro-Winkler similarity of two tokens.
fn jaro_winkler_chars(a: &[char], b: &[char]) -> f64 {
    let j = jaro(a, b);
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
    j + prefix * 0.1 * (1.0 - j)
}

/// A name's folded tokens as characters, ready for [`score_tokens`].
fn prepared(name: &str) -> Vec<Vec<char>> {
    tokens(name).iter().map(|t| t.chars().collect()).collect()
}

/// Similarity of two names in 0..1 (1: the same tokens after folding, in any order).
pub fn score(a: &str, b: &str) -> f64 {
    score_tokens(&prepared(a), &prepared(b))
}

fn score_tokens(ta: &[Vec<char>], tb: &[Vec<char>]) -> f64 {
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    // A token counts only when it has a close partner: two names that share one surname
    // and otherwise differ must not add up to a match through many half-similar tokens.
    let best = |t: &[char], other: &[Vec<char>]| {
        let s = other.iter().map(|o| jaro_winkler_chars(t, o)).fold(0.0, f64::max);
        if s >= TOKEN_MATCH { s } else { 0.0 }
    };
    let sum: f64 = ta.iter().map(|t| best(t, tb)).sum::<f64>() + tb.iter().map(|t| best(t, ta)).sum::<f64>();
    sum / (ta.len() + tb.len()) as f64
}

fn strings(v: &ColumnarValue, rows: usize) -> Result<ArrayRef, DataFusionError> {
    v.clone().into_array(rows)
}

/// Registers `name_tokens` and `name_match` on a session.
pub fn register(ctx: &SessionContext) {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    let name_tokens = create_udf(
        "name_tokens",
        vec![DataType::Utf8],
        list,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args.iter().find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            });
            let names = strings(&args[0], rows.unwrap_or(1))?;
            let names = names.as_string::<i32>();
            let mut out = ListBuilder::new(StringBuilder::new());
            for i in 0..names.len() {
                if names.is_null(i) {
                    out.append(false);
                    continue;
                }
                for t in tokens(names.value(i)) {
                    out.values().append_value(t);
                }
                out.append(true);
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    );
    let name_match = create_udf(
        "name_match",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let (a, b) = (strings(&args[0], rows)?, strings(&args[1], rows)?);
            let (a, b) = (a.as_string::<i32>(), b.as_string::<i32>());
            // A batch pairs few distinct names many times (a listed name with every customer
            // sharing one of its tokens): fold each name once per batch.
            let mut folded: HashMap<&str, Vec<Vec<char>>> = HashMap::new();
            let mut out = Float64Builder::with_capacity(rows);
            for i in 0..rows {
                if a.is_null(i) || b.is_null(i) {
                    out.append_null();
                    continue;
                }
                let (x, y) = (a.value(i), b.value(i));
                folded.entry(x).or_insert_with(|| prepared(x));
                folded.entry(y).or_insert_with(|| prepared(y));
                out.append_value(score_tokens(&folded[x], &folded[y]));
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    );
    ctx.register_udf(name_tokens);
    ctx.register_udf(name_match);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_match_and_look_alikes_do_not() {
        let listed = "AWDA, Abd Al Aziz";
        for (name, hit) in [
            ("Abd Al Aziz Awda", true),
            ("Abdul Aziz Awda", true),
            ("Awda Abd Al Aziz", true),
            ("Abd Al Aizz Awda", true),
            ("Abd Aziz Awda", true),
            ("James Awda", false),
            ("Wang Fang", false),
        ] {
            let s = score(name, listed);
            assert_eq!(s >= 0.70, hit, "{name}: {s}");
        }
        assert!(score("Cobalt Refinery Co. Inc.", "COBALT REFINERY CO. INC.") > 0.99);
        assert!(score("Mohamed Ali Hassan", "HASSAN, Muhammad Ali") > 0.99);
        assert!(score("John Chang", "CHANG, Chi Fu") < 0.70);
        assert!(score("Robert Young", "TSANG, Yung Yuan") < 0.70);
        assert!(score("Abd La Aziz Awda", listed) >= 0.70, "a swapped two-letter token");
    }

    #[test]
    fn tokens_fold_romanisations() {
        assert_eq!(tokens("Abdul-Rahman  el Sayed"), ["abd", "al", "rahman", "al", "seid"]);
    }
}
