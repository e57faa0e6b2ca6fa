//! The Chinese lunar calendar (农历), from the `tyme4rs` crate: which lunar month and day
//! a Gregorian day is, leap months (闰月) included.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{Datelike, NaiveDate};
use tyme4rs::tyme::solar::SolarDay;

/// A day of the lunar calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LunarDate {
    /// The lunar year (the one that starts at Spring Festival).
    pub year: i32,
    /// 1 (正月) to 12 (腊月).
    pub month: u8,
    /// True in a leap month (闰月), which repeats the number of the month before it.
    pub leap: bool,
    /// 1 (初一) to 30 (三十).
    pub day: u8,
}

impl LunarDate {
    /// The day's name: 初一 … 初十, 十一 … 二十, 廿一 … 三十.
    pub fn day_name(&self) -> String {
        const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
        let d = usize::from(self.day);
        match d {
            1..=9 => format!("初{}", DIGITS[d]),
            10 => "初十".into(),
            11..=19 => format!("十{}", DIGITS[d - 10]),
            20 => "二十".into(),
            21..=29 => format!("廿{}", DIGITS[d - 20]),
            _ => "三十".into(),
        }
    }

    /// The month's name: 正月 … 腊月, 闰六月 for a leap sixth month.
    pub fn month_name(&self) -> String {
        const NAMES: [&str; 12] = [
            "正", "二", "三", "四", "五", "六", "七", "八", "九", "十", "冬", "腊",
        ];
        let name = NAMES[usize::from(self.month.clamp(1, 12)) - 1];
        if self.leap {
            format!("闰{name}月")
        } else {
            format!("{name}月")
        }
    }
}

type YearTable = Vec<LunarDate>;

static TABLES: LazyLock<Mutex<HashMap<i32, Arc<YearTable>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Gregorian years the lunar data answers for.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9998;

fn convert(d: NaiveDate) -> LunarDate {
    let l =
        SolarDay::from_ymd(d.year() as isize, d.month() as usize, d.day() as usize).get_lunar_day();
    let month = l.get_month();
    LunarDate {
        year: i32::try_from(l.get_year()).unwrap_or(0),
        month: u8::try_from(month.unsigned_abs()).unwrap_or(0),
        leap: month < 0,
        day: u8::try_from(l.get_day()).unwrap_or(0),
    }
}

fn table(year: i32) -> Option<Arc<YearTable>> {
    if !YEARS.contains(&year) {
        return None;
    }
    let mut tables = TABLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(t) = tables.get(&year) {
        return Some(Arc::clone(t));
    }
    let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
    let t: YearTable = first
        .iter_days()
        .take_while(|d| d.year() == year)
        .map(convert)
        .collect();
    let t = Arc::new(t);
    tables.insert(year, Arc::clone(&t));
    Some(t)
}

/// The lunar date of a Gregorian day; `None` outside [`YEARS`]. A year's table is
/// computed once and kept for the process.
pub fn lunar_date(d: NaiveDate) -> Option<LunarDate> {
    let t = table(d.year())?;
    t.get(usize::try_from(d.ordinal0()).ok()?).copied()
}

/// The Gregorian days of `year` that fall in a leap lunar month.
pub fn leap_month_days(year: i32) -> Vec<NaiveDate> {
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return Vec::new();
    };
    first
        .iter_days()
        .take_while(|d| d.year() == year)
        .filter(|d| lunar_date(*d).is_some_and(|l| l.leap))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn spring_festivals() {
        // 正月初一: 2025-01-29, 2026-02-17, 2027-02-06, 2028-01-26.
        for (y, m, d) in [(2025, 1, 29), (2026, 2, 17), (2027, 2, 6), (2028, 1, 26)] {
            let l = lunar_date(date(y, m, d)).expect("in range");
            assert_eq!((l.year, l.month, l.leap, l.day), (y, 1, false, 1), "{y}");
            assert_eq!(l.day_name(), "初一");
        }
    }

    #[test]
    fn leap_sixth_month_2025_and_leap_fifth_2028() {
        // 2025: 闰六月 from 2025-07-25 to 2025-08-22 (29 days).
        let l = lunar_date(date(2025, 7, 25)).expect("in range");
        assert_eq!((l.month, l.leap, l.day), (6, true, 1));
        assert_eq!(l.month_name(), "闰六月");
        let before = lunar_date(date(2025, 7, 24)).expect("in range");
        assert_eq!((before.month, before.leap, before.day), (6, false, 30));
        let last = lunar_date(date(2025, 8, 22)).expect("in range");
        assert_eq!((last.month, last.leap, last.day), (6, true, 29));
        let after = lunar_date(date(2025, 8, 23)).expect("in range");
        assert_eq!((after.month, after.leap, after.day), (7, false, 1));
        assert_eq!(leap_month_days(2025).len(), 29);
        // 2028: 闰五月 from 2028-06-23 to 2028-07-21.
        let l = lunar_date(date(2028, 6, 23)).expect("in range");
        assert_eq!((l.month, l.leap, l.day), (5, true, 1));
        let l = lunar_date(date(2028, 7, 22)).expect("in range");
        assert_eq!((l.month, l.leap, l.day), (6, false, 1));
        assert_eq!(leap_month_days(2028).len(), 29);
        assert!(leap_month_days(2026).is_empty());
        assert!(leap_month_days(2027).is_empty());
    }

    #[test]
    fn names_and_range() {
        let l = LunarDate {
            year: 2025,
            month: 12,
            leap: false,
            day: 29,
        };
        assert_eq!(
            (l.day_name(), l.month_name()),
            ("廿九".into(), "腊月".into())
        );
        let l = LunarDate { day: 13, ..l };
        assert_eq!(l.day_name(), "十三");
        let l = LunarDate { day: 30, ..l };
        assert_eq!(l.day_name(), "三十");
        assert_eq!(lunar_date(NaiveDate::MAX), None);
    }
}
