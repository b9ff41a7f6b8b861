//! The filing calendar: which report goes to which regulator for which periods, and by when.

use chrono::{Datelike, NaiveDate, Weekday};
use custos_model::Period;
use serde::Deserialize;

use crate::ledger::{Entry, Submission};
use crate::{Error, Result};

/// How often a report is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// One filing per day.
    Daily,
    /// One per calendar month.
    Monthly,
    /// One per calendar quarter.
    Quarterly,
}

/// A deadline rule: `"5 working days"` or `"30 days"` after the period's last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Monday to Friday, skipping the calendar's holidays.
    WorkingDays(u32),
    /// Calendar days.
    Days(u32),
}

impl std::str::FromStr for Deadline {
    type Err = Error;
    fn from_str(s: &str) -> Result<Deadline> {
        let err = || Error::Config(format!("deadline {s:?}: write \"5 working days\" or \"30 days\""));
        let mut words = s.split_whitespace();
        let n: u32 = words.next().and_then(|n| n.parse().ok()).ok_or_else(err)?;
        match words.collect::<Vec<_>>().join(" ").as_str() {
            "working days" | "working day" => Ok(Deadline::WorkingDays(n)),
            "days" | "day" => Ok(Deadline::Days(n)),
            _ => Err(err()),
        }
    }
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deadline::WorkingDays(n) => write!(f, "{n} working days"),
            Deadline::Days(n) => write!(f, "{n} days"),
        }
    }
}

/// One line of the calendar, as written in `custos.toml`:
///
/// ```toml
/// [[filing.schedule]]
/// kind = "pboc-hvtr"
/// regulator = "PBOC"
/// frequency = "daily"
/// deadline = "5 working days"
/// start = "2024-01-01"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The report kind filed.
    pub kind: String,
    /// Who receives it.
    pub regulator: String,
    /// Period length.
    pub frequency: Frequency,
    /// Deadline after the period ends.
    pub deadline: String,
    /// The first period filed starts on or contains this day.
    pub start: NaiveDate,
}

/// The calendar: schedules and the holidays that are not working days.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// What is filed.
    #[serde(default)]
    pub schedule: Vec<Schedule>,
    /// Days that are not working days besides weekends.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

/// Whether a period's filing is still within its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueStatus {
    /// Not filed, deadline not passed.
    Due,
    /// Not filed, deadline passed.
    Overdue,
}

/// One filing the calendar expects and the ledger does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFiling {
    /// Report kind.
    pub kind: String,
    /// Regulator.
    pub regulator: String,
    /// The period to file.
    pub period: Period,
    /// The last day to file it.
    pub deadline: NaiveDate,
    /// Due or overdue.
    pub status: DueStatus,
}

impl Calendar {
    /// Checks every schedule's deadline rule.
    pub fn validate(&self) -> Result<()> {
        for s in &self.schedule {
            s.deadline.parse::<Deadline>()?;
        }
        Ok(())
    }

    /// The period of `frequency` that contains `day`.
    pub fn period_of(frequency: Frequency, day: NaiveDate) -> Period {
        match frequency {
            Frequency::Daily => Period::day(day),
            Frequency::Monthly => Period::month_of(day),
            Frequency::Quarterly => Period::quarter_of(day),
        }
    }

    /// The deadline of a period under a rule.
    pub fn deadline(&self, period: &Period, rule: Deadline) -> NaiveDate {
        match rule {
            Deadline::Days(n) => period.last() + chrono::Duration::days(i64::from(n)),
            Deadline::WorkingDays(n) => {
                let mut day = period.last();
                let mut left = n;
                while left > 0 {
                    day = day.succ_opt().unwrap_or(day);
                    if self.is_working_day(day) {
                        left -= 1;
                    }
                }
                day
            }
        }
    }

    /// Monday to Friday and not a holiday.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// Every period that has ended by `as_of` and has no new filing in the ledger, per
    /// schedule, oldest first.
    pub fn due(&self, as_of: NaiveDate, filed: &[Entry]) -> Result<Vec<DueFiling>> {
        let mut out = Vec::new();
        for s in &self.schedule {
            let rule: Deadline = s.deadline.parse()?;
            let mut period = Calendar::period_of(s.frequency, s.start);
            while period.last() < as_of {
                let label = period.to_string();
                let done = filed
                    .iter()
                    .any(|e| e.kind == s.kind && e.period == label && e.submission == Submission::New);
                if !done {
                    let deadline = self.deadline(&period, rule);
                    out.push(DueFiling {
                        kind: s.kind.clone(),
                        regulator: s.regulator.clone(),
                        period,
                        deadline,
                        status: if as_of > deadline {
                            DueStatus::Overdue
                        } else {
                            DueStatus::Due
                        },
                    });
                }
                period = period.next();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let cal = Calendar {
            schedule: vec![],
            holidays: vec![d("2024-03-11")],
        };
        // Friday 2024-03-08 + 5 working days, Monday the 11th a holiday: Mon 18th.
        let p = Period::day(d("2024-03-08"));
        assert_eq!(cal.deadline(&p, Deadline::WorkingDays(5)), d("2024-03-18"));
        assert_eq!(cal.deadline(&p, Deadline::Days(5)), d("2024-03-13"));
        assert!("5 weeks".parse::<Deadline>().is_err());
    }

    #[test]
    fn due_lists_unfiled_ended_periods() {
        let cal = Calendar {
            schedule: vec![Schedule {
                kind: "goaml-str".into(),
                regulator: "FIU".into(),
                frequency: Frequency::Monthly,
                deadline: "30 days".into(),
                start: d("2024-01-15"),
            }],
            holidays: vec![],
        };
        let due = cal.due(d("2024-03-15"), &[]).unwrap();
        let got: Vec<(String, DueStatus)> = due.iter().map(|f| (f.period.to_string(), f.status)).collect();
        assert_eq!(
            got,
            vec![
                ("2024-01".to_string(), DueStatus::Overdue),
                ("2024-02".to_string(), DueStatus::Due)
            ]
        );
    }
}
