//! Deadline arithmetic in calendar days, Asia/Shanghai: the start day is not counted
//! and a period ends at the end of its last day (民法典 Art. 201, 203).

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

/// The moment a period of `days` calendar days that starts at `start` ends: midnight
/// (Asia/Shanghai) after its last day.
pub fn due_calendar(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let local_day = start.with_timezone(&Shanghai).date_naive();
    let after_last = local_day
        .checked_add_days(Days::new(u64::from(days) + 1))
        .unwrap_or(local_day);
    Shanghai
        .from_local_datetime(&after_last.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_day_not_counted_and_end_of_last_day_in_shanghai() {
        // Dispatched 2026-03-02 23:30 Shanghai (15:30 UTC): 15 days end at the end of
        // 2026-03-17 Shanghai, i.e. 2026-03-17 16:00 UTC.
        let start = Utc
            .with_ymd_and_hms(2026, 3, 2, 15, 30, 0)
            .single()
            .expect("valid");
        let due = due_calendar(start, 15);
        assert_eq!(
            due,
            Utc.with_ymd_and_hms(2026, 3, 17, 16, 0, 0)
                .single()
                .expect("valid")
        );
        // Just after midnight Shanghai is already the next local day.
        let start = Utc
            .with_ymd_and_hms(2026, 3, 2, 16, 30, 0)
            .single()
            .expect("valid");
        assert_eq!(
            due_calendar(start, 15),
            Utc.with_ymd_and_hms(2026, 3, 18, 16, 0, 0)
                .single()
                .expect("valid")
        );
    }
}
