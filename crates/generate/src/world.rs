//! The static world a log is generated over: customers and their KYC, accounts, merchants,
//! agents, licences, FX rates. Built once, deterministically, before any traffic.
//!
//! Background entities are kept *clean* on purpose: verified, reviewed on time, documents
//! valid, inside their class limits, using only licensed corridors. Every breach in the
//! output is one the typology planner injected and labelled, so labels are the whole truth.

use crate::calendar::{DAY_SECS, Day, Instant, date_string, instant};
use crate::names::{self, BRAND_WORDS, CITIES, TRADE_WORDS};
use crate::rng::{Alias, Rng};
use crate::{Error, Result};

/// "No value" in `u32` index fields.
pub const NONE: u32 = u32::MAX;

/// Currencies the generator uses: code and starting rate to CNY (scaled by 1e8). The rates
/// are round figures near early-2025 market levels, then follow a seeded random walk.
pub const CURRENCIES: &[(&str, i64)] = &[
    ("CNY", 100_000_000),
    ("USD", 718_000_000),
    ("EUR", 780_000_000),
    ("GBP", 910_000_000),
    ("HKD", 92_000_000),
    ("JPY", 4_800_000),
    ("KRW", 520_000),
    ("SGD", 535_000_000),
    ("THB", 20_500_000),
    ("MYR", 158_000_000),
    ("AUD", 470_000_000),
    ("CAD", 525_000_000),
    ("VND", 28_500),
    ("KES", 5_550_000),
];

/// Index of CNY in [`CURRENCIES`].
pub const CNY: u8 = 0;

/// The currency index of a code.
pub fn ccy(code: &str) -> u8 {
    CURRENCIES.iter().position(|(c, _)| *c == code).unwrap_or(0) as u8
}

/// The code of a currency index.
pub fn code(c: u8) -> &'static str {
    CURRENCIES[c as usize].0
}

/// The static code of a two-letter country code the generator uses.
pub fn country_code(code: [u8; 2]) -> &'static str {
    const KNOWN: &[&str] = &[
        "CN", "US", "DE", "FR", "GB", "HK", "JP", "KR", "SG", "TH", "MY", "AU", "CA", "VN", "KE",
    ];
    KNOWN.iter().find(|c| c.as_bytes() == code).copied().unwrap_or("CN")
}

/// The currency of a country, for the countries the generator uses.
pub fn country_currency(country: &str) -> &'static str {
    match country {
        "US" => "USD",
        "DE" | "FR" => "EUR",
        "GB" => "GBP",
        "HK" => "HKD",
        "JP" => "JPY",
        "KR" => "KRW",
        "SG" => "SGD",
        "TH" => "THB",
        "MY" => "MYR",
        "AU" => "AUD",
        "CA" => "CAD",
        "VN" => "VND",
        "KE" => "KES",
        _ => "CNY",
    }
}

/// Minor units of a currency index.
pub fn minor_units(c: u8) -> u32 {
    custos_model::currency_minor_units(CURRENCIES[c as usize].0).map_or(2, u32::from)
}

/// Merchant category codes with the amount profile of their tickets and their share of
/// merchants. Profiles: 0 small (food, transport), 1 medium (retail, bills), 2 large.
pub const MCCS: &[(u16, u8, u64, &str)] = &[
    (5411, 0, 12, "Supermarket"),
    (5499, 0, 14, "Convenience Store"),
    (5812, 0, 16, "Restaurant"),
    (5814, 0, 12, "Noodle House"),
    (4121, 0, 6, "Taxi"),
    (4111, 0, 5, "Metro Services"),
    (5912, 0, 4, "Pharmacy"),
    (5462, 0, 4, "Bakery"),
    (5311, 1, 4, "Department Store"),
    (5651, 1, 5, "Fashion"),
    (4814, 1, 3, "Telecom"),
    (4900, 1, 3, "Utilities"),
    (5942, 1, 2, "Books"),
    (5732, 2, 3, "Electronics"),
    (7011, 2, 3, "Hotel"),
    (5944, 2, 1, "Jewellery"),
    (4511, 2, 1, "Air Travel"),
];

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The provider's own funding (top-ups come from it) and settlement (withdrawals go to
    /// it) accounts.
    Internal,
    /// A cash agent.
    Agent,
    /// A merchant's collection account.
    Merchant,
    /// A trading company's business account.
    Trader,
    /// A person living in mainland China.
    Domestic,
    /// A foreign visitor with a foreign card bound to a wallet.
    Visitor,
    /// A person living in Hong Kong or Singapore with friends on the mainland.
    Resident,
    /// A counterparty abroad that only a typology uses.
    Foreign,
}

/// A customer and its KYC record.
#[derive(Debug, Clone)]
pub struct Customer {
    pub business: bool,
    pub name: String,
    pub dob: Option<Day>,
    pub nationality: &'static str,
    pub residence: &'static str,
    pub id_type: &'static str,
    pub id_number: String,
    pub id_expiry: Option<Day>,
    pub kyc: &'static str,
    pub verified_at: Option<Instant>,
    pub risk: &'static str,
    pub pep: bool,
    pub edd_at: Option<Instant>,
    pub last_review: Option<Instant>,
    pub owner: Option<u32>,
    pub onboarded: Instant,
}

/// A payment account.
#[derive(Debug, Clone)]
pub struct Account {
    pub customer: u32,
    pub class: &'static str,
    pub opened: Instant,
    pub home: &'static str,
    pub currency: &'static str,
    pub foreign_card: bool,
    pub role: Role,
    /// Relative background activity (events initiated per day, in thousandths, before
    /// scaling to the requested activity).
    pub activity: u32,
    /// Days `[from, to)` (relative to the start) in which background traffic may use it.
    pub bg_from: u32,
    pub bg_to: u32,
    /// Device the account's owner transacts from.
    pub device: u32,
    /// Taken by a typology: not picked for another one.
    pub used: bool,
    /// Appears in some planted transaction (as a counterparty, say): not a candidate for a
    /// typology that needs a clean history, such as dormancy.
    pub touched: bool,
}

/// A merchant.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub account: u32,
    pub name: String,
    pub mcc: u16,
    pub country: &'static str,
    pub profile: u8,
}

/// A payment licence for a corridor.
#[derive(Debug, Clone)]
pub struct Licence {
    pub id: &'static str,
    pub jurisdiction: &'static str,
    pub kind: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub currencies: &'static [&'static str],
    /// Per-transaction cap in major units of a currency.
    pub cap: Option<(i64, &'static str)>,
    pub valid_from: Day,
    pub valid_to: Option<Day>,
    pub status: &'static str,
}

impl Licence {
    /// Whether it covers a transaction in `currency` on `day`.
    pub fn covers(&self, currency: &str, day: Day) -> bool {
        self.status == "ACTIVE"
            && self.valid_from <= day
            && self.valid_to.is_none_or(|to| day <= to)
            && self.currencies.contains(&currency)
    }
}

/// An entry of the sanctions list shipped with the generator.
#[derive(Debug, Clone)]
pub struct SdnEntry {
    pub ent_num: String,
    pub name: String,
    pub individual: bool,
}

/// The world: every entity, and the indexes traffic needs.
#[derive(Debug)]
pub struct World {
    pub start: Day,
    pub days: u32,
    pub customers: Vec<Customer>,
    pub accounts: Vec<Account>,
    pub merchants: Vec<Merchant>,
    pub licences: Vec<Licence>,
    pub sdn: Vec<SdnEntry>,
    /// Rate to CNY (1e-8 units) per day of the period and currency.
    pub rates: Vec<i64>,
    pub funding: u32,
    pub settlement: u32,
    pub agents: Vec<u32>,
    pub traders: Vec<u32>,
    /// Domestic merchants (indexes into `merchants`) and their popularity table.
    pub domestic_merchants: Vec<u32>,
    pub domestic_popularity: Alias,
    /// Merchants abroad by country, for outbound travel payments.
    pub foreign_merchants: Vec<(&'static str, Vec<u32>)>,
    /// Individual accounts by role.
    pub domestic: Vec<u32>,
    pub visitors: Vec<u32>,
    pub residents: Vec<u32>,
    /// Merchant of each merchant account (NONE for other accounts).
    pub merchant_of: Vec<u32>,
    /// Identity numbers handed out so far: each person and company has its own.
    issued_ids: std::collections::HashSet<String>,
}

/// Review cycle in days per risk rating: high yearly, medium every two years, low every three.
pub fn review_cycle_days(risk: &str) -> i64 {
    match risk {
        "HIGH" => 365,
        "MEDIUM" => 730,
        _ => 1095,
    }
}

/// Account-class payment limit in CNY fen and whether it runs since opening (class I) or per
/// calendar year (PBOC Announcement 2015 No. 43, as in DOMAIN.md).
pub fn class_limit(class: &str) -> Option<(i64, bool)> {
    match class {
        "I" => Some((100_000, true)),
        "II" => Some((10_000_000, false)),
        "III" => Some((20_000_000, false)),
        _ => None,
    }
}

const SANCTIONS_CSV: &str = include_str!("../../../data/examples/sanctions.csv");

fn parse_sdn() -> Result<Vec<SdnEntry>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(SANCTIONS_CSV.as_bytes());
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| Error::Embedded(format!("sanctions list: {e}")))?;
        out.push(SdnEntry {
            ent_num: row.get(0).unwrap_or_default().to_string(),
            name: row.get(1).unwrap_or_default().to_string(),
            individual: row.get(2) == Some("individual"),
        });
    }
    Ok(out)
}

// Heavy-tailed relative activity of people (events per day in thousandths).
const ACTIVITY: &[(i64, i64, u64)] = &[
    (150, 300, 35),
    (300, 700, 30),
    (700, 1500, 20),
    (1500, 4000, 12),
    (4000, 9000, 3),
];

const REGIONS: &[&str] = &[
    "110101", "310101", "440301", "330106", "510104", "420102", "320102", "120101", "500103", "350203",
];

/// A mainland resident identity number with its ISO 7064 MOD 11-2 check character.
pub(crate) fn national_id(rng: &mut Rng, dob: Day) -> String {
    let mut s = String::with_capacity(18);
    s.push_str(REGIONS[rng.index(REGIONS.len())]);
    s.push_str(&date_string(dob).replace('-', ""));
    s.push_str(&format!("{:03}", rng.below(1000)));
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = s.bytes().zip(W).map(|(b, w)| u32::from(b - b'0') * w).sum();
    s.push(b"10X98765432"[(sum % 11) as usize] as char);
    s
}

fn alnum(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    (0..n).map(|_| *rng.pick(A) as char).collect()
}

fn passport(rng: &mut Rng, country: &str) -> String {
    let prefix = match country {
        "HK" => "K",
        "SG" => "E",
        "GB" | "US" => "",
        "DE" => "C",
        "FR" => "1",
        _ => "P",
    };
    format!("{prefix}{:08}", rng.below(100_000_000))
}

/// The licences of the synthetic provider. Background traffic only uses corridors that are
/// covered on the day; the gaps below exist for typologies to breach.
fn licences(start: Day, days: u32) -> Vec<Licence> {
    let y = 365;
    let end = start + days as Day;
    let l = |id, jurisdiction, kind, from, to, currencies, cap, valid_from, valid_to, status| Licence {
        id,
        jurisdiction,
        kind,
        from,
        to,
        currencies,
        cap,
        valid_from,
        valid_to,
        status,
    };
    vec![
        l(
            "L-CN-PBOC-001",
            "CN",
            "PBOC payment business licence",
            "CN",
            "CN",
            &["CNY"][..],
            None,
            start - 9 * y,
            Some(end + 5 * y),
            "ACTIVE",
        ),
        // Renewed: the 2019 licence ran out, its successor covers the period.
        l(
            "L-HK-MSO-2019",
            "HK",
            "HK money service operator licence",
            "CN",
            "HK",
            &["CNY", "HKD"],
            Some((50_000, "USD")),
            start - 6 * y,
            Some(start - 3 * y - 1),
            "EXPIRED",
        ),
        l(
            "L-HK-MSO-2022",
            "HK",
            "HK money service operator licence",
            "CN",
            "HK",
            &["CNY", "HKD"],
            Some((50_000, "USD")),
            start - 3 * y,
            Some(end + 3 * y),
            "ACTIVE",
        ),
        l(
            "L-HK-MSO-2022B",
            "HK",
            "HK money service operator licence",
            "HK",
            "CN",
            &["HKD", "CNY"],
            Some((50_000, "USD")),
            start - 3 * y,
            Some(end + 3 * y),
            "ACTIVE",
        ),
        l(
            "L-SG-MPI-01",
            "SG",
            "SG major payment institution licence",
            "CN",
            "SG",
            &["CNY", "SGD"],
            Some((30_000, "USD")),
            start - 4 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-SG-MPI-02",
            "SG",
            "SG major payment institution licence",
            "SG",
            "CN",
            &["SGD", "CNY"],
            Some((30_000, "USD")),
            start - 4 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-JP-FTSP-01",
            "JP",
            "JP type II funds transfer service provider",
            "CN",
            "JP",
            &["CNY", "JPY"],
            Some((1_000_000, "JPY")),
            start - 5 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-TH-EPAY-01",
            "TH",
            "TH e-payment service licence",
            "CN",
            "TH",
            &["CNY", "THB"],
            None,
            start - 3 * y,
            Some(end + 2 * y),
            "ACTIVE",
        ),
        l(
            "L-KR-EFT-01",
            "KR",
            "KR electronic financial business registration",
            "CN",
            "KR",
            &["CNY", "KRW"],
            None,
            start - 2 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-US-MTL-NY-01",
            "US",
            "New York money transmitter licence",
            "US",
            "CN",
            &["USD", "CNY"],
            Some((10_000, "USD")),
            start - 4 * y,
            Some(end + y),
            "ACTIVE",
        ),
        l(
            "L-GB-EMI-01",
            "GB",
            "UK electronic money institution authorisation",
            "GB",
            "CN",
            &["GBP", "CNY"],
            None,
            start - 5 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-DE-EMI-01",
            "DE",
            "EU electronic money institution licence",
            "DE",
            "CN",
            &["EUR", "CNY"],
            None,
            start - 5 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-FR-EMI-PASS",
            "FR",
            "EU EMI passport (home state DE)",
            "FR",
            "CN",
            &["EUR", "CNY"],
            None,
            start - 5 * y,
            None,
            "ACTIVE",
        ),
        l(
            "L-AU-AFSL-01",
            "AU",
            "AU financial services licence (non-cash payments)",
            "AU",
            "CN",
            &["AUD", "CNY"],
            None,
            start - 3 * y,
            None,
            "ACTIVE",
        ),
        // Lapses halfway through the period; the record was never updated, only its date tells.
        l(
            "L-AU-AFSL-02",
            "AU",
            "AU financial services licence (non-cash payments)",
            "CN",
            "AU",
            &["CNY", "AUD"],
            None,
            start - 3 * y,
            Some(start + days as Day / 2),
            "ACTIVE",
        ),
        l(
            "L-GB-EMI-02",
            "GB",
            "UK electronic money institution authorisation",
            "CN",
            "GB",
            &["CNY", "GBP"],
            None,
            start - 6 * y,
            Some(start - 180),
            "EXPIRED",
        ),
        l(
            "L-MY-EMI-01",
            "MY",
            "MY e-money issuer approval",
            "CN",
            "MY",
            &["CNY", "MYR"],
            None,
            start - 2 * y,
            Some(end + y),
            "SUSPENDED",
        ),
        l(
            "L-VN-IPS-01",
            "VN",
            "VN intermediary payment service licence",
            "CN",
            "VN",
            &["CNY", "VND"],
            Some((20_000, "USD")),
            start - 2 * y,
            Some(end + 2 * y),
            "ACTIVE",
        ),
        l(
            "L-VN-IPS-02",
            "VN",
            "VN intermediary payment service licence",
            "VN",
            "CN",
            &["VND", "CNY"],
            Some((20_000, "USD")),
            start - 2 * y,
            Some(end + 2 * y),
            "ACTIVE",
        ),
        l(
            "L-KE-PSP-01",
            "KE",
            "KE payment service provider authorisation",
            "CN",
            "KE",
            &["CNY", "KES"],
            Some((20_000, "USD")),
            start - 2 * y,
            Some(end + 2 * y),
            "ACTIVE",
        ),
        l(
            "L-KE-PSP-02",
            "KE",
            "KE payment service provider authorisation",
            "KE",
            "CN",
            &["KES", "CNY"],
            Some((20_000, "USD")),
            start - 2 * y,
            Some(end + 2 * y),
            "ACTIVE",
        ),
    ]
}

/// Where an outbound travel payment goes, with weights.
pub const TRAVEL: &[(u64, &str)] = &[(35, "HK"), (20, "JP"), (15, "TH"), (12, "SG"), (10, "KR"), (8, "AU")];
const VISITOR_HOMES: &[&str] = &["US", "GB", "DE", "FR", "AU"];

impl World {
    /// Builds the world for `customers` customers over `days` days from `start`.
    pub fn build(seed: u64, customers: u32, start: Day, days: u32) -> Result<World> {
        if customers < 200 {
            return Err(Error::Options(format!(
                "--customers must be at least 200 (got {customers})"
            )));
        }
        let n = customers as usize;
        let mut rng = Rng::stream(seed, "world", 0);
        let sdn = parse_sdn()?;
        let mut w = World {
            start,
            days,
            customers: Vec::with_capacity(n + 64),
            accounts: Vec::with_capacity(n + 64),
            merchants: Vec::new(),
            licences: licences(start, days),
            sdn,
            rates: Vec::new(),
            funding: 0,
            settlement: 0,
            agents: Vec::new(),
            traders: Vec::new(),
            domestic_merchants: Vec::new(),
            domestic_popularity: Alias::default(),
            foreign_merchants: Vec::new(),
            domestic: Vec::new(),
            visitors: Vec::new(),
            residents: Vec::new(),
            merchant_of: Vec::new(),
            issued_ids: std::collections::HashSet::new(),
        };
        w.rates = fx_walk(seed, days);
        let day0 = instant(start, 0);
        let end = start + days as Day;

        let n_agents = (n / 300).max(2);
        let n_merchants = (n / 15).max(12);
        let n_traders = (n / 100).max(3);
        let n_people = n - 1 - n_agents - n_merchants - n_traders;

        // People first: owners of businesses are drawn from them.
        let lookalikes = (n_people / 500).max(2);
        for i in 0..n_people {
            let r = rng.below(1000);
            let role = if r < 25 {
                Role::Visitor
            } else if r < 40 {
                Role::Resident
            } else {
                Role::Domestic
            };
            let c = w.push_person(&mut rng, role, end);
            let home = w.customers[c as usize].residence;
            let activity = sample_bucket(&mut rng, ACTIVITY) as u32;
            let class = if role != Role::Domestic {
                "II"
            } else if activity < 300 && rng.chance(400) {
                "I"
            } else if activity >= 1500 || rng.chance(250) {
                "III"
            } else {
                "II"
            };
            let a = w.push_account(c, class, role, home);
            w.accounts[a as usize].activity = activity;
            if role == Role::Visitor {
                w.accounts[a as usize].foreign_card = true;
            }
            match role {
                Role::Domestic => w.domestic.push(a),
                Role::Visitor => w.visitors.push(a),
                _ => w.residents.push(a),
            }
            // A few ordinary people share a surname with a listed person: look-alikes a
            // screening rule must not flag.
            if role == Role::Domestic && i % (n_people / lookalikes).max(1) == 7 {
                let listed: Vec<&SdnEntry> = w.sdn.iter().filter(|e| e.individual).collect();
                if let Some(entry) = listed.get(rng.index(listed.len().max(1))) {
                    let surname = entry.name.split(", ").next().unwrap_or("Lee");
                    let given = rng.pick(names::WESTERN_GIVEN);
                    w.customers[c as usize].name = format!("{given} {}", names::title_case(surname));
                }
            }
        }

        // The provider itself owns the internal accounts.
        let provider = w.push_business(
            &mut rng,
            "Custos Demo Payments Co., Ltd.".into(),
            "CN",
            day0 - 9 * 365 * DAY_SECS,
        );
        w.funding = w.push_account(provider, "INTERNAL", Role::Internal, "CN");
        w.settlement = w.push_account(provider, "INTERNAL", Role::Internal, "CN");
        for _ in 0..n_agents {
            let city = *rng.pick(CITIES);
            let name = format!("{city} {} Convenience Agent Services Co., Ltd.", rng.pick(BRAND_WORDS));
            let onboarded = day0 - rng.range(400, 3000) * DAY_SECS;
            let c = w.push_business(&mut rng, name, "CN", onboarded);
            let a = w.push_account(c, "AGENT", Role::Agent, "CN");
            w.agents.push(a);
        }
        for _ in 0..n_traders {
            let city = *rng.pick(CITIES);
            let name = format!("{city} {} {} Co., Ltd.", rng.pick(BRAND_WORDS), rng.pick(TRADE_WORDS));
            let onboarded = day0 - rng.range(400, 3000) * DAY_SECS;
            let c = w.push_business(&mut rng, name, "CN", onboarded);
            let a = w.push_account(c, "MERCHANT", Role::Trader, "CN");
            w.accounts[a as usize].activity = 2000;
            w.traders.push(a);
        }
        let mcc_choice: Vec<u64> = MCCS.iter().map(|m| m.2).collect();
        let mcc_table = Alias::new(&mcc_choice);
        let mut popularity = Vec::new();
        let mut foreign: Vec<(&'static str, Vec<u32>)> = TRAVEL.iter().map(|(_, c)| (*c, Vec::new())).collect();
        for i in 0..n_merchants {
            // About one merchant in sixteen is abroad, for travellers' payments.
            let country = if i % 16 == 5 {
                TRAVEL[i / 16 % TRAVEL.len()].1
            } else {
                "CN"
            };
            let (mcc, profile, _, kind) = MCCS[mcc_table.sample(&mut rng)];
            let name = if country == "CN" {
                format!("{} {} {}", rng.pick(CITIES), rng.pick(BRAND_WORDS), kind)
            } else {
                format!("{} {} {kind}", rng.pick(BRAND_WORDS), country_city(country))
            };
            let onboarded = day0 - rng.range(200, 3000) * DAY_SECS;
            let c = w.push_business(&mut rng, format!("{name} Co., Ltd."), country, onboarded);
            let a = w.push_account(c, "MERCHANT", Role::Merchant, country);
            let m = w.merchants.len() as u32;
            w.merchants.push(Merchant {
                account: a,
                name,
                mcc,
                country,
                profile,
            });
            if country == "CN" {
                w.domestic_merchants.push(m);
                // Small-ticket merchants (food, transport) see most of the traffic; the rank
                // gives a Zipf-like skew inside each profile.
                let base: u64 = if profile == 0 { 5 } else { 1 };
                popularity.push(base * 1_000_000 / (w.domestic_merchants.len() as u64 + 20));
            } else if let Some(list) = foreign.iter_mut().find(|(c, _)| *c == country) {
                list.1.push(m);
            }
        }
        w.domestic_popularity = Alias::new(&popularity);
        w.foreign_merchants = foreign;
        w.merchant_of = vec![NONE; w.accounts.len()];
        for (i, m) in w.merchants.iter().enumerate() {
            w.merchant_of[m.account as usize] = i as u32;
        }
        if w.domestic.len() < 100 || w.residents.is_empty() || w.visitors.is_empty() {
            return Err(Error::Options(format!(
                "--customers {customers} leaves too few people to generate traffic"
            )));
        }
        Ok(w)
    }

    /// Last day of the period (inclusive).
    pub fn last_day(&self) -> Day {
        self.start + self.days as Day - 1
    }

    /// The rate of a currency to CNY on a day of the period (1e-8 units).
    pub fn rate(&self, c: u8, day: Day) -> i64 {
        let d = (day - self.start).clamp(0, self.days as Day - 1) as usize;
        self.rates[d * CURRENCIES.len() + c as usize]
    }

    /// A CNY amount (fen) in another currency's minor units, rounded half up.
    pub fn cny_to(&self, fen: i64, c: u8, day: Day) -> i64 {
        if c == CNY {
            return fen;
        }
        let num = i128::from(fen) * 10i128.pow(minor_units(c)) * 100_000_000;
        let den = 100 * i128::from(self.rate(c, day));
        ((num + den / 2) / den) as i64
    }

    /// An amount in a currency's minor units in CNY fen, rounded half up.
    pub fn to_cny(&self, amount: i64, c: u8, day: Day) -> i64 {
        if c == CNY {
            return amount;
        }
        let num = i128::from(amount) * i128::from(self.rate(c, day)) * 100;
        let den = 10i128.pow(minor_units(c)) * 100_000_000;
        ((num + den / 2) / den) as i64
    }

    /// The licence that covers a corridor, currency and day, if any.
    pub fn licence_for(&self, from: &str, to: &str, currency: &str, day: Day) -> Option<&Licence> {
        self.licences
            .iter()
            .find(|l| l.from == from && l.to == to && l.covers(currency, day))
    }

    /// The per-transaction cap of a corridor's licence on a day, in CNY fen.
    pub fn cap_fen(&self, from: &str, to: &str, currency: &str, day: Day) -> Option<i64> {
        let (cap, cap_ccy) = self.licence_for(from, to, currency, day)?.cap?;
        let c = ccy(cap_ccy);
        Some(self.to_cny(cap * 10i64.pow(minor_units(c)), c, day))
    }

    fn push_person(&mut self, rng: &mut Rng, role: Role, end: Day) -> u32 {
        let day0 = instant(self.start, 0);
        let (nationality, name) = match role {
            Role::Domestic => (
                "CN",
                format!("{} {}", rng.pick(names::CN_FAMILY), rng.pick(names::CN_GIVEN)),
            ),
            Role::Visitor => (
                *rng.pick(VISITOR_HOMES),
                format!("{} {}", rng.pick(names::WESTERN_GIVEN), rng.pick(names::WESTERN_FAMILY)),
            ),
            _ => (
                if rng.chance(700) { "HK" } else { "SG" },
                format!("{} {}", rng.pick(names::HK_FAMILY), rng.pick(names::HK_GIVEN)),
            ),
        };
        let dob = self.start - rng.range(18 * 365 + 5, 75 * 365) as Day;
        let onboarded = day0 - rng.range(30, 8 * 365) * DAY_SECS + rng.range(8 * 3600, 22 * 3600);
        let (id_type, id_number) = if nationality == "CN" {
            ("NATIONAL_ID", national_id(rng, dob))
        } else {
            ("PASSPORT", passport(rng, nationality))
        };
        let risk = match rng.below(1000) {
            0..800 => "LOW",
            800..970 => "MEDIUM",
            _ => "HIGH",
        };
        let pep = rng.chance(3);
        let c = Customer {
            business: false,
            name,
            dob: Some(dob),
            nationality,
            residence: nationality,
            id_type,
            id_number,
            id_expiry: Some(end + rng.range(200, 10 * 365) as Day),
            kyc: "VERIFIED",
            verified_at: Some(onboarded + rng.range(60, 3600)),
            risk,
            pep,
            edd_at: pep.then(|| onboarded + rng.range(1, 30) * DAY_SECS),
            last_review: None,
            owner: None,
            onboarded,
        };
        self.push_customer(rng, c)
    }

    fn push_business(&mut self, rng: &mut Rng, name: String, country: &'static str, onboarded: Instant) -> u32 {
        let owner = (!self.domestic.is_empty()).then(|| {
            let a = self.domestic[rng.index(self.domestic.len())];
            self.accounts[a as usize].customer
        });
        let c = Customer {
            business: true,
            name,
            dob: None,
            nationality: country,
            residence: country,
            id_type: "BUSINESS_LICENCE",
            id_number: if country == "CN" {
                format!("91{}{}", rng.pick(REGIONS), alnum(rng, 10))
            } else {
                format!("{country}{}", alnum(rng, 9))
            },
            id_expiry: None,
            kyc: "VERIFIED",
            verified_at: Some(onboarded + rng.range(3600, 5 * DAY_SECS)),
            risk: if rng.chance(850) { "LOW" } else { "MEDIUM" },
            pep: false,
            edd_at: None,
            last_review: None,
            owner,
            onboarded,
        };
        self.push_customer(rng, c)
    }

    /// Adds a customer whose periodic review is current through the end of the period and
    /// whose identity number no one else has.
    pub fn push_customer(&mut self, rng: &mut Rng, mut c: Customer) -> u32 {
        while !self.issued_ids.insert(c.id_number.clone()) {
            c.id_number = match (c.id_type, c.dob) {
                ("NATIONAL_ID", Some(dob)) => national_id(rng, dob),
                _ => format!(
                    "{}{}",
                    &c.id_number[..c.id_number.len().saturating_sub(4)],
                    alnum(rng, 4)
                ),
            };
        }
        let end = instant(self.last_day() + 1, 0);
        let cycle = review_cycle_days(c.risk) * DAY_SECS;
        let earliest = end - cycle + 7 * DAY_SECS;
        if c.onboarded < earliest {
            c.last_review = Some(rng.range(earliest, end - DAY_SECS).max(c.onboarded));
        }
        self.customers.push(c);
        (self.customers.len() - 1) as u32
    }

    /// Adds an account opened shortly after its customer was onboarded.
    pub fn push_account(&mut self, customer: u32, class: &'static str, role: Role, home: &'static str) -> u32 {
        let opened = self.customers[customer as usize].onboarded + 600;
        let id = self.accounts.len() as u32;
        self.accounts.push(Account {
            customer,
            class,
            opened,
            home,
            currency: country_currency(home),
            foreign_card: false,
            role,
            activity: 0,
            bg_from: 0,
            bg_to: self.days,
            device: id,
            used: false,
            touched: false,
        });
        if !self.merchant_of.is_empty() {
            self.merchant_of.push(NONE);
        }
        id
    }
}

fn country_city(country: &str) -> &'static str {
    match country {
        "HK" => "Kowloon",
        "JP" => "Ginza",
        "TH" => "Sukhumvit",
        "SG" => "Orchard",
        "KR" => "Myeongdong",
        "AU" => "Sydney",
        _ => "Harbour",
    }
}

fn sample_bucket(rng: &mut Rng, buckets: &[(i64, i64, u64)]) -> i64 {
    let total: u64 = buckets.iter().map(|b| b.2).sum();
    let mut x = rng.below(total);
    for &(lo, hi, w) in buckets {
        if x < w {
            return rng.range(lo, hi);
        }
        x -= w;
    }
    buckets[0].0
}

/// Daily rates: a random walk of at most 0.3% a day from each starting rate.
fn fx_walk(seed: u64, days: u32) -> Vec<i64> {
    let mut rng = Rng::stream(seed, "fx", 0);
    let mut current: Vec<i64> = CURRENCIES.iter().map(|c| c.1).collect();
    let mut out = Vec::with_capacity(days as usize * CURRENCIES.len());
    for _ in 0..days {
        for (i, rate) in current.iter_mut().enumerate() {
            if i as u8 != CNY {
                let step = rng.range(-300, 301);
                *rate += (i128::from(*rate) * i128::from(step) / 100_000) as i64;
            }
        }
        out.extend_from_slice(&current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::day_of;

    fn world() -> World {
        let start = day_of(chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        World::build(42, 2000, start, 60).unwrap()
    }

    #[test]
    fn background_customers_are_clean() {
        let w = world();
        let end = instant(w.last_day() + 1, 0);
        for c in &w.customers {
            assert_eq!(c.kyc, "VERIFIED");
            assert!(c.id_expiry.is_none_or(|d| d > w.last_day()));
            let base = c.last_review.unwrap_or(c.onboarded);
            assert!(
                base + review_cycle_days(c.risk) * DAY_SECS > end,
                "{}: review overdue",
                c.name
            );
            assert!(!c.pep || c.edd_at.is_some());
            assert!(!c.business || c.owner.is_some());
        }
    }

    #[test]
    fn conversions_round_trip() {
        let w = world();
        let jpy = ccy("JPY");
        let yen = w.cny_to(100_000, jpy, w.start);
        assert!((19_000..23_000).contains(&yen), "1000 CNY in JPY: {yen}");
        let back = w.to_cny(yen, jpy, w.start);
        assert!((back - 100_000).abs() <= 5, "{back}");
        assert_eq!(minor_units(jpy), 0);
    }

    #[test]
    fn national_ids_carry_a_valid_check_character() {
        let mut rng = Rng::stream(1, "id", 0);
        let id = national_id(&mut rng, day_of(chrono::NaiveDate::from_ymd_opt(1988, 4, 12).unwrap()));
        assert_eq!(id.len(), 18);
        assert_eq!(&id[6..14], "19880412");
    }
}
