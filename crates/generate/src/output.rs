//! Writing the generated world: the transaction log (CSV or NDJSON, formatted by hand
//! because it is the hot path), the reference tables in the canonical CSV layouts, the
//! labels and a manifest.

use std::io::Write;
use std::path::Path;

use custos_model::{AUTH_METHODS, CHANNELS, TXN_STATUSES, TXN_TYPES, Table};

use crate::calendar::{Day, date_string, timestamp_string};
use crate::traffic::Event;
use crate::typology::{Label, Plan, Subject};
use crate::world::{CURRENCIES, World, minor_units};
use crate::{Error, Result};

/// Output format of the transaction log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header.
    Csv,
    /// One JSON object per line; absent optional fields are omitted.
    Ndjson,
}

impl Format {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// Fixed-width identifiers: `C000123`, `A000123`, `M00042`, `D000123`, `T0000000001`.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    customer: usize,
    account: usize,
    merchant: usize,
}

fn digits(n: usize) -> usize {
    n.max(1).to_string().len().max(6)
}

impl Ids {
    pub fn for_world(w: &World) -> Ids {
        Ids {
            customer: digits(w.customers.len()),
            account: digits(w.accounts.len()),
            merchant: digits(w.merchants.len()).min(8),
        }
    }

    pub fn customer(&self, i: u32) -> String {
        format!("C{:0w$}", i, w = self.customer)
    }

    pub fn account(&self, i: u32) -> String {
        format!("A{:0w$}", i, w = self.account)
    }

    pub fn merchant(&self, i: u32) -> String {
        format!("M{:0w$}", i, w = self.merchant)
    }

    pub fn txn(seq: u64) -> String {
        format!("T{seq:010}")
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A CSV field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(path: &Path, table: Table, rows: impl Iterator<Item = Vec<String>>) -> Result<u64> {
    let mut out = String::new();
    let header: Vec<&str> = table.input_columns().map(|c| c.name).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    let mut n = 0;
    for row in rows {
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
        n += 1;
    }
    std::fs::write(path, out).map_err(io(path))?;
    Ok(n)
}

fn opt_ts(t: Option<i64>) -> String {
    t.map(timestamp_string).unwrap_or_default()
}

fn opt_day(d: Option<Day>) -> String {
    d.map(date_string).unwrap_or_default()
}

/// Major-unit decimal string of an amount in minor units.
pub fn decimal(minor: i64, units: u32) -> String {
    let mut buf = Vec::new();
    push_amount(&mut buf, minor, units);
    String::from_utf8_lossy(&buf).into_owned()
}

const COUNTRY_RISK_CSV: &str = include_str!("../../../data/examples/country_risk.csv");
const SANCTIONS_CSV: &str = include_str!("../../../data/examples/sanctions.csv");

/// Writes every reference table; returns (file name, rows) pairs.
pub fn write_reference(w: &World, dir: &Path) -> Result<Vec<(String, u64)>> {
    let ids = Ids::for_world(w);
    let mut files = Vec::new();
    let customers = w.customers.iter().enumerate().map(|(i, c)| {
        vec![
            ids.customer(i as u32),
            (if c.business { "BUSINESS" } else { "INDIVIDUAL" }).into(),
            c.name.clone(),
            opt_day(c.dob),
            c.nationality.into(),
            c.residence.into(),
            c.id_type.into(),
            c.id_number.clone(),
            opt_day(c.id_expiry),
            c.kyc.into(),
            opt_ts(c.verified_at),
            c.risk.into(),
            c.pep.to_string(),
            opt_ts(c.edd_at),
            opt_ts(c.last_review),
            c.owner.map(|o| ids.customer(o)).unwrap_or_default(),
            timestamp_string(c.onboarded),
        ]
    });
    files.push((
        "customers.csv".to_string(),
        write_csv(&dir.join("customers.csv"), Table::Customers, customers)?,
    ));
    let accounts = w.accounts.iter().enumerate().map(|(i, a)| {
        vec![
            ids.account(i as u32),
            ids.customer(a.customer),
            a.class.into(),
            timestamp_string(a.opened),
            String::new(),
            "ACTIVE".into(),
            a.home.into(),
            a.currency.into(),
            a.foreign_card.to_string(),
        ]
    });
    files.push((
        "accounts.csv".to_string(),
        write_csv(&dir.join("accounts.csv"), Table::Accounts, accounts)?,
    ));
    let merchants = w.merchants.iter().enumerate().map(|(i, m)| {
        vec![
            ids.merchant(i as u32),
            ids.account(m.account),
            m.name.clone(),
            m.mcc.to_string(),
            m.country.into(),
        ]
    });
    files.push((
        "merchants.csv".to_string(),
        write_csv(&dir.join("merchants.csv"), Table::Merchants, merchants)?,
    ));
    let licences = w.licences.iter().map(|l| {
        vec![
            l.id.into(),
            l.jurisdiction.into(),
            l.kind.into(),
            l.from.into(),
            l.to.into(),
            l.currencies.join("|"),
            l.cap.map(|c| c.0.to_string()).unwrap_or_default(),
            l.cap.map(|c| c.1.to_string()).unwrap_or_default(),
            date_string(l.valid_from),
            opt_day(l.valid_to),
            l.status.into(),
        ]
    });
    files.push((
        "licences.csv".to_string(),
        write_csv(&dir.join("licences.csv"), Table::Licences, licences)?,
    ));
    let rates = (0..w.days).flat_map(|d| {
        let day = w.start + d as Day;
        (1..CURRENCIES.len()).map(move |c| {
            let mut rate = Vec::new();
            push_rate(&mut rate, w.rate(c as u8, day));
            vec![
                date_string(day),
                CURRENCIES[c].0.into(),
                String::from_utf8_lossy(&rate).into_owned(),
            ]
        })
    });
    files.push((
        "fx_rates.csv".to_string(),
        write_csv(&dir.join("fx_rates.csv"), Table::FxRates, rates)?,
    ));
    for (name, text) in [("country_risk.csv", COUNTRY_RISK_CSV), ("sanctions.csv", SANCTIONS_CSV)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        files.push((name.to_string(), text.lines().count().saturating_sub(1) as u64));
    }
    Ok(files)
}

/// A short byte string (at most 16 bytes) copied with one fixed-size move: the log writer
/// copies a few dozen of these per line, and a variable-length copy is a function call.
#[derive(Debug, Clone, Copy)]
struct Token {
    bytes: [u8; 16],
    len: u8,
}

impl Token {
    fn new(s: &[u8]) -> Token {
        let mut bytes = [0u8; 16];
        let len = s.len().min(16);
        bytes[..len].copy_from_slice(&s[..len]);
        Token { bytes, len: len as u8 }
    }

    #[inline]
    fn push(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.bytes);
        b.truncate(b.len() - 16 + self.len as usize);
    }
}

fn tokens(values: &[&str]) -> Vec<Token> {
    values.iter().map(|v| Token::new(v.as_bytes())).collect()
}

/// Formats events into log lines, numbering transactions as it goes.
pub struct LogFormatter {
    format: Format,
    /// Digits in account (and device) and merchant ids: ids are computed, not looked up,
    /// because a table of a million ids does not stay in cache and digits are cheap.
    account_width: usize,
    merchant_width: usize,
    /// Bitset: the account's owner lives in mainland China (picks the address ranges).
    mainland: Vec<u64>,
    mccs: Vec<Token>,
    kinds: Vec<Token>,
    channels: Vec<Token>,
    statuses: Vec<Token>,
    auths: Vec<Token>,
    currencies: Vec<Token>,
    minor: Vec<u32>,
    next_seq: u64,
}

/// Public-looking first octets of addresses, mainland and elsewhere.
const CN_OCTETS: &[u8] = &[
    36, 58, 111, 112, 113, 114, 115, 116, 117, 119, 120, 121, 123, 124, 180, 182, 183, 218, 221, 223,
];
const OTHER_OCTETS: &[u8] = &[23, 31, 45, 62, 81, 91, 103, 151, 185, 203];

impl LogFormatter {
    pub fn new(w: &World, format: Format) -> LogFormatter {
        let ids = Ids::for_world(w);
        let mut mainland = vec![0u64; w.accounts.len().div_ceil(64)];
        for (i, a) in w.accounts.iter().enumerate() {
            if a.home == "CN" {
                mainland[i / 64] |= 1 << (i % 64);
            }
        }
        LogFormatter {
            format,
            account_width: ids.account,
            merchant_width: ids.merchant,
            mainland,
            mccs: w
                .merchants
                .iter()
                .map(|m| Token::new(format!("{:04}", m.mcc).as_bytes()))
                .collect(),
            kinds: tokens(TXN_TYPES),
            channels: tokens(CHANNELS),
            statuses: tokens(TXN_STATUSES),
            auths: tokens(AUTH_METHODS),
            currencies: CURRENCIES.iter().map(|c| Token::new(c.0.as_bytes())).collect(),
            minor: (0..CURRENCIES.len() as u8).map(minor_units).collect(),
            next_seq: 1,
        }
    }

    #[inline]
    fn account(&self, b: &mut Vec<u8>, prefix: u8, i: u32) {
        b.push(prefix);
        push_padded(b, u64::from(i), self.account_width);
    }

    #[inline]
    fn merchant(&self, b: &mut Vec<u8>, i: u32) {
        b.push(b'M');
        push_padded(b, u64::from(i), self.merchant_width);
    }

    /// The address a device is seen at: a fixed function of the device, in public-looking
    /// ranges of the owner's side of the border.
    #[inline]
    fn ip(&self, b: &mut Vec<u8>, device: u32) {
        let mut state = u64::from(device) ^ 0x1b1b_1b1b;
        let h = crate::rng::splitmix(&mut state);
        let mainland = self.mainland[device as usize / 64] & (1 << (device % 64)) != 0;
        let firsts = if mainland { CN_OCTETS } else { OTHER_OCTETS };
        push_u64(b, u64::from(firsts[(h % firsts.len() as u64) as usize]));
        b.push(b'.');
        push_u64(b, (h >> 8) & 0xff);
        b.push(b'.');
        push_u64(b, (h >> 16) & 0xff);
        b.push(b'.');
        push_u64(b, 1 + (h >> 24) % 254);
    }

    /// The header line (CSV) or nothing (NDJSON).
    pub fn header(&self) -> Vec<u8> {
        match self.format {
            Format::Csv => {
                let names: Vec<&str> = Table::Transactions.input_columns().map(|c| c.name).collect();
                format!("{}\n", names.join(",")).into_bytes()
            }
            Format::Ndjson => Vec::new(),
        }
    }

    /// Appends events of one day (in time order) to `buf`; calls `seen(event, seq)` for
    /// each event and its sequence number.
    pub fn day(&mut self, day: Day, events: &[Event], buf: &mut Vec<u8>, mut seen: impl FnMut(&Event, u64)) {
        let prefix = Token::new(format!("{}T", date_string(day)).as_bytes());
        buf.reserve(events.len() * 160);
        for e in events {
            let seq = self.next_seq;
            self.next_seq += 1;
            seen(e, seq);
            match self.format {
                Format::Csv => self.csv_line(&prefix, e, seq, buf),
                Format::Ndjson => self.json_line(&prefix, e, seq, buf),
            }
        }
    }

    fn csv_line(&self, prefix: &Token, e: &Event, seq: u64, b: &mut Vec<u8>) {
        b.push(b'T');
        push_padded(b, seq, 10);
        b.push(b',');
        push_ts(b, prefix, e.sec);
        b.push(b',');
        self.kinds[e.kind as usize].push(b);
        b.push(b',');
        self.channels[e.channel as usize].push(b);
        b.push(b',');
        self.account(b, b'A', e.payer);
        b.push(b',');
        self.account(b, b'A', e.payee);
        b.push(b',');
        push_amount(b, e.amount, self.minor[e.ccy as usize]);
        b.push(b',');
        self.currencies[e.ccy as usize].push(b);
        b.push(b',');
        b.extend_from_slice(&e.payer_country);
        b.push(b',');
        b.extend_from_slice(&e.payee_country);
        b.push(b',');
        self.statuses[e.status as usize].push(b);
        b.push(b',');
        if e.merchant != u32::MAX {
            self.merchant(b, e.merchant);
            b.push(b',');
            self.mccs[e.merchant as usize].push(b);
        } else {
            b.push(b',');
        }
        b.push(b',');
        if e.device != u32::MAX {
            self.account(b, b'D', e.device);
            b.push(b',');
            self.ip(b, e.device);
        } else {
            b.push(b',');
        }
        b.push(b',');
        self.auths[e.auth as usize].push(b);
        b.push(b',');
        if e.settle_ccy != u8::MAX {
            push_rate(b, e.fx);
            b.push(b',');
            push_amount(b, e.settle_amount, self.minor[e.settle_ccy as usize]);
            b.push(b',');
            self.currencies[e.settle_ccy as usize].push(b);
        } else {
            b.extend_from_slice(b",,");
        }
        b.push(b'\n');
    }

    fn json_line(&self, prefix: &Token, e: &Event, seq: u64, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"txn_id\":\"T");
        push_padded(b, seq, 10);
        b.extend_from_slice(b"\",\"ts\":\"");
        push_ts(b, prefix, e.sec);
        let key = |b: &mut Vec<u8>, key: &str| {
            b.extend_from_slice(b"\",\"");
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(b"\":\"");
        };
        key(b, "txn_type");
        self.kinds[e.kind as usize].push(b);
        key(b, "channel");
        self.channels[e.channel as usize].push(b);
        key(b, "payer_account");
        self.account(b, b'A', e.payer);
        key(b, "payee_account");
        self.account(b, b'A', e.payee);
        key(b, "amount");
        push_amount(b, e.amount, self.minor[e.ccy as usize]);
        key(b, "currency");
        self.currencies[e.ccy as usize].push(b);
        key(b, "payer_country");
        b.extend_from_slice(&e.payer_country);
        key(b, "payee_country");
        b.extend_from_slice(&e.payee_country);
        key(b, "status");
        self.statuses[e.status as usize].push(b);
        if e.merchant != u32::MAX {
            key(b, "merchant_id");
            self.merchant(b, e.merchant);
            key(b, "mcc");
            self.mccs[e.merchant as usize].push(b);
        }
        if e.device != u32::MAX {
            key(b, "device_id");
            self.account(b, b'D', e.device);
            key(b, "ip");
            self.ip(b, e.device);
        }
        key(b, "auth_method");
        self.auths[e.auth as usize].push(b);
        if e.settle_ccy != u8::MAX {
            key(b, "fx_rate");
            push_rate(b, e.fx);
            key(b, "settlement_amount");
            push_amount(b, e.settle_amount, self.minor[e.settle_ccy as usize]);
            key(b, "settlement_currency");
            self.currencies[e.settle_ccy as usize].push(b);
        }
        b.extend_from_slice(b"\"}\n");
    }
}

/// Decimal digits of `v` (no sign), with one fixed-size copy.
#[inline]
fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut n = 1;
    let mut t = v;
    while t >= 10 {
        t /= 10;
        n += 1;
    }
    let mut tmp = [0u8; 20];
    for i in (0..n).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    b.extend_from_slice(&tmp);
    b.truncate(b.len() - 20 + n);
}

/// `v` in exactly `width` digits (at most 20), zero-padded, with one fixed-size copy.
#[inline]
fn push_padded(b: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let width = width.min(20);
    for i in (0..width).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    b.extend_from_slice(&tmp);
    b.truncate(b.len() - 20 + width);
}

#[inline]
fn push_ts(b: &mut Vec<u8>, prefix: &Token, sec: u32) {
    prefix.push(b);
    let (h, m, s) = (sec / 3600, sec / 60 % 60, sec % 60);
    let digit = |v: u32| b'0' + v as u8;
    b.extend_from_slice(&[
        digit(h / 10),
        digit(h % 10),
        b':',
        digit(m / 10),
        digit(m % 10),
        b':',
        digit(s / 10),
        digit(s % 10),
        b'+',
        b'0',
        b'8',
        b':',
        b'0',
        b'0',
    ]);
}

/// `minor` minor units as a decimal with exactly `units` fraction digits.
#[inline]
fn push_amount(b: &mut Vec<u8>, minor: i64, units: u32) {
    let scale = 10u64.pow(units);
    let v = minor.unsigned_abs();
    if minor < 0 {
        b.push(b'-');
    }
    push_u64(b, v / scale);
    if units > 0 {
        b.push(b'.');
        push_padded(b, v % scale, units as usize);
    }
}

/// A rate scaled by 1e8, without trailing zeros.
fn push_rate(b: &mut Vec<u8>, rate: i64) {
    let v = rate.unsigned_abs();
    push_u64(b, v / 100_000_000);
    let frac = v % 100_000_000;
    if frac > 0 {
        b.push(b'.');
        let start = b.len();
        push_padded(b, frac, 8);
        while b.len() > start && b[b.len() - 1] == b'0' {
            b.pop();
        }
    }
}

/// One label as written to `labels.ndjson`.
#[derive(Debug, serde::Serialize)]
struct LabelLine<'a> {
    pattern_id: String,
    typology: &'a str,
    pack: &'a str,
    variant: &'a str,
    subject_type: &'a str,
    subject_id: String,
    accounts: Vec<String>,
    customers: Vec<String>,
    params: &'a std::collections::BTreeMap<&'static str, String>,
    txn_count: usize,
    txn_ids: Vec<String>,
}

/// Pattern ids are `P` and a five-digit number, in planning order.
pub fn pattern_id(i: usize) -> String {
    format!("P{:05}", i + 1)
}

/// Writes `labels.ndjson`.
pub fn write_labels(w: &World, labels: &[Label], path: &Path) -> Result<()> {
    let ids = Ids::for_world(w);
    let mut out = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let (subject_type, subject_id) = match l.subject {
            Subject::Customer(c) => ("customer", ids.customer(c)),
            Subject::Account(a) => ("account", ids.account(a)),
        };
        let mut customers: Vec<String> = l
            .accounts
            .iter()
            .map(|&a| ids.customer(w.accounts[a as usize].customer))
            .collect();
        customers.dedup();
        let pack = crate::typology::TYPOLOGIES
            .iter()
            .find(|t| t.0 == l.typology)
            .map_or("", |t| t.1);
        let line = LabelLine {
            pattern_id: pattern_id(i),
            typology: l.typology,
            pack,
            variant: &l.variant,
            subject_type,
            subject_id,
            accounts: l.accounts.iter().map(|&a| ids.account(a)).collect(),
            customers,
            params: &l.params,
            txn_count: l.txns.len(),
            txn_ids: l.txns.iter().map(|&s| Ids::txn(s)).collect(),
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| Error::Embedded(e.to_string()))?;
        out.push(b'\n');
    }
    std::fs::write(path, out).map_err(io(path))
}

/// Fills each label's transactions from a plan's watches and event labels.
pub fn record(plan: &Plan, labels: &mut [Vec<u64>], day_index: u32, e: &Event, seq: u64) {
    if e.label != u32::MAX {
        labels[e.label as usize].push(seq);
    }
    for a in [e.payer, e.payee] {
        // The bitset is small enough to stay in cache; the watch list is not.
        if plan
            .watched
            .get(a as usize / 64)
            .is_some_and(|w| w & (1 << (a % 64)) != 0)
            && let Some(Some(w)) = plan.watch.get(a as usize)
            && day_index >= w.from
            && day_index < w.to
            && w.label != e.label
        {
            let list = &mut labels[w.label as usize];
            if list.last() != Some(&seq) {
                list.push(seq);
            }
        }
    }
}

/// Writes a buffer to a writer, naming the path on failure.
pub fn flush(out: &mut impl Write, buf: &mut Vec<u8>, path: &Path) -> Result<()> {
    out.write_all(buf).map_err(io(path))?;
    buf.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_exactly() {
        assert_eq!(decimal(6650, 2), "66.50");
        assert_eq!(decimal(7, 2), "0.07");
        assert_eq!(decimal(1200, 0), "1200");
        let mut b = Vec::new();
        push_rate(&mut b, 718_250_000);
        assert_eq!(b, b"7.1825");
        b.clear();
        push_rate(&mut b, 28_500);
        assert_eq!(b, b"0.000285");
        b.clear();
        push_ts(&mut b, &Token::new(b"2025-01-01T"), 9 * 3600 + 61);
        assert_eq!(b, b"2025-01-01T09:01:01+08:00");
        b.clear();
        push_padded(&mut b, 42, 5);
        assert_eq!(b, b"00042");
        b.clear();
        for v in [0, 9, 10, 12345678901234567890] {
            push_u64(&mut b, v);
            b.push(b' ');
        }
        assert_eq!(b, b"0 9 10 12345678901234567890 ");
    }
}
