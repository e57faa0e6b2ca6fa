//! Days of a month: its last day, its n-th and last weekday.

use chrono::{Datelike, NaiveDate, Weekday};

/// The last day of `month` in `year` (28, 29, 30 or 31).
pub fn last_day(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year.checked_add(1)?, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

/// The `n`-th `weekday` (1 = first) of the month, `None` when the month has fewer.
pub fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// The last `weekday` of the month, i.e. the `weekday` of its last week.
pub fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    let last = last_day(year, month)?;
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last.checked_sub_days(chrono::Days::new(u64::from(back)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn last_days_including_february() {
        assert_eq!(last_day(2025, 2), Some(date(2025, 2, 28)));
        assert_eq!(last_day(2028, 2), Some(date(2028, 2, 29)));
        assert_eq!(last_day(2100, 2), Some(date(2100, 2, 28)));
        assert_eq!(last_day(2000, 2), Some(date(2000, 2, 29)));
        assert_eq!(last_day(2025, 12), Some(date(2025, 12, 31)));
        assert_eq!(last_day(2025, 4), Some(date(2025, 4, 30)));
        assert_eq!(last_day(2025, 13), None);
    }

    #[test]
    fn nth_and_last_weekdays() {
        assert_eq!(
            nth_weekday(2025, 9, Weekday::Mon, 1),
            Some(date(2025, 9, 1))
        );
        assert_eq!(
            nth_weekday(2025, 10, Weekday::Mon, 1),
            Some(date(2025, 10, 6))
        );
        assert_eq!(nth_weekday(2025, 2, Weekday::Mon, 5), None);
        assert_eq!(last_weekday(2025, 3, Weekday::Mon), Some(date(2025, 3, 31)));
        assert_eq!(last_weekday(2025, 2, Weekday::Mon), Some(date(2025, 2, 24)));
        assert_eq!(last_weekday(2026, 2, Weekday::Sat), Some(date(2026, 2, 28)));
    }
}
