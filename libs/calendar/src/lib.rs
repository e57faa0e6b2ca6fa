//! China's calendar as the offices keep it: the statutory holiday calendar with make-up
//! working days (one source for every service), Asia/Shanghai days, deadline periods,
//! month arithmetic ([`month`]) and the lunar calendar ([`lunar`]).
//!
//! Deadline arithmetic, Asia/Shanghai, following the civil-law convention on periods
//! (民法典 Art. 201, 203):
//!
//! - the start day is not counted: a period begins on the day after the start instant's
//!   local (Asia/Shanghai) day;
//! - a period ends at the end of its last day, i.e. at 00:00 Asia/Shanghai of the next
//!   day (returned as a UTC instant);
//! - a calendar-day period whose last day is a public holiday or a rest day ends at the
//!   end of the next working day;
//! - a working-day period counts only working days: Monday to Friday unless it is an
//!   official holiday, plus the weekend days the State Council declares make-up working
//!   days (调休上班).
//!
//! Official holidays and make-up working days come from a [`HolidayCalendar`]; the
//! production one is [`OfficialCalendar`], backed by the `tyme4rs` crate's legal-holiday
//! data (法定假日), which follows the yearly State Council notices
//! (国务院办公厅关于…部分节假日安排的通知).

pub mod lunar;
pub mod month;
pub mod statutory;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use tyme4rs::tyme::holiday::LegalHoliday;

/// How a period is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// Every day counts; a last day that is not a working day moves to the next working
    /// day (民法典 Art. 203).
    CalendarDays,
    /// Only working days count (工作日).
    WorkingDays,
}

/// Which days are working days, per the official holiday arrangements.
pub trait HolidayCalendar {
    /// Whether `d` is a working day: Monday to Friday unless it is an official holiday or
    /// rest day, or a weekend day declared a make-up working day (调休上班).
    fn is_working_day(&self, d: NaiveDate) -> bool;

    /// Whether the calendar holds the official arrangement (the State Council notice) for
    /// `year`. For a year it does not cover, [`is_working_day`](Self::is_working_day) can
    /// only guess, and callers that need a binding deadline should refuse.
    fn covers(&self, year: i32) -> bool;

    /// Whether the status of `d` is final: its year is covered and, from 20 December on,
    /// the next year's notice is known as well, since the next year's New Year (元旦)
    /// arrangement can turn the last days of December into rest days or make-up working
    /// days (the notice for 2019, for one, made 29 December 2018 a working Saturday and
    /// 31 December 2018 a rest day).
    fn is_settled(&self, d: NaiveDate) -> bool {
        let year = d.year();
        if !self.covers(year) {
            return false;
        }
        let next_notice_from = NaiveDate::from_ymd_opt(year, 12, 20);
        match next_notice_from {
            Some(from) if d >= from => self.covers(year.saturating_add(1)),
            _ => true,
        }
    }
}

/// Why a deadline could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The calendar does not (yet) hold the official arrangement that decides this day.
    #[error("no official holiday arrangement is known for {0}")]
    NotCovered(NaiveDate),
    /// The calendar has no working day in a long run of days after this one.
    #[error("no working day within {MAX_REST_RUN} days after {0}")]
    NoWorkingDay(NaiveDate),
    /// The date arithmetic left chrono's representable range.
    #[error("date out of range")]
    OutOfRange,
}

/// Longest run of consecutive non-working days accepted before a calendar is taken to be
/// broken (official holiday runs last about ten days at most).
pub const MAX_REST_RUN: u32 = 31;

/// Monday to Friday are working days; no holidays, no make-up days. Covers every year.
/// For tests and as a fallback; deadlines of record use [`OfficialCalendar`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeekdaysOnly;

impl HolidayCalendar for WeekdaysOnly {
    fn is_working_day(&self, d: NaiveDate) -> bool {
        is_weekday(d)
    }

    fn covers(&self, _year: i32) -> bool {
        true
    }
}

/// China's official public holidays and make-up working days, per the State Council's
/// yearly notices, as published in the `tyme4rs` crate's legal-holiday data
/// (`tyme4rs::tyme::holiday::LegalHoliday`).
///
/// With tyme4rs 1.5 that data starts with the New Year arrangement of 2002 (its first
/// entry is 29 December 2001) and ends with the notice for 2026, so [`covers`] is true
/// for 2002 to 2026. A year counts as covered when the data lists both 1 January (元旦)
/// and 1 October (国庆节) of that year as rest days, which every notice does; newer
/// crate releases add years without any change here.
///
/// For a day of a year that is not covered, [`is_working_day`] falls back to Monday to
/// Friday less the statutory holidays themselves ([`statutory`]): the notice's bridging
/// rest days and make-up working days are not known yet.
///
/// The tables are read from the crate once per year and shared process-wide; the first
/// question about a year costs one look-up in the crate per day of that year.
///
/// [`covers`]: HolidayCalendar::covers
/// [`is_working_day`]: HolidayCalendar::is_working_day
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfficialCalendar;

/// The days of one year that the legal-holiday data lists: `true` for a make-up working
/// day, `false` for a holiday or rest day.
type YearTable = HashMap<NaiveDate, bool>;

static YEAR_TABLES: LazyLock<Mutex<HashMap<i32, Arc<YearTable>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

static COVERED_YEARS: LazyLock<Mutex<HashMap<i32, bool>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl OfficialCalendar {
    fn table(year: i32) -> Arc<YearTable> {
        let mut tables = YEAR_TABLES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            tables
                .entry(year)
                .or_insert_with(|| Arc::new(read_year(year))),
        )
    }

    /// Reads the tables of `years` now (a blocking call, e.g. at start-up), so that later
    /// questions about them are answered from memory.
    pub fn preload(&self, years: impl IntoIterator<Item = i32>) {
        for year in years {
            Self::table(year);
        }
    }

    fn listed(d: NaiveDate) -> Option<bool> {
        Self::table(d.year()).get(&d).copied()
    }

    /// Whether `d` is listed by the official arrangements as a holiday or rest day of a
    /// holiday period (including weekend days inside it).
    pub fn is_listed_rest_day(&self, d: NaiveDate) -> bool {
        Self::listed(d) == Some(false)
    }

    /// Whether `d` is a weekend day declared a working day (调休上班).
    pub fn is_make_up_working_day(&self, d: NaiveDate) -> bool {
        Self::listed(d) == Some(true)
    }
}

impl HolidayCalendar for OfficialCalendar {
    fn is_working_day(&self, d: NaiveDate) -> bool {
        Self::listed(d).unwrap_or_else(|| is_weekday(d))
    }

    fn covers(&self, year: i32) -> bool {
        let mut covered = COVERED_YEARS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *covered.entry(year).or_insert_with(|| {
            let rest = |m, d| NaiveDate::from_ymd_opt(year, m, d).and_then(read_day) == Some(false);
            rest(1, 1) && rest(10, 1)
        })
    }
}

/// Whether the crate's legal-holiday data lists `d`: `Some(true)` for a make-up working
/// day, `Some(false)` for a holiday or rest day.
fn read_day(d: NaiveDate) -> Option<bool> {
    // The crate's calendar handles years 1 to 9999 only.
    if !(1..=9999).contains(&d.year()) {
        return None;
    }
    let year = isize::try_from(d.year()).ok()?;
    LegalHoliday::from_ymd(year, d.month() as usize, d.day() as usize).map(|h| h.is_work())
}

/// Reads one year's listed days from the crate's legal-holiday data; for a year without
/// a notice (neither 1 January nor 1 October listed), its statutory holidays.
fn read_year(year: i32) -> YearTable {
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return YearTable::new();
    };
    let days = || first.iter_days().take_while(|d| d.year() == year);
    let listed: YearTable = days()
        .filter_map(|d| read_day(d).map(|work| (d, work)))
        .collect();
    let noticed = [(1, 1), (10, 1)].iter().all(|(m, d)| {
        NaiveDate::from_ymd_opt(year, *m, *d).is_some_and(|x| listed.get(&x) == Some(&false))
    });
    if noticed {
        return listed;
    }
    let mut table = listed;
    for d in days().filter(|d| statutory::is_holiday(*d)) {
        table.entry(d).or_insert(false);
    }
    table
}

fn is_weekday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The Asia/Shanghai calendar day of an instant.
pub fn shanghai_day(t: DateTime<Utc>) -> NaiveDate {
    let utc = t.naive_utc();
    let offset = Shanghai.offset_from_utc_datetime(&utc).fix();
    // Past the end of chrono's range the local date does not exist; keep the UTC one.
    utc.checked_add_offset(offset)
        .map_or_else(|| utc.date(), |local| local.date())
}

/// The end of day `d` in Asia/Shanghai, i.e. 00:00 Asia/Shanghai of the next day, as a
/// UTC instant. `None` only at the edge of chrono's range.
pub fn end_of_day(d: NaiveDate) -> Option<DateTime<Utc>> {
    let next = d.succ_opt()?;
    let midnight = next.and_time(NaiveTime::MIN);
    match Shanghai.from_local_datetime(&midnight).earliest() {
        Some(t) => Some(t.with_timezone(&Utc)),
        // Midnight always exists in Asia/Shanghai; should the zone data ever say
        // otherwise, China Standard Time is UTC+8.
        None => FixedOffset::east_opt(8 * 3600)?
            .from_local_datetime(&midnight)
            .single()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// `d` plus `days` calendar days, or `None` past chrono's range.
pub fn add_days_checked(d: NaiveDate, days: u32) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(u64::from(days)))
}

/// The first working day on or after `d`.
pub fn next_working_day(
    d: NaiveDate,
    cal: &dyn HolidayCalendar,
) -> Result<NaiveDate, DeadlineError> {
    roll_forward(d, cal, false)
}

/// The number of working days after `a` up to and including `b` (zero when `b <= a`):
/// the start day is not counted, as in a period. For a working-day period of `n` days
/// starting on day `a` and ending on day `b`, this is `n`.
pub fn working_days_between(a: NaiveDate, b: NaiveDate, cal: &dyn HolidayCalendar) -> u32 {
    let mut n: u32 = 0;
    for d in a.iter_days().skip(1).take_while(|d| *d <= b) {
        if cal.is_working_day(d) {
            n = n.saturating_add(1);
        }
    }
    n
}

/// The last day (Asia/Shanghai) of a period of `period` days counted from `start_day`
/// (which itself is not counted). Uses whatever the calendar says even for years it does
/// not cover; see [`last_day_checked`].
///
/// A period of 0 calendar days ends on the start day, or the next working day if the
/// start day is not one; a period of 0 working days ends on the start day.
pub fn last_day(
    start_day: NaiveDate,
    period: u32,
    counting: Counting,
    cal: &dyn HolidayCalendar,
) -> Result<NaiveDate, DeadlineError> {
    last_day_impl(start_day, period, counting, cal, false)
}

/// Like [`last_day`], but fails with [`DeadlineError::NotCovered`] when a day the
/// result depends on is not [settled](HolidayCalendar::is_settled) by the calendar.
pub fn last_day_checked(
    start_day: NaiveDate,
    period: u32,
    counting: Counting,
    cal: &dyn HolidayCalendar,
) -> Result<NaiveDate, DeadlineError> {
    last_day_impl(start_day, period, counting, cal, true)
}

/// The moment a period of `period` days (counted as `counting`) that starts at `start`
/// ends: 00:00 Asia/Shanghai after its last day, as a UTC instant.
///
/// This never fails: should the calendar be broken (no working day for
/// [`MAX_REST_RUN`] days), the period is counted on [`WeekdaysOnly`]; past chrono's range
/// the result is [`DateTime::<Utc>::MAX_UTC`]. Use [`due_checked`] to refuse deadlines
/// in years the calendar does not cover.
pub fn due(
    start: DateTime<Utc>,
    period: u32,
    counting: Counting,
    cal: &dyn HolidayCalendar,
) -> DateTime<Utc> {
    let start_day = shanghai_day(start);
    last_day(start_day, period, counting, cal)
        .or_else(|_| last_day(start_day, period, counting, &WeekdaysOnly))
        .ok()
        .and_then(end_of_day)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Like [`due`], but fails when a day the result depends on is not settled by the
/// calendar (its year's official arrangement is unknown), when the calendar is broken,
/// or past chrono's range.
pub fn due_checked(
    start: DateTime<Utc>,
    period: u32,
    counting: Counting,
    cal: &dyn HolidayCalendar,
) -> Result<DateTime<Utc>, DeadlineError> {
    let last = last_day_checked(shanghai_day(start), period, counting, cal)?;
    end_of_day(last).ok_or(DeadlineError::OutOfRange)
}

/// The moment a period of `days` calendar days that starts at `start` ends: midnight
/// (Asia/Shanghai) after its last day. Plain calendar days: a last day on a holiday or
/// rest day is not moved (see [`due`] for that).
pub fn due_calendar(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let local_day = shanghai_day(start);
    let last = add_days_checked(local_day, days).unwrap_or(local_day);
    end_of_day(last).unwrap_or(start)
}

fn check(
    d: NaiveDate,
    cal: &dyn HolidayCalendar,
    require_settled: bool,
) -> Result<(), DeadlineError> {
    if require_settled && !cal.is_settled(d) {
        Err(DeadlineError::NotCovered(d))
    } else {
        Ok(())
    }
}

/// The first working day on or after `d`.
fn roll_forward(
    d: NaiveDate,
    cal: &dyn HolidayCalendar,
    require_settled: bool,
) -> Result<NaiveDate, DeadlineError> {
    let mut day = d;
    for _ in 0..=MAX_REST_RUN {
        check(day, cal, require_settled)?;
        if cal.is_working_day(day) {
            return Ok(day);
        }
        day = day.succ_opt().ok_or(DeadlineError::OutOfRange)?;
    }
    Err(DeadlineError::NoWorkingDay(d))
}

fn last_day_impl(
    start_day: NaiveDate,
    period: u32,
    counting: Counting,
    cal: &dyn HolidayCalendar,
    require_settled: bool,
) -> Result<NaiveDate, DeadlineError> {
    match counting {
        Counting::CalendarDays => {
            let last = add_days_checked(start_day, period).ok_or(DeadlineError::OutOfRange)?;
            roll_forward(last, cal, require_settled)
        }
        Counting::WorkingDays => {
            let mut day = start_day;
            for _ in 0..period {
                let next = day.succ_opt().ok_or(DeadlineError::OutOfRange)?;
                day = roll_forward(next, cal, require_settled)?;
            }
            Ok(day)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s)
            .single()
            .expect("valid instant")
    }

    /// An instant given in Asia/Shanghai local time.
    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid local time")
            .with_timezone(&Utc)
    }

    /// The expected due instant for a last day: 00:00 Shanghai of the next day, i.e.
    /// 16:00 UTC of the last day itself.
    fn end_of(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        utc(y, m, d, 16, 0, 0)
    }

    fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        from.iter_days().take_while(move |d| *d <= to)
    }

    const CAL: OfficialCalendar = OfficialCalendar;

    #[test]
    fn start_day_not_counted_and_end_of_last_day_in_shanghai() {
        // Dispatched 2026-03-02 23:30 Shanghai (15:30 UTC): 15 days end at the end of
        // 2026-03-17 Shanghai, i.e. 2026-03-17 16:00 UTC.
        let start = utc(2026, 3, 2, 15, 30, 0);
        assert_eq!(due_calendar(start, 15), end_of(2026, 3, 17));
        // Just after midnight Shanghai is already the next local day.
        let start = utc(2026, 3, 2, 16, 30, 0);
        assert_eq!(due_calendar(start, 15), end_of(2026, 3, 18));
    }

    #[test]
    fn official_calendar_covers_2002_to_2026() {
        // tyme4rs 1.5 holds the notices for 2002 to 2026; only the New Year days of
        // 2002 reach into 2001, so 2001 is not covered.
        for year in 2002..=2026 {
            assert!(CAL.covers(year), "{year} should be covered");
        }
        assert!(!CAL.covers(2001));
        assert!(!CAL.covers(1990));
        assert!(!CAL.covers(2100));
        assert!(!CAL.covers(0));
        assert!(!CAL.covers(-5));
        // Outside the data, the weekday rule less the statutory holidays applies:
        // 2100-01-01 is a Friday but New Year's Day; Mon 2100-01-04 is a working day.
        assert!(!CAL.is_working_day(date(2100, 1, 1)));
        assert!(!CAL.is_working_day(date(2100, 1, 2)));
        assert!(CAL.is_working_day(date(2100, 1, 4)));
        // 2027 has no notice in the data yet: its Spring Festival days (除夕 2/5 to
        // 初三 2/8) and National Day (10/1–10/3) are known, its bridging days are not.
        assert!(!CAL.covers(2027));
        assert!(!CAL.is_working_day(date(2027, 2, 5)));
        assert!(CAL.is_working_day(date(2027, 2, 9)));
        assert!(!CAL.is_working_day(date(2027, 10, 1)));
        assert!(CAL.is_working_day(date(2027, 10, 4)));
    }

    /// 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12):
    /// 春节 1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天；
    /// 1月26日（周日）、2月8日（周六）上班。
    /// 国庆节、中秋节 10月1日（周三）至8日（周三）放假调休，共8天；
    /// 9月28日（周日）、10月11日（周六）上班。
    #[test]
    fn calendar_matches_2025_notice() {
        CAL.preload([2025]);
        assert_eq!(date(2025, 1, 28).weekday(), Weekday::Tue);
        assert_eq!(date(2025, 1, 26).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 2, 8).weekday(), Weekday::Sat);
        for d in days(date(2025, 1, 28), date(2025, 2, 4)) {
            assert!(!CAL.is_working_day(d), "{d} is in the 2025 Spring Festival");
            assert!(CAL.is_listed_rest_day(d), "{d}");
        }
        assert!(CAL.is_working_day(date(2025, 1, 26)));
        assert!(CAL.is_make_up_working_day(date(2025, 1, 26)));
        assert!(CAL.is_working_day(date(2025, 2, 8)));
        assert!(CAL.is_make_up_working_day(date(2025, 2, 8)));
        assert!(CAL.is_working_day(date(2025, 1, 27)));
        assert!(CAL.is_working_day(date(2025, 2, 5)));
        assert!(!CAL.is_working_day(date(2025, 1, 25)));
        assert!(!CAL.is_working_day(date(2025, 2, 9)));

        assert_eq!(date(2025, 10, 1).weekday(), Weekday::Wed);
        assert_eq!(date(2025, 9, 28).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 10, 11).weekday(), Weekday::Sat);
        for d in days(date(2025, 10, 1), date(2025, 10, 8)) {
            assert!(
                !CAL.is_working_day(d),
                "{d} is in the 2025 National Day holiday"
            );
        }
        assert!(CAL.is_working_day(date(2025, 9, 28)));
        assert!(CAL.is_working_day(date(2025, 10, 11)));
        assert!(CAL.is_working_day(date(2025, 9, 30)));
        assert!(CAL.is_working_day(date(2025, 10, 9)));
        assert!(!CAL.is_working_day(date(2025, 9, 27)));
        assert!(!CAL.is_working_day(date(2025, 10, 12)));
    }

    /// 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04):
    /// 春节 2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天；
    /// 2月14日（周六）、2月28日（周六）上班。
    /// 中秋节 9月25日（周五）至27日（周日）放假，共3天。
    /// 国庆节 10月1日（周四）至7日（周三）放假调休，共7天；9月20日（周日）、10月10日（周六）上班。
    #[test]
    fn calendar_matches_2026_notice() {
        assert_eq!(date(2026, 2, 15).weekday(), Weekday::Sun);
        assert_eq!(date(2026, 2, 23).weekday(), Weekday::Mon);
        assert_eq!(date(2026, 2, 14).weekday(), Weekday::Sat);
        assert_eq!(date(2026, 2, 28).weekday(), Weekday::Sat);
        for d in days(date(2026, 2, 15), date(2026, 2, 23)) {
            assert!(!CAL.is_working_day(d), "{d} is in the 2026 Spring Festival");
        }
        assert!(CAL.is_working_day(date(2026, 2, 14)));
        assert!(CAL.is_working_day(date(2026, 2, 28)));
        assert!(CAL.is_working_day(date(2026, 2, 24)));
        assert!(!CAL.is_working_day(date(2026, 3, 1)));

        assert_eq!(date(2026, 10, 1).weekday(), Weekday::Thu);
        assert_eq!(date(2026, 9, 20).weekday(), Weekday::Sun);
        assert_eq!(date(2026, 10, 10).weekday(), Weekday::Sat);
        for d in days(date(2026, 9, 25), date(2026, 9, 27)) {
            assert!(!CAL.is_working_day(d), "{d} is the 2026 Mid-Autumn holiday");
        }
        for d in days(date(2026, 10, 1), date(2026, 10, 7)) {
            assert!(
                !CAL.is_working_day(d),
                "{d} is in the 2026 National Day holiday"
            );
        }
        assert!(CAL.is_working_day(date(2026, 9, 20)));
        assert!(CAL.is_working_day(date(2026, 10, 10)));
        assert!(CAL.is_working_day(date(2026, 10, 8)));
        assert!(!CAL.is_working_day(date(2026, 10, 11)));
    }

    #[test]
    fn spring_festival_2025_calendar_days() {
        // 2025 notice: rest 1月28日 to 2月4日. 15 days from Wed 2025-01-15 end on Thu
        // 2025-01-30, inside the holiday, so the period ends at the end of the first
        // working day after it, Wed 2025-02-05.
        let start = sh(2025, 1, 15, 10, 0);
        assert_eq!(
            due(start, 15, Counting::CalendarDays, &CAL),
            end_of(2025, 2, 5)
        );
        // Plain calendar days would have ended on the holiday itself.
        assert_eq!(due_calendar(start, 15), end_of(2025, 1, 30));
        // A last day on the make-up Sunday 2025-01-26 stays there: it is a working day.
        let start = sh(2025, 1, 11, 9, 0);
        assert_eq!(
            due(start, 15, Counting::CalendarDays, &CAL),
            end_of(2025, 1, 26)
        );
    }

    #[test]
    fn spring_festival_2025_working_days() {
        // 2025 notice: rest 1月28日 to 2月4日; make-up working days Sun 1月26日 and
        // Sat 2月8日. From Mon 2025-01-20: Jan 21-24 (4), Sun Jan 26 (5), Mon Jan 27 (6),
        // Feb 5-7 (9), Sat Feb 8 (10), Feb 10-14 (15).
        let start = sh(2025, 1, 20, 14, 0);
        assert_eq!(
            due(start, 15, Counting::WorkingDays, &CAL),
            end_of(2025, 2, 14)
        );
        assert_eq!(
            working_days_between(date(2025, 1, 20), date(2025, 2, 14), &CAL),
            15
        );
        // Ignoring the holiday arrangement the same count would end on Mon 2025-02-10.
        assert_eq!(
            due(start, 15, Counting::WorkingDays, &WeekdaysOnly),
            end_of(2025, 2, 10)
        );
    }

    #[test]
    fn national_day_2025() {
        // 2025 notice: rest 10月1日 to 8日; make-up working days Sun 9月28日, Sat 10月11日.
        // 15 calendar days from Sat 2025-09-20 end on Sun 2025-10-05, inside the holiday:
        // moved to Thu 2025-10-09.
        assert_eq!(
            due(sh(2025, 9, 20, 11, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2025, 10, 9)
        );
        // 15 working days from Wed 2025-09-24: Sep 25-26 (2), Sun Sep 28 (3), Sep 29-30
        // (5), Oct 9-10 (7), Sat Oct 11 (8), Oct 13-17 (13), Oct 20-21 (15).
        assert_eq!(
            due(sh(2025, 9, 24, 16, 0), 15, Counting::WorkingDays, &CAL),
            end_of(2025, 10, 21)
        );
    }

    #[test]
    fn spring_festival_2026() {
        // 2026 notice: rest 2月15日 to 23日; make-up working days Sat 2月14日, Sat 2月28日.
        // 15 calendar days from Tue 2026-02-03 end on Wed 2026-02-18: moved to Tue
        // 2026-02-24.
        assert_eq!(
            due(sh(2026, 2, 3, 10, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2026, 2, 24)
        );
        // 15 working days from Mon 2026-02-09: Feb 10-13 (4), Sat Feb 14 (5), Feb 24-27
        // (9), Sat Feb 28 (10), Mar 2-6 (15).
        assert_eq!(
            due(sh(2026, 2, 9, 10, 0), 15, Counting::WorkingDays, &CAL),
            end_of(2026, 3, 6)
        );
    }

    #[test]
    fn national_day_2026() {
        // 2026 notice: rest 9月25日 to 27日 (中秋) and 10月1日 to 7日; make-up working days
        // Sun 9月20日, Sat 10月10日. 15 calendar days from Fri 2026-09-18 end on Sat
        // 2026-10-03: moved to Thu 2026-10-08.
        assert_eq!(
            due(sh(2026, 9, 18, 10, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2026, 10, 8)
        );
        // 15 working days from Thu 2026-09-17: Fri Sep 18 (1), Sun Sep 20 (2), Sep 21-24
        // (6), Sep 28-30 (9), Oct 8-9 (11), Sat Oct 10 (12), Oct 12-14 (15).
        assert_eq!(
            due(sh(2026, 9, 17, 10, 0), 15, Counting::WorkingDays, &CAL),
            end_of(2026, 10, 14)
        );
    }

    #[test]
    fn start_day_is_not_counted() {
        // One calendar day from Mon 2025-03-03 09:00 ends at the end of Tue 2025-03-04.
        assert_eq!(
            due(sh(2025, 3, 3, 9, 0), 1, Counting::CalendarDays, &CAL),
            end_of(2025, 3, 4)
        );
        // Even a start at 00:00 does not make the start day count.
        assert_eq!(
            due(sh(2025, 3, 3, 0, 0), 1, Counting::CalendarDays, &CAL),
            end_of(2025, 3, 4)
        );
        // One working day from Fri 2025-03-07 ends at the end of Mon 2025-03-10.
        assert_eq!(
            due(sh(2025, 3, 7, 9, 0), 1, Counting::WorkingDays, &CAL),
            end_of(2025, 3, 10)
        );
        // A zero-day period ends with the start day.
        assert_eq!(
            due(sh(2025, 3, 7, 9, 0), 0, Counting::WorkingDays, &CAL),
            end_of(2025, 3, 7)
        );
    }

    #[test]
    fn start_late_at_night_uses_the_shanghai_date() {
        // 2025-01-12 15:30 UTC is 23:30 Sun 2025-01-12 in Shanghai: 15 calendar days end
        // on Mon 2025-01-27, a working day.
        assert_eq!(
            due(
                utc(2025, 1, 12, 15, 30, 0),
                15,
                Counting::CalendarDays,
                &CAL
            ),
            end_of(2025, 1, 27)
        );
        // 2025-01-12 16:00 UTC is already 00:00 Mon 2025-01-13 in Shanghai, although the
        // UTC date is still the 12th: the last day is Tue 2025-01-28, the first day of the
        // Spring Festival (2025 notice), so the period runs to the end of 2025-02-05.
        assert_eq!(
            due(utc(2025, 1, 12, 16, 0, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2025, 2, 5)
        );
        assert_eq!(
            due(
                utc(2025, 1, 12, 15, 59, 59),
                15,
                Counting::CalendarDays,
                &CAL
            ),
            end_of(2025, 1, 27)
        );
        // Working days: 23:30 Sunday Shanghai is a Sunday start, so one working day is
        // Mon 2025-01-13; 00:30 Monday Shanghai (still Sunday in UTC) gives Tuesday.
        assert_eq!(
            due(utc(2025, 1, 12, 15, 30, 0), 1, Counting::WorkingDays, &CAL),
            end_of(2025, 1, 13)
        );
        assert_eq!(
            due(utc(2025, 1, 12, 16, 30, 0), 1, Counting::WorkingDays, &CAL),
            end_of(2025, 1, 14)
        );
    }

    #[test]
    fn ordinary_weekend_last_day_moves_to_monday() {
        // 15 calendar days from Fri 2025-03-07 end on Sat 2025-03-22, an ordinary
        // Saturday: moved to Mon 2025-03-24.
        assert_eq!(date(2025, 3, 22).weekday(), Weekday::Sat);
        assert_eq!(
            due(sh(2025, 3, 7, 10, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2025, 3, 24)
        );
        // Ending on Sun 2025-03-23 moves to Monday as well.
        assert_eq!(
            due(sh(2025, 3, 8, 10, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2025, 3, 24)
        );
        // A last day on a Friday stays.
        assert_eq!(
            due(sh(2025, 3, 6, 10, 0), 15, Counting::CalendarDays, &CAL),
            end_of(2025, 3, 21)
        );
    }

    #[test]
    fn checked_due_agrees_where_covered_and_refuses_elsewhere() {
        let start = sh(2025, 1, 15, 10, 0);
        assert_eq!(
            due_checked(start, 15, Counting::CalendarDays, &CAL),
            Ok(due(start, 15, Counting::CalendarDays, &CAL))
        );
        let start = sh(2100, 3, 1, 10, 0);
        assert_eq!(
            due_checked(start, 15, Counting::CalendarDays, &CAL),
            Err(DeadlineError::NotCovered(date(2100, 3, 16)))
        );
        assert_eq!(
            due_checked(start, 1, Counting::WorkingDays, &CAL),
            Err(DeadlineError::NotCovered(date(2100, 3, 2)))
        );
        // The unchecked variant still answers, by the weekday rule.
        assert_eq!(
            due(start, 15, Counting::CalendarDays, &CAL),
            end_of(2100, 3, 16)
        );
    }

    /// A calendar that knows only the years given, by the weekday rule.
    struct KnowsYears(std::ops::RangeInclusive<i32>);

    impl HolidayCalendar for KnowsYears {
        fn is_working_day(&self, d: NaiveDate) -> bool {
            is_weekday(d)
        }
        fn covers(&self, year: i32) -> bool {
            self.0.contains(&year)
        }
    }

    #[test]
    fn late_december_needs_the_next_years_notice() {
        let cal = KnowsYears(2030..=2030);
        assert!(cal.is_settled(date(2030, 12, 19)));
        assert!(!cal.is_settled(date(2030, 12, 20)));
        assert!(!cal.is_settled(date(2031, 1, 2)));
        // 5 calendar days from Mon 2030-12-02 end on Sat 2030-12-07 → Mon 2030-12-09.
        assert_eq!(
            due_checked(sh(2030, 12, 2, 9, 0), 5, Counting::CalendarDays, &cal),
            Ok(end_of(2030, 12, 9))
        );
        assert_eq!(
            due_checked(sh(2030, 12, 10, 9, 0), 15, Counting::CalendarDays, &cal),
            Err(DeadlineError::NotCovered(date(2030, 12, 25)))
        );
        let cal = KnowsYears(2030..=2031);
        assert_eq!(
            due_checked(sh(2030, 12, 10, 9, 0), 15, Counting::CalendarDays, &cal),
            Ok(end_of(2030, 12, 25))
        );
    }

    /// A broken calendar without any working day.
    struct NoWork;

    impl HolidayCalendar for NoWork {
        fn is_working_day(&self, _d: NaiveDate) -> bool {
            false
        }
        fn covers(&self, _year: i32) -> bool {
            true
        }
    }

    #[test]
    fn broken_calendar_is_reported_and_due_falls_back() {
        let start = sh(2025, 3, 3, 9, 0);
        assert_eq!(
            due_checked(start, 1, Counting::WorkingDays, &NoWork),
            Err(DeadlineError::NoWorkingDay(date(2025, 3, 4)))
        );
        assert_eq!(
            due(start, 1, Counting::WorkingDays, &NoWork),
            end_of(2025, 3, 4)
        );
    }

    #[test]
    fn out_of_range_does_not_panic() {
        let start = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            due(start, 15, Counting::CalendarDays, &WeekdaysOnly),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            due_checked(start, 15, Counting::WorkingDays, &WeekdaysOnly),
            Err(DeadlineError::OutOfRange)
        );
        assert_eq!(add_days_checked(NaiveDate::MAX, 1), None);
        assert_eq!(end_of_day(NaiveDate::MAX), None);
    }

    #[test]
    fn working_days_between_matches_due_across_2025_and_2026() {
        // Every start day of 2025 and 2026 with a few period lengths: the last day of a
        // working-day period is a working day, and counting back gives the period.
        for start in days(date(2025, 1, 1), date(2026, 12, 31)).step_by(3) {
            for n in [1, 5, 15, 60] {
                let last = last_day(start, n, Counting::WorkingDays, &CAL).expect("in range");
                assert!(CAL.is_working_day(last), "{start} + {n}");
                assert_eq!(working_days_between(start, last, &CAL), n, "{start} + {n}");
                let cal_last = last_day(start, n, Counting::CalendarDays, &CAL).expect("in range");
                assert!(CAL.is_working_day(cal_last), "{start} + {n}");
                assert!(cal_last >= add_days_checked(start, n).expect("in range"));
            }
        }
        assert_eq!(
            working_days_between(date(2025, 2, 1), date(2025, 1, 1), &CAL),
            0
        );
        assert_eq!(
            next_working_day(date(2025, 10, 1), &CAL),
            Ok(date(2025, 10, 9))
        );
    }

    #[test]
    fn counting_serialises_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&Counting::WorkingDays).expect("serialises"),
            "\"working_days\""
        );
        assert_eq!(
            serde_json::from_str::<Counting>("\"calendar_days\"").expect("parses"),
            Counting::CalendarDays
        );
    }
}
