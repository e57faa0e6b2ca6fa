//! Clocks: started, stopped, extended and paused as a case moves; each running clock
//! has durable timers (warnings before due, the breach at due) that the sweeper fires.
//! Each command: load (store) → the state machine (`domain::clock::apply`) → store →
//! outbox.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::DeadlineSet;

use crate::deadline::Counting;
use crate::domain::DomainError;
use crate::domain::clock::{self as rules, ClockState, Command, Effect};
use crate::policy::{self, Resolved};
use crate::store::clocks as store;

pub use crate::domain::clock::due_of;

/// Where a clock starts.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    pub case_id: Uuid,
    pub stage: &'a str,
    pub code: &'a str,
    pub unit: &'a str,
    pub at: DateTime<Utc>,
    pub review_level: i16,
}

fn counting_name(c: Counting) -> &'static str {
    match c {
        Counting::CalendarDays => "calendar_days",
        Counting::WorkingDays => "working_days",
    }
}

pub fn counting_of(s: &str) -> Counting {
    if s == "working_days" {
        Counting::WorkingDays
    } else {
        Counting::CalendarDays
    }
}

/// Starts a clock by the policy in force; None when no policy times the stage.
pub async fn start(
    tx: &mut PgConnection,
    outbox: &Outbox,
    s: Start<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    if policy::owed_to_petitioner(s.stage) && store::anonymous(tx, s.case_id).await? {
        // R3: nobody to tell or answer, so no clock for it.
        return Ok(None);
    }
    let Some(Resolved {
        spec,
        policy_id,
        version,
    }) = policy::resolve(tx, s.code, s.at, s.stage).await?
    else {
        return Ok(None);
    };
    let (due_at, provisional) = due_of(s.at, spec.days, spec.counting, 0);
    let new = store::NewClock {
        case_id: s.case_id,
        stage: s.stage,
        code: s.code,
        unit: s.unit,
        started_at: s.at,
        due_at,
        period_days: i32::try_from(spec.days).unwrap_or(i32::MAX),
        policy: &policy_id,
        policy_version: version,
        counting: counting_name(spec.counting),
        provisional,
        review_level: s.review_level,
    };
    let Some(id) = store::insert(tx, &new).await? else {
        return Ok(None);
    };
    schedule(tx, id, s.case_id, s.stage, due_at, &spec.warn_days, s.at).await?;
    announce(tx, outbox, &new).await?;
    Ok(Some(id))
}

/// Starts a clock whose due moment is given (a superior body's report-back deadline),
/// warning 3 and 1 days before; None when the case already has one for this stage.
pub async fn start_fixed(
    tx: &mut PgConnection,
    outbox: &Outbox,
    s: Start<'_>,
    due_at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    if store::has_stage(tx, s.case_id, s.stage).await? {
        return Ok(None);
    }
    let days = (due_at - s.at).num_days().max(0);
    let new = store::NewClock {
        case_id: s.case_id,
        stage: s.stage,
        code: s.code,
        unit: s.unit,
        started_at: s.at,
        due_at,
        period_days: i32::try_from(days).unwrap_or(i32::MAX),
        policy: "superior",
        policy_version: 0,
        counting: counting_name(Counting::CalendarDays),
        provisional: false,
        review_level: s.review_level,
    };
    let id = store::insert_fixed(tx, &new).await?;
    schedule(tx, id, s.case_id, s.stage, due_at, &[3, 1], s.at).await?;
    announce(tx, outbox, &new).await?;
    Ok(Some(id))
}

/// Tells the other services (intake's citizen view, Open311, reporting) when a stage
/// is due.
async fn announce(
    tx: &mut PgConnection,
    outbox: &Outbox,
    c: &store::NewClock<'_>,
) -> Result<(), sqlx::Error> {
    let env = xf_events::envelope(
        c.case_id,
        crate::SERVICE,
        xf_events::tier_of_code(c.code),
        c.code,
        c.started_at,
        Payload::DeadlineSet(DeadlineSet {
            stage: policy::stage_code(c.stage) as i32,
            started_at: Some(xf_events::timestamp(c.started_at)),
            due_at: Some(xf_events::timestamp(c.due_at)),
            policy: format!("{} v{}", c.policy, c.policy_version),
        }),
    );
    outbox.put(tx, &env).await
}

/// Replaces a clock's unfired timers: warnings `warn_days` before due (those still in
/// the future) and, except for the petitioner's windows, the breach at due.
pub async fn schedule(
    tx: &mut PgConnection,
    clock_id: i64,
    case_id: Uuid,
    stage: &str,
    due_at: DateTime<Utc>,
    warn_days: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    store::cancel_timers(tx, clock_id).await?;
    for t in rules::timers(policy::is_window(stage), due_at, warn_days, now) {
        store::insert_timer(tx, clock_id, case_id, &t).await?;
    }
    Ok(())
}

/// Stops a case's live clocks (of `stages`, or all but the petitioner's windows when
/// None) and cancels their timers. Returns how many stopped.
pub async fn stop(
    tx: &mut PgConnection,
    case_id: Uuid,
    stages: Option<&[&str]>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    // Every live clock stops (`apply(_, Stop)`: the time paused is added, the timers
    // cancelled); the store does it for all of them at once.
    let stages: Option<Vec<String>> = stages.map(|s| s.iter().map(|x| (*x).to_owned()).collect());
    Ok(store::stop(tx, case_id, stages, at).await?.len() as u64)
}

/// A live clock of a case's stage, locked.
pub struct Live {
    pub id: i64,
    pub case_id: Uuid,
    pub stage: String,
    pub state: ClockState,
    pub code: String,
    pub started_at: DateTime<Utc>,
    pub period_days: i64,
    pub extended_days: i64,
    pub counting: Counting,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_secs: i64,
    pub policy: String,
    pub policy_version: i32,
}

pub async fn live(
    tx: &mut PgConnection,
    case_id: Uuid,
    stage: &str,
) -> Result<Option<Live>, sqlx::Error> {
    Ok(store::live(tx, case_id, stage).await?.map(|r| Live {
        id: r.id,
        case_id,
        stage: stage.to_owned(),
        // The CHECK constraint keeps anything else out; a stopped clock is not acted on.
        state: ClockState::parse(&r.state).unwrap_or(ClockState::Stopped),
        code: r.jurisdiction_code,
        started_at: r.started_at,
        period_days: i64::from(r.period_days),
        extended_days: i64::from(r.extended_days),
        counting: counting_of(&r.counting),
        paused_at: r.paused_at,
        paused_secs: r.paused_secs,
        policy: r.policy,
        policy_version: r.policy_version,
    }))
}

/// A refusal of the state machine on the way to the store: the caller's transaction is
/// dropped, nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Recomputes a live clock's due moment (after an extension or a pause) and its
/// timers; a clock that was breached but now lies before its new due runs again.
pub async fn recompute(
    tx: &mut PgConnection,
    outbox: &Outbox,
    c: &Live,
    extended_days: i64,
    paused_secs: i64,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Refused> {
    let (due_at, provisional) = due_of(
        c.started_at,
        c.period_days + extended_days,
        c.counting,
        paused_secs,
    );
    let (state, effects) = rules::apply(
        c.state,
        Command::Recompute {
            past_due: due_at <= now,
        },
    )?;
    store::set_due(
        tx,
        c.id,
        &store::Due {
            due_at,
            extended_days,
            paused_secs,
            provisional,
            state,
        },
    )
    .await?;
    for e in effects {
        match e {
            Effect::Schedule => {
                let warn = policy::resolve(tx, &c.code, c.started_at, &c.stage)
                    .await?
                    .map(|r| r.spec.warn_days)
                    .unwrap_or_default();
                schedule(tx, c.id, c.case_id, &c.stage, due_at, &warn, now).await?;
            }
            Effect::AnnounceDue => {
                let announced = store::NewClock {
                    case_id: c.case_id,
                    stage: &c.stage,
                    code: &c.code,
                    unit: "",
                    started_at: c.started_at,
                    due_at,
                    period_days: 0,
                    policy: &c.policy,
                    policy_version: c.policy_version,
                    counting: counting_name(c.counting),
                    provisional,
                    review_level: 0,
                };
                announce(tx, outbox, &announced).await?;
            }
            _ => {}
        }
    }
    Ok(due_at)
}

/// What a resume did: the new due moment, the clock's paused time in all, and the
/// time this pause excluded.
pub struct Resumed {
    pub due_at: DateTime<Utc>,
    pub paused_secs: i64,
    pub excluded_secs: i64,
}

/// Resumes a paused clock at `now` (by a supervisor, or by the sweeper when the pause
/// reaches its planned end): the time it was paused is excluded, at most `cap_secs`
/// (what the plan and the policy's maximum still allow); the pause record is closed,
/// the due moment and timers recomputed, and `ClockResumed` written to the outbox.
/// Refused (nothing written) when the clock is not paused.
pub async fn resume(
    tx: &mut PgConnection,
    outbox: &Outbox,
    mut c: Live,
    by: &str,
    cap_secs: i64,
    now: DateTime<Utc>,
) -> Result<Resumed, Refused> {
    let (state, effects) = rules::apply(c.state, Command::Resume)?;
    let paused_at = c.paused_at.unwrap_or(now);
    let excluded = rules::excluded_secs(paused_at, now, cap_secs);
    let paused = c.paused_secs + excluded;
    store::set_state(tx, c.id, state, None).await?;
    c.state = state;
    c.paused_at = None;
    let mut due_at = now;
    for e in effects {
        match e {
            Effect::ClosePause => store::close_pause(tx, c.id, by, now, excluded).await?,
            Effect::Recompute => {
                due_at = recompute(tx, outbox, &c, c.extended_days, paused, now).await?;
            }
            Effect::EmitResumed => {
                let env = xf_events::envelope(
                    c.case_id,
                    crate::SERVICE,
                    xf_events::tier_of_code(&c.code),
                    &c.code,
                    now,
                    Payload::ClockResumed(xf_events::v1::ClockResumed {
                        stage: policy::stage_code(&c.stage) as i32,
                        excluded_secs: u64::try_from(excluded).unwrap_or(0),
                        paused_secs_total: u64::try_from(paused).unwrap_or(0),
                        due_at: Some(xf_events::timestamp(due_at)),
                    }),
                );
                outbox.put(&mut *tx, &env).await?;
            }
            _ => {}
        }
    }
    Ok(Resumed {
        due_at,
        paused_secs: paused,
        excluded_secs: excluded,
    })
}

/// A pause to start.
pub struct Pause<'a> {
    pub reason: &'a str,
    pub reason_code: xf_events::v1::PauseReason,
    pub note: Option<&'a str>,
    pub days: i64,
    pub by: &'a str,
}

/// Pauses a live clock at `now`: its timers cancelled, the pause recorded and
/// `ClockPaused` written to the outbox. Refused (nothing written) when it is paused.
pub async fn pause(
    tx: &mut PgConnection,
    outbox: &Outbox,
    c: &Live,
    p: &Pause<'_>,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    let (state, effects) = rules::apply(c.state, Command::Pause)?;
    store::set_state(tx, c.id, state, Some(now)).await?;
    for e in effects {
        match e {
            Effect::CancelTimers => store::cancel_timers(tx, c.id).await?,
            Effect::OpenPause => {
                store::open_pause(
                    tx,
                    &store::NewPause {
                        clock_id: c.id,
                        case_id: c.case_id,
                        stage: &c.stage,
                        reason: p.reason,
                        note: p.note,
                        planned_days: i32::try_from(p.days).unwrap_or(i32::MAX),
                        by: p.by,
                        at: now,
                    },
                )
                .await?;
            }
            Effect::EmitPaused => {
                let env = xf_events::envelope(
                    c.case_id,
                    crate::SERVICE,
                    xf_events::tier_of_code(&c.code),
                    &c.code,
                    now,
                    Payload::ClockPaused(xf_events::v1::ClockPaused {
                        stage: policy::stage_code(&c.stage) as i32,
                        reason: p.reason_code as i32,
                        planned_days: u32::try_from(p.days).unwrap_or(u32::MAX),
                        paused_secs_before: u64::try_from(c.paused_secs).unwrap_or(0),
                    }),
                );
                outbox.put(&mut *tx, &env).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The most days of pauses the policy in force allows on a live clock of `stage`.
pub async fn max_pause_days(
    tx: &mut PgConnection,
    c: &Live,
    stage: &str,
) -> Result<i64, sqlx::Error> {
    Ok(policy::resolve(tx, &c.code, c.started_at, stage)
        .await?
        .and_then(|r| r.spec.max_pause_days)
        .unwrap_or(policy::DEFAULT_MAX_PAUSE_DAYS))
}
