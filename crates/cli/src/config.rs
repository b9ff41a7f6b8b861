//! `custos.toml`: settings shared by every command. Command-line flags and environment
//! variables override it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Warehouse directory.
    pub warehouse: Option<PathBuf>,
    /// ISO 4217 reporting currency (default CNY); fixed when a warehouse is created.
    pub reporting_currency: Option<String>,
    /// IANA reporting time zone (default Asia/Shanghai); fixed when a warehouse is created.
    pub reporting_timezone: Option<String>,
    /// Memory limit of query sessions, e.g. "4GiB".
    pub memory_limit: Option<String>,
    /// Longest an analyst query may run (shell and server), e.g. "5m" or "30s".
    pub statement_timeout: Option<String>,
    /// `custos serve`: address, users and limits.
    #[serde(default)]
    pub serve: ServeConfig,
    /// Rule parameter defaults of this installation: `[params."aml.lv_cash"]
    /// rmb_threshold = "50000"`.
    #[serde(default)]
    pub params: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// DataFusion settings by full name, for tuning: `[datafusion]
    /// "datafusion.execution.batch_size" = "16384"`.
    #[serde(default)]
    pub datafusion: BTreeMap<String, toml::Value>,
    /// Per-jurisdiction parameter sets chosen with `--profile`: `[profiles.hk."aml.lv_cash"]`.
    #[serde(default)]
    pub profiles: BTreeMap<String, BTreeMap<String, BTreeMap<String, toml::Value>>>,
    /// Filings: the reporting entity, the goAML FIU, and the filing calendar.
    #[serde(default)]
    pub filing: FilingConfig,
}

/// `[serve]`: the Postgres-wire endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on (default 127.0.0.1:5433).
    pub listen: Option<String>,
    /// Most sessions at once (default 32); more are refused with a clear error.
    pub max_connections: Option<usize>,
    /// Who may connect: `[[serve.users]] name, role, password_sha256 | password_env`.
    #[serde(default)]
    pub users: Vec<ServeUser>,
}

/// One user of the endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeUser {
    /// Login name.
    pub name: String,
    /// analyst (personal data masked) or officer.
    pub role: custos_analyst::Role,
    /// The password is read from this environment variable when the server starts, so it is
    /// never written in a file or a log.
    pub password_env: String,
}

/// `[filing]`: who files, to which FIU schema, and when.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilingConfig {
    /// The reporting entity and its reporting officer.
    pub entity: Option<custos_report::Entity>,
    /// The goAML FIU filed to.
    #[serde(default)]
    pub goaml: GoamlConfig,
    /// What is filed when: `[[filing.schedule]]`.
    #[serde(default)]
    pub schedule: Vec<custos_filing::Schedule>,
    /// Days that are not working days besides weekends.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
}

/// `[filing.goaml]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoamlConfig {
    /// FIU profile: a file stem under reports/goaml/fiu/.
    pub fiu: Option<String>,
    /// The FIU's XSD, which every goAML report is validated against before it is filed.
    pub schema: Option<PathBuf>,
}

impl FilingConfig {
    /// The filing calendar.
    pub fn calendar(&self) -> custos_filing::Calendar {
        custos_filing::Calendar {
            schedule: self.schedule.clone(),
            holidays: self.holidays.clone(),
        }
    }
}

/// A TOML value as the text a rule parameter parses (`50000`, `"24 hours"`, `0.7`).
pub fn param_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        // Dates, arrays and tables are no parameter value; the rule's parser says so.
        _ => "<not a scalar>".to_string(),
    }
}

impl Config {
    /// Reads `path` if given, else `./custos.toml` if it exists, else defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let default = Path::new("custos.toml");
        let path = match path {
            Some(p) => p,
            None if default.exists() => default,
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: Config = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        // A relative warehouse path is relative to the file that names it.
        if let (Some(wh), Some(dir)) = (&config.warehouse, path.parent())
            && wh.is_relative()
        {
            config.warehouse = Some(dir.join(wh));
        }
        if let (Some(schema), Some(dir)) = (&config.filing.goaml.schema, path.parent())
            && schema.is_relative()
        {
            config.filing.goaml.schema = Some(dir.join(schema));
        }
        config.filing.calendar().validate()?;
        Ok(config)
    }
}

/// Parses durations like `30s`, `5m`, `1h`, `250ms`.
pub fn parse_duration(text: &str) -> anyhow::Result<std::time::Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
    let n: f64 = num
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 30s or 5m"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => anyhow::bail!("{text:?}: unknown unit {other:?} (ms, s, m, h)"),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses sizes like `512MiB`, `4GiB`, `1000000`.
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let (num, mult) = [
        ("KiB", 1usize << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("KB", 1000),
        ("MB", 1_000_000),
        ("GB", 1_000_000_000),
    ]
    .iter()
    .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n.trim(), *m)))
    .unwrap_or((t, 1));
    let n: f64 = num
        .parse()
        .with_context(|| format!("{text:?} is not a size like 4GiB"))?;
    Ok((n * mult as f64) as usize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(super::parse_size("1.5 MiB").unwrap(), 3 << 19);
        assert!(super::parse_size("lots").is_err());
        assert_eq!(super::parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(super::parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(super::parse_duration("5 weeks").is_err());
    }
}
