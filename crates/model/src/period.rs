//! Reporting periods: the span of days a filing or report covers.

use chrono::{Datelike, NaiveDate};

/// A span of whole days in the reporting time zone, both ends inclusive.
///
/// Written as a day (`2024-03-05`), a month (`2024-03`), a quarter (`2024-Q1`), a year
/// (`2024`) or an explicit range (`2024-03-01..2024-03-10`).
///
/// ```
/// use custos_model::Period;
/// let q: Period = "2024-Q1".parse().unwrap();
/// assert_eq!(q.to_string(), "2024-Q1");
/// assert_eq!(q.last().to_string(), "2024-03-31");
/// assert!("2024-13".parse::<Period>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    kind: PeriodKind,
    first: NaiveDate,
    last: NaiveDate,
}

/// How a period was written, so it prints back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeriodKind {
    /// One day.
    Day,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
    /// Any span of days.
    Range,
}

/// Why a period did not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a period: write 2024-03-05, 2024-03, 2024-Q1, 2024 or 2024-03-01..2024-03-10")]
pub struct PeriodError(String);

impl Period {
    /// The period of exactly these days.
    pub fn range(first: NaiveDate, last: NaiveDate) -> Option<Period> {
        (first <= last).then_some(Period {
            kind: PeriodKind::Range,
            first,
            last,
        })
    }

    /// One day.
    pub fn day(day: NaiveDate) -> Period {
        Period {
            kind: PeriodKind::Day,
            first: day,
            last: day,
        }
    }

    /// The calendar month containing `day`.
    pub fn month_of(day: NaiveDate) -> Period {
        let first = day.with_day(1).unwrap_or(day);
        Period {
            kind: PeriodKind::Month,
            first,
            last: end_of_month(first.year(), first.month()),
        }
    }

    /// The calendar quarter containing `day`.
    pub fn quarter_of(day: NaiveDate) -> Period {
        let q = (day.month() - 1) / 3;
        let first = NaiveDate::from_ymd_opt(day.year(), q * 3 + 1, 1).unwrap_or(day);
        Period {
            kind: PeriodKind::Quarter,
            first,
            last: end_of_month(day.year(), q * 3 + 3),
        }
    }

    /// First day.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// Last day, inclusive.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// How it was written.
    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    /// The period that follows this one, of the same kind and length.
    pub fn next(&self) -> Period {
        let after = self.last.succ_opt().unwrap_or(self.last);
        match self.kind {
            PeriodKind::Day => Period::day(after),
            PeriodKind::Month => Period::month_of(after),
            PeriodKind::Quarter => Period::quarter_of(after),
            PeriodKind::Year => Period {
                kind: PeriodKind::Year,
                first: after,
                last: NaiveDate::from_ymd_opt(after.year(), 12, 31).unwrap_or(after),
            },
            PeriodKind::Range => Period {
                kind: PeriodKind::Range,
                first: after,
                last: after + (self.last - self.first),
            },
        }
    }

    /// Whether `day` falls in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

fn end_of_month(year: i32, month: u32) -> NaiveDate {
    let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN)
}

impl std::str::FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let err = || PeriodError(s.to_string());
        let t = s.trim();
        if let Some((a, b)) = t.split_once("..") {
            let first = NaiveDate::parse_from_str(a, "%Y-%m-%d").map_err(|_| err())?;
            let last = NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| err())?;
            return Period::range(first, last).ok_or_else(err);
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(Period::day(d));
        }
        if let Some((y, q)) = t.split_once("-Q") {
            let year: i32 = y.parse().map_err(|_| err())?;
            let q: u32 = q.parse().map_err(|_| err())?;
            if !(1..=4).contains(&q) || y.len() != 4 {
                return Err(err());
            }
            let first = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).ok_or_else(err)?;
            return Ok(Period::quarter_of(first));
        }
        if let Some((y, m)) = t.split_once('-') {
            let (year, month): (i32, u32) = (y.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
            if y.len() != 4 || m.len() != 2 {
                return Err(err());
            }
            let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(err)?;
            return Ok(Period::month_of(first));
        }
        if t.len() == 4 {
            let year: i32 = t.parse().map_err(|_| err())?;
            let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(err)?;
            let last = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(err)?;
            return Ok(Period {
                kind: PeriodKind::Year,
                first,
                last,
            });
        }
        Err(err())
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            PeriodKind::Day => write!(f, "{}", self.first.format("%Y-%m-%d")),
            PeriodKind::Month => write!(f, "{}", self.first.format("%Y-%m")),
            PeriodKind::Quarter => write!(f, "{}-Q{}", self.first.year(), (self.first.month() - 1) / 3 + 1),
            PeriodKind::Year => write!(f, "{}", self.first.year()),
            PeriodKind::Range => write!(f, "{}..{}", self.first, self.last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn round_trips_and_bounds() {
        for s in ["2024-03-05", "2024-02", "2024-Q4", "2024", "2024-01-30..2024-02-02"] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("2024-02").last().to_string(), "2024-02-29");
        assert_eq!(p("2023-Q4").last().to_string(), "2023-12-31");
        assert_eq!(p("2024-12").next().to_string(), "2025-01");
        assert_eq!(p("2024-Q4").next().to_string(), "2025-Q1");
        assert_eq!(p("2024-02-28").next().to_string(), "2024-02-29");
        for bad in ["2024-13", "2024-Q5", "24-01", "2024-03-10..2024-03-01", "march"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
