//! A stage's deadline clock: its states, its one transition function, and the
//! arithmetic of its due moment, its pauses and its timers.
//!
//! ```text
//!            Pause                 Resume
//!  running ───────────▶ paused ───────────▶ running
//!     │  ▲                 │
//!     │  └── Recompute ──┐ │ Overdue
//!     │ Breach/Overdue   │ ▼
//!     └─────────────▶ breached ── Pause ──▶ paused
//!  any live state ── Stop ──▶ stopped (final)
//! ```

use chrono::{DateTime, Duration, Utc};
use xf_calendar::{Counting, OfficialCalendar, due, due_checked};

use super::DomainError;

/// Where a clock stands. `clocks.state` holds exactly these (migration 1105).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockState {
    /// Counting towards its due moment.
    Running,
    /// Standing still (a hearing, an appraisal, …): the time is excluded.
    Paused,
    /// Past its due moment and not stopped.
    Breached,
    /// The stage ended; final.
    Stopped,
}

impl ClockState {
    pub const ALL: [ClockState; 4] = [
        ClockState::Running,
        ClockState::Paused,
        ClockState::Breached,
        ClockState::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Paused => "paused",
            ClockState::Breached => "breached",
            ClockState::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// A live clock may still be paused, extended, moved or stopped.
    pub fn is_live(self) -> bool {
        self != ClockState::Stopped
    }
}

/// What can happen to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// A supervisor pauses it (a hearing, an appraisal, …).
    Pause,
    /// A supervisor, or the pause's planned end, resumes it.
    Resume,
    /// Its due moment was computed again (an extension, or after a resume);
    /// `past_due` when the new due moment is not after now.
    Recompute { past_due: bool },
    /// Its breach timer fired.
    Breach,
    /// Scheduling reports the follow-up visit past due.
    Overdue,
    /// Its stage ended (the case moved on or closed).
    Stop,
    /// The case was transferred to another unit: the clock goes with it.
    Transfer,
}

impl Command {
    /// One of each command (both values of `past_due`), for tables and tests.
    pub const ALL: [Command; 8] = [
        Command::Pause,
        Command::Resume,
        Command::Recompute { past_due: false },
        Command::Recompute { past_due: true },
        Command::Breach,
        Command::Overdue,
        Command::Stop,
        Command::Transfer,
    ];
}

/// What a transition asks the store and the outbox to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Cancel the clock's unfired timers.
    CancelTimers,
    /// Replace the clock's unfired timers from its due moment ([`timers`]).
    Schedule,
    /// Record the pause (who, why, for how long).
    OpenPause,
    /// Close the open pause record with the time it excluded.
    ClosePause,
    /// Add the time excluded to the paused total and compute the due moment again.
    Recompute,
    /// Add the time paused until now to the paused total (a clock stopped while paused).
    AccruePause,
    /// Hand the clock to the case's new unit.
    Reassign,
    /// `DeadlineSet`: the (new) due moment.
    AnnounceDue,
    /// `ClockPaused`.
    EmitPaused,
    /// `ClockResumed`.
    EmitResumed,
    /// `DeadlineBreached`.
    EmitBreached,
}

/// The clock's one transition function.
pub fn apply(state: ClockState, cmd: Command) -> Result<(ClockState, Vec<Effect>), DomainError> {
    use ClockState as S;
    use Effect as E;
    match (state, cmd) {
        (S::Stopped, _) => Err(DomainError::NotLive("the clock is stopped".into())),
        (S::Running | S::Breached, Command::Pause) => Ok((
            S::Paused,
            vec![E::CancelTimers, E::OpenPause, E::EmitPaused],
        )),
        (S::Paused, Command::Pause) => Err(DomainError::IllegalTransition(
            "the clock is already paused".into(),
        )),
        (S::Paused, Command::Resume) => Ok((
            S::Running,
            vec![E::ClosePause, E::Recompute, E::EmitResumed],
        )),
        (S::Running | S::Breached, Command::Resume) => Err(DomainError::IllegalTransition(
            "the clock is not paused".into(),
        )),
        // A paused clock keeps standing still: its timers start again on resume.
        (S::Paused, Command::Recompute { .. }) => Ok((S::Paused, vec![E::AnnounceDue])),
        (S::Running, Command::Recompute { .. }) => {
            Ok((S::Running, vec![E::Schedule, E::AnnounceDue]))
        }
        // Breached, but the new due moment lies ahead: it runs again.
        (S::Breached, Command::Recompute { past_due: false }) => {
            Ok((S::Running, vec![E::Schedule, E::AnnounceDue]))
        }
        (S::Breached, Command::Recompute { past_due: true }) => {
            Ok((S::Breached, vec![E::Schedule, E::AnnounceDue]))
        }
        (S::Running | S::Breached, Command::Breach) => Ok((S::Breached, vec![E::EmitBreached])),
        (S::Paused, Command::Breach) => Err(DomainError::IllegalTransition(
            "a paused clock does not breach".into(),
        )),
        (S::Running | S::Paused, Command::Overdue) => {
            Ok((S::Breached, vec![E::CancelTimers, E::EmitBreached]))
        }
        // Already breached: reported once.
        (S::Breached, Command::Overdue) => Ok((S::Breached, vec![])),
        (S::Running | S::Paused | S::Breached, Command::Stop) => {
            Ok((S::Stopped, vec![E::AccruePause, E::CancelTimers]))
        }
        (s @ (S::Running | S::Paused | S::Breached), Command::Transfer) => {
            Ok((s, vec![E::Reassign]))
        }
    }
}

/// The states in which `cmd` is accepted (what the store's bulk updates select).
pub fn accepting(cmd: Command) -> Vec<ClockState> {
    ClockState::ALL
        .into_iter()
        .filter(|s| apply(*s, cmd).is_ok())
        .collect()
}

/// The due moment of a period, and whether it rests on a year whose official holiday
/// notice is not yet known (then it is computed with weekends only, and marked). Time
/// paused moves it by exactly that time.
pub fn due_of(
    started: DateTime<Utc>,
    days: i64,
    counting: Counting,
    paused_secs: i64,
) -> (DateTime<Utc>, bool) {
    let days = u32::try_from(days.max(0)).unwrap_or(u32::MAX);
    let cal = OfficialCalendar;
    let provisional = due_checked(started, days, counting, &cal).is_err();
    (
        due(started, days, counting, &cal) + Duration::seconds(paused_secs),
        provisional,
    )
}

/// How much of the pause since `paused_at` a resume at `now` excludes: the time
/// paused, never less than zero nor more than `cap_secs` (what the plan and the
/// policy's maximum still allow).
pub fn excluded_secs(paused_at: DateTime<Utc>, now: DateTime<Utc>, cap_secs: i64) -> i64 {
    (now - paused_at).num_seconds().clamp(0, cap_secs.max(0))
}

/// What the policy's maximum still allows a clock to be paused, in seconds.
pub fn pause_left_secs(max_pause_days: i64, paused_secs: i64) -> i64 {
    (max_pause_days.saturating_mul(86_400) - paused_secs).max(0)
}

/// Checks an extension of the handling period: one, of 1 to `max_days` days.
pub fn extension(already_extended: i64, days: i64, max_days: i64) -> Result<(), DomainError> {
    if already_extended > 0 {
        return Err(DomainError::IllegalTransition(
            "the period was already extended".into(),
        ));
    }
    if days < 1 || days > max_days {
        return Err(DomainError::Invalid {
            field: "days",
            message: format!("1 to {max_days}"),
        });
    }
    Ok(())
}

/// The stage a dispatch at `review_level` starts.
pub fn dispatch_stage(review_level: i16) -> &'static str {
    match review_level {
        0 => "acceptance",
        1 => "review",
        _ => "rereview",
    }
}

/// The petitioner's window a reply opens at `review_level` (none after re-review).
pub fn reply_window(review_level: i16) -> Option<&'static str> {
    match review_level {
        0 => Some("review_window"),
        1 => Some("rereview_window"),
        _ => None,
    }
}

/// A durable timer's kind. `timers.kind` holds exactly these (migration 1105).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// `days_left` before due.
    Warning,
    /// At due.
    Breach,
}

impl TimerKind {
    pub const ALL: [TimerKind; 2] = [TimerKind::Warning, TimerKind::Breach];

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Warning => "warning",
            TimerKind::Breach => "breach",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One timer to be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub days_left: i64,
    pub fire_at: DateTime<Utc>,
}

/// The timers of a clock due at `due_at`: warnings `warn_days` before due (those still
/// after `now`) and the breach at due; none for the petitioner's windows (`window`),
/// which expire with nobody overdue.
pub fn timers(
    window: bool,
    due_at: DateTime<Utc>,
    warn_days: &[i64],
    now: DateTime<Utc>,
) -> Vec<Timer> {
    if window {
        return Vec::new();
    }
    let mut t: Vec<Timer> = warn_days
        .iter()
        .map(|d| Timer {
            kind: TimerKind::Warning,
            days_left: *d,
            fire_at: due_at - Duration::days(*d),
        })
        .filter(|t| t.fire_at > now)
        .collect();
    t.push(Timer {
        kind: TimerKind::Breach,
        days_left: 0,
        fire_at: due_at,
    });
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClockState as S;
    use Effect as E;
    use proptest::prelude::*;

    /// Every state × every command, and the outcome: the next state and the effects,
    /// or the refusal's kind.
    #[test]
    fn transitions_are_exhaustive() {
        type Want = Result<(S, &'static [Effect]), &'static str>;
        let rc = Command::Recompute { past_due: false };
        let rp = Command::Recompute { past_due: true };
        let pause: &[Effect] = &[E::CancelTimers, E::OpenPause, E::EmitPaused];
        let resume: &[Effect] = &[E::ClosePause, E::Recompute, E::EmitResumed];
        let sched: &[Effect] = &[E::Schedule, E::AnnounceDue];
        let stop: &[Effect] = &[E::AccruePause, E::CancelTimers];
        let overdue: &[Effect] = &[E::CancelTimers, E::EmitBreached];
        let table: [(S, Command, Want); 32] = [
            (S::Running, Command::Pause, Ok((S::Paused, pause))),
            (S::Running, Command::Resume, Err("illegal")),
            (S::Running, rc, Ok((S::Running, sched))),
            (S::Running, rp, Ok((S::Running, sched))),
            (
                S::Running,
                Command::Breach,
                Ok((S::Breached, &[E::EmitBreached])),
            ),
            (S::Running, Command::Overdue, Ok((S::Breached, overdue))),
            (S::Running, Command::Stop, Ok((S::Stopped, stop))),
            (
                S::Running,
                Command::Transfer,
                Ok((S::Running, &[E::Reassign])),
            ),
            (S::Paused, Command::Pause, Err("illegal")),
            (S::Paused, Command::Resume, Ok((S::Running, resume))),
            (S::Paused, rc, Ok((S::Paused, &[E::AnnounceDue]))),
            (S::Paused, rp, Ok((S::Paused, &[E::AnnounceDue]))),
            (S::Paused, Command::Breach, Err("illegal")),
            (S::Paused, Command::Overdue, Ok((S::Breached, overdue))),
            (S::Paused, Command::Stop, Ok((S::Stopped, stop))),
            (
                S::Paused,
                Command::Transfer,
                Ok((S::Paused, &[E::Reassign])),
            ),
            (S::Breached, Command::Pause, Ok((S::Paused, pause))),
            (S::Breached, Command::Resume, Err("illegal")),
            (S::Breached, rc, Ok((S::Running, sched))),
            (S::Breached, rp, Ok((S::Breached, sched))),
            (
                S::Breached,
                Command::Breach,
                Ok((S::Breached, &[E::EmitBreached])),
            ),
            (S::Breached, Command::Overdue, Ok((S::Breached, &[]))),
            (S::Breached, Command::Stop, Ok((S::Stopped, stop))),
            (
                S::Breached,
                Command::Transfer,
                Ok((S::Breached, &[E::Reassign])),
            ),
            (S::Stopped, Command::Pause, Err("not_live")),
            (S::Stopped, Command::Resume, Err("not_live")),
            (S::Stopped, rc, Err("not_live")),
            (S::Stopped, rp, Err("not_live")),
            (S::Stopped, Command::Breach, Err("not_live")),
            (S::Stopped, Command::Overdue, Err("not_live")),
            (S::Stopped, Command::Stop, Err("not_live")),
            (S::Stopped, Command::Transfer, Err("not_live")),
        ];
        // The table covers every pair exactly once.
        for s in ClockState::ALL {
            for c in Command::ALL {
                let n = table
                    .iter()
                    .filter(|(ts, tc, _)| *ts == s && *tc == c)
                    .count();
                assert_eq!(n, 1, "{s:?} × {c:?} appears {n} times");
            }
        }
        for (s, c, want) in table {
            let got = apply(s, c);
            match (got, want) {
                (Ok((to, fx)), Ok((wto, wfx))) => {
                    assert_eq!((to, fx.as_slice()), (wto, wfx), "{s:?} × {c:?}");
                }
                (Err(e), Err(kind)) => {
                    let k = match e {
                        DomainError::IllegalTransition(_) => "illegal",
                        DomainError::NotLive(_) => "not_live",
                        _ => "other",
                    };
                    assert_eq!(k, kind, "{s:?} × {c:?}: {e}");
                }
                (got, want) => panic!("{s:?} × {c:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn states_round_trip_and_the_live_ones_are_what_stop_accepts() {
        for s in ClockState::ALL {
            assert_eq!(ClockState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ClockState::parse("warned"), None);
        for k in TimerKind::ALL {
            assert_eq!(TimerKind::parse(k.as_str()), Some(k));
        }
        let live: Vec<_> = ClockState::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(accepting(Command::Stop), live);
        assert_eq!(accepting(Command::Transfer), live);
        assert_eq!(accepting(Command::Breach), [S::Running, S::Breached]);
        assert_eq!(accepting(Command::Resume), [S::Paused]);
    }

    #[test]
    fn extensions_and_stages() {
        assert!(extension(0, 30, 30).is_ok());
        assert!(extension(0, 1, 30).is_ok());
        assert!(matches!(
            extension(5, 10, 30),
            Err(DomainError::IllegalTransition(_))
        ));
        assert!(matches!(
            extension(0, 0, 30),
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            extension(0, 31, 30),
            Err(DomainError::Invalid { .. })
        ));
        assert_eq!(dispatch_stage(0), "acceptance");
        assert_eq!(dispatch_stage(1), "review");
        assert_eq!(dispatch_stage(2), "rereview");
        assert_eq!(reply_window(0), Some("review_window"));
        assert_eq!(reply_window(1), Some("rereview_window"));
        assert_eq!(reply_window(2), None);
    }

    #[test]
    fn timers_warn_ahead_and_breach_at_due() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        let due_at = t("2026-03-20T16:00:00Z");
        let now = t("2026-03-16T00:00:00Z");
        let got = timers(false, due_at, &[7, 3, 1], now);
        let kinds: Vec<_> = got.iter().map(|x| (x.kind, x.days_left)).collect();
        // Seven days before due has passed already.
        assert_eq!(
            kinds,
            [
                (TimerKind::Warning, 3),
                (TimerKind::Warning, 1),
                (TimerKind::Breach, 0)
            ]
        );
        assert_eq!(got[2].fire_at, due_at);
        assert!(timers(true, due_at, &[3, 1], now).is_empty());
    }

    fn start() -> impl Strategy<Value = DateTime<Utc>> {
        // 2020-01-01 to 2030-12-31, any second.
        (1_577_836_800i64..1_924_905_600)
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
    }

    fn counting() -> impl Strategy<Value = Counting> {
        prop_oneof![Just(Counting::CalendarDays), Just(Counting::WorkingDays)]
    }

    proptest! {
        #[test]
        fn due_is_never_before_start(s in start(), days in 0i64..400, c in counting(), p in 0i64..10_000_000) {
            let (d, _) = due_of(s, days, c, p);
            prop_assert!(d > s, "{s} + {days} {c:?} (+{p}s) is due {d}");
        }

        #[test]
        fn due_is_monotone_in_the_limit(s in start(), a in 0i64..400, b in 0i64..400, c in counting()) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(due_of(s, lo, c, 0).0 <= due_of(s, hi, c, 0).0);
        }

        #[test]
        fn working_days_are_never_fewer_calendar_days(s in start(), days in 1i64..400) {
            prop_assert!(
                due_of(s, days, Counting::WorkingDays, 0).0 >= due_of(s, days, Counting::CalendarDays, 0).0
            );
        }

        #[test]
        fn a_working_day_period_spans_exactly_its_working_days(s in start(), days in 1u32..200) {
            let cal = OfficialCalendar;
            let (d, _) = due_of(s, i64::from(days), Counting::WorkingDays, 0);
            let first = xf_calendar::shanghai_day(s);
            let last = xf_calendar::shanghai_day(d - Duration::seconds(1));
            prop_assert_eq!(xf_calendar::working_days_between(first, last, &cal), days);
        }

        /// Pausing at `paused_at` and resuming `x` seconds later (within the cap) moves
        /// the due moment by exactly `x`; more than the cap moves it by the cap.
        #[test]
        fn pausing_then_resuming_moves_due_by_the_time_excluded(
            s in start(), days in 0i64..200, c in counting(),
            before in 0i64..1_000_000, into in 0i64..10_000_000, x in -1000i64..5_000_000,
            max_days in 0i64..60,
        ) {
            let (due0, _) = due_of(s, days, c, before);
            let paused_at = s + Duration::seconds(into);
            let now = paused_at + Duration::seconds(x);
            let cap = pause_left_secs(max_days, before);
            let ex = excluded_secs(paused_at, now, cap);
            prop_assert!((0..=cap).contains(&ex));
            prop_assert_eq!(ex, x.clamp(0, cap));
            let (due1, _) = due_of(s, days, c, before + ex);
            prop_assert_eq!(due1 - due0, Duration::seconds(ex));
            // Never past the policy's maximum in all.
            prop_assert!(before + ex <= (max_days * 86_400).max(before));
        }

        #[test]
        fn timers_fire_in_the_future_except_the_breach(
            s in start(), ahead in -864_000i64..8_640_000, warn in proptest::collection::vec(1i64..30, 0..4),
        ) {
            let due_at = s + Duration::seconds(ahead);
            let ts = timers(false, due_at, &warn, s);
            prop_assert_eq!(ts.last().map(|t| (t.kind, t.fire_at)), Some((TimerKind::Breach, due_at)));
            for t in &ts[..ts.len() - 1] {
                prop_assert!(t.kind == TimerKind::Warning && t.fire_at > s && t.fire_at < due_at);
            }
        }
    }
}
