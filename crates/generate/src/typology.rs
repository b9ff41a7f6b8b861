//! Injected typologies: each pattern picks its subjects, plants its transactions (or changes
//! a reference record), and writes a label. Injected transactions are built from the same
//! shapes as background traffic (hours, channels, devices, amount rounding), so only the
//! labels file tells them apart.
//!
//! Thresholds are the defaults of `DOMAIN.md`: PBOC large-value reporting (cash RMB 50,000,
//! natural-person domestic transfers RMB 500,000 and cross-border RMB 200,000 a day,
//! non-natural persons RMB 2,000,000), structuring in [90% T, T), fan-in and fan-out of five
//! or more counterparties in 24 h / 8 h, pass-through within 24 h, dormancy of 90 days.

use std::collections::BTreeMap;

use crate::calendar::{DAY_SECS, Day, date_string, instant, year};
use crate::rng::Rng;
use crate::traffic::{Event, Shapes, Traffic, auth, cc, channel, kind, roundish};
use crate::world::{CNY, Customer, NONE, Role, World, ccy, country_currency, review_cycle_days};

/// Every typology the generator can inject: id, rule pack, and what it plants.
pub const TYPOLOGIES: &[(&str, &str, &str)] = &[
    (
        "large_cash",
        "aml",
        "cash deposit or withdrawal of RMB 50,000 or more, single or same-day cumulative",
    ),
    (
        "large_transfer",
        "aml",
        "same-day transfers at PBOC large-value thresholds (person domestic, person cross-border, business)",
    ),
    (
        "structuring",
        "aml",
        "three to five transactions each in [90% T, T) on distinct days within a week",
    ),
    (
        "fan_in",
        "aml",
        "five to twelve distinct senders to one account within 24 hours",
    ),
    (
        "fan_out",
        "aml",
        "one account to five to twelve distinct receivers within 8 hours",
    ),
    (
        "cycle",
        "aml",
        "funds travel around 3 to 5 accounts and return to the first",
    ),
    (
        "scatter_gather",
        "aml",
        "one source splits funds over intermediaries that forward them to one sink",
    ),
    (
        "pass_through",
        "aml",
        "inflow leaves again within 24 hours, whole or less a commission of about 10%",
    ),
    (
        "dormant_reactivation",
        "aml",
        "an account idle for 90 days or more suddenly moves significant sums",
    ),
    (
        "mule",
        "aml",
        "accounts behind one device or identity collect many small transfers, then cash out",
    ),
    (
        "aggregated_cash",
        "aml",
        "cash deposits of RMB 8,000 to 15,000 adding up to RMB 50,000 or more within 30 days, no day at the line",
    ),
    (
        "similar_amounts",
        "aml",
        "five to eight transfers within 20 hours, all within 4% of one amount, to two or three people",
    ),
    (
        "velocity_spike",
        "aml",
        "after a month of ordinary activity, one day's outgoing transfers of RMB 20,000 or more",
    ),
    (
        "new_account_activity",
        "aml",
        "an account opened in the period moves RMB 50,000 or more within its first 30 days",
    ),
    (
        "high_risk_geography",
        "aml",
        "transfers with a counterparty in a FATF-listed jurisdiction",
    ),
    (
        "sanctions_hit",
        "aml",
        "a customer whose name is an OFAC SDN entry or a spelling variant of it",
    ),
    (
        "kyc_unverified",
        "kyc",
        "a customer transacts while unverified or rejected",
    ),
    (
        "kyc_expired_id",
        "kyc",
        "a customer transacts after the identity document expired",
    ),
    (
        "kyc_class_limit",
        "kyc",
        "payments beyond the account class limit (class I since opening, class II per year)",
    ),
    (
        "kyc_business_no_owner",
        "kyc",
        "a business customer without a beneficial owner transacts",
    ),
    (
        "kyc_pep_no_edd",
        "kyc",
        "a politically exposed person transacts without (or before) enhanced due diligence",
    ),
    (
        "kyc_review_overdue",
        "kyc",
        "a customer transacts while the periodic review is overdue for its risk rating",
    ),
    (
        "licence_uncovered_corridor",
        "licensing",
        "a cross-border transaction in a corridor no licence covers",
    ),
    (
        "licence_expired",
        "licensing",
        "a transaction in a corridor whose licence had expired on the day",
    ),
    (
        "licence_suspended",
        "licensing",
        "a transaction in a corridor whose licence is suspended",
    ),
    (
        "licence_currency",
        "licensing",
        "a transaction in a currency the corridor's licence does not permit",
    ),
    (
        "licence_cap",
        "licensing",
        "a transaction above the licence's per-transaction cap",
    ),
    (
        "licence_fx_deviation",
        "licensing",
        "an applied FX rate 3% to 8% away from the reference rate",
    ),
];

/// What a label is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Customer(u32),
    Account(u32),
}

/// Ground truth for one injected pattern.
#[derive(Debug, Clone)]
pub struct Label {
    pub typology: &'static str,
    pub variant: String,
    pub subject: Subject,
    /// Every account the pattern involves as a subject (the subject's first).
    pub accounts: Vec<u32>,
    pub params: BTreeMap<&'static str, String>,
    /// Sequence numbers of the pattern's transactions, filled in as the log is written.
    pub txns: Vec<u64>,
}

/// All of a customer's transactions in a window belong to a label (KYC gaps, sanctions).
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub label: u32,
    pub from: u32,
    pub to: u32,
}

/// The planned injections.
#[derive(Debug, Default)]
pub struct Plan {
    /// Events per day of the period.
    pub events: Vec<Vec<Event>>,
    pub labels: Vec<Label>,
    /// Per account: the label that claims all of its transactions in a window.
    pub watch: Vec<Option<Watch>>,
    /// Bitset of the accounts that have a watch.
    pub watched: Vec<u64>,
    /// Patterns that could not be placed, by typology (too few days or subjects).
    pub skipped: BTreeMap<&'static str, u32>,
}

/// Plans `counts` patterns per typology over the world, changing reference records where a
/// typology lives there (KYC, sanctions) and adding the foreign counterparties it needs.
pub fn plan(w: &mut World, seed: u64, counts: &BTreeMap<&'static str, u32>) -> Plan {
    let shapes = Shapes::new();
    let hk = w
        .residents
        .iter()
        .copied()
        .filter(|&r| w.accounts[r as usize].home == "HK")
        .collect();
    let mut p = Planner {
        hk,
        rng: Rng::stream(seed, "typologies", 0),
        shapes: &shapes,
        plan: Plan {
            events: vec![Vec::new(); w.days as usize],
            ..Plan::default()
        },
        w,
    };
    for (typology, _, _) in TYPOLOGIES {
        let n = counts.get(typology).copied().unwrap_or(0);
        for _ in 0..n {
            let placed = p.place(typology);
            if placed.is_none() {
                *p.plan.skipped.entry(typology).or_default() += 1;
            }
        }
    }
    let mut plan = p.plan;
    plan.watch.resize(w.accounts.len(), None);
    plan.watched = vec![0; w.accounts.len().div_ceil(64)];
    for (a, watch) in plan.watch.iter().enumerate() {
        if watch.is_some() {
            plan.watched[a / 64] |= 1 << (a % 64);
        }
    }
    plan
}

struct Planner<'a> {
    w: &'a mut World,
    /// Residents of Hong Kong: counterparties of CN-HK corridor patterns.
    hk: Vec<u32>,
    rng: Rng,
    shapes: &'a Shapes,
    plan: Plan,
}

const CN: [u8; 2] = cc("CN");

impl Planner<'_> {
    /// A Hong Kong resident, uniformly.
    fn hk_resident(&mut self) -> u32 {
        self.hk[self.rng.index(self.hk.len())]
    }

    fn days(&self) -> u32 {
        self.w.days
    }

    /// A random unused domestic person's account that passes `ok`, marked used.
    fn person(&mut self, ok: impl Fn(&crate::world::Account, &Customer) -> bool) -> Option<u32> {
        for _ in 0..400 {
            let a = self.w.domestic[self.rng.index(self.w.domestic.len())];
            let acc = &self.w.accounts[a as usize];
            if !acc.used && ok(acc, &self.w.customers[acc.customer as usize]) {
                self.w.accounts[a as usize].used = true;
                return Some(a);
            }
        }
        None
    }

    /// A random unused domestic person as a counterparty (not marked).
    fn counterparty(&mut self, not: &[u32]) -> u32 {
        loop {
            let a = self.w.domestic[self.rng.index(self.w.domestic.len())];
            if !self.w.accounts[a as usize].used && !not.contains(&a) {
                return a;
            }
        }
    }

    /// A new customer abroad with one account, for corridors no background customer uses.
    fn foreigner(&mut self, country: &'static str) -> u32 {
        let rng = &mut self.rng;
        let name = format!(
            "{} {}",
            rng.pick(crate::names::WESTERN_GIVEN),
            rng.pick(crate::names::WESTERN_FAMILY)
        );
        let onboarded = instant(self.w.start, 0) - rng.range(60, 900) * DAY_SECS;
        let c = Customer {
            business: false,
            name,
            dob: Some(self.w.start - rng.range(25 * 365, 60 * 365) as Day),
            nationality: country,
            residence: country,
            id_type: "PASSPORT",
            id_number: format!("{country}{:08}", rng.below(100_000_000)),
            id_expiry: Some(self.w.last_day() + rng.range(400, 3000) as Day),
            kyc: "VERIFIED",
            verified_at: Some(onboarded + 3600),
            risk: "LOW",
            pep: false,
            edd_at: None,
            last_review: None,
            owner: None,
            onboarded,
        };
        let c = self.w.push_customer(&mut self.rng, c);
        let a = self.w.push_account(c, "II", Role::Foreign, country);
        self.w.accounts[a as usize].used = true;
        a
    }

    fn label(&mut self, typology: &'static str, variant: &str, subject: Subject, accounts: Vec<u32>) -> u32 {
        self.plan.labels.push(Label {
            typology,
            variant: variant.to_string(),
            subject,
            accounts,
            params: BTreeMap::new(),
            txns: Vec::new(),
        });
        (self.plan.labels.len() - 1) as u32
    }

    fn param(&mut self, label: u32, key: &'static str, value: impl ToString) {
        self.plan.labels[label as usize].params.insert(key, value.to_string());
    }

    fn watch(&mut self, label: u32, account: u32, from: u32, to: u32) {
        let l = &mut self.plan.labels[label as usize];
        l.params.insert("watch_from", date_string(self.w.start + from as Day));
        l.params.insert("watch_to", date_string(self.w.start + to as Day - 1));
        if self.plan.watch.len() <= account as usize {
            self.plan.watch.resize(account as usize + 1, None);
        }
        self.plan.watch[account as usize] = Some(Watch { label, from, to });
    }

    /// Plants an event at day `d`, second `sec` (which may run into the next days).
    fn emit(&mut self, d: u32, sec: u32, mut e: Event, label: u32) -> bool {
        let d = d + sec / 86_400;
        if d >= self.days() {
            return false;
        }
        e.sec = sec % 86_400;
        e.label = label;
        self.w.accounts[e.payer as usize].touched = true;
        self.w.accounts[e.payee as usize].touched = true;
        if e.device == NONE && self.w.accounts[e.payer as usize].role != Role::Agent {
            e.device = self.w.accounts[e.payer as usize].device;
        }
        self.plan.events[d as usize].push(e);
        true
    }

    fn transfer(&mut self, payer: u32, payee: u32, fen: i64) -> Event {
        let mut e = Event::new(0, kind::TRANSFER, channel::APP, payer, payee, fen, CNY, (CN, CN));
        e.auth = self.shapes.auth_for(channel::APP, fen, &mut self.rng);
        e
    }

    fn cash(&mut self, person: u32, fen: i64, deposit: bool) -> Event {
        let agent = self.w.agents[self.rng.index(self.w.agents.len())];
        let (payer, payee, k) = if deposit {
            (agent, person, kind::CASH_IN)
        } else {
            (person, agent, kind::CASH_OUT)
        };
        let mut e = Event::new(0, k, channel::AGENT, payer, payee, fen, CNY, (CN, CN));
        e.auth = auth::PIN;
        e.device = self.w.accounts[person as usize].device;
        e
    }

    /// A cross-border transfer from a mainland person, in `currency`, settled in the payee's
    /// home currency at `fx_skew` per ten thousand away from the reference rate.
    fn cross_border(&mut self, payer: u32, payee: u32, amount: i64, currency: u8, day: Day, fx_skew: i64) -> Event {
        let home = self.w.accounts[payee as usize].home;
        let settle = ccy(country_currency(home));
        let mut e = Event::new(
            0,
            kind::TRANSFER,
            channel::APP,
            payer,
            payee,
            amount,
            currency,
            (CN, cc(home)),
        );
        if settle != currency {
            let reference = Traffic::cross_rate(self.w, currency, settle, day);
            let fx = reference + (i128::from(reference) * i128::from(fx_skew) / 10_000) as i64;
            e.settle_ccy = settle;
            e.fx = fx;
            e.settle_amount = Traffic::settle(amount, currency, settle, fx);
        }
        e.auth = self.shapes.auth_for(channel::APP, amount, &mut self.rng);
        e
    }

    /// Up to `n` distinct days in `[lo, hi)`, ascending.
    fn distinct_days(&mut self, n: usize, lo: u32, hi: u32) -> Vec<u32> {
        let mut all: Vec<u32> = (lo..hi.max(lo + 1)).collect();
        let n = n.min(all.len());
        for i in 0..n {
            let j = i + self.rng.index(all.len() - i);
            all.swap(i, j);
        }
        let mut chosen = all[..n].to_vec();
        chosen.sort_unstable();
        chosen
    }

    fn day_in(&mut self, lo: u32, hi: u32) -> u32 {
        self.rng.range(i64::from(lo), i64::from(hi.max(lo + 1))) as u32
    }

    fn place(&mut self, typology: &'static str) -> Option<()> {
        let days = self.days();
        match typology {
            "large_cash" => {
                let a = self.person(|_, _| true)?;
                let d = self.day_in(0, days);
                let cumulative = self.rng.chance(500);
                let l = self.label(
                    typology,
                    if cumulative { "cumulative" } else { "single" },
                    self.customer_of(a),
                    vec![a],
                );
                self.param(l, "threshold", "50000.00 CNY");
                let deposit = self.rng.chance(500);
                let amounts = if cumulative {
                    let first = self.rng.range(25_000, 45_000) * 100;
                    vec![first, self.rng.range(50_000 - first / 100, 48_000).max(10_000) * 100]
                } else {
                    vec![self.rng.range(500, 1_500) * 10_000]
                };
                let mut sec = self.shapes.business_second(&mut self.rng).min(50_000);
                for fen in amounts {
                    let e = self.cash(a, fen, deposit);
                    self.emit(d, sec, e, l);
                    sec += self.rng.range(600, 7200) as u32;
                }
            }
            "large_transfer" => {
                let variant = *self.rng.pick(&["person_domestic", "person_cross_border", "business"]);
                let d = self.day_in(0, days);
                let mut sec = self.shapes.business_second(&mut self.rng).min(60_000);
                let (payer, payees, amounts, threshold): (u32, Vec<u32>, Vec<i64>, &str) = match variant {
                    "person_domestic" => {
                        let a = self.person(|acc, _| acc.class == "III")?;
                        let b = self.counterparty(&[a]);
                        let total = self.rng.range(500, 900) * 100_000;
                        (a, vec![b], split(total, &mut self.rng), "500000.00 CNY")
                    }
                    "person_cross_border" => {
                        let a = self.person(|acc, _| acc.class == "III")?;
                        let b = self.hk_resident();
                        let total = self.rng.range(200, 300) * 100_000;
                        (a, vec![b], split(total, &mut self.rng), "200000.00 CNY")
                    }
                    _ => {
                        let traders: Vec<u32> = self
                            .w
                            .traders
                            .iter()
                            .copied()
                            .filter(|&t| !self.w.accounts[t as usize].used)
                            .collect();
                        if traders.len() < 2 {
                            return None;
                        }
                        let a = traders[0];
                        self.w.accounts[a as usize].used = true;
                        let total = self.rng.range(200, 400) * 1_000_000;
                        (a, vec![traders[1]], split(total, &mut self.rng), "2000000.00 CNY")
                    }
                };
                let l = self.label(typology, variant, self.customer_of(payer), vec![payer]);
                self.param(l, "threshold", threshold);
                let day = self.w.start + d as Day;
                for fen in amounts {
                    let e = if variant == "person_cross_border" {
                        self.cross_border(payer, payees[0], fen, CNY, day, 0)
                    } else {
                        let mut e = self.transfer(payer, payees[0], fen);
                        if variant == "business" {
                            e.channel = channel::WEB;
                            e.auth = auth::PASSWORD;
                        }
                        e
                    };
                    self.emit(d, sec, e, l);
                    sec += self.rng.range(600, 5400) as u32;
                }
            }
            "structuring" => {
                let cross = self.rng.chance(300);
                // One a day on consecutive days, in office hours: any three of them fall
                // within 72 hours, and no day's total reaches the threshold itself.
                let k = self.rng.range(3, 5) as u32;
                let span = k;
                if days < span {
                    return None;
                }
                let a = self.person(|acc, _| acc.class != "I")?;
                let start = self.day_in(0, days - span + 1);
                let (threshold, variant) = if cross {
                    (200_000, "cross_border_transfer")
                } else {
                    (50_000, "cash")
                };
                let l = self.label(typology, variant, self.customer_of(a), vec![a]);
                self.param(l, "threshold", format!("{threshold}.00 CNY"));
                let chosen: Vec<u32> = (0..k).collect();
                let payee = self.hk_resident();
                for off in chosen {
                    // Just under the threshold: [90% T, T), in round hundreds as people do.
                    let yuan = self.rng.range(threshold * 9 / 10 / 100, threshold / 100) * 100;
                    let fen = yuan.max(threshold * 9 / 10) * 100;
                    let d = start + off;
                    let e = if cross {
                        self.cross_border(a, payee, fen, CNY, self.w.start + d as Day, 0)
                    } else {
                        self.cash(a, fen, true)
                    };
                    let sec = self.shapes.business_second(&mut self.rng);
                    self.emit(d, sec, e, l);
                }
            }
            "fan_in" | "fan_out" => {
                let a = self.person(|acc, _| acc.class != "I")?;
                let n = self.rng.range(5, 13) as usize;
                let window = if typology == "fan_in" { 20 * 3600 } else { 7 * 3600 };
                let d = self.day_in(0, days.saturating_sub(1));
                let l = self.label(typology, "", self.customer_of(a), vec![a]);
                self.param(l, "counterparties", n);
                let base = self.rng.range(1_000, 9_000) * 100;
                let start_sec = self.shapes.consumer_second(&mut self.rng).min(60_000);
                let mut others = vec![a];
                for _ in 0..n {
                    let b = self.counterparty(&others);
                    others.push(b);
                    let fen = roundish(base + self.rng.range(-base / 10, base / 10), &mut self.rng).max(100);
                    let e = if typology == "fan_in" {
                        self.transfer(b, a, fen)
                    } else {
                        self.transfer(a, b, fen)
                    };
                    let sec = start_sec + self.rng.range(0, window) as u32;
                    self.emit(d, sec, e, l);
                }
            }
            "cycle" => {
                let k = self.rng.range(3, 6) as usize;
                let mut ring = Vec::new();
                for _ in 0..k {
                    ring.push(self.person(|acc, _| acc.class != "I")?);
                }
                let l = self.label(
                    typology,
                    &format!("{k}_accounts"),
                    Subject::Account(ring[0]),
                    ring.clone(),
                );
                let mut fen = self.rng.range(200, 800) * 10_000;
                let mut d = self.day_in(0, days.saturating_sub(k as u32 * 2).max(1));
                let mut sec = self.shapes.consumer_second(&mut self.rng);
                for i in 0..k {
                    let e = self.transfer(ring[i], ring[(i + 1) % k], fen);
                    if !self.emit(d, sec, e, l) {
                        break;
                    }
                    fen -= fen * self.rng.range(1, 4) / 100;
                    sec += self.rng.range(2 * 3600, 30 * 3600) as u32;
                    d += sec / 86_400;
                    sec %= 86_400;
                }
            }
            "scatter_gather" => {
                let source = self.person(|acc, _| acc.class != "I")?;
                let sink = self.person(|acc, _| acc.class != "I")?;
                let m = self.rng.range(3, 7) as usize;
                let mut mids = Vec::new();
                for _ in 0..m {
                    mids.push(self.person(|_, _| true)?);
                }
                let mut accounts = vec![source, sink];
                accounts.extend(&mids);
                let l = self.label(typology, "", Subject::Account(source), accounts);
                let d = self.day_in(0, days.saturating_sub(2).max(1));
                let sec0 = self.shapes.consumer_second(&mut self.rng).min(60_000);
                for mid in mids {
                    let fen = self.rng.range(50, 300) * 10_000;
                    let sec = sec0 + self.rng.range(0, 3 * 3600) as u32;
                    let e = self.transfer(source, mid, fen);
                    self.emit(d, sec, e, l);
                    let fwd = fen - fen * self.rng.range(1, 5) / 100;
                    let later = sec + self.rng.range(3600, 20 * 3600) as u32;
                    let e = self.transfer(mid, sink, fwd);
                    self.emit(d, later, e, l);
                }
            }
            "pass_through" => {
                let commission = self.rng.chance(500);
                let a = self.person(|acc, _| acc.class != "I")?;
                let l = self.label(
                    typology,
                    if commission { "commission" } else { "whole" },
                    self.customer_of(a),
                    vec![a],
                );
                let repeats = self.rng.range(2, 5) as u32;
                let mut d = self.day_in(0, days.saturating_sub(repeats * 2).max(1));
                for _ in 0..repeats {
                    let from = self.counterparty(&[a]);
                    let to = self.counterparty(&[a, from]);
                    let fen = self.rng.range(100, 450) * 10_000;
                    let sec = self.shapes.consumer_second(&mut self.rng).min(70_000);
                    let e = self.transfer(from, a, fen);
                    self.emit(d, sec, e, l);
                    let out = if commission {
                        fen - fen * self.rng.range(8, 13) / 100
                    } else {
                        fen - fen * self.rng.range(0, 3) / 100
                    };
                    let later = sec + self.rng.range(1800, 20 * 3600) as u32;
                    let e = self.transfer(a, to, out);
                    self.emit(d, later, e, l);
                    d += self.rng.range(1, 3) as u32;
                }
                if commission {
                    self.param(l, "commission", "8% to 12%");
                }
            }
            "dormant_reactivation" => {
                if days < 100 {
                    return None;
                }
                let a = self.person(|acc, _| acc.class != "I" && !acc.touched)?;
                // No background at all: the pattern writes the account's whole history.
                self.w.accounts[a as usize].bg_to = 0;
                let l = self.label(typology, "", self.customer_of(a), vec![a]);
                let early = self.day_in(0, days - 95);
                let friend = self.counterparty(&[a]);
                let fen = roundish(self.shapes.amounts.p2p.sample(&mut self.rng), &mut self.rng);
                let e = self.transfer(a, friend, fen);
                let sec = self.shapes.consumer_second(&mut self.rng);
                self.emit(early, sec, e, NONE);
                // The burst takes up to two days and must fit in the period.
                let wake = self.day_in(early + 91, days - 2);
                self.param(l, "idle_days", wake - early);
                for i in 0..self.rng.range(3, 8) {
                    let other = self.counterparty(&[a]);
                    let fen = self.rng.range(50, 400) * 10_000;
                    let e = if i % 2 == 0 {
                        self.transfer(other, a, fen)
                    } else {
                        self.transfer(a, other, fen)
                    };
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    let d = wake + self.rng.range(0, 2) as u32;
                    self.emit(d, sec, e, l);
                }
            }
            "mule" => {
                let n = self.rng.range(2, 5) as usize;
                let mut ring = Vec::new();
                for _ in 0..n {
                    ring.push(self.person(|acc, _| acc.class == "II")?);
                }
                let shared_id = self.rng.chance(400);
                let l = self.label(
                    typology,
                    if shared_id { "shared_id" } else { "shared_device" },
                    Subject::Account(ring[0]),
                    ring.clone(),
                );
                let device = self.w.accounts[ring[0] as usize].device;
                if shared_id {
                    let id = self.w.customers[self.w.accounts[ring[0] as usize].customer as usize]
                        .id_number
                        .clone();
                    for &m in &ring[1..] {
                        let c = self.w.accounts[m as usize].customer as usize;
                        self.w.customers[c].id_number = id.clone();
                    }
                }
                let d0 = self.day_in(0, days.saturating_sub(4).max(1));
                for &m in &ring {
                    let inbound = self.rng.range(8, 21);
                    let mut total = 0;
                    let mut payers = vec![m];
                    let mut last = 0;
                    for _ in 0..inbound {
                        let p = self.counterparty(&payers);
                        payers.push(p);
                        let fen = self.rng.range(200, 2_000) * 100;
                        total += fen;
                        let sec = self.rng.range(0, 2 * 86_400) as u32;
                        last = last.max(sec);
                        let e = self.transfer(p, m, fen);
                        self.emit(d0, sec, e, l);
                    }
                    let out = (total * self.rng.range(85, 100) / 100) / 10_000 * 10_000;
                    let mut e = self.cash(m, out.max(10_000), false);
                    if !shared_id {
                        e.device = device;
                    }
                    let sec = last + self.rng.range(1800, 12 * 3600) as u32;
                    self.emit(d0, sec, e, l);
                }
            }
            "aggregated_cash" => {
                if days < 12 {
                    return None;
                }
                let a = self.person(|acc, _| acc.class != "I")?;
                let l = self.label(typology, "", self.customer_of(a), vec![a]);
                self.param(l, "threshold", "50000.00 CNY");
                let span = (days - 1).min(25);
                let start = self.day_in(0, days - span);
                let n = self.rng.range(5, 8) as usize;
                let mut total = 0;
                for d in self.distinct_days(n, start, start + span) {
                    let fen = self.rng.range(80, 151) * 10_000;
                    total += fen;
                    let e = self.cash(a, fen, true);
                    let sec = self.shapes.business_second(&mut self.rng);
                    self.emit(d, sec, e, l);
                }
                // Five deposits of at least 8,000 may still fall short of 50,000: top up.
                if total < 5_000_000 {
                    let e = self.cash(a, 5_000_000 - total + 100_000, true);
                    let sec = self.shapes.business_second(&mut self.rng);
                    self.emit(start + span, sec, e, l);
                }
            }
            "similar_amounts" => {
                let a = self.person(|acc, _| acc.class != "I")?;
                let l = self.label(typology, "", Subject::Account(a), vec![a]);
                let receivers: Vec<u32> = (0..self.rng.range(2, 4)).map(|_| self.counterparty(&[a])).collect();
                let base = self.rng.range(80, 500) * 1_000;
                let d = self.day_in(0, days.saturating_sub(1).max(1));
                let sec0 = self.shapes.consumer_second(&mut self.rng).min(40_000);
                for i in 0..self.rng.range(5, 9) as usize {
                    // Within 4% of one amount: any two are within 10% of each other.
                    let fen = base + base * self.rng.range(-4, 5) / 100;
                    let e = self.transfer(a, receivers[i % receivers.len()], fen);
                    let sec = sec0 + self.rng.range(0, 20 * 3600) as u32;
                    self.emit(d, sec, e, l);
                }
            }
            "velocity_spike" => {
                if days < 35 {
                    return None;
                }
                let a = self.person(|acc, _| acc.class != "I" && acc.activity >= 300)?;
                let l = self.label(typology, "", Subject::Account(a), vec![a]);
                let d = self.day_in(31, days);
                let sec0 = self.shapes.consumer_second(&mut self.rng).min(50_000);
                for _ in 0..self.rng.range(2, 4) {
                    let to = self.counterparty(&[a]);
                    let fen = self.rng.range(100, 200) * 10_000;
                    let e = self.transfer(a, to, fen);
                    let sec = sec0 + self.rng.range(0, 8 * 3600) as u32;
                    self.emit(d, sec, e, l);
                }
            }
            "new_account_activity" => {
                if days < 20 {
                    return None;
                }
                let opened = self.day_in(0, days - 15);
                let name = format!(
                    "{} {}",
                    self.rng.pick(crate::names::CN_FAMILY),
                    self.rng.pick(crate::names::CN_GIVEN)
                );
                let template = self.w.customers[self.w.accounts[self.w.domestic[0] as usize].customer as usize].clone();
                let onboarded = instant(self.w.start + opened as Day, 10 * 3600);
                let dob = self.w.start - self.rng.range(20 * 365, 50 * 365) as Day;
                let c = Customer {
                    name,
                    dob: Some(dob),
                    id_number: crate::world::national_id(&mut self.rng, dob),
                    onboarded,
                    verified_at: Some(onboarded + 1800),
                    last_review: None,
                    pep: false,
                    edd_at: None,
                    risk: "LOW",
                    ..template
                };
                let c = self.w.push_customer(&mut self.rng, c);
                let a = self.w.push_account(c, "III", Role::Domestic, "CN");
                self.w.accounts[a as usize].used = true;
                let l = self.label(typology, "", Subject::Account(a), vec![a]);
                // Money in over the first days, out again days later: not a pass-through.
                for k in 0..3u32 {
                    let from = self.counterparty(&[a]);
                    let fen = self.rng.range(150, 250) * 10_000;
                    let e = self.transfer(from, a, fen);
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    self.emit(opened + 1 + k * 2, sec, e, l);
                }
                for k in 0..2u32 {
                    let to = self.counterparty(&[a]);
                    let fen = self.rng.range(150, 200) * 10_000;
                    let e = self.transfer(a, to, fen);
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    self.emit(opened + 9 + k * 3, sec, e, l);
                }
            }
            "high_risk_geography" => {
                let country = *self.rng.pick(&["VN", "KE"]);
                let a = self.person(|acc, _| acc.class != "I")?;
                let other = self.foreigner(country);
                let l = self.label(typology, country, self.customer_of(a), vec![a, other]);
                self.param(l, "country", country);
                let d0 = self.day_in(0, days.saturating_sub(10).max(1));
                let n = self.rng.range(2, 6) as usize;
                for d in self.distinct_days(n, d0, (d0 + 10).min(days)) {
                    let day = self.w.start + d as Day;
                    // Small enough that no day reaches a large-value line (USD 10,000).
                    let fen = self.rng.range(200, 1_000) * 1_000;
                    let e = if self.rng.chance(600) {
                        self.cross_border(a, other, fen, CNY, day, 0)
                    } else {
                        // Inbound, in the foreign currency, settled in CNY.
                        let c = ccy(country_currency(country));
                        let amount = self.w.cny_to(fen, c, day);
                        let fx = Traffic::cross_rate(self.w, c, CNY, day);
                        let mut e = Event::new(0, kind::TRANSFER, channel::APP, other, a, amount, c, (cc(country), CN));
                        e.settle_ccy = CNY;
                        e.fx = fx;
                        e.settle_amount = Traffic::settle(amount, c, CNY, fx);
                        e
                    };
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    self.emit(d, sec, e, l);
                }
            }
            "sanctions_hit" => {
                let entity = self.rng.chance(200);
                let candidates: Vec<usize> = (0..self.w.sdn.len())
                    .filter(|&i| {
                        let e = &self.w.sdn[i];
                        e.individual != entity
                            && e.name.split([' ', ',']).filter(|t| !t.is_empty()).count() >= 2
                            && e.name.is_ascii()
                    })
                    .collect();
                let entry = self.w.sdn[*self.rng.pick(&candidates)].clone();
                let kind = *self.rng.pick(crate::names::VARIANTS);
                let a = if entity {
                    let free: Vec<u32> = self
                        .w
                        .traders
                        .iter()
                        .copied()
                        .filter(|&t| !self.w.accounts[t as usize].used)
                        .collect();
                    let t = *free.first()?;
                    self.w.accounts[t as usize].used = true;
                    t
                } else {
                    self.person(|acc, _| acc.activity >= 300)?
                };
                let natural = crate::names::natural_order(&entry.name);
                let name = crate::names::variant(&natural, kind, &mut self.rng);
                let c = self.w.accounts[a as usize].customer;
                self.w.customers[c as usize].name = name.clone();
                let l = self.label(typology, kind, Subject::Customer(c), vec![a]);
                self.param(l, "ent_num", &entry.ent_num);
                self.param(l, "listed_name", &entry.name);
                self.param(l, "customer_name", name);
                self.watch(l, a, 0, days);
            }
            "kyc_unverified" => {
                let a = self.person(|acc, _| acc.activity >= 500)?;
                let c = self.w.accounts[a as usize].customer as usize;
                let rejected = self.rng.chance(300);
                self.w.customers[c].kyc = if rejected { "REJECTED" } else { "UNVERIFIED" };
                self.w.customers[c].verified_at = None;
                let l = self.label(
                    typology,
                    if rejected { "rejected" } else { "unverified" },
                    Subject::Customer(c as u32),
                    vec![a],
                );
                self.watch(l, a, 0, days);
            }
            "kyc_expired_id" => {
                if days < 10 {
                    return None;
                }
                let a = self.person(|acc, _| acc.activity >= 500)?;
                let c = self.w.accounts[a as usize].customer as usize;
                let expiry = self.day_in(0, days - 7);
                self.w.customers[c].id_expiry = Some(self.w.start + expiry as Day);
                let l = self.label(typology, "", Subject::Customer(c as u32), vec![a]);
                self.param(l, "id_expiry", date_string(self.w.start + expiry as Day));
                self.watch(l, a, expiry + 1, days);
            }
            "kyc_class_limit" => {
                let class_one = self.rng.chance(500);
                let a = self.person(|acc, _| acc.class == if class_one { "I" } else { "II" })?;
                let l = self.label(
                    typology,
                    if class_one { "class_I" } else { "class_II" },
                    self.customer_of(a),
                    vec![a],
                );
                let (limit, total) = if class_one {
                    (1_000, self.rng.range(1_200, 2_500) * 100)
                } else {
                    (100_000, self.rng.range(110_000, 160_000) * 100)
                };
                self.param(l, "limit", format!("{limit}.00 CNY"));
                let mut d = self.day_in(0, days.saturating_sub(7).max(1));
                // Keep the burst inside one calendar year (class II limits are yearly).
                while d > 0 && year(self.w.start + d as Day) != year(self.w.start + (d + 6).min(days - 1) as Day) {
                    d -= 1;
                }
                let large: Vec<u32> = self
                    .w
                    .domestic_merchants
                    .iter()
                    .copied()
                    .filter(|&m| self.w.merchants[m as usize].profile == 2)
                    .collect();
                let pool = if large.is_empty() {
                    self.w.domestic_merchants.clone()
                } else {
                    large
                };
                for fen in split_n(total, self.rng.range(3, 6) as usize, &mut self.rng) {
                    let m = *self.rng.pick(&pool);
                    let merchant = &self.w.merchants[m as usize];
                    let ch = self.shapes.payment_channel(&mut self.rng);
                    let mut e = Event::new(0, kind::PAYMENT, ch, a, merchant.account, fen, CNY, (CN, CN));
                    e.merchant = m;
                    e.auth = self.shapes.auth_for(ch, fen, &mut self.rng);
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    let dd = d + self.rng.range(0, 7) as u32;
                    self.emit(dd.min(days - 1), sec, e, l);
                }
            }
            "kyc_business_no_owner" => {
                let free: Vec<u32> = self
                    .w
                    .traders
                    .iter()
                    .copied()
                    .filter(|&t| !self.w.accounts[t as usize].used)
                    .collect();
                let t = *free.first()?;
                self.w.accounts[t as usize].used = true;
                let c = self.w.accounts[t as usize].customer as usize;
                self.w.customers[c].owner = None;
                let l = self.label(typology, "", Subject::Customer(c as u32), vec![t]);
                self.watch(l, t, 0, days);
            }
            "kyc_pep_no_edd" => {
                let a = self.person(|acc, c| acc.activity >= 500 && !c.pep)?;
                let c = self.w.accounts[a as usize].customer as usize;
                let late = days >= 20 && self.rng.chance(400);
                self.w.customers[c].pep = true;
                let l = self.label(
                    typology,
                    if late { "late" } else { "missing" },
                    Subject::Customer(c as u32),
                    vec![a],
                );
                if late {
                    let edd = self.day_in(10, days - 5);
                    self.w.customers[c].edd_at = Some(instant(self.w.start + edd as Day, 11 * 3600));
                    self.watch(l, a, 0, edd);
                } else {
                    self.w.customers[c].edd_at = None;
                    self.watch(l, a, 0, days);
                }
            }
            "kyc_review_overdue" => {
                let a = self.person(|acc, _| acc.activity >= 500)?;
                let c = self.w.accounts[a as usize].customer as usize;
                let risk = *self.rng.pick(&["HIGH", "MEDIUM", "LOW"]);
                let cycle = review_cycle_days(risk);
                let last = instant(self.w.start, 10 * 3600) - (cycle + self.rng.range(10, 200)) * DAY_SECS;
                let customer = &mut self.w.customers[c];
                customer.risk = risk;
                customer.last_review = Some(last);
                customer.onboarded = customer.onboarded.min(last - 30 * DAY_SECS);
                customer.verified_at = Some(customer.onboarded + 3600);
                let opened = customer.onboarded + 600;
                self.w.accounts[a as usize].opened = opened;
                let l = self.label(typology, &risk.to_lowercase(), Subject::Customer(c as u32), vec![a]);
                self.param(l, "cycle_days", cycle);
                self.watch(l, a, 0, days);
            }
            "licence_uncovered_corridor"
            | "licence_expired"
            | "licence_suspended"
            | "licence_currency"
            | "licence_cap" => {
                let (country, variant, first_day) = match typology {
                    "licence_uncovered_corridor" => (*self.rng.pick(&["US", "CA"]), "", 0),
                    "licence_expired" => {
                        // Either the corridor whose licence lapsed mid-period, or one that
                        // expired before it.
                        if days >= 4 && self.rng.chance(500) {
                            ("AU", "lapsed_in_period", days / 2 + 1)
                        } else {
                            ("GB", "expired_before_period", 0)
                        }
                    }
                    "licence_suspended" => ("MY", "", 0),
                    "licence_currency" => ("HK", "USD_not_permitted", 0),
                    _ => ("JP", "JPY_1000000", 0),
                };
                if first_day >= days {
                    return None;
                }
                let a = self.person(|acc, _| acc.class != "I")?;
                let other = if country == "HK" {
                    self.hk_resident()
                } else {
                    self.foreigner(country)
                };
                let l = self.label(typology, variant, Subject::Account(a), vec![a]);
                self.param(l, "corridor", format!("CN-{country}"));
                // The latest licence on record for the corridor, if there is one.
                if let Some(lic) = self.w.licences.iter().rfind(|x| x.from == "CN" && x.to == country) {
                    self.param(l, "licence_id", lic.id);
                }
                let n = self.rng.range(1, 4) as usize;
                for d in self.distinct_days(n, first_day, days) {
                    let day = self.w.start + d as Day;
                    let (amount, currency) = match typology {
                        "licence_currency" => {
                            let usd = ccy("USD");
                            (self.w.cny_to(self.rng.range(100, 2_000) * 1_000, usd, day), usd)
                        }
                        // Over the 1,000,000 JPY cap, under USD 10,000 (a large-value line).
                        "licence_cap" => (self.rng.range(105, 140) * 10_000, ccy("JPY")),
                        _ => (self.rng.range(100, 2_000) * 1_000, CNY),
                    };
                    let e = self.cross_border(a, other, amount, currency, day, 0);
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    self.emit(d, sec, e, l);
                }
            }
            "licence_fx_deviation" => {
                let a = self.person(|acc, _| acc.class != "I")?;
                let other = self.hk_resident();
                let l = self.label(typology, "", Subject::Account(a), vec![a]);
                self.param(l, "tolerance", "2%");
                let n = self.rng.range(1, 4) as usize;
                for d in self.distinct_days(n, 0, days) {
                    let skew = self.rng.range(300, 800) * if self.rng.chance(500) { 1 } else { -1 };
                    let fen = self.rng.range(500, 5_000) * 1_000;
                    let e = self.cross_border(a, other, fen, CNY, self.w.start + d as Day, skew);
                    let sec = self.shapes.consumer_second(&mut self.rng);
                    self.emit(d, sec, e, l);
                }
            }
            _ => return None,
        }
        Some(())
    }

    fn customer_of(&self, a: u32) -> Subject {
        Subject::Customer(self.w.accounts[a as usize].customer)
    }
}

/// One amount, or two that add up to it.
fn split(total: i64, rng: &mut Rng) -> Vec<i64> {
    if rng.chance(500) {
        vec![total]
    } else {
        let first = total * rng.range(40, 61) / 100 / 10_000 * 10_000;
        vec![first, total - first]
    }
}

/// `n` amounts that add up to `total`.
fn split_n(total: i64, n: usize, rng: &mut Rng) -> Vec<i64> {
    let mut left = total;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let share = if i + 1 == n {
            left
        } else {
            (left / (n - i) as i64) * rng.range(70, 131) / 100
        };
        let share = share.min(left).max(1);
        out.push(share);
        left -= share;
        if left <= 0 {
            break;
        }
    }
    out
}
