//! Background traffic: what ordinary customers do on an ordinary day.
//!
//! Days are generated in order; the only state carried from day to day is each account's
//! spending against its class limit, so that background traffic never breaches it.

use crate::calendar::{Day, weekday, year};
use crate::rng::{Alias, Buckets, Choice, Rng};
use crate::world::{CNY, NONE, Role, TRAVEL, World, ccy, class_limit, code, country_currency, minor_units};

/// Transaction types, in the order of `custos_model::TXN_TYPES`.
pub mod kind {
    pub const PAYMENT: u8 = 0;
    pub const TRANSFER: u8 = 1;
    pub const TOPUP: u8 = 2;
    pub const WITHDRAWAL: u8 = 3;
    pub const CASH_IN: u8 = 4;
    pub const CASH_OUT: u8 = 5;
    pub const REFUND: u8 = 6;
}

/// Channels, in the order of `custos_model::CHANNELS`.
pub mod channel {
    pub const QR: u8 = 0;
    pub const NFC: u8 = 1;
    pub const APP: u8 = 2;
    pub const WEB: u8 = 3;
    pub const POS: u8 = 4;
    pub const AGENT: u8 = 5;
}

/// Authentication methods, in the order of `custos_model::AUTH_METHODS`.
pub mod auth {
    pub const PASSWORD: u8 = 0;
    pub const PIN: u8 = 1;
    pub const FINGERPRINT: u8 = 2;
    pub const FACE: u8 = 3;
    pub const VOICE: u8 = 4;
    pub const NONE: u8 = 5;
}

/// A country code as two bytes.
pub type Country = [u8; 2];

/// A two-letter code as bytes.
pub const fn cc(code: &str) -> Country {
    let b = code.as_bytes();
    [b[0], b[1]]
}

/// One transaction, before it has an id. Ids are given in output order, after sorting, so
/// nothing about an id tells injected activity from background.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// Second of the local day.
    pub sec: u32,
    pub kind: u8,
    pub channel: u8,
    /// 0 SUCCESS, 1 FAILED, 2 REVERSED.
    pub status: u8,
    pub auth: u8,
    pub ccy: u8,
    /// Settlement currency index, or `u8::MAX` for none.
    pub settle_ccy: u8,
    pub payer_country: Country,
    pub payee_country: Country,
    pub payer: u32,
    pub payee: u32,
    pub merchant: u32,
    pub device: u32,
    /// Minor units of `ccy`.
    pub amount: i64,
    /// Minor units of `settle_ccy`.
    pub settle_amount: i64,
    /// Settlement currency per unit of `ccy`, scaled by 1e8 (`settle = amount * fx`).
    pub fx: i64,
    /// The pattern this event was injected for, or `NONE`.
    pub label: u32,
}

impl Event {
    /// A successful domestic-or-not transaction without settlement fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sec: u32,
        kind: u8,
        channel: u8,
        payer: u32,
        payee: u32,
        amount: i64,
        ccy: u8,
        countries: (Country, Country),
    ) -> Event {
        Event {
            sec,
            kind,
            channel,
            status: 0,
            auth: auth::PIN,
            ccy,
            settle_ccy: u8::MAX,
            payer_country: countries.0,
            payee_country: countries.1,
            payer,
            payee,
            merchant: NONE,
            device: NONE,
            amount,
            settle_amount: 0,
            fx: 0,
            label: NONE,
        }
    }
}

/// Amount shapes, in CNY fen.
pub struct Amounts {
    pub small: Buckets,
    pub medium: Buckets,
    pub large: Buckets,
    pub p2p: Buckets,
    pub topup: Buckets,
    pub withdrawal: Buckets,
    pub cash: Buckets,
    pub b2b: Buckets,
    pub remittance: Buckets,
    pub settlement: Buckets,
}

impl Amounts {
    fn new() -> Amounts {
        Amounts {
            // Food, groceries, transport: three quarters below 100 CNY.
            small: Buckets::new(&[
                (100, 1_000, 160),
                (1_000, 3_000, 240),
                (3_000, 6_000, 200),
                (6_000, 10_000, 150),
                (10_000, 30_000, 150),
                (30_000, 100_000, 70),
                (100_000, 500_000, 25),
                (500_000, 2_000_000, 5),
            ]),
            medium: Buckets::new(&[
                (1_000, 5_000, 100),
                (5_000, 10_000, 200),
                (10_000, 30_000, 300),
                (30_000, 100_000, 250),
                (100_000, 500_000, 120),
                (500_000, 2_000_000, 30),
            ]),
            large: Buckets::new(&[
                (10_000, 50_000, 150),
                (50_000, 200_000, 350),
                (200_000, 500_000, 300),
                (500_000, 2_000_000, 170),
                (2_000_000, 5_000_000, 30),
            ]),
            p2p: Buckets::new(&[
                (1_000, 10_000, 250),
                (10_000, 50_000, 300),
                (50_000, 100_000, 200),
                (100_000, 500_000, 180),
                (500_000, 2_000_000, 60),
                (2_000_000, 3_000_000, 10),
            ]),
            topup: Buckets::new(&[(5_000, 50_000, 400), (50_000, 200_000, 400), (200_000, 500_000, 200)]),
            withdrawal: Buckets::new(&[
                (10_000, 100_000, 500),
                (100_000, 500_000, 400),
                (500_000, 1_000_000, 100),
            ]),
            cash: Buckets::new(&[(10_000, 100_000, 500), (100_000, 300_000, 400), (300_000, 500_000, 100)]),
            b2b: Buckets::new(&[
                (1_000_000, 5_000_000, 500),
                (5_000_000, 10_000_000, 350),
                (10_000_000, 20_000_000, 150),
            ]),
            remittance: Buckets::new(&[
                (50_000, 200_000, 400),
                (200_000, 1_000_000, 400),
                (1_000_000, 2_000_000, 200),
            ]),
            settlement: Buckets::new(&[
                (100_000, 1_000_000, 500),
                (1_000_000, 10_000_000, 400),
                (10_000_000, 20_000_000, 100),
            ]),
        }
    }

    /// A payment amount for a merchant profile.
    pub fn payment(&self, profile: u8, rng: &mut Rng) -> i64 {
        match profile {
            0 => self.small.sample(rng),
            1 => self.medium.sample(rng),
            _ => self.large.sample(rng),
        }
    }
}

/// People like round numbers when they choose the amount themselves.
pub fn roundish(fen: i64, rng: &mut Rng) -> i64 {
    let r = rng.below(10);
    let unit = match r {
        0..3 => return fen,
        3..6 => 100,
        6..8 => 1_000,
        _ => 10_000,
    };
    ((fen / unit) * unit).max(unit)
}

/// Hour-of-day weights: consumers (lunch and evening peaks) and businesses (office hours).
const CONSUMER_HOURS: [u64; 24] = [
    2, 1, 1, 1, 1, 2, 4, 8, 10, 9, 8, 10, 14, 11, 8, 7, 8, 10, 13, 14, 12, 10, 7, 4,
];
const BUSINESS_HOURS: [u64; 24] = [
    0, 0, 0, 0, 0, 0, 1, 3, 8, 12, 12, 10, 8, 10, 12, 12, 10, 6, 3, 1, 0, 0, 0, 0,
];
/// Relative volume by weekday, Monday first (per mille).
const WEEKDAY: [u64; 7] = [960, 960, 970, 980, 1040, 1080, 1010];

/// Shared shapes: when, through which channel, how authenticated, with what outcome.
pub struct Shapes {
    pub amounts: Amounts,
    consumer_hours: Choice<u8>,
    business_hours: Choice<u8>,
    pay_channel: Choice<u8>,
    strong_auth: Choice<u8>,
    status: Choice<u8>,
}

impl Shapes {
    pub fn new() -> Shapes {
        let hours = |w: &[u64; 24]| Choice::new(&w.iter().enumerate().map(|(h, &w)| (w, h as u8)).collect::<Vec<_>>());
        Shapes {
            amounts: Amounts::new(),
            consumer_hours: hours(&CONSUMER_HOURS),
            business_hours: hours(&BUSINESS_HOURS),
            pay_channel: Choice::new(&[
                (55, channel::QR),
                (15, channel::NFC),
                (20, channel::APP),
                (7, channel::WEB),
                (3, channel::POS),
            ]),
            strong_auth: Choice::new(&[
                (35, auth::FACE),
                (35, auth::FINGERPRINT),
                (20, auth::PIN),
                (9, auth::PASSWORD),
                (1, auth::VOICE),
            ]),
            status: Choice::new(&[(986, 0), (11, 1), (3, 2)]),
        }
    }

    /// A second of the day in the consumer rhythm.
    pub fn consumer_second(&self, rng: &mut Rng) -> u32 {
        u32::from(self.consumer_hours.sample(rng)) * 3600 + rng.below(3600) as u32
    }

    /// A second of the day in office hours.
    pub fn business_second(&self, rng: &mut Rng) -> u32 {
        u32::from(self.business_hours.sample(rng)) * 3600 + rng.below(3600) as u32
    }

    /// How a payer authenticates on a channel (small QR payments often need nothing).
    pub fn auth_for(&self, channel: u8, fen: i64, rng: &mut Rng) -> u8 {
        match channel {
            channel::WEB => auth::PASSWORD,
            channel::AGENT => auth::PIN,
            channel::QR | channel::NFC if fen < 5_000 && rng.chance(400) => auth::NONE,
            _ => self.strong_auth.sample(rng),
        }
    }

    /// A payment channel.
    pub fn payment_channel(&self, rng: &mut Rng) -> u8 {
        self.pay_channel.sample(rng)
    }

    /// Mostly SUCCESS, sometimes FAILED or REVERSED.
    pub fn status(&self, rng: &mut Rng) -> u8 {
        self.status.sample(rng)
    }
}

impl Default for Shapes {
    fn default() -> Self {
        Shapes::new()
    }
}

/// A person as the hot loop sees it: everything one background event needs about its
/// initiator in one record, so that picking a person costs one cache miss, not four.
/// 40 bytes, alias-table entry included.
struct Person {
    /// Walker alias entry of the activity distribution: keep this person with probability
    /// `keep / 2^32`, else take `alias`.
    keep: u32,
    alias: u32,
    account: u32,
    /// Class limit in CNY fen (`u32::MAX`: none) and spending against it in `year`.
    limit: u32,
    spent: u32,
    /// Days `[bg_from, bg_to)` of background traffic.
    bg_from: u16,
    bg_to: u16,
    year: i16,
    home: [u8; 2],
    role: Role,
    currency: u8,
    since_opening: bool,
    /// Foreign-currency outflow of day `fx_day`, in USD cents: kept under USD 9,000 so that
    /// background never reaches the USD 10,000 large-value line.
    fx_day: u16,
    fx_usd: u32,
}

impl Person {
    fn home(&self) -> &'static str {
        match &self.home {
            b"CN" => "CN",
            other => crate::world::country_code(*other),
        }
    }
}

/// The background traffic generator.
pub struct Traffic<'w> {
    w: &'w World,
    seed: u64,
    shapes: Shapes,
    /// Domestic people, then visitors, then residents (so a domestic person's index in
    /// `w.domestic` is its index here).
    people: Vec<Person>,
    /// Index in `people` of the first resident.
    first_resident: usize,
    /// Background events per day, in thousandths.
    per_day_milli: u64,
    /// Calendar year of the day being generated.
    year: i16,
}

impl<'w> Traffic<'w> {
    /// Traffic over `w` with `activity_milli` thousandths of an event per person per day.
    pub fn new(w: &'w World, seed: u64, activity_milli: u64) -> Traffic<'w> {
        let accounts: Vec<u32> = w
            .domestic
            .iter()
            .chain(&w.visitors)
            .chain(&w.residents)
            .copied()
            .collect();
        let weights: Vec<u64> = accounts
            .iter()
            .map(|&a| u64::from(w.accounts[a as usize].activity))
            .collect();
        let mut rng = Rng::stream(seed, "budgets", 0);
        let (keep, alias) = Alias::new(&weights).into_parts();
        let people = accounts
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let acc = &w.accounts[a as usize];
                let (limit, since_opening) = class_limit(acc.class).unwrap_or((i64::from(u32::MAX), false));
                Person {
                    keep: keep[i],
                    alias: alias[i],
                    account: a,
                    limit: limit as u32,
                    // Class I limits run since opening: assume some spending before the period.
                    spent: if acc.class == "I" {
                        rng.range(0, 30_000) as u32
                    } else {
                        0
                    },
                    bg_from: acc.bg_from.min(u32::from(u16::MAX)) as u16,
                    bg_to: acc.bg_to.min(u32::from(u16::MAX)) as u16,
                    year: year(w.start) as i16,
                    home: cc(acc.home),
                    role: acc.role,
                    currency: ccy(acc.currency),
                    since_opening,
                    fx_day: u16::MAX,
                    fx_usd: 0,
                }
            })
            .collect();
        Traffic {
            w,
            seed,
            shapes: Shapes::new(),
            per_day_milli: accounts.len() as u64 * activity_milli,
            people,
            first_resident: w.domestic.len() + w.visitors.len(),
            year: year(w.start) as i16,
        }
    }

    /// A person, with probability proportional to their activity.
    #[inline]
    fn sample_person(&self, rng: &mut Rng) -> usize {
        let r = rng.next_u64();
        let i = ((u128::from(r >> 32) * self.people.len() as u128) >> 32) as usize;
        let p = &self.people[i];
        if (r as u32) < p.keep { i } else { p.alias as usize }
    }

    /// Appends day `d` (0-based) of background traffic to `out`.
    pub fn day(&mut self, d: u32, out: &mut Vec<Event>) {
        let w = self.w;
        let day = w.start + d as Day;
        let mut rng = Rng::stream(self.seed, "day", u64::from(d));
        self.year = year(day) as i16;
        let wd = weekday(day) as usize;
        let noise = 970 + rng.below(61);
        let n = self.per_day_milli * WEEKDAY[wd] / 1000 * noise / 1000 / 1000;
        let first = out.len();
        for _ in 0..n {
            let p = self.sample_person(&mut rng);
            if !self.active(p, d) {
                continue;
            }
            let e = match self.people[p].role {
                Role::Domestic => self.domestic_event(p, day, &mut rng),
                Role::Visitor => self.visitor_payment(p, day, &mut rng),
                _ => self.resident_event(p, day, &mut rng),
            };
            if let Some(e) = e {
                out.push(e);
            }
        }
        // Trading companies pay each other in office hours, rarely at weekends.
        // At most 200,000 CNY each, a few a day: far from the 2,000,000 CNY large-value line.
        let per_trader = if wd < 5 { 1 } else { 0 };
        for &t in &w.traders {
            let acc = &w.accounts[t as usize];
            if d < acc.bg_from || d >= acc.bg_to {
                continue;
            }
            for _ in 0..per_trader + rng.below(2) {
                let other = w.traders[rng.index(w.traders.len())];
                if other == t {
                    continue;
                }
                let fen = roundish(self.shapes.amounts.b2b.sample(&mut rng), &mut rng);
                let mut e = Event::new(
                    self.shapes.business_second(&mut rng),
                    kind::TRANSFER,
                    if rng.chance(700) { channel::WEB } else { channel::APP },
                    t,
                    other,
                    fen,
                    CNY,
                    (cc("CN"), cc("CN")),
                );
                e.auth = auth::PASSWORD;
                e.device = acc.device;
                out.push(e);
            }
        }
        // Merchants sweep their balance to their bank once a week.
        for (i, m) in w.merchants.iter().enumerate() {
            if m.country != "CN" || !(i + wd).is_multiple_of(7) {
                continue;
            }
            let mut e = Event::new(
                self.shapes.business_second(&mut rng),
                kind::WITHDRAWAL,
                channel::WEB,
                m.account,
                w.settlement,
                self.shapes.amounts.settlement.sample(&mut rng),
                CNY,
                (cc("CN"), cc("CN")),
            );
            e.auth = auth::PASSWORD;
            out.push(e);
        }
        // A few domestic payments of the day are refunded later the same day (a refund abroad
        // would run the corridor backwards, which no licence covers).
        let end = out.len();
        for i in first..end {
            let p = out[i];
            if p.kind == kind::PAYMENT
                && p.payer_country == p.payee_country
                && p.merchant != NONE
                && p.status == 0
                && rng.chance(6)
            {
                let sec = (p.sec + rng.range(600, 6 * 3600) as u32).min(86_399);
                let amount = if rng.chance(700) {
                    p.amount
                } else {
                    (p.amount / 2).max(1)
                };
                let mut e = Event::new(
                    sec,
                    kind::REFUND,
                    channel::APP,
                    p.payee,
                    p.payer,
                    amount,
                    CNY,
                    (p.payee_country, p.payer_country),
                );
                e.merchant = p.merchant;
                e.auth = auth::NONE;
                out.push(e);
            }
        }
    }

    /// Whether a payment of `fen` fits the person's class limit; books it if so.
    fn book(&mut self, p: usize, fen: i64) -> bool {
        let year = self.year;
        let b = &mut self.people[p];
        if b.limit == u32::MAX {
            return true;
        }
        if !b.since_opening && b.year != year {
            b.year = year;
            b.spent = 0;
        }
        if i64::from(b.spent) + fen > i64::from(b.limit) {
            return false;
        }
        b.spent += fen as u32;
        true
    }

    fn domestic_event(&mut self, p: usize, day: Day, rng: &mut Rng) -> Option<Event> {
        let w = self.w;
        let s = &self.shapes;
        let a = self.people[p].account;
        // Background people transact from their own device, numbered like their account.
        let device = a;
        let cn = (cc("CN"), cc("CN"));
        let r = rng.below(1000);
        let mut e = match r {
            0..720 => {
                let m = w.domestic_merchants[w.domestic_popularity.sample(rng)];
                let merchant = &w.merchants[m as usize];
                let fen = s.amounts.payment(merchant.profile, rng);
                let ch = s.payment_channel(rng);
                let mut e = Event::new(
                    s.consumer_second(rng),
                    kind::PAYMENT,
                    ch,
                    a,
                    merchant.account,
                    fen,
                    CNY,
                    cn,
                );
                e.merchant = m;
                e.auth = s.auth_for(ch, fen, rng);
                e
            }
            720..850 => {
                let payee = self.friend(p, day, rng)?;
                let fen = roundish(s.amounts.p2p.sample(rng), rng);
                let ch = if rng.chance(920) { channel::APP } else { channel::WEB };
                let mut e = Event::new(s.consumer_second(rng), kind::TRANSFER, ch, a, payee, fen, CNY, cn);
                e.auth = s.auth_for(ch, fen, rng);
                e
            }
            850..910 => {
                let fen = roundish(s.amounts.topup.sample(rng), rng);
                let mut e = Event::new(
                    s.consumer_second(rng),
                    kind::TOPUP,
                    channel::APP,
                    w.funding,
                    a,
                    fen,
                    CNY,
                    cn,
                );
                e.auth = s.auth_for(channel::APP, fen, rng);
                e
            }
            910..945 => {
                let fen = s.amounts.withdrawal.sample(rng);
                let mut e = Event::new(
                    s.consumer_second(rng),
                    kind::WITHDRAWAL,
                    channel::APP,
                    a,
                    w.settlement,
                    fen,
                    CNY,
                    cn,
                );
                e.auth = s.auth_for(channel::APP, fen, rng);
                e
            }
            945..975 => {
                let agent = w.agents[rng.index(w.agents.len())];
                let fen = roundish(s.amounts.cash.sample(rng), rng).max(10_000) / 10_000 * 10_000;
                let (payer, payee, k) = if r < 960 {
                    (agent, a, kind::CASH_IN)
                } else {
                    (a, agent, kind::CASH_OUT)
                };
                let mut e = Event::new(s.business_second(rng), k, channel::AGENT, payer, payee, fen, CNY, cn);
                e.auth = auth::PIN;
                e
            }
            975..990 => return self.travel_payment(p, day, rng),
            _ => return self.remittance(p, day, rng),
        };
        if e.kind == kind::PAYMENT && !self.book(p, e.amount) {
            return None;
        }
        e.device = device;
        e.status = self.shapes.status(rng);
        Some(e)
    }

    /// Whether a foreign-currency outflow of `fen` (CNY equivalent) fits the person's daily
    /// room under the USD large-value line; books it if so.
    fn fx_room(&mut self, p: usize, fen: i64, day: Day) -> bool {
        let usd = self.w.cny_to(fen, ccy("USD"), day);
        let d = (day - self.w.start) as u16;
        let q = &mut self.people[p];
        if q.fx_day != d {
            q.fx_day = d;
            q.fx_usd = 0;
        }
        if i64::from(q.fx_usd) + usd > 900_000 {
            return false;
        }
        q.fx_usd += usd as u32;
        true
    }

    /// Someone a person sends money to: mostly one of eight neighbours in the customer list
    /// (a social cluster), sometimes anyone. None when that account is out of background
    /// traffic today (a dormant account must not receive either).
    fn friend(&self, p: usize, day: Day, rng: &mut Rng) -> Option<u32> {
        let n = self.w.domestic.len();
        let other = if rng.chance(100) {
            rng.index(n)
        } else {
            let base = p / 8 * 8;
            let size = (n - base).min(8);
            let mut other = base + rng.index(size);
            if other == p {
                other = base + (other - base + 1) % size;
            }
            other
        };
        self.active(other, (day - self.w.start) as u32)
            .then_some(self.people[other].account)
    }

    fn active(&self, p: usize, d: u32) -> bool {
        let person = &self.people[p];
        d >= u32::from(person.bg_from) && d < u32::from(person.bg_to)
    }

    /// Applied FX rate: the reference rate with the provider's small spread.
    fn applied(reference: i64, rng: &mut Rng) -> i64 {
        reference + (i128::from(reference) * i128::from(rng.range(-30, 31)) / 10_000) as i64
    }

    /// Settlement amount in `settle` minor units of `amount` in `c` at `fx`.
    pub fn settle(amount: i64, c: u8, settle: u8, fx: i64) -> i64 {
        let num = i128::from(amount) * i128::from(fx) * 10i128.pow(minor_units(settle));
        let den = 10i128.pow(minor_units(c)) * 100_000_000;
        (((num + den / 2) / den) as i64).max(1)
    }

    /// The rate, in 1e-8, of `settle` per unit of `c` on a day.
    pub fn cross_rate(w: &World, c: u8, settle: u8, day: Day) -> i64 {
        (i128::from(w.rate(c, day)) * 100_000_000 / i128::from(w.rate(settle, day))) as i64
    }

    /// Clamps a CNY amount under 90% of a corridor's cap, if it has one.
    fn under_cap(&self, fen: i64, from: &str, to: &str, currency: &str, day: Day, rng: &mut Rng) -> i64 {
        match self.w.cap_fen(from, to, currency, day) {
            Some(cap) if fen > cap * 9 / 10 => rng.range(cap * 3 / 10, cap * 9 / 10),
            _ => fen,
        }
    }

    fn travel_payment(&mut self, p: usize, day: Day, rng: &mut Rng) -> Option<Event> {
        let w = self.w;
        let a = self.people[p].account;
        let choice = rng.below(100);
        let mut acc = 0;
        let mut country = "HK";
        for &(weight, c) in TRAVEL {
            acc += weight;
            if choice < acc {
                country = c;
                break;
            }
        }
        let currency = country_currency(country);
        w.licence_for("CN", country, currency, day)?;
        let list = &w.foreign_merchants.iter().find(|(c, _)| *c == country)?.1;
        if list.is_empty() {
            return None;
        }
        let m = list[rng.index(list.len())];
        let merchant = &w.merchants[m as usize];
        let fen = self.shapes.amounts.payment(merchant.profile.max(1), rng);
        let fen = self.under_cap(fen, "CN", country, currency, day, rng);
        let c = ccy(currency);
        let amount = w.cny_to(fen, c, day).max(1);
        let fx = Self::applied(w.rate(c, day), rng);
        let settle = Self::settle(amount, c, CNY, fx);
        if !self.fx_room(p, settle, day) || !self.book(p, settle) {
            return None;
        }
        let s = &self.shapes;
        let ch = if rng.chance(800) { channel::QR } else { channel::NFC };
        let mut e = Event::new(
            s.consumer_second(rng),
            kind::PAYMENT,
            ch,
            a,
            merchant.account,
            amount,
            c,
            (cc("CN"), cc(country)),
        );
        e.merchant = m;
        e.settle_ccy = CNY;
        e.settle_amount = settle;
        e.fx = fx;
        e.auth = s.auth_for(ch, settle, rng);
        e.device = a;
        e.status = s.status(rng);
        Some(e)
    }

    fn remittance(&mut self, p: usize, day: Day, rng: &mut Rng) -> Option<Event> {
        let w = self.w;
        let a = self.people[p].account;
        let r = self.first_resident + p.wrapping_mul(2_654_435_761) % w.residents.len();
        if !self.active(r, (day - w.start) as u32) {
            return None;
        }
        let friend = self.people[r].account;
        let home = w.accounts[friend as usize].home;
        w.licence_for("CN", home, "CNY", day)?;
        let fen = roundish(self.shapes.amounts.remittance.sample(rng), rng);
        let fen = self.under_cap(fen, "CN", home, "CNY", day, rng);
        let settle_ccy = ccy(country_currency(home));
        let fx = Self::applied(Self::cross_rate(w, CNY, settle_ccy, day), rng);
        let s = &self.shapes;
        let mut e = Event::new(
            s.consumer_second(rng),
            kind::TRANSFER,
            channel::APP,
            a,
            friend,
            fen,
            CNY,
            (cc("CN"), cc(home)),
        );
        e.settle_ccy = settle_ccy;
        e.settle_amount = Self::settle(fen, CNY, settle_ccy, fx);
        e.fx = fx;
        e.auth = s.auth_for(channel::APP, fen, rng);
        e.device = a;
        e.status = s.status(rng);
        Some(e)
    }

    /// A foreign-card holder pays a mainland merchant in CNY, settled in the card's currency.
    fn visitor_payment(&mut self, p: usize, day: Day, rng: &mut Rng) -> Option<Event> {
        let w = self.w;
        let (a, home, settle_ccy) = (self.people[p].account, self.people[p].home(), self.people[p].currency);
        w.licence_for(home, "CN", "CNY", day)?;
        let m = w.domestic_merchants[w.domestic_popularity.sample(rng)];
        let merchant = &w.merchants[m as usize];
        let fen = self.shapes.amounts.payment(merchant.profile, rng);
        let fen = self.under_cap(fen, home, "CN", "CNY", day, rng);
        if !self.book(p, fen) {
            return None;
        }
        let fx = Self::applied(Self::cross_rate(w, CNY, settle_ccy, day), rng);
        let s = &self.shapes;
        let ch = s.payment_channel(rng);
        let mut e = Event::new(
            s.consumer_second(rng),
            kind::PAYMENT,
            ch,
            a,
            merchant.account,
            fen,
            CNY,
            (cc(home), cc("CN")),
        );
        e.merchant = m;
        e.settle_ccy = settle_ccy;
        e.settle_amount = Self::settle(fen, CNY, settle_ccy, fx);
        e.fx = fx;
        e.auth = s.auth_for(ch, fen, rng);
        e.device = a;
        e.status = s.status(rng);
        Some(e)
    }

    /// Hong Kong and Singapore residents send money home to friends, or visit and pay.
    fn resident_event(&mut self, p: usize, day: Day, rng: &mut Rng) -> Option<Event> {
        if rng.chance(400) {
            return self.visitor_payment(p, day, rng);
        }
        let w = self.w;
        let (a, home, c) = (self.people[p].account, self.people[p].home(), self.people[p].currency);
        let k = (a as usize).wrapping_mul(2_654_435_761) % w.domestic.len();
        if !self.active(k, (day - w.start) as u32) {
            return None;
        }
        let friend = self.people[k].account;
        w.licence_for(home, "CN", code(c), day)?;
        let fen = roundish(self.shapes.amounts.remittance.sample(rng), rng);
        let fen = self.under_cap(fen, home, "CN", code(c), day, rng);
        if !self.fx_room(p, fen, day) {
            return None;
        }
        let amount = w.cny_to(fen, c, day).max(1);
        let fx = Self::applied(Self::cross_rate(w, c, CNY, day), rng);
        let s = &self.shapes;
        let mut e = Event::new(
            s.consumer_second(rng),
            kind::TRANSFER,
            channel::APP,
            a,
            friend,
            amount,
            c,
            (cc(home), cc("CN")),
        );
        e.settle_ccy = CNY;
        e.settle_amount = Self::settle(amount, c, CNY, fx);
        e.fx = fx;
        e.auth = s.auth_for(channel::APP, fen, rng);
        e.device = a;
        e.status = s.status(rng);
        Some(e)
    }
}
