//! A published reception session: swaps and substitutes (R24), moves and cancellation.

use chrono::{NaiveDate, NaiveDateTime};

use super::Refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Scheduled,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Status::Scheduled),
            "cancelled" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

/// What can be done to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Its leader changes (a swap with another session, or a substitute).
    ChangeLeader,
    /// It moves to another day or time.
    Move,
    Cancel,
    /// An appointment is booked into it.
    Book,
}

/// The session's one transition function: the status after `cmd`, or why not. Every
/// change also raises the session's SEQUENCE (see [`next_sequence`]).
pub fn transition(status: Status, cmd: Command) -> Result<Status, Refusal> {
    match (status, cmd) {
        (Status::Scheduled, Command::ChangeLeader | Command::Move | Command::Book) => {
            Ok(Status::Scheduled)
        }
        (Status::Scheduled, Command::Cancel) => Ok(Status::Cancelled),
        (Status::Cancelled, _) => Err(Refusal::State("the session is cancelled".into())),
    }
}

/// The iCalendar SEQUENCE after a change.
pub fn next_sequence(seq: i32) -> i32 {
    seq.saturating_add(1)
}

/// R24: a leader who cannot attend arranges the swap at least `notice_days` days
/// ahead: the session's day minus today (Asia/Shanghai) must be at least that.
pub fn check_notice(
    session_day: NaiveDate,
    today: NaiveDate,
    notice_days: i32,
) -> Result<(), Refusal> {
    let left = (session_day - today).num_days();
    if left < i64::from(notice_days) {
        Err(Refusal::Rule {
            rule: "notice_days",
            detail: format!(
                "a swap or substitute must be arranged at least {notice_days} day(s) before the session on {session_day}; {} day(s) remain",
                left.max(0)
            ),
        })
    } else {
        Ok(())
    }
}

/// A session whose start has passed can no longer be changed or booked.
pub fn check_future(start: NaiveDateTime, now: NaiveDateTime) -> Result<(), Refusal> {
    if start <= now {
        Err(Refusal::Rule {
            rule: "session_past",
            detail: format!("the session began at {start}"),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn transitions_are_exhaustive() {
        use Command as C;
        use Status as S;
        for cmd in [C::ChangeLeader, C::Move, C::Book] {
            assert_eq!(transition(S::Scheduled, cmd), Ok(S::Scheduled));
            assert!(matches!(
                transition(S::Cancelled, cmd),
                Err(Refusal::State(_))
            ));
        }
        assert_eq!(transition(S::Scheduled, C::Cancel), Ok(S::Cancelled));
        assert!(transition(S::Cancelled, C::Cancel).is_err());
        assert_eq!(next_sequence(0), 1);
        assert_eq!(next_sequence(i32::MAX), i32::MAX);
        for s in [S::Scheduled, S::Cancelled] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn two_days_notice() {
        let today = date(2025, 3, 10);
        assert!(check_notice(date(2025, 3, 12), today, 2).is_ok());
        assert!(check_notice(date(2025, 3, 20), today, 2).is_ok());
        for short in [date(2025, 3, 11), date(2025, 3, 10), date(2025, 3, 1)] {
            match check_notice(short, today, 2) {
                Err(Refusal::Rule { rule, .. }) => assert_eq!(rule, "notice_days"),
                other => panic!("{short}: {other:?}"),
            }
        }
        assert!(check_notice(today, today, 0).is_ok());
    }

    #[test]
    fn past_sessions_are_closed() {
        let start = date(2025, 3, 10).and_hms_opt(9, 0, 0).expect("time");
        assert!(check_future(start, start - chrono::Duration::minutes(1)).is_ok());
        assert!(check_future(start, start).is_err());
    }
}
