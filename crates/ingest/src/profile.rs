//! Mapping profiles: foreign layouts described in TOML, not code.
//!
//! A profile says, for each canonical field, where its value comes from (a source column by
//! name or position, a constant, or a template), how to translate it (a value map), and, for
//! timestamps, how to read it (a `strftime` format in a time zone, or a step count from an
//! epoch). Everything it produces then passes the same validation as canonical input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use custos_model::{Origin, Table};
use serde::Deserialize;

use crate::{Error, Result};

/// A parsed, checked mapping profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Its `name`.
    pub name: String,
    /// What layout it reads, in a line.
    pub description: Option<String>,
    /// The table it loads.
    pub table: Table,
    /// Whether the source has a header line.
    pub header: bool,
    /// Field delimiter.
    pub delimiter: u8,
    /// Round amounts with more decimals than their currency allows (half to even) instead of
    /// quarantining them.
    pub round_to_minor_units: bool,
    fields: Vec<(usize, FieldSpec)>,
    maps: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    table: String,
    #[serde(default = "yes")]
    header: bool,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    round_to_minor_units: bool,
    #[serde(default)]
    maps: BTreeMap<String, BTreeMap<String, String>>,
    fields: BTreeMap<String, FieldSpec>,
}

fn yes() -> bool {
    true
}

/// Where one canonical field comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    /// Source column by header name.
    column: Option<String>,
    /// Source column by 0-based position.
    index: Option<usize>,
    /// A fixed value.
    constant: Option<String>,
    /// A pattern over `{N}` (column N), `{line}` (source line) and `{file_sha8}`.
    template: Option<String>,
    /// A value map: inline table, or the name of a table under `[maps]`.
    map: Option<MapRef>,
    /// Timestamps: a chrono `strftime` format of a local time ...
    format: Option<String>,
    /// ... in this IANA zone or fixed offset (`+08:00`).
    timezone: Option<String>,
    /// Timestamps: the value counts `step_unit`s ...
    step_unit: Option<String>,
    /// ... from this RFC 3339 instant.
    epoch: Option<String>,
    /// Decimals may use an exponent (`1.9E7`).
    #[serde(default)]
    exponent: bool,
    /// Trim surrounding spaces.
    #[serde(default)]
    trim: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum MapRef {
    Named(String),
    Inline(BTreeMap<String, String>),
}

/// A source field as the mapper sees it.
pub(crate) struct SourceRow<'a> {
    pub fields: &'a [&'a str],
    pub line: u64,
    pub file_sha8: &'a str,
}

/// The outcome of mapping one source field: the canonical text, or a reason.
pub(crate) enum Mapped {
    Value(String),
    Empty,
    Bad {
        reason: custos_model::Reason,
        detail: String,
    },
}

impl Profile {
    /// Loads and checks a profile.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Profile::parse(path, &text)
    }

    /// Parses and checks profile text (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Profile> {
        let err = |detail: String| Error::Profile {
            path: path.to_path_buf(),
            detail,
        };
        let file: ProfileFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let table = Table::from_name(&file.table.replace('-', "_"))
            .filter(|t| Table::INGESTIBLE.contains(t))
            .ok_or_else(|| err(format!("table {:?} is not an ingestible table", file.table)))?;
        let delimiter = match file.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            Some("\\t") | Some("tab") => b'\t',
            Some(d) => return Err(err(format!("delimiter {d:?} must be one byte"))),
        };
        let mut fields = Vec::new();
        for (name, spec) in file.fields {
            let idx = table
                .columns()
                .iter()
                .position(|c| c.name == name && c.origin == Origin::Input)
                .ok_or_else(|| err(format!("fields.{name}: {table} has no input column {name}")))?;
            let sources = [
                spec.column.is_some(),
                spec.index.is_some(),
                spec.constant.is_some(),
                spec.template.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return Err(err(format!(
                    "fields.{name}: give exactly one of column, index, constant, template"
                )));
            }
            if let Some(MapRef::Named(m)) = &spec.map
                && !file.maps.contains_key(m)
            {
                return Err(err(format!("fields.{name}: no map named {m:?} under [maps]")));
            }
            if (spec.format.is_some() && spec.step_unit.is_some()) || (spec.epoch.is_some() && spec.step_unit.is_none())
            {
                return Err(err(format!(
                    "fields.{name}: a timestamp takes either format (+ timezone) or step_unit + epoch"
                )));
            }
            if let Some(unit) = &spec.step_unit {
                step_micros(unit).ok_or_else(|| {
                    err(format!(
                        "fields.{name}: step_unit {unit:?} is not second, minute, hour or day"
                    ))
                })?;
                let epoch = spec
                    .epoch
                    .as_deref()
                    .ok_or_else(|| err(format!("fields.{name}: step_unit needs an epoch")))?;
                DateTime::parse_from_rfc3339(epoch).map_err(|e| err(format!("fields.{name}: epoch {epoch:?}: {e}")))?;
            }
            if let Some(tz) = &spec.timezone {
                parse_zone(tz).ok_or_else(|| {
                    err(format!(
                        "fields.{name}: timezone {tz:?} is neither an IANA zone nor an offset"
                    ))
                })?;
            }
            fields.push((idx, spec));
        }
        for c in table.input_columns().filter(|c| c.required) {
            if !fields.iter().any(|(i, _)| table.columns()[*i].name == c.name) {
                return Err(err(format!("required field {} has no mapping", c.name)));
            }
        }
        Ok(Profile {
            path: path.to_path_buf(),
            name: file.name,
            description: file.description,
            table,
            header: file.header,
            delimiter,
            round_to_minor_units: file.round_to_minor_units,
            fields,
            maps: file.maps,
        })
    }

    /// Resolves `column` names against the source header; positions are checked per row.
    pub(crate) fn bind(&self, header: Option<&[String]>) -> Result<BoundProfile<'_>> {
        let mut bound = Vec::new();
        for (idx, spec) in &self.fields {
            let source = if let Some(name) = &spec.column {
                let header = header.ok_or_else(|| Error::Profile {
                    path: self.path.clone(),
                    detail: format!("column {name:?} named, but the profile says the source has no header"),
                })?;
                let pos = header
                    .iter()
                    .position(|h| h.trim() == name)
                    .ok_or_else(|| Error::Profile {
                        path: self.path.clone(),
                        detail: format!(
                            "the source header has no column {name:?} (it has {})",
                            header.join(", ")
                        ),
                    })?;
                Source::Index(pos)
            } else if let Some(i) = spec.index {
                Source::Index(i)
            } else if let Some(c) = &spec.constant {
                Source::Constant(c.clone())
            } else {
                Source::Template(spec.template.clone().unwrap_or_default())
            };
            let map = match &spec.map {
                None => None,
                Some(MapRef::Inline(m)) => Some(m),
                Some(MapRef::Named(n)) => self.maps.get(n),
            };
            let time = if let Some(format) = &spec.format {
                Some(TimeRule::Format {
                    format: format.clone(),
                    zone: spec.timezone.as_deref().and_then(parse_zone),
                })
            } else if let (Some(unit), Some(epoch)) = (&spec.step_unit, &spec.epoch) {
                Some(TimeRule::Step {
                    unit_micros: step_micros(unit).unwrap_or(1),
                    epoch: DateTime::parse_from_rfc3339(epoch).map_err(|e| Error::Profile {
                        path: self.path.clone(),
                        detail: e.to_string(),
                    })?,
                })
            } else {
                None
            };
            bound.push(BoundField {
                column: *idx,
                source,
                map,
                time,
                exponent: spec.exponent,
                trim: spec.trim,
            });
        }
        Ok(BoundProfile { fields: bound })
    }
}

fn step_micros(unit: &str) -> Option<i64> {
    Some(match unit {
        "second" | "seconds" => 1_000_000,
        "minute" | "minutes" => 60_000_000,
        "hour" | "hours" => 3_600_000_000,
        "day" | "days" => 86_400_000_000,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Zone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

fn parse_zone(text: &str) -> Option<Zone> {
    if let Ok(tz) = text.parse::<chrono_tz::Tz>() {
        return Some(Zone::Named(tz));
    }
    DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{text}"))
        .ok()
        .map(|d| Zone::Fixed(*d.offset()))
}

enum Source {
    Index(usize),
    Constant(String),
    Template(String),
}

enum TimeRule {
    Format {
        format: String,
        zone: Option<Zone>,
    },
    Step {
        unit_micros: i64,
        epoch: DateTime<FixedOffset>,
    },
}

struct BoundField<'p> {
    column: usize,
    source: Source,
    map: Option<&'p BTreeMap<String, String>>,
    time: Option<TimeRule>,
    exponent: bool,
    trim: bool,
}

/// A profile bound to one source file's header.
pub(crate) struct BoundProfile<'p> {
    fields: Vec<BoundField<'p>>,
}

impl BoundProfile<'_> {
    /// Whether the canonical column at `column` (table column index) may use exponents.
    pub(crate) fn allows_exponent(&self, column: usize) -> bool {
        self.fields.iter().any(|f| f.column == column && f.exponent)
    }

    /// Maps one source row into canonical field texts, indexed by table column; `None` where
    /// the profile gives no value. The first field that cannot be mapped is returned as the
    /// error with its canonical name.
    pub(crate) fn map_row(
        &self,
        table: Table,
        row: &SourceRow<'_>,
        out: &mut [Option<String>],
    ) -> std::result::Result<(), (&'static str, custos_model::Reason, String)> {
        for f in &self.fields {
            let name = table.columns()[f.column].name;
            match self.map_field(f, row) {
                Mapped::Value(v) => out[f.column] = Some(v),
                Mapped::Empty => out[f.column] = None,
                Mapped::Bad { reason, detail } => return Err((name, reason, detail)),
            }
        }
        Ok(())
    }

    fn map_field(&self, f: &BoundField<'_>, row: &SourceRow<'_>) -> Mapped {
        let mut value = match &f.source {
            Source::Index(i) => match row.fields.get(*i) {
                Some(v) => (*v).to_string(),
                None => {
                    return Mapped::Bad {
                        reason: custos_model::Reason::WrongFieldCount,
                        detail: format!("no source column {i} (the row has {})", row.fields.len()),
                    };
                }
            },
            Source::Constant(c) => c.clone(),
            Source::Template(t) => match render_template(t, row) {
                Ok(v) => v,
                Err(detail) => {
                    return Mapped::Bad {
                        reason: custos_model::Reason::WrongFieldCount,
                        detail,
                    };
                }
            },
        };
        if f.trim {
            value = value.trim().to_string();
        }
        if let Some(map) = f.map
            && let Some(mapped) = map.get(&value)
        {
            value = mapped.clone();
        }
        if value.is_empty() {
            return Mapped::Empty;
        }
        match &f.time {
            None => Mapped::Value(value),
            Some(rule) => match convert_time(rule, &value) {
                Some(ts) => Mapped::Value(ts),
                None => Mapped::Bad {
                    reason: custos_model::Reason::BadTimestamp,
                    detail: format!("{value:?} does not match the profile's timestamp rule"),
                },
            },
        }
    }
}

fn render_template(t: &str, row: &SourceRow<'_>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(t.len() + 16);
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("unclosed {{ in template {t:?}"))?;
        let key = &rest[start + 1..end];
        match key {
            "line" => out.push_str(&row.line.to_string()),
            "file_sha8" => out.push_str(row.file_sha8),
            _ => {
                let i: usize = key
                    .parse()
                    .map_err(|_| format!("template key {{{key}}} is not line, file_sha8 or a column number"))?;
                out.push_str(
                    row.fields
                        .get(i)
                        .ok_or_else(|| format!("no source column {i} (the row has {})", row.fields.len()))?,
                );
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Converts a foreign timestamp into RFC 3339 (UTC), the canonical text.
fn convert_time(rule: &TimeRule, value: &str) -> Option<String> {
    let utc = match rule {
        TimeRule::Format { format, zone } => {
            let naive = NaiveDateTime::parse_from_str(value, format).ok()?;
            match zone {
                None | Some(Zone::Fixed(_)) => {
                    let offset = match zone {
                        Some(Zone::Fixed(o)) => *o,
                        _ => FixedOffset::east_opt(0)?,
                    };
                    offset.from_local_datetime(&naive).single()?.with_timezone(&chrono::Utc)
                }
                // An ambiguous local time (clocks going back) takes the earlier instant; a
                // time that does not exist (clocks going forward) is rejected.
                Some(Zone::Named(tz)) => tz.from_local_datetime(&naive).earliest()?.with_timezone(&chrono::Utc),
            }
        }
        TimeRule::Step { unit_micros, epoch } => {
            let steps: i64 = value.trim().parse().ok()?;
            let micros = steps.checked_mul(*unit_micros)?;
            (*epoch + chrono::Duration::microseconds(micros)).with_timezone(&chrono::Utc)
        }
    };
    Some(utc.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYSIM_LIKE: &str = r#"
name = "t"
table = "transactions"
[maps.kind]
DEBIT = "WITHDRAWAL"
[fields]
txn_id = { template = "P-{file_sha8}-{line}" }
ts = { column = "step", step_unit = "hour", epoch = "2024-01-01T00:00:00+08:00" }
txn_type = { column = "type", map = "kind" }
channel = { constant = "APP" }
payer_account = { column = "from" }
payee_account = { index = 2 }
amount = { column = "amount", exponent = true }
currency = { constant = "CNY" }
payer_country = { constant = "CN" }
payee_country = { constant = "CN" }
status = { constant = "SUCCESS" }
"#;

    #[test]
    fn maps_a_row() {
        let p = Profile::parse(Path::new("t.toml"), PAYSIM_LIKE).unwrap();
        let header: Vec<String> = ["step", "type", "to", "from", "amount"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let bound = p.bind(Some(&header)).unwrap();
        let fields = ["3", "DEBIT", "B", "A", "1.5E2"];
        let mut out = vec![None; p.table.columns().len()];
        bound
            .map_row(
                p.table,
                &SourceRow {
                    fields: &fields,
                    line: 7,
                    file_sha8: "abcd1234",
                },
                &mut out,
            )
            .unwrap();
        let get = |n: &str| out[p.table.columns().iter().position(|c| c.name == n).unwrap()].clone();
        assert_eq!(get("txn_id").as_deref(), Some("P-abcd1234-7"));
        assert_eq!(get("ts").as_deref(), Some("2023-12-31T19:00:00Z"));
        assert_eq!(get("txn_type").as_deref(), Some("WITHDRAWAL"));
        assert_eq!(get("payee_account").as_deref(), Some("B"));
        assert_eq!(get("payer_account").as_deref(), Some("A"));
        assert!(bound.allows_exponent(p.table.columns().iter().position(|c| c.name == "amount").unwrap()));
    }

    #[test]
    fn rejects_bad_profiles() {
        let missing = PAYSIM_LIKE.replace("status = { constant = \"SUCCESS\" }", "");
        assert!(
            Profile::parse(Path::new("t.toml"), &missing)
                .unwrap_err()
                .to_string()
                .contains("status")
        );
        let unknown = PAYSIM_LIKE.replace("channel =", "chanel =");
        assert!(Profile::parse(Path::new("t.toml"), &unknown).is_err());
        let two = PAYSIM_LIKE.replace("{ constant = \"APP\" }", "{ constant = \"APP\", index = 1 }");
        assert!(Profile::parse(Path::new("t.toml"), &two).is_err());
    }

    #[test]
    fn formats_in_zones() {
        let rule = TimeRule::Format {
            format: "%Y/%m/%d %H:%M".into(),
            zone: parse_zone("Asia/Shanghai"),
        };
        assert_eq!(
            convert_time(&rule, "2022/09/01 08:20").as_deref(),
            Some("2022-09-01T00:20:00Z")
        );
        let fixed = TimeRule::Format {
            format: "%Y/%m/%d %H:%M".into(),
            zone: parse_zone("-05:00"),
        };
        assert_eq!(
            convert_time(&fixed, "2022/09/01 00:20").as_deref(),
            Some("2022-09-01T05:20:00Z")
        );
        assert!(convert_time(&rule, "2022-09-01").is_none());
    }
}
