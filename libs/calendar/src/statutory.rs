//! The statutory public holidays themselves (全国年节及纪念日放假办法, as revised in
//! 2024 with effect from 2025): 元旦 1 January; 春节 除夕 to 正月初三 (4 days); 清明 the
//! day of the Qingming solar term; 劳动节 1–2 May; 端午 五月初五; 中秋 八月十五; 国庆
//! 1–3 October. The yearly State Council notice adds the bridging rest days and the
//! make-up working days around them; for a year whose notice is not out yet, these
//! days at least are known.

use chrono::{Datelike, NaiveDate};
use tyme4rs::tyme::Culture;
use tyme4rs::tyme::solar::SolarDay;

use crate::lunar;

/// Whether `d` is one of the statutory holidays above.
pub fn is_holiday(d: NaiveDate) -> bool {
    if matches!((d.month(), d.day()), (1, 1) | (5, 1) | (5, 2) | (10, 1..=3)) {
        return true;
    }
    if let Some(l) = lunar::lunar_date(d)
        && !l.leap
        && matches!((l.month, l.day), (1, 1..=3) | (5, 5) | (8, 15))
    {
        return true;
    }
    // 除夕: the day before 正月初一.
    if d.succ_opt()
        .and_then(lunar::lunar_date)
        .is_some_and(|l| !l.leap && l.month == 1 && l.day == 1)
    {
        return true;
    }
    qingming(d)
}

fn qingming(d: NaiveDate) -> bool {
    if d.month() != 4 || !lunar::YEARS.contains(&d.year()) {
        return false;
    }
    let term =
        SolarDay::from_ymd(d.year() as isize, d.month() as usize, d.day() as usize).get_term_day();
    term.get_day_index() == 0 && term.get_solar_term().get_name() == "清明"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn statutory_days_of_2027_and_2028() {
        // 2027: 除夕 2/5, 正月初一 2/6 … 初三 2/8; 清明 4/5; 端午 6/9; 中秋 9/15.
        for d in [
            date(2027, 1, 1),
            date(2027, 2, 5),
            date(2027, 2, 6),
            date(2027, 2, 8),
            date(2027, 4, 5),
            date(2027, 5, 1),
            date(2027, 5, 2),
            date(2027, 6, 9),
            date(2027, 9, 15),
            date(2027, 10, 3),
        ] {
            assert!(is_holiday(d), "{d}");
        }
        for d in [
            date(2027, 2, 4),
            date(2027, 2, 9),
            date(2027, 4, 6),
            date(2027, 10, 4),
        ] {
            assert!(!is_holiday(d), "{d}");
        }
        // 2028: 除夕 1/25, 初一 1/26; 清明 4/4; 端午 5/28 (the leap fifth month's
        // 初五, 6/27, is not 端午); 中秋 10/3.
        for d in [
            date(2028, 1, 25),
            date(2028, 1, 28),
            date(2028, 4, 4),
            date(2028, 5, 28),
            date(2028, 10, 3),
        ] {
            assert!(is_holiday(d), "{d}");
        }
        assert!(!is_holiday(date(2028, 6, 27)));
        // The 2025 notice agrees on its statutory days.
        for d in [
            date(2025, 1, 28),
            date(2025, 1, 31),
            date(2025, 4, 4),
            date(2025, 5, 31),
            date(2025, 10, 6),
        ] {
            assert!(is_holiday(d), "{d}");
        }
    }
}
