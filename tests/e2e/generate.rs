//! `custos generate`: determinism, realism, ingestibility, and that every label is true.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value;

use crate::harness::{Scratch, ledger, repo_root};

fn yuan(n: i64) -> i128 {
    i128::from(n) * 10_000
}

/// Money as an integer number of ten-thousandths: exact, like the warehouse.
fn money(s: &str) -> i128 {
    custos_model::parse_decimal(s, 4, false)
        .unwrap_or_else(|e| panic!("amount {s:?}: {e:?}"))
        .value
}

#[derive(Debug, Clone)]
struct Txn {
    id: String,
    ts: DateTime<FixedOffset>,
    kind: String,
    payer: String,
    payee: String,
    amount: i128,
    currency: String,
    payer_country: String,
    payee_country: String,
    status: String,
    device: String,
    fx_rate: Option<i128>,
    settlement_currency: String,
}

impl Txn {
    fn day(&self) -> NaiveDate {
        self.ts.date_naive()
    }
}

type Row = HashMap<String, String>;

fn read_csv(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn read_log(dir: &Path) -> Vec<Txn> {
    read_csv(&dir.join("transactions.csv"))
        .into_iter()
        .map(|r| Txn {
            id: r["txn_id"].clone(),
            ts: DateTime::parse_from_rfc3339(&r["ts"]).expect("ts"),
            kind: r["txn_type"].clone(),
            payer: r["payer_account"].clone(),
            payee: r["payee_account"].clone(),
            amount: money(&r["amount"]),
            currency: r["currency"].clone(),
            payer_country: r["payer_country"].clone(),
            payee_country: r["payee_country"].clone(),
            status: r["status"].clone(),
            device: r["device_id"].clone(),
            fx_rate: (!r["fx_rate"].is_empty()).then(|| {
                custos_model::parse_decimal(&r["fx_rate"], 8, false)
                    .expect("rate")
                    .value
            }),
            settlement_currency: r["settlement_currency"].clone(),
        })
        .collect()
}

fn read_labels(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("labels.ndjson"))
        .expect("labels")
        .lines()
        .map(|l| serde_json::from_str(l).expect("label JSON"))
        .collect()
}

fn generate(s: &Scratch, name: &str, args: &[&str]) -> std::path::PathBuf {
    let out = s.dir.path().join(name);
    let mut all = vec!["generate", "--out", out.to_str().expect("utf-8 path")];
    all.extend(args);
    s.ok(&all);
    out
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect()
}

#[test]
fn the_same_arguments_give_byte_identical_output() {
    let s = Scratch::new();
    let args = ["--customers", "400", "--days", "20", "--seed", "7"];
    let a = files_of(&generate(&s, "a", &args));
    let b = files_of(&generate(&s, "b", &args));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs with the same arguments"
        );
    }
    let c = files_of(&generate(
        &s,
        "c",
        &["--customers", "400", "--days", "20", "--seed", "8"],
    ));
    assert!(
        a["transactions.csv"] != c["transactions.csv"],
        "another seed gave the same log"
    );
    assert!(
        a["customers.csv"] != c["customers.csv"],
        "another seed gave the same customers"
    );
}

#[test]
fn the_bundled_sample_is_exactly_what_its_manifest_regenerates() {
    let sample = repo_root().join("data/sample");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(sample.join("generate.json")).expect("manifest")).expect("json");
    let num = |k: &str| {
        manifest[k]
            .as_u64()
            .unwrap_or_else(|| panic!("manifest has no {k}"))
            .to_string()
    };
    let mut args = vec![
        "--customers".to_string(),
        num("customers"),
        "--days".into(),
        num("days"),
        "--seed".into(),
        num("seed"),
        "--start".into(),
        manifest["start"].as_str().expect("start").to_string(),
        "--activity".into(),
        manifest["activity"].as_str().expect("activity").to_string(),
    ];
    for (typology, n) in manifest["requested"].as_object().expect("requested") {
        args.push("--inject".into());
        args.push(format!("{typology}={n}"));
    }
    let s = Scratch::new();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fresh = files_of(&generate(&s, "sample", &args));
    let committed = files_of(&sample);
    for (name, bytes) in &fresh {
        let Some(old) = committed.get(name) else {
            panic!("data/sample lacks {name}; regenerate it (see data/sample/README.md)")
        };
        assert!(
            old == bytes,
            "data/sample/{name} is stale; regenerate it (see data/sample/README.md)"
        );
    }
    let log = committed["transactions.csv"].len();
    assert!(
        log < 8_000_000,
        "the bundled sample log is {log} bytes; keep it a few MB"
    );
}

#[test]
fn ndjson_output_ingests_like_csv() {
    let s = Scratch::new();
    let dir = generate(
        &s,
        "nd",
        &[
            "--customers",
            "300",
            "--days",
            "5",
            "--format",
            "ndjson",
            "--inject",
            "all=1",
        ],
    );
    assert!(dir.join("transactions.ndjson").exists());
    for (kind, file) in [
        ("fx-rates", "fx_rates.csv"),
        ("accounts", "accounts.csv"),
        ("transactions", "transactions.ndjson"),
    ] {
        for r in s.ingest(kind, &[&dir.join(file)], &[]) {
            let (read, stored, quarantined) = ledger(&r);
            assert_eq!((stored, quarantined), (read, 0), "{file}: {r}");
        }
    }
}

/// One generated world with every typology, ingested; shared by the checks below.
fn world(s: &Scratch) -> std::path::PathBuf {
    generate(
        s,
        "world",
        &[
            "--customers",
            "1200",
            "--days",
            "110",
            "--activity",
            "0.5",
            "--seed",
            "11",
            "--inject",
            "all=4",
        ],
    )
}

#[test]
fn generated_data_ingests_with_zero_rejects_and_looks_like_payments() {
    let s = Scratch::new();
    let dir = world(&s);
    let order = [
        ("fx-rates", "fx_rates.csv"),
        ("country-risk", "country_risk.csv"),
        ("sanctions", "sanctions.csv"),
        ("customers", "customers.csv"),
        ("accounts", "accounts.csv"),
        ("merchants", "merchants.csv"),
        ("licences", "licences.csv"),
        ("transactions", "transactions.csv"),
    ];
    for (kind, file) in order {
        for r in s.ingest(kind, &[&dir.join(file)], &[]) {
            let (read, stored, quarantined) = ledger(&r);
            assert!(read > 0, "{file} is empty");
            assert_eq!((stored, quarantined), (read, 0), "{file} had rejects: {r}");
        }
    }
    let log = read_log(&dir);
    assert_eq!(s.count("select count(*) from transactions") as usize, log.len());

    // Over 60% of consumer payments are below 100 CNY (DOMAIN.md), in the warehouse's own
    // reporting-currency amounts.
    let share = s.sql(
        "select avg(case when t.amount_reporting < 100 then 1.0 else 0.0 end) as share \
         from transactions t join accounts a on t.payer_account = a.account_id \
         join customers c on c.customer_id = a.customer_id \
         where t.txn_type = 'PAYMENT' and c.customer_type = 'INDIVIDUAL'",
    )[0]["share"]
        .as_f64()
        .expect("share");
    assert!(
        (0.6..0.85).contains(&share),
        "share of consumer payments below 100 CNY: {share}"
    );
    // Heavy tail: some payments are a hundred times the median.
    let mut payments: Vec<i128> = log
        .iter()
        .filter(|t| t.kind == "PAYMENT" && t.currency == "CNY")
        .map(|t| t.amount)
        .collect();
    payments.sort_unstable();
    let median = payments[payments.len() / 2];
    assert!(
        payments[payments.len() - 1] > median * 100,
        "no heavy tail: median {median}, max {:?}",
        payments.last()
    );

    // A daily rhythm: the busiest hour sees many times the quietest.
    let mut hours = [0u32; 24];
    for t in &log {
        hours[t.ts.format("%H").to_string().parse::<usize>().expect("hour")] += 1;
    }
    let (lo, hi) = (
        hours.iter().min().copied().unwrap_or(0),
        hours.iter().max().copied().unwrap_or(0),
    );
    assert!(hi > lo * 5, "no daily rhythm: {hours:?}");

    // Every kind of traffic is there, and a few percent of it crosses a border.
    let kinds: BTreeSet<&str> = log.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    let cross = log.iter().filter(|t| t.payer_country != t.payee_country).count() as f64 / log.len() as f64;
    assert!((0.01..0.10).contains(&cross), "cross-border share {cross}");
    let currencies: BTreeSet<&str> = log.iter().map(|t| t.currency.as_str()).collect();
    assert!(currencies.len() >= 6, "{currencies:?}");
    assert!(log.iter().any(|t| t.status == "FAILED") && log.iter().any(|t| t.status == "REVERSED"));

    // Reference data: KYC tiers, risk ratings, PEPs, businesses, foreign-card holders.
    let accounts = read_csv(&dir.join("accounts.csv"));
    let classes: BTreeSet<&str> = accounts.iter().map(|a| a["account_class"].as_str()).collect();
    for c in ["I", "II", "III", "MERCHANT", "AGENT", "INTERNAL"] {
        assert!(classes.contains(c), "no class {c} account");
    }
    assert!(accounts.iter().any(|a| a["foreign_card_bound"] == "true"));
    let customers = read_csv(&dir.join("customers.csv"));
    for r in ["LOW", "MEDIUM", "HIGH"] {
        assert!(customers.iter().any(|c| c["risk_rating"] == r), "no {r} risk customer");
    }
    assert!(customers.iter().any(|c| c["pep"] == "true"));
    assert!(customers.iter().any(|c| c["customer_type"] == "BUSINESS"));
}

/// Everything the label checks need to look things up.
struct Truth {
    log: Vec<Txn>,
    by_id: HashMap<String, usize>,
    customers: HashMap<String, Row>,
    accounts: HashMap<String, Row>,
    licences: Vec<Row>,
    rates: HashMap<(String, String), i128>,
    fatf: BTreeSet<String>,
    sdn: BTreeSet<String>,
}

impl Truth {
    fn load(dir: &Path) -> Truth {
        let log = read_log(dir);
        let by_id = log.iter().enumerate().map(|(i, t)| (t.id.clone(), i)).collect();
        let keyed = |file: &str, key: &str| -> HashMap<String, Row> {
            read_csv(&dir.join(file))
                .into_iter()
                .map(|r| (r[key].clone(), r))
                .collect()
        };
        Truth {
            log,
            by_id,
            customers: keyed("customers.csv", "customer_id"),
            accounts: keyed("accounts.csv", "account_id"),
            licences: read_csv(&dir.join("licences.csv")),
            rates: read_csv(&dir.join("fx_rates.csv"))
                .into_iter()
                .map(|r| {
                    let rate = custos_model::parse_decimal(&r["rate"], 8, false).expect("rate").value;
                    ((r["rate_date"].clone(), r["currency"].clone()), rate)
                })
                .collect(),
            fatf: read_csv(&dir.join("country_risk.csv"))
                .into_iter()
                .map(|r| r["iso2"].clone())
                .collect(),
            sdn: read_csv(&dir.join("sanctions.csv"))
                .into_iter()
                .map(|r| r["SDN_Name"].clone())
                .collect(),
        }
    }

    fn rate(&self, day: NaiveDate, currency: &str) -> i128 {
        if currency == "CNY" {
            return 100_000_000;
        }
        self.rates[&(day.to_string(), currency.to_string())]
    }

    fn customer_of(&self, account: &str) -> &Row {
        &self.customers[&self.accounts[account]["customer_id"]]
    }

    fn corridor_licences(&self, t: &Txn) -> Vec<&Row> {
        self.licences
            .iter()
            .filter(|l| l["corridor_from"] == t.payer_country && l["corridor_to"] == t.payee_country)
            .collect()
    }

    fn licence_covers(l: &Row, t: &Txn) -> bool {
        let day = t.day().to_string();
        l["status"] == "ACTIVE"
            && l["valid_from"] <= day
            && (l["valid_to"].is_empty() || day <= l["valid_to"])
            && l["currencies"].split('|').any(|c| c == t.currency)
    }
}

fn param(label: &Value, key: &str) -> String {
    label["params"][key]
        .as_str()
        .unwrap_or_else(|| panic!("label has no param {key}: {label}"))
        .to_string()
}

fn threshold(label: &Value) -> i128 {
    let p = param(label, "threshold");
    money(p.split(' ').next().expect("amount"))
}

fn ts(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Checks one label against its typology's definition; returns what is wrong.
fn check(truth: &Truth, label: &Value) -> Result<(), String> {
    let typology = label["typology"].as_str().unwrap_or_default();
    let variant = label["variant"].as_str().unwrap_or_default();
    let accounts: Vec<String> = label["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    let subject = &accounts[0];
    let mut txns: Vec<&Txn> = label["txn_ids"]
        .as_array()
        .expect("txn_ids")
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap_or_default();
            truth
                .by_id
                .get(id)
                .map(|&i| &truth.log[i])
                .ok_or_else(|| format!("{id} is not in the log"))
        })
        .collect::<Result<_, _>>()?;
    txns.sort_by_key(|t| t.ts);
    if txns.is_empty() && typology != "kyc_business_no_owner" {
        return Err("names no transactions".into());
    }
    let ensure = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    let sum = |ts: &[&Txn]| ts.iter().map(|t| t.amount).sum::<i128>();
    let days: BTreeSet<NaiveDate> = txns.iter().map(|t| t.day()).collect();
    let span = |ts: &[&Txn]| {
        ts.last()
            .map(|l| l.ts)
            .zip(ts.first().map(|f| f.ts))
            .map(|(l, f)| l - f)
            .unwrap_or_default()
    };
    let cust = truth.customer_of(subject);
    match typology {
        "large_cash" => {
            ensure(txns.iter().all(|t| t.kind.starts_with("CASH_")), "not all cash".into())?;
            ensure(days.len() == 1, format!("over {} days", days.len()))?;
            ensure(
                sum(&txns) >= threshold(label),
                format!("sum {} under the threshold", sum(&txns)),
            )?;
            if variant == "cumulative" {
                ensure(
                    txns.iter().all(|t| t.amount < threshold(label)),
                    "a single one reaches the threshold".into(),
                )?;
            }
        }
        "large_transfer" => {
            ensure(
                txns.iter().all(|t| t.kind == "TRANSFER" && t.payer == *subject),
                "not all transfers from the subject".into(),
            )?;
            ensure(days.len() == 1, "not on one day".into())?;
            ensure(sum(&txns) >= threshold(label), "under the threshold".into())?;
            let cross = txns.iter().all(|t| t.payer_country != t.payee_country);
            ensure(
                cross == (variant == "person_cross_border"),
                "cross-border does not match the variant".into(),
            )?;
            let business = cust["customer_type"] == "BUSINESS";
            ensure(
                business == (variant == "business"),
                "customer type does not match the variant".into(),
            )?;
        }
        "structuring" => {
            let t = threshold(label);
            ensure(txns.len() >= 3, format!("only {} transactions", txns.len()))?;
            ensure(
                txns.iter().all(|x| x.amount >= t * 9 / 10 && x.amount < t),
                "an amount outside [90% T, T)".into(),
            )?;
            ensure(days.len() == txns.len(), "two on one day".into())?;
            ensure(
                span(&txns) <= chrono::Duration::days(7),
                "spread over more than 7 days".into(),
            )?;
        }
        "fan_in" | "fan_out" => {
            let (mine, others): (Vec<&String>, BTreeSet<&String>) = if typology == "fan_in" {
                (
                    txns.iter().map(|t| &t.payee).collect(),
                    txns.iter().map(|t| &t.payer).collect(),
                )
            } else {
                (
                    txns.iter().map(|t| &t.payer).collect(),
                    txns.iter().map(|t| &t.payee).collect(),
                )
            };
            ensure(mine.iter().all(|a| *a == subject), "not all through the subject".into())?;
            ensure(others.len() >= 5, format!("only {} counterparties", others.len()))?;
            let window = chrono::Duration::hours(if typology == "fan_in" { 24 } else { 8 });
            ensure(span(&txns) <= window, format!("spread over {}", span(&txns)))?;
        }
        "cycle" => {
            ensure(txns.len() == accounts.len(), "not one hop per account".into())?;
            for pair in txns.windows(2) {
                ensure(pair[0].payee == pair[1].payer, "the chain breaks".into())?;
            }
            ensure(
                txns.last().map(|t| &t.payee) == txns.first().map(|t| &t.payer),
                "does not return to the start".into(),
            )?;
        }
        "scatter_gather" => {
            let (source, sink) = (&accounts[0], &accounts[1]);
            let mids: BTreeSet<&String> = txns.iter().filter(|t| t.payer == *source).map(|t| &t.payee).collect();
            ensure(mids.len() >= 3, "fewer than three intermediaries".into())?;
            for m in &mids {
                ensure(
                    txns.iter().any(|t| t.payer == **m && t.payee == *sink),
                    format!("{m} forwards nothing"),
                )?;
            }
        }
        "pass_through" => {
            let (lo, hi) = if variant == "commission" {
                (8_700, 9_300)
            } else {
                (9_700, 10_000)
            };
            let ins: Vec<&&Txn> = txns.iter().filter(|t| t.payee == *subject).collect();
            ensure(!ins.is_empty(), "no inflow".into())?;
            for i in ins {
                let out = txns.iter().find(|o| {
                    o.payer == *subject
                        && o.ts > i.ts
                        && o.ts - i.ts <= chrono::Duration::hours(24)
                        && o.amount * 10_000 >= i.amount * lo
                        && o.amount * 10_000 <= i.amount * hi
                });
                ensure(
                    out.is_some(),
                    format!("inflow {} does not leave within 24 h at the expected ratio", i.id),
                )?;
            }
        }
        "dormant_reactivation" => {
            let first = txns[0].ts;
            let before = truth
                .log
                .iter()
                .filter(|t| (t.payer == *subject || t.payee == *subject) && t.ts < first)
                .map(|t| t.ts)
                .max();
            let before = before.ok_or("no earlier activity to be dormant after")?;
            ensure(
                first - before >= chrono::Duration::days(90),
                format!("idle only {}", first - before),
            )?;
        }
        "mule" => {
            for m in &accounts {
                let payers: BTreeSet<&String> = txns
                    .iter()
                    .filter(|t| t.payee == *m && t.kind == "TRANSFER")
                    .map(|t| &t.payer)
                    .collect();
                ensure(payers.len() >= 8, format!("{m} has {} distinct payers", payers.len()))?;
                ensure(
                    txns.iter().any(|t| t.payer == *m && t.kind == "CASH_OUT"),
                    format!("{m} never cashes out"),
                )?;
            }
            if variant == "shared_device" {
                let devices: BTreeSet<&String> = txns
                    .iter()
                    .filter(|t| t.kind == "CASH_OUT")
                    .map(|t| &t.device)
                    .collect();
                ensure(devices.len() == 1, format!("cash-outs from {devices:?}"))?;
            } else {
                let ids: BTreeSet<&String> = accounts.iter().map(|a| &truth.customer_of(a)["id_number"]).collect();
                ensure(ids.len() == 1, format!("identity numbers {ids:?}"))?;
            }
        }
        "aggregated_cash" => {
            ensure(
                txns.iter().all(|t| t.kind == "CASH_IN" && t.payee == *subject),
                "not all cash deposits of the subject".into(),
            )?;
            ensure(
                sum(&txns) >= threshold(label),
                format!("sum {} under the threshold", sum(&txns)),
            )?;
            let mut by_day: BTreeMap<NaiveDate, i128> = BTreeMap::new();
            for t in &txns {
                *by_day.entry(t.day()).or_default() += t.amount;
            }
            ensure(
                by_day.values().all(|v| *v < threshold(label)),
                "a single day reaches the threshold".into(),
            )?;
            ensure(
                span(&txns) < chrono::Duration::days(30),
                "spread over 30 days or more".into(),
            )?;
        }
        "similar_amounts" => {
            ensure(
                txns.len() >= 5 && txns.iter().all(|t| t.kind == "TRANSFER" && t.payer == *subject),
                "fewer than five transfers from the subject".into(),
            )?;
            ensure(
                span(&txns) <= chrono::Duration::hours(24),
                "spread over more than 24 hours".into(),
            )?;
            let (lo, hi) = (
                txns.iter().map(|t| t.amount).min().unwrap_or(0),
                txns.iter().map(|t| t.amount).max().unwrap_or(0),
            );
            ensure(
                hi * 10 <= lo * 11,
                format!("amounts {lo} to {hi} are not within 10% of each other"),
            )?;
            let receivers: BTreeSet<&String> = txns.iter().map(|t| &t.payee).collect();
            ensure(receivers.len() < 5, "five receivers would make it a fan-out".into())?;
        }
        "velocity_spike" => {
            ensure(
                days.len() == 1 && txns.iter().all(|t| t.payer == *subject),
                "not one day of outflows".into(),
            )?;
            ensure(sum(&txns) >= yuan(20_000), "under RMB 20,000".into())?;
            let first = truth.log.first().map(|t| t.ts).ok_or("empty log")?;
            ensure(
                txns[0].ts - first >= chrono::Duration::days(30),
                "no month of history before it".into(),
            )?;
        }
        "new_account_activity" => {
            let opened = ts(&truth.accounts[subject]["opened_at"]);
            ensure(
                txns.iter()
                    .all(|t| t.ts - opened < chrono::Duration::days(30) && t.ts > opened),
                "outside the first 30 days".into(),
            )?;
            ensure(sum(&txns) >= yuan(50_000), "moves less than RMB 50,000".into())?;
        }
        "high_risk_geography" => {
            for t in &txns {
                ensure(
                    truth.fatf.contains(&t.payer_country) || truth.fatf.contains(&t.payee_country),
                    format!("{} touches no listed country", t.id),
                )?;
            }
        }
        "sanctions_hit" => {
            let customer = &truth.customers[label["subject_id"].as_str().unwrap_or_default()];
            ensure(
                customer["full_name"] == param(label, "customer_name"),
                "the customer does not carry the planted name".into(),
            )?;
            ensure(
                truth.sdn.contains(&param(label, "listed_name")),
                "the listed name is not in the list".into(),
            )?;
        }
        "kyc_unverified" => ensure(cust["kyc_status"] != "VERIFIED", "the customer is verified".into())?,
        "kyc_expired_id" => {
            let expiry = NaiveDate::parse_from_str(&cust["id_expiry"], "%Y-%m-%d").map_err(|e| e.to_string())?;
            ensure(
                txns.iter().all(|t| t.day() > expiry),
                "a transaction before the expiry".into(),
            )?;
        }
        "kyc_class_limit" => {
            let limit = money(param(label, "limit").split(' ').next().unwrap_or_default());
            let class = truth.accounts[subject]["account_class"].clone();
            ensure(
                variant == format!("class_{class}"),
                format!("class {class} for variant {variant}"),
            )?;
            let paid: i128 = txns
                .iter()
                .filter(|t| t.kind == "PAYMENT" && t.payer == *subject)
                .map(|t| t.amount)
                .sum();
            ensure(paid > limit, format!("payments {paid} within the limit {limit}"))?;
        }
        "kyc_business_no_owner" => {
            ensure(
                cust["customer_type"] == "BUSINESS" && cust["beneficial_owner_id"].is_empty(),
                "has an owner or is no business".into(),
            )?;
        }
        "kyc_pep_no_edd" => {
            ensure(cust["pep"] == "true", "not a PEP".into())?;
            if !cust["edd_completed_at"].is_empty() {
                let edd = ts(&cust["edd_completed_at"]);
                ensure(txns.iter().all(|t| t.ts < edd), "a transaction after EDD".into())?;
            }
        }
        "kyc_review_overdue" => {
            let cycle: i64 = param(label, "cycle_days").parse().map_err(|_| "cycle_days")?;
            let cycle_for = match cust["risk_rating"].as_str() {
                "HIGH" => 365,
                "MEDIUM" => 730,
                _ => 1095,
            };
            ensure(cycle == cycle_for, "cycle does not match the risk rating".into())?;
            let due = ts(&cust["last_review_at"]) + chrono::Duration::days(cycle);
            ensure(
                txns.iter().all(|t| t.ts > due),
                "a transaction before the review fell due".into(),
            )?;
        }
        "licence_uncovered_corridor" => {
            for t in &txns {
                ensure(
                    t.payer_country != t.payee_country && truth.corridor_licences(t).is_empty(),
                    format!("{} is in a licensed corridor", t.id),
                )?;
            }
        }
        "licence_expired" | "licence_suspended" | "licence_currency" => {
            for t in &txns {
                let licences = truth.corridor_licences(t);
                ensure(!licences.is_empty(), format!("{}: no licence at all", t.id))?;
                ensure(
                    !licences.iter().any(|l| Truth::licence_covers(l, t)),
                    format!("{} is covered", t.id),
                )?;
                let why = match typology {
                    "licence_expired" => licences
                        .iter()
                        .any(|l| !l["valid_to"].is_empty() && l["valid_to"] < t.day().to_string()),
                    "licence_suspended" => licences.iter().any(|l| l["status"] == "SUSPENDED"),
                    _ => licences
                        .iter()
                        .all(|l| !l["currencies"].split('|').any(|c| c == t.currency)),
                };
                ensure(why, format!("{} is not uncovered for the {typology} reason", t.id))?;
            }
        }
        "licence_cap" => {
            for t in &txns {
                let l = truth
                    .corridor_licences(t)
                    .into_iter()
                    .find(|l| Truth::licence_covers(l, t))
                    .ok_or("no covering licence")?;
                ensure(
                    l["cap_currency"] == t.currency && t.amount > money(&l["max_txn_amount"]),
                    format!("{} within the cap", t.id),
                )?;
            }
        }
        "licence_fx_deviation" => {
            for t in &txns {
                let applied = t.fx_rate.ok_or("no fx_rate")?;
                let reference =
                    truth.rate(t.day(), &t.currency) * 100_000_000 / truth.rate(t.day(), &t.settlement_currency);
                let deviation = (applied - reference).abs() * 10_000 / reference;
                ensure(deviation > 200, format!("{} deviates only {deviation} bp", t.id))?;
            }
        }
        other => return Err(format!("no check for typology {other}")),
    }
    Ok(())
}

#[test]
fn every_label_satisfies_its_typology_and_names_real_transactions() {
    let s = Scratch::new();
    let dir = world(&s);
    let truth = Truth::load(&dir);
    let labels = read_labels(&dir);
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut failures = Vec::new();
    for label in &labels {
        *seen
            .entry(label["typology"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
        assert_eq!(
            label["txn_count"].as_u64(),
            label["txn_ids"].as_array().map(|a| a.len() as u64)
        );
        if let Err(why) = check(&truth, label) {
            failures.push(format!(
                "{} {} {}: {why}",
                label["pattern_id"], label["typology"], label["variant"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} labels break their definition:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (typology, _, _) in custos_generate::TYPOLOGIES {
        assert_eq!(seen.get(*typology), Some(&4), "{typology}: {seen:?}");
    }
    // The log itself carries nothing of the labels: its columns are the canonical ones.
    let header = std::fs::read_to_string(dir.join("transactions.csv")).expect("log");
    assert_eq!(header.lines().next(), Some(crate::harness::TXN_HEADER));
}

#[test]
fn the_demo_loads_the_bundled_sample_with_zero_rejects() {
    let s = Scratch::new();
    let out = s.custos().current_dir(repo_root()).arg("demo").output().expect("demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("data/sample"), "{stdout}");
    // The demo runs every rule pack and checks them against the sample's labels.
    let found = stdout
        .split("the rules found ")
        .nth(1)
        .and_then(|rest| {
            let mut words = rest.split_whitespace();
            let found: u32 = words.next()?.parse().ok()?;
            let total: u32 = words.nth(2)?.parse().ok()?;
            Some((found, total))
        })
        .unwrap_or_else(|| panic!("no ground-truth line:\n{stdout}"));
    assert_eq!(
        found.0, found.1,
        "the rules missed planted patterns of the sample:\n{stdout}"
    );
    assert!(s.count("select count(*) from alerts") > 0);
    assert!(
        stdout.contains("aml.lv_cash")
            && stdout.contains("kyc.unverified")
            && stdout.contains("licensing.fx_deviation")
    );
    assert_eq!(s.count("select count(*) from quarantine"), 0);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("data/sample/generate.json")).expect("manifest"))
            .expect("json");
    let rows = manifest["rows"]["transactions.csv"].as_i64().expect("rows");
    assert_eq!(s.count("select count(*) from transactions"), rows);
}
