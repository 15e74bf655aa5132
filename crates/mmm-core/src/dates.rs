//! Dates as the pipeline stores them: day numbers (days since 1970-01-01, Arrow's `date32`)
//! and ISO `YYYY-MM-DD` text. Every crate converts through these, with chrono.

use chrono::NaiveDate;

/// 1970-01-01, day number 0.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// The date of a day number; `None` outside chrono's range (about +-262,000 years).
pub fn date_of(day: i32) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::TimeDelta::days(i64::from(day)))
}

/// ISO `YYYY-MM-DD` of a day number (the number itself outside chrono's range, never a panic).
pub fn iso(day: i32) -> String {
    date_of(day).map_or_else(|| day.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// Day number of a date: days since 1970-01-01 (every chrono date fits an i32).
pub fn day_number(date: NaiveDate) -> i32 {
    (date - epoch()).num_days() as i32
}

/// Parse an ISO `YYYY-MM-DD` date (surrounding spaces allowed).
pub fn parse_iso(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Day number of an ISO `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> Option<i32> {
    parse_iso(text).map(day_number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_and_iso_text_round_trip() {
        assert_eq!(iso(0), "1970-01-01");
        assert_eq!(iso(-1), "1969-12-31");
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        assert_eq!(parse_day(" 2024-02-29 "), Some(19_782));
        assert_eq!(parse_day("2023-02-29"), None);
        for day in [-100_000, -1, 0, 17_000, 19_782, 2_000_000] {
            assert_eq!(parse_day(&iso(day)), Some(day), "{day}");
        }
        // Far outside chrono's range: the number, not a panic.
        assert_eq!(iso(i32::MAX), i32::MAX.to_string());
    }
}
