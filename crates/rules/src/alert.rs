//! Alerts: the contract every rule returns, how a run's alerts fold into the stored ones,
//! and snoozes.

use std::collections::BTreeMap;
use std::sync::Arc;

use custos_model::Table;
use custos_warehouse::datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use custos_warehouse::datafusion::arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use custos_warehouse::datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};

use crate::rule::Rule;
use crate::{Error, Result};

/// One alert, as stored in the `alerts` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Stable id: a hash of rule, subject and first window start.
    pub alert_id: String,
    /// The rule that raised it.
    pub rule_id: String,
    /// The rule's version at the last update.
    pub rule_version: i64,
    /// The rule's pack.
    pub pack: String,
    /// customer, account, merchant or licence.
    pub subject_type: String,
    /// The subject's id.
    pub subject_id: String,
    /// Alerts are grouped into one case per subject.
    pub case_id: String,
    /// Start of the activity that made it fire (microseconds, UTC).
    pub window_start: i64,
    /// End of that activity.
    pub window_end: i64,
    /// The rule's severity.
    pub severity: String,
    /// The rule's score for it.
    pub score: f64,
    /// The rule's key figures, a JSON object.
    pub figures: String,
    /// Contributing transactions, sorted.
    pub txn_ids: Vec<String>,
    /// OPEN or SUPPRESSED.
    pub status: String,
    /// The snooze that holds it back.
    pub suppression_id: Option<String>,
    /// The run that raised it.
    pub first_run_id: String,
    /// The last run that raised or updated it.
    pub last_run_id: String,
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    h.finalize()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl Alert {
    /// A new alert of `rule`.
    pub fn new(
        rule: &Rule,
        subject_id: String,
        window_start: i64,
        window_end: i64,
        score: f64,
        figures: String,
        txn_ids: Vec<String>,
    ) -> Alert {
        let subject_type = rule.meta.subject_type.clone();
        Alert {
            alert_id: format!(
                "AL-{}",
                short_hash(&[&rule.meta.id, &subject_type, &subject_id, &window_start.to_string()])
            ),
            rule_id: rule.meta.id.clone(),
            rule_version: i64::from(rule.meta.version),
            pack: rule.pack.clone(),
            case_id: format!("CASE-{}-{}", subject_type, subject_id),
            subject_type,
            subject_id,
            window_start,
            window_end,
            severity: rule.meta.severity.as_str().to_string(),
            score,
            figures,
            txn_ids,
            status: "OPEN".into(),
            suppression_id: None,
            first_run_id: String::new(),
            last_run_id: String::new(),
        }
    }
}

/// A snooze: alerts of `rule_id` for a subject whose window starts on or before
/// `expires_on` are kept as SUPPRESSED instead of OPEN.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// `SZ-` and a hash.
    pub suppression_id: String,
    /// The rule.
    pub rule_id: String,
    /// customer, account, merchant or licence.
    pub subject_type: String,
    /// The subject.
    pub subject_id: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub author: String,
    /// When (microseconds, UTC).
    pub created_at: i64,
    /// Last day covered (days since the epoch).
    pub expires_on: i32,
}

impl Suppression {
    /// A snooze with an id derived from its content.
    pub fn new(
        rule_id: &str,
        subject_type: &str,
        subject_id: &str,
        reason: &str,
        author: &str,
        created_at: i64,
        expires_on: i32,
    ) -> Suppression {
        Suppression {
            suppression_id: format!(
                "SZ-{}",
                short_hash(&[rule_id, subject_type, subject_id, &created_at.to_string()])
            ),
            rule_id: rule_id.into(),
            subject_type: subject_type.into(),
            subject_id: subject_id.into(),
            reason: reason.into(),
            author: author.into(),
            created_at,
            expires_on,
        }
    }

    fn holds(&self, a: &Alert) -> bool {
        let start_day = a.window_start.div_euclid(86_400_000_000) as i32;
        self.rule_id == a.rule_id
            && self.subject_type == a.subject_type
            && self.subject_id == a.subject_id
            && start_day <= self.expires_on
    }
}

/// The stored alerts after a run, and what changed.
#[derive(Debug, Clone, Default)]
pub struct MergeOutcome {
    /// Every alert, the stored ones updated and the new ones added, sorted by id.
    pub alerts: Vec<Alert>,
    /// Alerts the run added.
    pub new: u64,
    /// Stored alerts the run updated (same rule and subject, overlapping window).
    pub updated: u64,
    /// Of the new and updated alerts, those a snooze holds back.
    pub suppressed: u64,
}

/// Folds `fresh` alerts of run `run_id` into `stored` ones: an alert with the same rule and
/// subject whose window overlaps a stored alert's extends it (window, transactions, latest
/// figures, highest score) instead of adding another; snoozes mark alerts SUPPRESSED.
pub fn merge(stored: Vec<Alert>, fresh: Vec<Alert>, suppressions: &[Suppression], run_id: &str) -> MergeOutcome {
    let mut out = MergeOutcome {
        alerts: stored,
        ..MergeOutcome::default()
    };
    let mut by_key: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, a) in out.alerts.iter().enumerate() {
        by_key
            .entry((a.rule_id.clone(), a.subject_type.clone(), a.subject_id.clone()))
            .or_default()
            .push(i);
    }
    let mut touched = Vec::new();
    for mut a in fresh {
        let key = (a.rule_id.clone(), a.subject_type.clone(), a.subject_id.clone());
        let hit = by_key.get(&key).and_then(|list| {
            list.iter()
                .copied()
                .find(|&i| out.alerts[i].window_start <= a.window_end && a.window_start <= out.alerts[i].window_end)
        });
        match hit {
            Some(i) => {
                let old = &mut out.alerts[i];
                old.window_start = old.window_start.min(a.window_start);
                old.window_end = old.window_end.max(a.window_end);
                old.txn_ids.append(&mut a.txn_ids);
                old.txn_ids.sort_unstable();
                old.txn_ids.dedup();
                old.figures = a.figures;
                old.score = old.score.max(a.score);
                old.rule_version = a.rule_version;
                if old.last_run_id != run_id {
                    out.updated += u64::from(old.first_run_id != run_id);
                }
                old.last_run_id = run_id.to_string();
                touched.push(i);
            }
            None => {
                a.first_run_id = run_id.to_string();
                a.last_run_id = run_id.to_string();
                out.alerts.push(a);
                let i = out.alerts.len() - 1;
                by_key.entry(key).or_default().push(i);
                out.new += 1;
                touched.push(i);
            }
        }
    }
    touched.sort_unstable();
    touched.dedup();
    for i in touched {
        let a = &mut out.alerts[i];
        match suppressions.iter().find(|s| s.holds(a)) {
            Some(s) => {
                a.status = "SUPPRESSED".into();
                a.suppression_id = Some(s.suppression_id.clone());
                out.suppressed += 1;
            }
            None => {
                a.status = "OPEN".into();
                a.suppression_id = None;
            }
        }
    }
    out.alerts.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
    out
}

/// The `alerts` table batch of a list of alerts.
pub fn alerts_batch(alerts: &[Alert]) -> Result<RecordBatch> {
    let text = |f: fn(&Alert) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(alerts.iter().map(f))) };
    let mut ids = ListBuilder::new(StringBuilder::new());
    for a in alerts {
        for id in &a.txn_ids {
            ids.values().append_value(id);
        }
        ids.append(true);
    }
    let ts = |f: fn(&Alert) -> i64| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from_iter_values(alerts.iter().map(f)).with_timezone("UTC"))
    };
    let columns: Vec<ArrayRef> = vec![
        text(|a| &a.alert_id),
        text(|a| &a.rule_id),
        Arc::new(Int64Array::from_iter_values(alerts.iter().map(|a| a.rule_version))),
        text(|a| &a.pack),
        text(|a| &a.subject_type),
        text(|a| &a.subject_id),
        text(|a| &a.case_id),
        ts(|a| a.window_start),
        ts(|a| a.window_end),
        text(|a| &a.severity),
        Arc::new(Float64Array::from_iter_values(alerts.iter().map(|a| a.score))),
        text(|a| &a.figures),
        Arc::new(ids.finish()),
        Arc::new(Int64Array::from_iter_values(
            alerts.iter().map(|a| a.txn_ids.len() as i64),
        )),
        text(|a| &a.status),
        Arc::new(StringArray::from_iter(
            alerts.iter().map(|a| a.suppression_id.as_deref()),
        )),
        text(|a| &a.first_run_id),
        text(|a| &a.last_run_id),
    ];
    Ok(RecordBatch::try_new(Table::Alerts.arrow_schema(), columns)?)
}

/// The `suppressions` table batch.
pub fn suppressions_batch(list: &[Suppression]) -> Result<RecordBatch> {
    let text =
        |f: fn(&Suppression) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(list.iter().map(f))) };
    let columns: Vec<ArrayRef> = vec![
        text(|s| &s.suppression_id),
        text(|s| &s.rule_id),
        text(|s| &s.subject_type),
        text(|s| &s.subject_id),
        text(|s| &s.reason),
        text(|s| &s.author),
        Arc::new(TimestampMicrosecondArray::from_iter_values(list.iter().map(|s| s.created_at)).with_timezone("UTC")),
        Arc::new(Date32Array::from_iter_values(list.iter().map(|s| s.expires_on))),
    ];
    Ok(RecordBatch::try_new(Table::Suppressions.arrow_schema(), columns)?)
}

async fn select_all(ctx: &SessionContext, table: Table) -> Result<Vec<RecordBatch>> {
    let engine = |source| Error::Engine {
        rule: table.name().to_string(),
        source,
    };
    ctx.sql(&format!("select * from {}", table.name()))
        .await
        .map_err(engine)?
        .collect()
        .await
        .map_err(engine)
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    batch
        .column_by_name(name)
        .map(|c| {
            let c = c.as_string::<i32>();
            (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Every stored alert.
pub async fn read_alerts(ctx: &SessionContext) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    for b in select_all(ctx, Table::Alerts).await? {
        let s = |n| strings(&b, n);
        let (
            alert_id,
            rule_id,
            pack,
            subject_type,
            subject_id,
            case_id,
            severity,
            figures,
            status,
            suppression_id,
            first,
            last,
        ) = (
            s("alert_id"),
            s("rule_id"),
            s("pack"),
            s("subject_type"),
            s("subject_id"),
            s("case_id"),
            s("severity"),
            s("figures"),
            s("status"),
            s("suppression_id"),
            s("first_run_id"),
            s("last_run_id"),
        );
        let col = |n: &str| b.column_by_name(n).cloned();
        let (Some(version), Some(start), Some(end), Some(score), Some(ids)) = (
            col("rule_version"),
            col("window_start"),
            col("window_end"),
            col("score"),
            col("txn_ids"),
        ) else {
            continue;
        };
        let (version, start, end, score, ids) = (
            version.as_primitive::<Int64Type>().clone(),
            start.as_primitive::<TimestampMicrosecondType>().clone(),
            end.as_primitive::<TimestampMicrosecondType>().clone(),
            score.as_primitive::<Float64Type>().clone(),
            ids.as_list::<i32>().clone(),
        );
        for i in 0..b.num_rows() {
            let list = ids.value(i);
            let list = list.as_string::<i32>();
            let get = |v: &Vec<Option<String>>| v[i].clone().unwrap_or_default();
            out.push(Alert {
                alert_id: get(&alert_id),
                rule_id: get(&rule_id),
                rule_version: version.value(i),
                pack: get(&pack),
                subject_type: get(&subject_type),
                subject_id: get(&subject_id),
                case_id: get(&case_id),
                window_start: start.value(i),
                window_end: end.value(i),
                severity: get(&severity),
                score: score.value(i),
                figures: get(&figures),
                txn_ids: list.iter().flatten().map(str::to_string).collect(),
                status: get(&status),
                suppression_id: suppression_id[i].clone(),
                first_run_id: get(&first),
                last_run_id: get(&last),
            });
        }
    }
    Ok(out)
}

/// Every stored snooze.
pub async fn read_suppressions(ctx: &SessionContext) -> Result<Vec<Suppression>> {
    let mut out = Vec::new();
    for b in select_all(ctx, Table::Suppressions).await? {
        let s = |n| strings(&b, n);
        let (id, rule, st, sid, reason, author) = (
            s("suppression_id"),
            s("rule_id"),
            s("subject_type"),
            s("subject_id"),
            s("reason"),
            s("author"),
        );
        let (Some(created), Some(expires)) = (b.column_by_name("created_at"), b.column_by_name("expires_on")) else {
            continue;
        };
        let created = created.as_primitive::<TimestampMicrosecondType>();
        let expires = expires.as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            let get = |v: &Vec<Option<String>>| v[i].clone().unwrap_or_default();
            out.push(Suppression {
                suppression_id: get(&id),
                rule_id: get(&rule),
                subject_type: get(&st),
                subject_id: get(&sid),
                reason: get(&reason),
                author: get(&author),
                created_at: created.value(i),
                expires_on: expires.value(i),
            });
        }
    }
    out.sort_by(|a, b| a.suppression_id.cmp(&b.suppression_id));
    Ok(out)
}
