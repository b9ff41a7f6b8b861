//! goAML reports: suspicious-transaction reports (one per escalated case) and large-value
//! reports, shaped for the templates under `reports/goaml/`, with codes from an FIU profile.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::rows::{Row, text};
use crate::text::{clean, is_latin, round_decimal};
use crate::{Error, Result};

/// An FIU's code lists and conventions (`reports/goaml/fiu/<name>.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiuProfile {
    /// Who this profile is for.
    pub fiu: String,
    /// report_code of a suspicious-transaction report.
    pub str_report_code: String,
    /// report_code of a large-value report; empty if the FIU has none.
    pub large_value_report_code: String,
    /// submission_code of electronic filings.
    pub submission_code: String,
    /// personal_account_type of our wallets.
    pub wallet_account_type: String,
    /// Role of an account's holder.
    pub signatory_role: String,
    /// Gender when unknown.
    pub gender: String,
    /// tax_reg_number (one character).
    pub tax_reg_number: String,
    /// The FIU's "unknown" code.
    pub unknown: String,
    /// Whether our own customers go in the client forms (`t_from_my_client`, ...). An FIU
    /// whose client forms require data custos does not hold (phones, e-mail, employer)
    /// gets every party in the non-client form instead.
    #[serde(default = "yes")]
    pub client_forms: bool,
    /// address_type of the reporting entity's business address.
    pub address_type: String,
    /// Account status codes by custos status.
    #[serde(default)]
    pub account_status: BTreeMap<String, String>,
    /// transmode_code by transaction type.
    #[serde(default)]
    pub transmode: BTreeMap<String, String>,
    /// from_funds_code by transaction type.
    #[serde(default)]
    pub funds_from: BTreeMap<String, String>,
    /// to_funds_code by transaction type.
    #[serde(default)]
    pub funds_to: BTreeMap<String, String>,
    /// Identification type codes by custos id type.
    #[serde(default)]
    pub id_types: BTreeMap<String, String>,
    /// report_indicators by rule id.
    #[serde(default)]
    pub indicators: BTreeMap<String, Vec<String>>,
    /// Indicators when no rule maps.
    pub default_indicators: Vec<String>,
    /// Indicators of large-value reports.
    pub large_value_indicators: Vec<String>,
}

fn yes() -> bool {
    true
}

impl FiuProfile {
    /// Reads `reports/goaml/fiu/<name>.toml`; `name` is a plain file stem.
    pub fn load(reports: &Path, name: &str) -> Result<FiuProfile> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(Error::Config(format!("FIU profile {name:?} is not a plain name")));
        }
        let path = reports.join("goaml").join("fiu").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    fn code<'a>(&'a self, map: &'a BTreeMap<String, String>, key: &str) -> &'a str {
        map.get(key).map_or(self.unknown.as_str(), String::as_str)
    }
}

/// The reporting entity and its money-laundering reporting officer, from configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Legal name.
    pub name: String,
    /// Institution code (also goAML institution_code of our own accounts).
    pub code: String,
    /// goAML rentity_id assigned by the FIU.
    #[serde(default)]
    pub rentity_id: Option<u32>,
    /// Branch or office that files.
    #[serde(default)]
    pub branch: String,
    /// Office address.
    pub address: String,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Reporting officer.
    pub officer: Officer,
}

/// The person who signs filings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Officer {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role, e.g. MLRO.
    #[serde(default)]
    pub occupation: String,
    /// E-mail.
    #[serde(default)]
    pub email: String,
}

/// A person as the templates print it.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    first_name: String,
    last_name: String,
    alias: Option<String>,
    gender: String,
    birthdate: Option<String>,
    id_number: String,
    passport_number: Option<String>,
    nationality: Option<String>,
    residence: Option<String>,
    id_type: Option<String>,
    id_issue_date: Option<String>,
    id_expiry: Option<String>,
    tax_reg_number: String,
    /// All that a client (my_client) person needs is present.
    complete: bool,
}

/// An account as the templates print it.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    institution_name: String,
    institution_code: String,
    branch: String,
    account: String,
    currency: String,
    account_name: String,
    client_number: Option<String>,
    account_type: String,
    opened: Option<String>,
    status_code: String,
    signatory: Option<Person>,
    signatory_role: String,
    entity_name: Option<String>,
    entity_country: Option<String>,
}

/// One side of a transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Party {
    my_client: bool,
    /// "account", "person" or "entity".
    form: String,
    funds_code: String,
    country: String,
    account: Option<Account>,
    person: Option<Person>,
    entity_name: Option<String>,
    foreign: Option<Foreign>,
}

/// A foreign-currency amount beside the local one.
#[derive(Debug, Clone, Serialize)]
pub struct Foreign {
    code: String,
    amount: String,
    rate: String,
}

/// One transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Transaction {
    number: String,
    location: String,
    description: String,
    date: String,
    transmode_code: String,
    transmode_comment: String,
    amount_local: String,
    from: Party,
    to: Party,
}

/// One goAML report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// entity_reference.
    pub reference: String,
    report_code: String,
    submission_code: String,
    fiu_ref_number: Option<String>,
    submission_date: String,
    currency_local: String,
    address_type: String,
    rentity_id: u32,
    rentity_branch: String,
    entity: Entity,
    reason: String,
    action: String,
    transactions: Vec<Transaction>,
    indicators: Vec<String>,
}

/// What every report of a filing shares.
pub struct Header<'a> {
    /// The FIU's codes.
    pub fiu: &'a FiuProfile,
    /// Reporting entity.
    pub entity: &'a Entity,
    /// Filing date.
    pub as_of: chrono::NaiveDate,
    /// Reporting currency.
    pub currency_local: &'a str,
    /// Minor units of the reporting currency.
    pub minor_units: usize,
    /// The reference a correction cites.
    pub corrects: Option<&'a str>,
}

impl Header<'_> {
    fn report(&self, reference: String, report_code: &str, reason: String, action: String) -> Result<Report> {
        let rentity_id = self.entity.rentity_id.ok_or_else(|| {
            Error::Config("goAML reports need [filing.entity] rentity_id (assigned by the FIU)".into())
        })?;
        let reason_text = match self.corrects {
            Some(orig) => format!("Correction of report {orig}. {reason}"),
            None => reason,
        };
        Ok(Report {
            reference,
            report_code: report_code.to_string(),
            submission_code: self.fiu.submission_code.clone(),
            fiu_ref_number: self.corrects.map(str::to_string),
            submission_date: format!("{}T00:00:00", self.as_of.format("%Y-%m-%d")),
            currency_local: self.currency_local.to_string(),
            address_type: self.fiu.address_type.clone(),
            rentity_id,
            rentity_branch: self.entity.branch.clone(),
            entity: self.entity.clone(),
            reason: clean(&reason_text, 8000).text,
            action: clean(&action, 8000).text,
            transactions: Vec::new(),
            indicators: Vec::new(),
        })
    }
}

/// Builds goAML reports and collects what an officer must look at before filing.
pub struct Builder<'a> {
    header: Header<'a>,
    /// Review notes: names that had to be cleaned or could not be sent as they are.
    pub warnings: Vec<String>,
}

const SURNAME_FIRST: &[&str] = &["CN", "HK", "MO", "TW", "SG", "KR", "JP", "VN", "KP"];

impl<'a> Builder<'a> {
    /// A builder for one filing.
    pub fn new(header: Header<'a>) -> Builder<'a> {
        Builder {
            header,
            warnings: Vec::new(),
        }
    }

    /// One report per escalated case, from the rows of `sql/str_cases.sql`.
    pub fn suspicious(
        &mut self,
        rows: &[Row],
        filing_id: &str,
        titles: &BTreeMap<String, String>,
    ) -> Result<Vec<Report>> {
        let mut by_case: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in rows {
            by_case.entry(text(r, "case_id")).or_default().push(r);
        }
        let mut out = Vec::new();
        for (case_id, rows) in by_case {
            let first = rows[0];
            // Rules that fired, each once, with their figures: the reason an officer reads.
            let mut alerts: BTreeMap<&str, &Row> = BTreeMap::new();
            for r in &rows {
                alerts.entry(text(r, "alert_id")).or_insert(r);
            }
            let mut rule_lines = Vec::new();
            let mut indicators: Vec<String> = Vec::new();
            for a in alerts.values() {
                let rule = text(a, "rule_id");
                let title = titles.get(rule).map_or(rule, String::as_str);
                rule_lines.push(format!(
                    "{title} ({rule}, {} to {}): {}",
                    text(a, "window_start"),
                    text(a, "window_end"),
                    figures_text(text(a, "figures"))
                ));
                for code in self.header.fiu.indicators.get(rule).into_iter().flatten() {
                    if !indicators.contains(code) {
                        indicators.push(code.clone());
                    }
                }
            }
            if indicators.is_empty() {
                indicators = self.header.fiu.default_indicators.clone();
            }
            let reason = format!(
                "custos case {case_id} on {} {}: {} alert(s). {}. Officer's decision ({}): {}",
                text(first, "subject_type"),
                text(first, "subject_id"),
                alerts.len(),
                rule_lines.join("; "),
                text(first, "decided_by"),
                text(first, "decision_reason"),
            );
            let reference = format!("{filing_id}-{case_id}");
            let mut report = self.header.report(
                reference.clone(),
                &self.header.fiu.str_report_code,
                reason,
                "Escalated by the compliance officer after review of the alerts above; the subject's activity remains under monitoring.".into(),
            )?;
            let mut seen = std::collections::BTreeSet::new();
            for r in &rows {
                if seen.insert(text(r, "txn_id")) {
                    report.transactions.push(self.transaction(r, &reference));
                }
            }
            report.indicators = indicators;
            out.push(report);
        }
        Ok(out)
    }

    /// One large-value report with every transaction of the period's large-value alerts.
    pub fn large_value(&mut self, rows: &[Row], filing_id: &str, period: &str) -> Result<Report> {
        let code = self.header.fiu.large_value_report_code.clone();
        if code.is_empty() {
            return Err(Error::Config(format!(
                "the FIU profile {:?} defines no large-value report code; this FIU takes no goAML large-value reports",
                self.header.fiu.fiu
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        let customers: std::collections::BTreeSet<&str> = rows.iter().map(|r| text(r, "subject_id")).collect();
        let mut report = self.header.report(
            filing_id.to_string(),
            &code,
            format!(
                "Large-value transactions of {period}: {} customer-day(s) at or above the reporting thresholds, {} customer(s).",
                rows.iter()
                    .map(|r| text(r, "alert_id"))
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                customers.len()
            ),
            "Reported as required; no suspicion is implied.".into(),
        )?;
        for r in rows {
            if seen.insert(text(r, "txn_id")) {
                report.transactions.push(self.transaction(r, filing_id));
            }
        }
        report.indicators = self.header.fiu.large_value_indicators.clone();
        Ok(report)
    }

    fn transaction(&mut self, r: &Row, reference: &str) -> Transaction {
        let fiu = self.header.fiu;
        let txn_type = text(r, "txn_type");
        let transmode = fiu.code(&fiu.transmode, txn_type).to_string();
        let currency = text(r, "currency");
        let foreign = currency != self.header.currency_local;
        let cash_in = txn_type == "CASH_IN";
        let cash_out = txn_type == "CASH_OUT";
        let mut from = self.party(r, "payer", fiu.code(&fiu.funds_from, txn_type), reference);
        let mut to = self.party(r, "payee", fiu.code(&fiu.funds_to, txn_type), reference);
        // Cash crosses the counter of an agent, the institution's own account: the other side
        // of a cash transaction is the customer as a person, not the agent's account.
        if cash_in && let Some(p) = to.account.as_ref().and_then(|a| a.signatory.clone()) {
            from = Party {
                my_client: to.my_client && p.complete && self.header.fiu.client_forms,
                form: "person".into(),
                funds_code: from.funds_code,
                country: text(r, "payer_country").to_string(),
                account: None,
                person: Some(p),
                entity_name: None,
                foreign: None,
            };
        }
        if cash_out && let Some(p) = from.account.as_ref().and_then(|a| a.signatory.clone()) {
            to = Party {
                my_client: from.my_client && p.complete && self.header.fiu.client_forms,
                form: "person".into(),
                funds_code: to.funds_code,
                country: text(r, "payee_country").to_string(),
                account: None,
                person: Some(p),
                entity_name: None,
                foreign: None,
            };
        }
        let minor = self.header.minor_units;
        from.foreign = foreign.then(|| Foreign {
            code: currency.to_string(),
            amount: round_decimal(
                text(r, "amount"),
                custos_model::currency_minor_units(currency).unwrap_or(2) as usize,
            ),
            rate: text(r, "reporting_rate").to_string(),
        });
        Transaction {
            number: text(r, "txn_id").to_string(),
            location: format!("{} channel", text(r, "channel")),
            description: format!(
                "{txn_type} of {currency} {} from {} to {}",
                crate::thousands(&round_decimal(
                    text(r, "amount"),
                    custos_model::currency_minor_units(currency).unwrap_or(2) as usize
                )),
                text(r, "payer_account"),
                text(r, "payee_account")
            ),
            date: text(r, "ts").to_string(),
            transmode_comment: transmode.chars().next().map(String::from).unwrap_or_else(|| "-".into()),
            transmode_code: transmode,
            amount_local: round_decimal(text(r, "amount_reporting"), minor),
            from,
            to,
        }
    }

    fn party(&mut self, r: &Row, side: &str, funds: &str, reference: &str) -> Party {
        let f = |c: &str| text(r, &format!("{side}_{c}")).to_string();
        let fiu = self.header.fiu;
        let country = text(r, &format!("{side}_country")).to_string();
        let account_id = text(r, &format!("{side}_account")).to_string();
        let class = f("class");
        let customer_type = f("customer_type");
        let ours = !class.is_empty();
        // Every account on file is ours (customers, merchants, agents, internal); only a
        // counterparty custos has no record of is held elsewhere.
        let institution = if ours {
            (self.header.entity.name.clone(), self.header.entity.code.clone())
        } else {
            ("(institution not on file)".to_string(), fiu.unknown.clone())
        };
        let display = if !f("merchant").is_empty() {
            f("merchant")
        } else {
            f("name")
        };
        let account_name = self.pattern_name(&display, &account_id, reference, "account name");
        let person = (customer_type == "INDIVIDUAL").then(|| self.person(r, side, reference));
        let entity =
            (customer_type == "BUSINESS").then(|| self.pattern_name(&display, &account_id, reference, "entity name"));
        // A client account in goAML needs a holder with full identification; a business
        // account's holder is its beneficial owner, whom the transaction rows do not carry,
        // so business accounts and anything incomplete go in the non-client form.
        let my_client =
            fiu.client_forms && ours && person.as_ref().is_some_and(|p| p.complete) && !f("opened_at").is_empty();
        if fiu.client_forms && ours && !my_client && class != "AGENT" && class != "INTERNAL" {
            self.warnings.push(format!(
                "{reference}: account {account_id} is ours but its holder lacks what goAML requires of a client (full identification or a natural-person holder); reported in the non-client form"
            ));
        }
        Party {
            my_client,
            form: "account".into(),
            funds_code: funds.to_string(),
            country,
            account: Some(Account {
                institution_name: institution.0,
                institution_code: institution.1,
                branch: if self.header.entity.branch.is_empty() {
                    "-".into()
                } else {
                    self.header.entity.branch.clone()
                },
                account: account_id,
                currency: {
                    let c = f("account_currency");
                    if c.is_empty() {
                        text(r, "currency").to_string()
                    } else {
                        c
                    }
                },
                account_name,
                client_number: Some(f("customer_id")).filter(|c| !c.is_empty()),
                account_type: fiu.wallet_account_type.clone(),
                opened: Some(f("opened_at")).filter(|o| !o.is_empty()),
                status_code: fiu.code(&fiu.account_status, &f("account_status")).to_string(),
                signatory: person,
                signatory_role: fiu.signatory_role.clone(),
                entity_name: entity,
                entity_country: Some(country_or(&f("residence"), text(r, &format!("{side}_country")))),
            }),
            person: None,
            entity_name: None,
            foreign: None,
        }
    }

    fn person(&mut self, r: &Row, side: &str, reference: &str) -> Person {
        let f = |c: &str| text(r, &format!("{side}_{c}")).to_string();
        let fiu = self.header.fiu;
        let full = clean(&f("name"), 200);
        for flag in &full.flags {
            self.warnings
                .push(format!("{reference}: name of {}: {flag}", f("customer_id")));
        }
        let nationality = f("nationality");
        let (first, last, alias) = if is_latin(&full.text) {
            let parts: Vec<&str> = full.text.split(' ').filter(|p| !p.is_empty()).collect();
            let (first, last) = match parts.len() {
                0 => (String::new(), String::new()),
                1 => (parts[0].to_string(), parts[0].to_string()),
                _ if SURNAME_FIRST.contains(&nationality.as_str()) => (parts[1..].join(" "), parts[0].to_string()),
                n => (parts[..n - 1].join(" "), parts[n - 1].to_string()),
            };
            (
                self.pattern_part(&first, reference, &f("customer_id")),
                self.pattern_part(&last, reference, &f("customer_id")),
                None,
            )
        } else {
            self.warnings.push(format!(
                "{reference}: name of {} is not in Latin script; goAML name fields accept only [a-zA-Z0-9 .'-], so it is sent in alias and the name fields carry the customer id: transliterate before filing",
                f("customer_id")
            ));
            (
                "UNKNOWN".to_string(),
                f("customer_id"),
                Some(full.text.chars().take(100).collect()),
            )
        };
        let id_type = f("id_type");
        let id_number = f("id_number");
        let dob = f("dob");
        let expiry = f("id_expiry");
        let verified = f("verified_at");
        let complete = !dob.is_empty()
            && !id_number.is_empty()
            && !nationality.is_empty()
            && !f("residence").is_empty()
            && !expiry.is_empty()
            && !verified.is_empty()
            && !first.is_empty()
            && !last.is_empty();
        Person {
            first_name: first,
            last_name: last,
            alias,
            gender: fiu.gender.clone(),
            birthdate: Some(dob).filter(|d| !d.is_empty()).map(|d| format!("{d}T00:00:00")),
            passport_number: (id_type == "PASSPORT").then(|| id_number.clone()),
            id_number,
            nationality: Some(nationality).filter(|n| !n.is_empty()),
            residence: Some(f("residence")).filter(|n| !n.is_empty()),
            id_type: Some(fiu.code(&fiu.id_types, &id_type).to_string()),
            // custos holds no issue date of an identity document; goAML requires one. The
            // date custos's KYC verified the document is sent instead (see reports/README.md).
            id_issue_date: Some(verified)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{}T00:00:00", &v[..10.min(v.len())])),
            id_expiry: Some(expiry).filter(|e| !e.is_empty()).map(|e| format!("{e}T00:00:00")),
            tax_reg_number: fiu.tax_reg_number.clone(),
            complete,
        }
    }

    /// A value for a field under goAML's name pattern `[a-zA-Z0-9 .'-]`: other characters
    /// are dropped and the change flagged; a name with nothing left becomes the id.
    fn pattern_name(&mut self, value: &str, id: &str, reference: &str, what: &str) -> String {
        let kept = name_pattern(&clean(value, 255).text, 255);
        let kept = kept.split_whitespace().collect::<Vec<_>>().join(" ");
        if kept != value {
            self.warnings.push(format!(
                "{reference}: {what} {value:?} of {id} holds characters goAML does not accept there; sent as {kept:?}"
            ));
        }
        if kept.is_empty() { id.to_string() } else { kept }
    }

    fn pattern_part(&mut self, value: &str, reference: &str, id: &str) -> String {
        let kept = name_pattern(value, 100);
        if kept != value {
            self.warnings.push(format!(
                "{reference}: name part {value:?} of {id} has characters goAML does not accept; sent as {kept:?}"
            ));
        }
        kept
    }
}

/// The characters of `value` that goAML's name pattern `[a-zA-Z0-9 .'-]` accepts, at most
/// `max` of them.
fn name_pattern(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || matches!(ch, ' ' | '.' | '\'' | '-'))
        .take(max)
        .collect()
}

fn country_or(a: &str, b: &str) -> String {
    if a.is_empty() { b.to_string() } else { a.to_string() }
}

/// `{"rmb_total":"60000.0000","txns":"3"}` as `rmb_total 60000.0000, txns 3`.
fn figures_text(json: &str) -> String {
    match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json) {
        Ok(m) => m
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => json.to_string(),
    }
}
