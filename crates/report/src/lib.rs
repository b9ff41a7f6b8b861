//! Regulator filings and officer reports, rendered from the templates under `reports/`.
//!
//! # Brief overview
//! - Data comes from SQL files under `reports/sql/` run read-only on the warehouse session;
//!   results reach Rust as rows of display strings ([`rows`]), never floats.
//! - Rust shapes them per format: [`goaml`] (suspicious-transaction and large-value reports,
//!   codes from an FIU profile), [`pboc`] (HVTR and DHTR records), [`summary`] (officer
//!   summary figures and chart geometry). Money and dates are formatted here, so a filing's
//!   figures never depend on a template filter.
//! - Tera 2 templates (`*.xml.tera`, `*.html.tera`) place the values; markup is escaped by
//!   [`escape_markup`]. Template names come from [`Kind`], never from user input.
//! - XML is validated with xmllint against the regulator's schema before it is returned
//!   ([`validate_xml`]); an invalid document is an error naming element path and reason.
//!
//! # Example
//! ```
//! use custos_report::Kind;
//! let k: Kind = "pboc-hvtr".parse().unwrap();
//! assert_eq!(k.name(), "pboc-hvtr");
//! assert!("../../etc/passwd".parse::<Kind>().is_err());
//! ```
#![deny(missing_docs)]

pub mod goaml;
pub mod pboc;
pub mod rows;
#[cfg(test)]
mod snapshots;
pub mod summary;
mod text;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};
use custos_model::Period;
use custos_warehouse::WarehouseSettings;
use custos_warehouse::datafusion::prelude::SessionContext;
use serde::Serialize;

pub use goaml::{Entity, FiuProfile, Officer};
pub use text::{Cleaned, clean, escape_markup, is_latin, round_decimal, thousands};
pub use validate::{Violation, validate_xml};

/// What can go wrong rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A report query failed.
    #[error("{path}: {message}")]
    Query {
        /// The SQL file.
        path: PathBuf,
        /// DataFusion's message.
        message: String,
    },
    /// A template failed to load or render.
    #[error("template {name}: {message}")]
    Template {
        /// Template name.
        name: String,
        /// Tera's message.
        message: String,
    },
    /// The schema could not be used.
    #[error("{0}")]
    Schema(String),
    /// A rendered document does not validate.
    #[error("{file} does not validate against {schema}:\n  {}", .violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n  "))]
    Invalid {
        /// The file.
        file: String,
        /// The schema.
        schema: String,
        /// What is wrong, where.
        violations: Vec<Violation>,
    },
    /// Configuration is missing or wrong.
    #[error("{0}")]
    Config(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The kinds of report custos renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// goAML suspicious-transaction reports, one per escalated case.
    GoamlStr,
    /// goAML large-value (currency transaction) report.
    GoamlCtr,
    /// PBOC large-value transaction report (HVTR; DHTR when correcting).
    PbocHvtr,
    /// The officer summary, one HTML file.
    OfficerSummary,
    /// Alerts of the period as CSV.
    AlertsCsv,
    /// Cases of the period as CSV.
    CasesCsv,
}

impl Kind {
    /// Every kind.
    pub const ALL: &'static [Kind] = &[
        Kind::GoamlStr,
        Kind::GoamlCtr,
        Kind::PbocHvtr,
        Kind::OfficerSummary,
        Kind::AlertsCsv,
        Kind::CasesCsv,
    ];

    /// The name used on the command line and in the calendar.
    pub fn name(self) -> &'static str {
        match self {
            Kind::GoamlStr => "goaml-str",
            Kind::GoamlCtr => "goaml-ctr",
            Kind::PbocHvtr => "pboc-hvtr",
            Kind::OfficerSummary => "officer-summary",
            Kind::AlertsCsv => "alerts-csv",
            Kind::CasesCsv => "cases-csv",
        }
    }

    /// Who receives it when the filing calendar does not say.
    pub fn regulator(self) -> &'static str {
        match self {
            Kind::GoamlStr | Kind::GoamlCtr => "FIU",
            Kind::PbocHvtr => "PBOC",
            Kind::OfficerSummary | Kind::AlertsCsv | Kind::CasesCsv => "internal",
        }
    }

    /// The prefix of filing ids of this kind.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Kind::GoamlStr => "GOAML-STR",
            Kind::GoamlCtr => "GOAML-CTR",
            Kind::PbocHvtr => "PBOC-HVTR",
            Kind::OfficerSummary => "SUMMARY",
            Kind::AlertsCsv => "ALERTS",
            Kind::CasesCsv => "CASES",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == s).ok_or_else(|| {
            Error::Config(format!(
                "no report kind {s:?}; kinds: {}",
                Kind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `reports/` folder: templates, report SQL, FIU profiles and our own schemas.
pub struct Reports {
    dir: PathBuf,
    tera: tera::Tera,
}

impl Reports {
    /// Loads every `*.tera` template under `dir`. Files are found by walking the folder,
    /// never by a name a user typed, and symbolic links are not followed.
    pub fn load(dir: &Path) -> Result<Reports> {
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files.sort();
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".xml.tera", ".html.tera"]);
        tera.set_escape_fn(escape_markup);
        let mut sources = Vec::new();
        for (name, path) in &files {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            sources.push((name.clone(), text));
        }
        tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|e| Error::Template {
                name: dir.display().to_string(),
                message: tera_message(&e),
            })?;
        Ok(Reports {
            dir: dir.to_path_buf(),
            tera,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of the loaded templates.
    pub fn templates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tera.get_template_names().map(str::to_string).collect();
        v.sort();
        v
    }

    /// Renders a template with a serializable context.
    pub fn render_template<T: Serialize>(&self, name: &str, context: &T) -> Result<String> {
        let ctx = tera::Context::from_serialize(context).map_err(|e| Error::Template {
            name: name.to_string(),
            message: tera_message(&e),
        })?;
        self.tera.render(name, &ctx).map_err(|e| Error::Template {
            name: name.to_string(),
            message: tera_message(&e),
        })
    }

    fn sql(&self, rel: &str) -> PathBuf {
        self.dir.join("sql").join(rel)
    }
}

fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in read.filter_map(|e| e.ok()) {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() && path.to_string_lossy().ends_with(".tera") {
            let rel = path
                .strip_prefix(root)
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            out.push((rel, path));
        }
    }
    Ok(())
}

/// A filing being corrected: its id and the digests of its records.
#[derive(Debug, Clone, Default)]
pub struct Original {
    /// The original filing's id (and reference).
    pub filing_id: String,
    /// Record id to content digest (PBOC records; goAML reports by case).
    pub records: BTreeMap<String, String>,
}

/// Everything a report needs besides the warehouse.
pub struct Request<'a> {
    /// What to render.
    pub kind: Kind,
    /// The period covered.
    pub period: Period,
    /// The filing date printed in it.
    pub as_of: NaiveDate,
    /// The id (reference) of the filing.
    pub filing_id: String,
    /// The reporting entity.
    pub entity: &'a Entity,
    /// The goAML FIU profile (goAML kinds).
    pub fiu: Option<&'a FiuProfile>,
    /// The goAML FIU's schema (goAML kinds).
    pub goaml_schema: Option<&'a Path>,
    /// Reporting currency and time zone.
    pub settings: &'a WarehouseSettings,
    /// Rule titles by id, for reasons and summaries.
    pub rule_titles: BTreeMap<String, String>,
    /// The catalog version read.
    pub catalog_version: u64,
    /// Cases already in filed suspicious-transaction reports.
    pub filed_cases: Vec<String>,
    /// The filing this one corrects.
    pub correction: Option<Original>,
}

/// A rendered, validated report.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// File names and contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// Record digests (what a later correction compares).
    pub records: BTreeMap<String, String>,
    /// Cases reported (goAML STR).
    pub cases: Vec<String>,
    /// What an officer should review before filing.
    pub warnings: Vec<String>,
    /// One line saying what is in it.
    pub summary: String,
}

/// Renders one report over the warehouse session.
pub async fn render(reports: &Reports, ctx: &SessionContext, req: &Request<'_>) -> Result<Rendered> {
    let tz: chrono_tz::Tz = req
        .settings
        .reporting_timezone
        .parse()
        .map_err(|_| Error::Config(format!("time zone {:?}", req.settings.reporting_timezone)))?;
    register_views(ctx, &reports.dir).await?;
    let micros = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(0, |t| t.timestamp_micros())
    };
    let next = req.period.last().succ_opt().unwrap_or(req.period.last());
    let mut binds: Vec<(&str, String)> = vec![
        ("from_ts", rows::timestamp_literal(micros(req.period.first()))),
        ("to_ts", rows::timestamp_literal(micros(next))),
        ("from", rows::date_literal(req.period.first())),
        ("to", rows::date_literal(req.period.last())),
        ("filed_cases", rows::string_list(&req.filed_cases)),
        (
            "rules",
            rows::string_list(
                &pboc::FEATURE_CODES
                    .iter()
                    .map(|(r, _)| r.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
    ];
    let minor = custos_model::currency_minor_units(&req.settings.reporting_currency).unwrap_or(2) as usize;
    let q = |rel: &str, binds: &[(&str, String)]| {
        let path = reports.sql(rel);
        let owned: Vec<(String, String)> = binds.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        async move {
            let b: Vec<(&str, String)> = owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            rows::query_file(ctx, &path, &b, tz).await
        }
    };
    let mut out = Rendered::default();
    match req.kind {
        Kind::GoamlStr | Kind::GoamlCtr => {
            let fiu = req.fiu.ok_or_else(|| {
                Error::Config("goAML reports need [filing.goaml] fiu (a profile under reports/goaml/fiu/)".into())
            })?;
            let schema = req.goaml_schema.ok_or_else(|| {
                Error::Config("goAML reports need [filing.goaml] schema: the FIU's XSD to validate against".into())
            })?;
            let header = goaml::Header {
                fiu,
                entity: req.entity,
                as_of: req.as_of,
                currency_local: &req.settings.reporting_currency,
                minor_units: minor,
                corrects: req.correction.as_ref().map(|o| o.filing_id.as_str()),
            };
            let mut b = goaml::Builder::new(header);
            let reports_out = if req.kind == Kind::GoamlStr {
                let rows = q("str_cases.sql", &binds).await?;
                b.suspicious(&rows, &req.filing_id, &req.rule_titles)?
            } else {
                let rows = q("large_value.sql", &binds).await?;
                vec![b.large_value(&rows, &req.filing_id, &req.period.to_string())?]
            };
            let mut txns = 0;
            for r in &reports_out {
                let xml = reports.render_template("goaml/report.xml.tera", &serde_json::json!({ "r": r }))?;
                let name = format!("{}.xml", r.reference);
                check(xml.as_bytes(), schema, &name)?;
                txns += xml.matches("<transaction>").count();
                out.records.insert(
                    r.reference.clone(),
                    hex(&<sha2::Sha256 as sha2::Digest>::digest(xml.as_bytes())),
                );
                out.files.push((name, xml.into_bytes()));
            }
            if req.kind == Kind::GoamlStr {
                out.cases = reports_out
                    .iter()
                    .map(|r| {
                        r.reference
                            .trim_start_matches(&format!("{}-", req.filing_id))
                            .to_string()
                    })
                    .collect();
            }
            out.summary = format!("{} goAML report(s), {txns} transaction(s)", reports_out.len());
            let mut seen = std::collections::BTreeSet::new();
            out.warnings = b.warnings.into_iter().filter(|w| seen.insert(w.clone())).collect();
        }
        Kind::PbocHvtr => {
            let rows = q("large_value.sql", &binds).await?;
            let records = pboc::records(&rows, &req.settings.reporting_currency, &mut out.warnings);
            out.records = records.iter().map(|r| (r.rcid.clone(), r.digest())).collect();
            let xsd = reports.dir.join("pboc").join("pboc-lvtr.xsd");
            let header = |original: Option<&str>, recs: usize, txns: usize| {
                serde_json::json!({
                    "message_id": req.filing_id,
                    "original": original,
                    "institution_name": req.entity.name,
                    "institution_code": req.entity.code,
                    "submission_date": req.as_of.format("%Y%m%d").to_string(),
                    "period_start": req.period.first().format("%Y%m%d").to_string(),
                    "period_end": req.period.last().format("%Y%m%d").to_string(),
                    "records": recs,
                    "transactions": txns,
                })
            };
            let (name, xml) = match &req.correction {
                None => {
                    let txns = records.iter().map(|r| r.txns_len()).sum();
                    let xml = reports.render_template(
                        "pboc/hvtr.xml.tera",
                        &serde_json::json!({ "header": header(None, records.len(), txns), "records": records }),
                    )?;
                    out.summary = format!("{} large-value record(s), {txns} transaction(s)", records.len());
                    ("hvtr.xml".to_string(), xml)
                }
                Some(orig) => {
                    let changes = pboc::Changes::between(&orig.records, &records);
                    if changes.is_empty() {
                        return Err(Error::Config(format!(
                            "nothing to correct: the records of {} are as filed in {}",
                            req.period, orig.filing_id
                        )));
                    }
                    let recs = changes.deleted.len() + changes.corrected.len() + changes.added.len();
                    let txns = changes
                        .corrected
                        .iter()
                        .chain(&changes.added)
                        .map(|r| r.txns_len())
                        .sum();
                    let xml = reports.render_template(
                        "pboc/dhtr.xml.tera",
                        &serde_json::json!({
                            "header": header(Some(&orig.filing_id), recs, txns),
                            "changes": changes,
                            "deletion_reason": "No longer reportable after the warehouse was corrected",
                        }),
                    )?;
                    out.summary = format!(
                        "DHTR correcting {}: {} deleted, {} corrected, {} added",
                        orig.filing_id,
                        changes.deleted.len(),
                        changes.corrected.len(),
                        changes.added.len()
                    );
                    ("dhtr.xml".to_string(), xml)
                }
            };
            check(xml.as_bytes(), &xsd, &name)?;
            out.files.push((name, xml.into_bytes()));
        }
        Kind::OfficerSummary => {
            // Every query under sql/summary/ is a section's figures, named by its file.
            let mut figures: summary::Figures = BTreeMap::new();
            for name in sql_files(&reports.sql("summary"))? {
                figures.insert(name.clone(), q(&format!("summary/{name}.sql"), &binds).await?);
            }
            for needed in ["alerts_by_day", "alerts_by_rule", "funnel", "coverage", "outcomes"] {
                if !figures.contains_key(needed) {
                    return Err(Error::Config(format!("reports/sql/summary/{needed}.sql is missing")));
                }
            }
            let by_day = summary::columns(&figures["alerts_by_day"], "day", "alerts", 1000, 160);
            let by_rule = summary::rows_chart(&figures["alerts_by_rule"], "rule_id", "alerts", 1000, 18);
            if let Some(o) = figures.get_mut("outcomes") {
                summary::outcome_rates(o);
            }
            if let Some(r) = figures.get_mut("alerts_by_rule") {
                summary::format_money(r, &["amount"], minor);
            }
            if let Some(c) = figures.get_mut("coverage") {
                summary::format_money(c, &["amount"], minor);
            }
            let mut ctx = serde_json::json!({
                "period": req.period.to_string(),
                "first_day": req.period.first().to_string(),
                "last_day": req.period.last().to_string(),
                "as_of": req.as_of.to_string(),
                "entity": req.entity.name,
                "currency": req.settings.reporting_currency,
                "catalog_version": req.catalog_version,
                "version": env!("CARGO_PKG_VERSION"),
                "by_day": by_day,
                "by_rule": by_rule,
            });
            if let Some(m) = ctx.as_object_mut() {
                for (k, v) in &figures {
                    m.insert(k.clone(), serde_json::to_value(v).unwrap_or_default());
                }
            }
            let html = reports.render_template("summary/officer.html.tera", &ctx)?;
            let alerts = figures["funnel"]
                .first()
                .map(|r| rows::text(r, "alerts").to_string())
                .unwrap_or_default();
            out.summary = format!("officer summary: {alerts} alert(s)");
            out.files.push(("officer-summary.html".into(), html.into_bytes()));
        }
        Kind::AlertsCsv | Kind::CasesCsv => {
            let (file, name) = if req.kind == Kind::AlertsCsv {
                ("export/alerts.sql", "alerts.csv")
            } else {
                ("export/cases.sql", "cases.csv")
            };
            binds.retain(|(k, _)| *k != "rules");
            let rows = q(file, &binds).await?;
            let path = reports.sql(file);
            let columns = rows::columns_of(ctx, &path, &binds).await?;
            let mut w = csv::Writer::from_writer(Vec::new());
            let io = |e: csv::Error| Error::Io {
                path: PathBuf::from(name),
                source: std::io::Error::other(e),
            };
            w.write_record(&columns).map_err(io)?;
            for r in &rows {
                w.write_record(columns.iter().map(|c| rows::text(r, c))).map_err(io)?;
            }
            let bytes = w.into_inner().map_err(|e| Error::Io {
                path: PathBuf::from(name),
                source: std::io::Error::other(e.to_string()),
            })?;
            out.summary = format!("{} row(s)", rows.len());
            out.files.push((name.to_string(), bytes));
        }
    }
    Ok(out)
}

fn check(xml: &[u8], schema: &Path, name: &str) -> Result<()> {
    let violations = validate_xml(xml, schema)?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            file: name.to_string(),
            schema: schema.display().to_string(),
            violations,
        })
    }
}

/// Registers the views under `<reports>/sql/views/` (`txn_parties`, `case_status`) on the
/// session.
pub async fn register_views(ctx: &SessionContext, reports: &Path) -> Result<()> {
    let dir = reports.join("sql").join("views");
    custos_rules::register_views(ctx, &dir, false)
        .await
        .map_err(|e| Error::Query {
            path: dir,
            message: e.to_string(),
        })
}

/// The stems of the `.sql` files in a folder, sorted.
fn sql_files(dir: &Path) -> Result<Vec<String>> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
