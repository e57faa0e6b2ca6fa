//! Clocks, their timers, pauses and the transfers between units.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::clock::{ClockState, Timer};

/// A clock to insert.
#[derive(Debug, Clone)]
pub struct NewClock<'a> {
    pub case_id: Uuid,
    pub stage: &'a str,
    pub code: &'a str,
    pub unit: &'a str,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub period_days: i32,
    pub policy: &'a str,
    pub policy_version: i32,
    pub counting: &'a str,
    pub provisional: bool,
    pub review_level: i16,
}

/// Inserts a running clock; None when the case's stage already has one started then.
pub async fn insert(tx: &mut PgConnection, c: &NewClock<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, policy_version, counting, provisional, review_level, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (case_id, stage, started_at) DO NOTHING RETURNING id",
    )
    .bind(c.case_id)
    .bind(c.stage)
    .bind(xf_events::tier_name(xf_events::tier_of_code(c.code)))
    .bind(c.code)
    .bind(c.unit)
    .bind(c.started_at)
    .bind(c.due_at)
    .bind(c.period_days)
    .bind(c.policy)
    .bind(c.policy_version)
    .bind(c.counting)
    .bind(c.provisional)
    .bind(c.review_level)
    .bind(xf_telemetry::current_trace_id())
    .fetch_optional(&mut *tx)
    .await
}

/// Inserts a running clock whose due moment was given (calendar days, not provisional).
pub async fn insert_fixed(tx: &mut PgConnection, c: &NewClock<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, policy_version, review_level, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(c.case_id)
    .bind(c.stage)
    .bind(xf_events::tier_name(xf_events::tier_of_code(c.code)))
    .bind(c.code)
    .bind(c.unit)
    .bind(c.started_at)
    .bind(c.due_at)
    .bind(c.period_days)
    .bind(c.policy)
    .bind(c.policy_version)
    .bind(c.review_level)
    .bind(xf_telemetry::current_trace_id())
    .fetch_one(&mut *tx)
    .await
}

/// Whether the case ever had a clock of `stage`.
pub async fn has_stage(
    tx: &mut PgConnection,
    case_id: Uuid,
    stage: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = $2)")
        .bind(case_id)
        .bind(stage)
        .fetch_one(&mut *tx)
        .await
}

/// Whether the case was registered anonymously.
pub async fn anonymous(tx: &mut PgConnection, case_id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, bool>("SELECT anonymous FROM oversight_cases WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(false),
    )
}

/// Cancels a clock's unfired timers.
pub async fn cancel_timers(tx: &mut PgConnection, clock_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE timers SET cancelled = TRUE WHERE clock_id = $1 AND fired_at IS NULL AND NOT cancelled",
    )
    .bind(clock_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert_timer(
    tx: &mut PgConnection,
    clock_id: i64,
    case_id: Uuid,
    t: &Timer,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO timers (clock_id, case_id, kind, days_left, fire_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(clock_id)
    .bind(case_id)
    .bind(t.kind.as_str())
    .bind(i32::try_from(t.days_left).unwrap_or(0))
    .bind(t.fire_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const STOP: &str = "UPDATE clocks SET state = 'stopped', stopped_at = $2,
         paused_secs = paused_secs + CASE WHEN paused_at IS NULL THEN 0
             ELSE GREATEST(0, EXTRACT(EPOCH FROM ($2 - paused_at))::bigint) END,
         paused_at = NULL
     WHERE case_id = $1 AND state IN ('running', 'paused', 'breached')
       AND (($3::text[] IS NULL AND stage NOT IN ('review_window', 'rereview_window'))
            OR stage = ANY($3))
     RETURNING id";

/// Stops a case's live clocks of `stages` (all but the petitioner's windows when None),
/// adding the time paused until `at`, and cancels their timers; returns their ids.
pub async fn stop(
    tx: &mut PgConnection,
    case_id: Uuid,
    stages: Option<Vec<String>>,
    at: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(STOP)
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
    Ok(ids)
}

/// A live clock as the commands on it need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveRow {
    pub id: i64,
    pub state: String,
    pub jurisdiction_code: String,
    pub started_at: DateTime<Utc>,
    pub period_days: i32,
    pub extended_days: i32,
    pub counting: String,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_secs: i64,
    pub policy: String,
    pub policy_version: i32,
}

const LIVE_ONE: &str =
    "SELECT id, state, jurisdiction_code, started_at, period_days, extended_days, counting,
            paused_at, paused_secs, policy, policy_version
     FROM clocks WHERE case_id = $1 AND stage = $2
       AND state IN ('running', 'paused', 'breached')
     ORDER BY started_at DESC LIMIT 1 FOR UPDATE";

/// The latest live clock of a case's stage, locked.
pub async fn live(
    tx: &mut PgConnection,
    case_id: Uuid,
    stage: &str,
) -> Result<Option<LiveRow>, sqlx::Error> {
    sqlx::query_as::<_, LiveRow>(LIVE_ONE)
        .bind(case_id)
        .bind(stage)
        .fetch_optional(tx)
        .await
}

/// What a recomputation writes.
pub struct Due {
    pub due_at: DateTime<Utc>,
    pub extended_days: i64,
    pub paused_secs: i64,
    pub provisional: bool,
    pub state: ClockState,
}

pub async fn set_due(tx: &mut PgConnection, id: i64, d: &Due) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE clocks SET due_at = $2, extended_days = $3, paused_secs = $4, provisional = $5,
             state = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(d.due_at)
    .bind(i32::try_from(d.extended_days).unwrap_or(i32::MAX))
    .bind(d.paused_secs)
    .bind(d.provisional)
    .bind(d.state.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sets a clock's state and the moment it was paused (None: not paused).
pub async fn set_state(
    tx: &mut PgConnection,
    id: i64,
    state: ClockState,
    paused_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE clocks SET state = $2, paused_at = $3 WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .bind(paused_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A pause to record.
pub struct NewPause<'a> {
    pub clock_id: i64,
    pub case_id: Uuid,
    pub stage: &'a str,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub planned_days: i32,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn open_pause(tx: &mut PgConnection, p: &NewPause<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clock_pauses (clock_id, case_id, stage, reason, note, planned_days, paused_by, paused_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.clock_id)
    .bind(p.case_id)
    .bind(p.stage)
    .bind(p.reason)
    .bind(p.note)
    .bind(p.planned_days)
    .bind(p.by)
    .bind(p.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn close_pause(
    tx: &mut PgConnection,
    clock_id: i64,
    by: &str,
    at: DateTime<Utc>,
    excluded_secs: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE clock_pauses SET resumed_by = $2, resumed_at = $3, excluded_secs = $4
         WHERE clock_id = $1 AND resumed_at IS NULL",
    )
    .bind(clock_id)
    .bind(by)
    .bind(at)
    .bind(excluded_secs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A pause that reached its planned end.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndedPause {
    pub case_id: Uuid,
    pub stage: String,
    pub planned_secs: i64,
}

/// The pauses whose planned end has come (`paused_at + planned_days`), their clocks
/// locked (skipping locked ones).
pub async fn pauses_ended(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<EndedPause>, sqlx::Error> {
    sqlx::query_as::<_, EndedPause>(
        "SELECT c.case_id, c.stage, p.planned_days::int8 * 86400 AS planned_secs
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

/// Records a transfer between units (once per event).
pub async fn insert_transfer(
    tx: &mut PgConnection,
    event_id: Uuid,
    case_id: Uuid,
    at: DateTime<Utc>,
    from_unit: &str,
    to_unit: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO transfers (event_id, case_id, at, from_unit, to_unit)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(case_id)
    .bind(at)
    .bind(from_unit)
    .bind(to_unit)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether a transfer of the case happened at `at`.
pub async fn transferred_at(
    tx: &mut PgConnection,
    case_id: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM transfers WHERE case_id = $1 AND at = $2)")
        .bind(case_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
}

/// Hands the case's live clocks of `stages` to `unit`.
pub async fn reassign(
    tx: &mut PgConnection,
    case_id: Uuid,
    unit: &str,
    stages: Vec<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE clocks SET unit_id = $2
         WHERE case_id = $1 AND state IN ('running', 'paused', 'breached')
           AND stage = ANY($3)",
    )
    .bind(case_id)
    .bind(unit)
    .bind(stages)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether the case has a live clock of one of `stages` at `review_level` (any level
/// when None).
pub async fn any_live(
    tx: &mut PgConnection,
    case_id: Uuid,
    stages: &[&str],
    review_level: Option<i16>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = ANY($2)
             AND ($3::int2 IS NULL OR review_level = $3)
             AND state IN ('running', 'paused', 'breached'))",
    )
    .bind(case_id)
    .bind(stages)
    .bind(review_level)
    .fetch_one(&mut *tx)
    .await
}

/// How many clocks of `stages` the case ever had.
pub async fn count_stages(
    tx: &mut PgConnection,
    case_id: Uuid,
    stages: &[&str],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM clocks WHERE case_id = $1 AND stage = ANY($2)")
        .bind(case_id)
        .bind(stages)
        .fetch_one(&mut *tx)
        .await
}

/// The highest review level any clock of the case ran at.
pub async fn max_review_level(
    tx: &mut PgConnection,
    case_id: Uuid,
) -> Result<Option<i16>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(review_level) FROM clocks WHERE case_id = $1")
        .bind(case_id)
        .fetch_one(&mut *tx)
        .await
}

const BREACH_FOLLOW_UP: &str =
    "UPDATE clocks SET state = 'breached', breached_at = COALESCE(breached_at, $2)
     WHERE case_id = $1 AND stage = 'follow_up' AND state IN ('running', 'paused') RETURNING id";

/// Marks the case's running or paused follow-up clock breached (at `due`); its id.
pub async fn breach_follow_up(
    tx: &mut PgConnection,
    case_id: Uuid,
    due: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(BREACH_FOLLOW_UP)
        .bind(case_id)
        .bind(due)
        .fetch_optional(&mut *tx)
        .await
}

/// Opens a follow-up clock already breached at `due` (scheduling's visit past due),
/// unless the case has a breached one; true when it did.
pub async fn insert_breached_follow_up(
    tx: &mut PgConnection,
    case_id: Uuid,
    code: &str,
    office: &str,
    due: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, i64>(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, breached_at, trace_id)
         SELECT $1, 'follow_up', $2, $3, NULLIF($4, ''), $5, $5, 'breached', 0, 'scheduling', $5, $6
         WHERE NOT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = 'follow_up' AND state = 'breached')
         ON CONFLICT (case_id, stage, started_at) DO NOTHING RETURNING id",
    )
    .bind(case_id)
    .bind(xf_events::tier_name(xf_events::tier_of_code(code)))
    .bind(code)
    .bind(office)
    .bind(due)
    .bind(xf_telemetry::current_trace_id())
    .fetch_optional(&mut *tx)
    .await?
    .is_some())
}

/// A due timer with its clock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueTimer {
    pub id: i64,
    pub kind: String,
    pub days_left: i32,
    pub fire_at: DateTime<Utc>,
    pub clock_id: i64,
    pub case_id: Uuid,
    pub stage: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub due_at: DateTime<Utc>,
    /// The clock's state.
    pub state: String,
}

const DUE_TIMERS: &str =
    "SELECT t.id, t.kind, t.days_left, t.fire_at, c.id AS clock_id, c.case_id, c.stage,
            c.jurisdiction_code, c.unit_id, c.due_at, c.state
     FROM timers t JOIN clocks c ON c.id = t.clock_id
     WHERE t.fired_at IS NULL AND NOT t.cancelled AND t.fire_at <= $1
       AND c.state IN ('running', 'breached')
     ORDER BY t.fire_at, t.id LIMIT $2
     FOR UPDATE OF t SKIP LOCKED";

/// Up to `limit` unfired timers due at `now` of clocks that can breach, locked
/// (skipping those another sweeper holds).
pub async fn due_timers(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueTimer>, sqlx::Error> {
    sqlx::query_as::<_, DueTimer>(DUE_TIMERS)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
}

pub async fn mark_fired(
    tx: &mut PgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE timers SET fired_at = $2 WHERE id = ANY($1)")
        .bind(ids)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

const BREACH: &str =
    "UPDATE clocks SET state = 'breached', breached_at = COALESCE(breached_at, due_at)
     WHERE id = ANY($1) AND state = 'running'";

/// Marks running clocks breached (at their due moment).
pub async fn mark_breached(tx: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query(BREACH).bind(ids).execute(&mut *tx).await?;
    Ok(())
}

/// A clock as `GET /v1/cases/{id}/deadlines` shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ClockView {
    pub stage: String,
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub state: String,
    pub period_days: i32,
    pub counting: String,
    pub extended_days: i32,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_secs: i64,
    pub breached_at: Option<DateTime<Utc>>,
    pub provisional: bool,
    pub policy: String,
    pub policy_version: i32,
    #[serde(skip)]
    pub trace_id: Option<String>,
    pub warnings_sent: i64,
}

pub async fn of_case<'e, E: PgExecutor<'e>>(
    ex: E,
    case_id: Uuid,
) -> Result<Vec<ClockView>, sqlx::Error> {
    sqlx::query_as::<_, ClockView>(
        "SELECT stage, tier, jurisdiction_code, unit_id, started_at, due_at, stopped_at, state,
                period_days, counting, extended_days, paused_at, paused_secs, breached_at,
                provisional, policy, policy_version, trace_id,
                (SELECT count(*) FROM timers t WHERE t.clock_id = c.id AND t.kind = 'warning'
                   AND t.fired_at IS NOT NULL) AS warnings_sent
         FROM clocks c WHERE case_id = $1 ORDER BY started_at, id",
    )
    .bind(case_id)
    .fetch_all(ex)
    .await
}

/// A pause as the deadlines view shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PauseView {
    pub stage: String,
    pub reason: String,
    pub note: Option<String>,
    pub planned_days: i32,
    pub paused_by: String,
    pub paused_at: DateTime<Utc>,
    pub resumed_by: Option<String>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub excluded_secs: Option<i64>,
}

pub async fn pauses_of_case<'e, E: PgExecutor<'e>>(
    ex: E,
    case_id: Uuid,
) -> Result<Vec<PauseView>, sqlx::Error> {
    sqlx::query_as::<_, PauseView>(
        "SELECT stage, reason, note, planned_days, paused_by, paused_at, resumed_by, resumed_at,
                excluded_secs
         FROM clock_pauses WHERE case_id = $1 ORDER BY paused_at, id",
    )
    .bind(case_id)
    .fetch_all(ex)
    .await
}

pub async fn transfers_of_case<'e, E: PgExecutor<'e>>(
    ex: E,
    case_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM transfers WHERE case_id = $1")
        .bind(case_id)
        .fetch_one(ex)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::{Command, accepting};

    fn list(states: &[ClockState]) -> String {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("state IN ({})", names.join(", "))
    }

    /// The state lists written in the queries are the ones the state machine accepts.
    #[test]
    fn queries_select_the_states_the_domain_accepts() {
        let live: Vec<_> = ClockState::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert!(LIVE_ONE.contains(&list(&live)));
        assert!(STOP.contains(&list(&accepting(Command::Stop))));
        assert!(LIVE_ONE.contains(&list(&accepting(Command::Transfer))));
        assert!(DUE_TIMERS.contains(&list(&accepting(Command::Breach))));
        // Scheduling's overdue visit breaches a running or paused follow-up clock.
        let overdue: Vec<_> = ClockState::ALL
            .into_iter()
            .filter(|s| {
                crate::domain::clock::apply(*s, Command::Overdue)
                    .is_ok_and(|(to, fx)| to == ClockState::Breached && !fx.is_empty())
            })
            .collect();
        assert!(BREACH_FOLLOW_UP.contains(&list(&overdue)));
        // Only a running clock turns breached when its timer fires (a breached one
        // stays so).
        assert!(BREACH.contains("state = 'running'"));
    }
}
