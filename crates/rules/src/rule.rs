//! One rule: a `.sql` file whose first comment block is its TOML metadata.
//!
//! ```sql
//! /*---
//! id = "aml.large_cash"
//! title = "Large-value cash"
//! ...
//! [params.threshold]
//! type = "money"
//! default = "50000"
//! unit = "CNY"
//! ---*/
//! select ... where amount_reporting >= $threshold
//! ```
//!
//! The whole file stays valid SQL (the metadata is a comment), so it opens in any SQL
//! editor, and error positions are lines of the file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// How bad an alert of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Investigate.
    Medium,
    /// Investigate first.
    High,
    /// A reporting obligation or a breach.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The type of a rule parameter; values are parsed to it and rendered as SQL literals by
/// custos, never spliced as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A money amount: `DECIMAL(18, 4)`.
    Money,
    /// A whole number.
    Count,
    /// A decimal number (ratios, tolerances, scores): `DECIMAL(18, 8)`.
    Decimal,
    /// A positive duration such as `24 hours` or `90 days`: an `INTERVAL` literal.
    Duration,
    /// An identifier-like word (`[A-Za-z0-9_.-]+`): a string literal.
    Text,
}

/// A declared parameter.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// The default value, as text of its type.
    pub default: String,
    /// Unit for people (`CNY`, `hours`, `accounts`).
    #[serde(default)]
    pub unit: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
}

/// The metadata block of a rule.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// `<pack>.<name>`; the pack must be the directory the file is in.
    pub id: String,
    /// Short title.
    pub title: String,
    /// What it detects and how, for the officer reading an alert.
    pub description: String,
    /// The regulation or practice it implements.
    pub regulation: String,
    /// Where the default parameters come from.
    pub source: String,
    /// Severity of its alerts.
    pub severity: Severity,
    /// `customer`, `account`, `merchant` or `licence`.
    pub subject_type: String,
    /// Generator typologies it is meant to find (for backtests and recall).
    #[serde(default)]
    pub typologies: Vec<String>,
    /// Who maintains it.
    pub owner: String,
    /// Bumped whenever its logic or defaults change.
    pub version: u32,
    /// Typed parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Param>,
}

/// A loaded rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its metadata.
    pub meta: Meta,
    /// The pack (directory name).
    pub pack: String,
    /// The file.
    pub path: PathBuf,
    /// The whole file, as read.
    pub text: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Line (1-based) where the SQL starts, after the metadata block.
    pub sql_line: usize,
}

const OPEN: &str = "/*---";
const CLOSE: &str = "---*/";

/// Names the engine binds in every rule: the run's first and last day (inclusive, `DATE`).
pub const BUILTINS: &[&str] = &["from", "to"];

/// Subject types an alert can have.
pub const SUBJECT_TYPES: &[&str] = &["customer", "account", "merchant", "licence"];

impl Rule {
    /// Reads and parses a rule file (metadata and parameter defaults; the SQL is planned
    /// separately by [`crate::check`]).
    pub fn load(path: &Path) -> Result<Rule> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let pack = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let err = |line: usize, message: String| Error::Rule {
            path: path.to_path_buf(),
            line,
            message,
        };
        let trimmed = text.trim_start();
        if !trimmed.starts_with(OPEN) {
            return Err(err(
                1,
                format!("a rule starts with its metadata block `{OPEN} ... {CLOSE}`"),
            ));
        }
        let start = text.len() - trimmed.len() + OPEN.len();
        let end = text[start..]
            .find(CLOSE)
            .map(|i| start + i)
            .ok_or_else(|| err(1, format!("the metadata block is not closed with `{CLOSE}`")))?;
        let header = &text[start..end];
        let header_line = text[..start].matches('\n').count() + 1;
        let meta: Meta = toml::from_str(header).map_err(|e| {
            let line = e
                .span()
                .map(|s| header_line + header[..s.start.min(header.len())].matches('\n').count())
                .unwrap_or(header_line);
            err(line, format!("metadata: {}", e.message()))
        })?;
        let sql_line = text[..end + CLOSE.len()].matches('\n').count() + 1;
        let rule = Rule {
            sha256: hex(&Sha256::digest(text.as_bytes())),
            meta,
            pack,
            path: path.to_path_buf(),
            text,
            sql_line,
        };
        rule.validate_meta()?;
        Ok(rule)
    }

    /// The rule id.
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    /// The SQL after the metadata block.
    pub fn sql(&self) -> &str {
        let end = self.text.find(CLOSE).map_or(0, |i| i + CLOSE.len());
        &self.text[end..]
    }

    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Rule {
            path: self.path.clone(),
            line,
            message: message.into(),
        }
    }

    /// The line of the first occurrence of `needle` in the file (1 if absent).
    pub fn line_of(&self, needle: &str) -> usize {
        self.text
            .find(needle)
            .map_or(1, |i| self.text[..i].matches('\n').count() + 1)
    }

    fn validate_meta(&self) -> Result<()> {
        let m = &self.meta;
        let expected = format!("{}.", self.pack);
        if !m.id.starts_with(&expected) || m.id.len() == expected.len() {
            return Err(self.error(
                self.line_of("id"),
                format!("id {:?} must be `{}<name>`", m.id, expected),
            ));
        }
        let stem = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if m.id[expected.len()..] != *stem {
            return Err(self.error(
                self.line_of("id"),
                format!("id {:?} must match the file name ({stem}.sql)", m.id),
            ));
        }
        if !SUBJECT_TYPES.contains(&m.subject_type.as_str()) {
            return Err(self.error(
                self.line_of("subject_type"),
                format!(
                    "subject_type {:?} is not one of {}",
                    m.subject_type,
                    SUBJECT_TYPES.join(", ")
                ),
            ));
        }
        for (name, p) in &m.params {
            if BUILTINS.contains(&name.as_str()) {
                return Err(self.error(self.line_of(name), format!("parameter ${name} is reserved")));
            }
            parse_value(p.kind, &p.default).map_err(|e| {
                self.error(
                    self.line_of(&format!("[params.{name}]")),
                    format!("default of ${name}: {e}"),
                )
            })?;
        }
        // Every $name the SQL uses is declared, and every declared one is used.
        let used = placeholders(self.sql());
        for (name, offset) in &used {
            if !m.params.contains_key(name) && !BUILTINS.contains(&name.as_str()) {
                let line = self.sql_line + self.sql()[..*offset].matches('\n').count();
                return Err(self.error(line, format!("${name} is not a declared parameter")));
            }
        }
        for name in m.params.keys() {
            if !used.iter().any(|(u, _)| u == name) {
                return Err(self.error(
                    self.line_of(&format!("[params.{name}]")),
                    format!("parameter ${name} is never used"),
                ));
            }
        }
        self.check_windows()
    }

    /// `RANGE BETWEEN <n> PRECEDING` on a timestamp means n MONTHS in DataFusion, and a
    /// negative interval offset panics: window frames must be explicit positive intervals.
    fn check_windows(&self) -> Result<()> {
        let sql = self.sql();
        let lower = sql.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find("range between") {
            let at = from + i;
            let rest = lower[at + "range between".len()..].trim_start();
            let line = self.sql_line + sql[..at].matches('\n').count();
            let ok = rest.starts_with("unbounded")
                || rest.starts_with("current row")
                || (rest.starts_with("interval '") && !rest["interval '".len()..].starts_with('-'))
                || rest.starts_with('$');
            if !ok {
                return Err(self.error(
                    line,
                    "a RANGE frame offset must be an explicit positive INTERVAL '...' (a bare number means months)",
                ));
            }
            from = at + 1;
        }
        Ok(())
    }

    /// The SQL with every parameter rendered as a typed literal. `overrides` replace
    /// defaults; unknown names or values that do not parse are errors.
    pub fn render(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        overrides: &BTreeMap<String, String>,
    ) -> Result<String> {
        for name in overrides.keys() {
            if !self.meta.params.contains_key(name) {
                return Err(Error::Param(format!("{} has no parameter {name:?}", self.id())));
            }
        }
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        for (name, p) in &self.meta.params {
            let raw = overrides.get(name).unwrap_or(&p.default);
            let value =
                parse_value(p.kind, raw).map_err(|e| Error::Param(format!("{}: ${name} = {raw:?}: {e}", self.id())))?;
            values.insert(name, value);
        }
        let from_lit = format!("DATE '{from}'");
        let to_lit = format!("DATE '{to}'");
        values.insert("from", from_lit);
        values.insert("to", to_lit);
        let sql = self.sql();
        let mut out = String::with_capacity(sql.len());
        let mut last = 0;
        for (name, offset) in placeholders(sql) {
            out.push_str(&sql[last..offset]);
            out.push_str(&values[name.as_str()]);
            last = offset + 1 + name.len();
        }
        out.push_str(&sql[last..]);
        Ok(out)
    }

    /// Parameter values in effect for a run (defaults with overrides applied).
    pub fn effective_params(&self, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        self.meta
            .params
            .iter()
            .map(|(k, p)| (k.clone(), overrides.get(k).unwrap_or(&p.default).clone()))
            .collect()
    }
}

/// `$name` placeholders outside string literals and comments, with their byte offsets.
pub fn placeholders(sql: &str) -> Vec<(String, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start {
                    out.push((sql[start..j].to_string(), i));
                }
                i = j.max(i + 1) - 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses a parameter value and renders it as a SQL literal.
pub fn parse_value(kind: ParamType, raw: &str) -> std::result::Result<String, String> {
    let raw = raw.trim();
    match kind {
        ParamType::Money | ParamType::Decimal => {
            let scale = if kind == ParamType::Money { 4 } else { 8 };
            let d = custos_model::parse_decimal(raw, scale, false).map_err(|e| format!("not a decimal ({e:?})"))?;
            if d.value < 0 {
                return Err("must not be negative".into());
            }
            let s = format!("{:0>width$}", d.value, width = scale as usize + 1);
            let (int, frac) = s.split_at(s.len() - scale as usize);
            Ok(format!("CAST('{int}.{frac}' AS DECIMAL(18, {scale}))"))
        }
        ParamType::Count => raw
            .parse::<u64>()
            .map(|n| n.to_string())
            .map_err(|_| "not a whole number".to_string()),
        ParamType::Duration => {
            let (n, unit) = raw.split_once(' ').ok_or("expected `<n> <unit>`, e.g. `24 hours`")?;
            let n: u64 = n.parse().map_err(|_| "the amount must be a whole number")?;
            if n == 0 {
                return Err("must be positive".into());
            }
            let unit = match unit.trim().trim_end_matches('s') {
                "second" => "seconds",
                "minute" => "minutes",
                "hour" => "hours",
                "day" => "days",
                other => return Err(format!("unknown unit {other:?} (seconds, minutes, hours, days)")),
            };
            Ok(format!("INTERVAL '{n} {unit}'"))
        }
        ParamType::Text => {
            if raw.is_empty() || !raw.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-|".contains(&c)) {
                return Err("only letters, digits and _ . - | are allowed".into());
            }
            Ok(format!("'{raw}'"))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_typed_literals() {
        assert_eq!(
            parse_value(ParamType::Money, "50000").unwrap(),
            "CAST('50000.0000' AS DECIMAL(18, 4))"
        );
        assert_eq!(
            parse_value(ParamType::Money, "0.5").unwrap(),
            "CAST('0.5000' AS DECIMAL(18, 4))"
        );
        assert_eq!(
            parse_value(ParamType::Duration, "24 hours").unwrap(),
            "INTERVAL '24 hours'"
        );
        assert_eq!(parse_value(ParamType::Duration, "1 day").unwrap(), "INTERVAL '1 days'");
        assert!(parse_value(ParamType::Duration, "-1 days").is_err());
        assert!(parse_value(ParamType::Duration, "0 days").is_err());
        assert!(parse_value(ParamType::Money, "1; drop table x").is_err());
        assert!(parse_value(ParamType::Text, "a' or '1'='1").is_err());
        assert_eq!(parse_value(ParamType::Count, "5").unwrap(), "5");
    }

    #[test]
    fn placeholders_skip_strings_and_comments() {
        let sql = "select '$no' -- $nope\n from t where a >= $min and /* $x */ b < $max_2";
        let names: Vec<String> = placeholders(sql).into_iter().map(|p| p.0).collect();
        assert_eq!(names, ["min", "max_2"]);
    }
}
