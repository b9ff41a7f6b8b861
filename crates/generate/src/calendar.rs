//! Days and instants. The provider runs on China Standard Time (UTC+08:00, no daylight
//! saving), so a calendar day of the log is a +08:00 day and every timestamp carries that
//! offset, as a real log of such a provider would.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};

/// Days since 1970-01-01.
pub type Day = i32;
/// Seconds since the Unix epoch.
pub type Instant = i64;

/// Offset of the log's timestamps from UTC, in seconds.
pub const OFFSET_SECS: i64 = 8 * 3600;
/// Seconds in a day.
pub const DAY_SECS: i64 = 86_400;

const EPOCH_CE_DAYS: i32 = 719_163;

/// The day number of a date.
pub fn day_of(date: NaiveDate) -> Day {
    date.num_days_from_ce() - EPOCH_CE_DAYS
}

/// The date of a day number.
pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + EPOCH_CE_DAYS).unwrap_or(NaiveDate::MIN)
}

/// `YYYY-MM-DD`.
pub fn date_string(day: Day) -> String {
    date_of(day).format("%Y-%m-%d").to_string()
}

/// The instant of a local second of a day.
pub fn instant(day: Day, second_of_day: i64) -> Instant {
    i64::from(day) * DAY_SECS + second_of_day - OFFSET_SECS
}

/// RFC 3339 with the +08:00 offset, whole seconds.
pub fn timestamp_string(t: Instant) -> String {
    let (Some(offset), Some(utc)) = (
        FixedOffset::east_opt(OFFSET_SECS as i32),
        DateTime::from_timestamp(t, 0),
    ) else {
        return String::new();
    };
    utc.with_timezone(&offset).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Day of the week, Monday = 0.
pub fn weekday(day: Day) -> u32 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7) as u32
}

/// The calendar year of a day.
pub fn year(day: Day) -> i32 {
    date_of(day).year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_instants_agree() {
        let d = day_of(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(date_string(d), "2025-01-01");
        assert_eq!(weekday(d), 2, "2025-01-01 was a Wednesday");
        let t = instant(d, 9 * 3600 + 5);
        assert_eq!(timestamp_string(t), "2025-01-01T09:00:05+08:00");
    }
}
