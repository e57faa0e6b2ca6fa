//! Clocks: started, stopped, extended and paused as a case moves; each running clock
//! has durable timers (warnings before due, the breach at due) that the sweeper fires.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::DeadlineSet;

use crate::deadline::{Counting, OfficialCalendar, due, due_checked};
use crate::policy::{self, Resolved};

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

/// The due moment of a period, and whether it rests on a year whose official holiday
/// notice is not yet known (then it is computed with weekends only, and marked).
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
    if policy::owed_to_petitioner(s.stage) && anonymous(tx, s.case_id).await? {
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
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, policy_version, counting, provisional, review_level, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (case_id, stage, started_at) DO NOTHING RETURNING id",
    )
    .bind(s.case_id)
    .bind(s.stage)
    .bind(xf_events::tier_name(xf_events::tier_of_code(s.code)))
    .bind(s.code)
    .bind(s.unit)
    .bind(s.at)
    .bind(due_at)
    .bind(i32::try_from(spec.days).unwrap_or(i32::MAX))
    .bind(&policy_id)
    .bind(version)
    .bind(counting_name(spec.counting))
    .bind(provisional)
    .bind(s.review_level)
    .bind(xf_telemetry::current_trace_id())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    schedule(tx, id, s.case_id, s.stage, due_at, &spec.warn_days, s.at).await?;
    announce(
        tx, outbox, s.case_id, s.code, s.stage, s.at, due_at, &policy_id, version,
    )
    .await?;
    Ok(Some(id))
}

/// Whether the case was registered anonymously.
async fn anonymous(tx: &mut PgConnection, case_id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, bool>("SELECT anonymous FROM oversight_cases WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(false),
    )
}

/// Starts a clock whose due moment is given (a superior body's report-back deadline),
/// warning 3 and 1 days before; None when the case already has one for this stage.
pub async fn start_fixed(
    tx: &mut PgConnection,
    outbox: &Outbox,
    s: Start<'_>,
    due_at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = $2)",
    )
    .bind(s.case_id)
    .bind(s.stage)
    .fetch_one(&mut *tx)
    .await?;
    if exists {
        return Ok(None);
    }
    let days = (due_at - s.at).num_days().max(0);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, policy_version, review_level, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, 'superior', 0, $9, $10)
         RETURNING id",
    )
    .bind(s.case_id)
    .bind(s.stage)
    .bind(xf_events::tier_name(xf_events::tier_of_code(s.code)))
    .bind(s.code)
    .bind(s.unit)
    .bind(s.at)
    .bind(due_at)
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(s.review_level)
    .bind(xf_telemetry::current_trace_id())
    .fetch_one(&mut *tx)
    .await?;
    schedule(tx, id, s.case_id, s.stage, due_at, &[3, 1], s.at).await?;
    announce(
        tx, outbox, s.case_id, s.code, s.stage, s.at, due_at, "superior", 0,
    )
    .await?;
    Ok(Some(id))
}

/// Tells the other services (intake's citizen view, Open311, reporting) when a stage
/// is due.
#[allow(clippy::too_many_arguments)]
async fn announce(
    tx: &mut PgConnection,
    outbox: &Outbox,
    case_id: Uuid,
    code: &str,
    stage: &str,
    started: DateTime<Utc>,
    due_at: DateTime<Utc>,
    policy_id: &str,
    version: i32,
) -> Result<(), sqlx::Error> {
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        xf_events::tier_of_code(code),
        code,
        started,
        Payload::DeadlineSet(DeadlineSet {
            stage: policy::stage_code(stage) as i32,
            started_at: Some(xf_events::timestamp(started)),
            due_at: Some(xf_events::timestamp(due_at)),
            policy: format!("{policy_id} v{version}"),
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
    sqlx::query("UPDATE timers SET cancelled = TRUE WHERE clock_id = $1 AND fired_at IS NULL AND NOT cancelled")
        .bind(clock_id)
        .execute(&mut *tx)
        .await?;
    if policy::is_window(stage) {
        return Ok(());
    }
    let mut kinds: Vec<(&str, i64, DateTime<Utc>)> = warn_days
        .iter()
        .map(|d| ("warning", *d, due_at - Duration::days(*d)))
        .filter(|(_, _, at)| *at > now)
        .collect();
    kinds.push(("breach", 0, due_at));
    for (kind, days_left, fire_at) in kinds {
        sqlx::query(
            "INSERT INTO timers (clock_id, case_id, kind, days_left, fire_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(clock_id)
        .bind(case_id)
        .bind(kind)
        .bind(i32::try_from(days_left).unwrap_or(0))
        .bind(fire_at)
        .execute(&mut *tx)
        .await?;
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
    let stages: Option<Vec<String>> = stages.map(|s| s.iter().map(|x| (*x).to_owned()).collect());
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE clocks SET state = 'stopped', stopped_at = $2,
             paused_secs = paused_secs + CASE WHEN paused_at IS NULL THEN 0
                 ELSE GREATEST(0, EXTRACT(EPOCH FROM ($2 - paused_at))::bigint) END,
             paused_at = NULL
         WHERE case_id = $1 AND state IN ('running', 'paused', 'breached')
           AND (($3::text[] IS NULL AND stage NOT IN ('review_window', 'rereview_window'))
                OR stage = ANY($3))
         RETURNING id",
    )
    .bind(case_id)
    .bind(at)
    .bind(stages)
    .fetch_all(&mut *tx)
    .await?;
    if !ids.is_empty() {
        sqlx::query(
            "UPDATE timers SET cancelled = TRUE WHERE clock_id = ANY($1) AND fired_at IS NULL",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    }
    Ok(ids.len() as u64)
}

/// A live clock of a case's stage, locked.
pub struct Live {
    pub id: i64,
    pub case_id: Uuid,
    pub stage: String,
    pub state: String,
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
    let row = sqlx::query(
        "SELECT id, state, jurisdiction_code, started_at, period_days, extended_days, counting,
                paused_at, paused_secs, policy, policy_version
         FROM clocks WHERE case_id = $1 AND stage = $2
           AND state IN ('running', 'paused', 'breached')
         ORDER BY started_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(case_id)
    .bind(stage)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| Live {
        id: r.get("id"),
        case_id,
        stage: stage.to_owned(),
        state: r.get("state"),
        code: r.get("jurisdiction_code"),
        started_at: r.get("started_at"),
        period_days: i64::from(r.get::<i32, _>("period_days")),
        extended_days: i64::from(r.get::<i32, _>("extended_days")),
        counting: counting_of(r.get::<&str, _>("counting")),
        paused_at: r.get("paused_at"),
        paused_secs: r.get("paused_secs"),
        policy: r.get("policy"),
        policy_version: r.get("policy_version"),
    }))
}

/// Recomputes a live clock's due moment (after an extension or a pause) and its
/// timers; a clock that was breached but now lies before its new due runs again.
#[allow(clippy::too_many_arguments)]
pub async fn recompute(
    tx: &mut PgConnection,
    outbox: &Outbox,
    case_id: Uuid,
    stage: &str,
    c: &Live,
    extended_days: i64,
    paused_secs: i64,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let (due_at, provisional) = due_of(
        c.started_at,
        c.period_days + extended_days,
        c.counting,
        paused_secs,
    );
    let state = if c.paused_at.is_some() && c.state == "paused" {
        "paused"
    } else if due_at > now {
        "running"
    } else {
        c.state.as_str()
    };
    sqlx::query(
        "UPDATE clocks SET due_at = $2, extended_days = $3, paused_secs = $4, provisional = $5,
             state = $6 WHERE id = $1",
    )
    .bind(c.id)
    .bind(due_at)
    .bind(i32::try_from(extended_days).unwrap_or(i32::MAX))
    .bind(paused_secs)
    .bind(provisional)
    .bind(state)
    .execute(&mut *tx)
    .await?;
    let warn = policy::resolve(tx, &c.code, c.started_at, stage)
        .await?
        .map(|r| r.spec.warn_days)
        .unwrap_or_default();
    if state != "paused" {
        schedule(tx, c.id, case_id, stage, due_at, &warn, now).await?;
    }
    announce(
        tx,
        outbox,
        case_id,
        &c.code,
        stage,
        c.started_at,
        due_at,
        &c.policy,
        c.policy_version,
    )
    .await?;
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
pub async fn resume(
    tx: &mut PgConnection,
    outbox: &Outbox,
    mut c: Live,
    by: &str,
    cap_secs: i64,
    now: DateTime<Utc>,
) -> Result<Resumed, sqlx::Error> {
    let paused_at = c.paused_at.unwrap_or(now);
    let excluded = (now - paused_at).num_seconds().clamp(0, cap_secs.max(0));
    let paused = c.paused_secs + excluded;
    sqlx::query("UPDATE clocks SET state = 'running', paused_at = NULL WHERE id = $1")
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE clock_pauses SET resumed_by = $2, resumed_at = $3, excluded_secs = $4
         WHERE clock_id = $1 AND resumed_at IS NULL",
    )
    .bind(c.id)
    .bind(by)
    .bind(now)
    .bind(excluded)
    .execute(&mut *tx)
    .await?;
    c.state = "running".into();
    c.paused_at = None;
    let (case_id, stage) = (c.case_id, c.stage.clone());
    let due_at = recompute(
        tx,
        outbox,
        case_id,
        &stage,
        &c,
        c.extended_days,
        paused,
        now,
    )
    .await?;
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        xf_events::tier_of_code(&c.code),
        &c.code,
        now,
        Payload::ClockResumed(xf_events::v1::ClockResumed {
            stage: policy::stage_code(&stage) as i32,
            excluded_secs: u64::try_from(excluded).unwrap_or(0),
            paused_secs_total: u64::try_from(paused).unwrap_or(0),
            due_at: Some(xf_events::timestamp(due_at)),
        }),
    );
    outbox.put(&mut *tx, &env).await?;
    Ok(Resumed {
        due_at,
        paused_secs: paused,
        excluded_secs: excluded,
    })
}

/// The pauses whose planned end has come (`paused_at + planned_days`), locked: each
/// as (case, stage). The sweeper resumes them so a forgotten pause cannot stop a clock
/// for longer than was asked for.
pub async fn pauses_ended(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.case_id, c.stage, p.planned_days::int8 * 86400
         FROM clock_pauses p JOIN clocks c ON c.id = p.clock_id
         WHERE p.resumed_at IS NULL AND c.state = 'paused'
           AND p.paused_at + make_interval(days => p.planned_days) <= $1
         ORDER BY p.paused_at, p.id LIMIT $2
         FOR UPDATE OF c SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(tx)
    .await
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
