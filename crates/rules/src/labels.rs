//! Ground truth from `custos generate` (`labels.ndjson`), and when an alert is about one of
//! its planted patterns: backtests and the demo measure rules with it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::alert::Alert;
use crate::{Error, Result};

/// A planted pattern, as far as matching alerts goes.
#[derive(Debug, Clone)]
pub struct Label {
    /// The typology it plants.
    pub typology: String,
    /// Its subject, accounts and customers.
    pub ids: BTreeSet<String>,
    /// Its transactions.
    pub txns: BTreeSet<String>,
}

impl Label {
    /// Whether an alert is about this pattern: the same subject, or shared transactions.
    pub fn matches(&self, alert: &Alert) -> bool {
        self.ids.contains(&alert.subject_id) || alert.txn_ids.iter().any(|t| self.txns.contains(t))
    }
}

/// Reads a `labels.ndjson`, naming file and line on error.
pub fn read_labels(path: &Path) -> Result<Vec<Label>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Rule {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("not a label: {e}"),
        })?;
        let strings = |key: &str| -> BTreeSet<String> {
            v[key]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let mut ids = strings("accounts");
        ids.extend(strings("customers"));
        if let Some(s) = v["subject_id"].as_str() {
            ids.insert(s.to_string());
        }
        out.push(Label {
            typology: v["typology"].as_str().unwrap_or_default().to_string(),
            ids,
            txns: strings("txn_ids"),
        });
    }
    Ok(out)
}
