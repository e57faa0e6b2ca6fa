//! Follow-up visits (回访).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::follow_up::Outcome;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowUpRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub office_id: Option<String>,
    pub jurisdiction_code: String,
    pub due_at: DateTime<Utc>,
    pub period_hours: i32,
    pub state: String,
    pub assignee: Option<String>,
    pub reached: Option<bool>,
    pub satisfaction: Option<String>,
    pub rebound_risk: Option<bool>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT f.id, f.case_id, f.office_id, c.jurisdiction_code, f.scheduled_at AS due_at,
        f.period_hours, f.state, f.assignee, f.reached, f.satisfaction, f.rebound_risk, f.completed_at,
        f.completed_by, f.overdue_at, f.created_at
     FROM follow_ups f JOIN cases c ON c.id = f.case_id";

/// Books the follow-up of a settled case; `None` when it already has one.
pub async fn insert(
    tx: &mut PgConnection,
    case: Uuid,
    office: Option<&str>,
    due: DateTime<Utc>,
    hours: i32,
    at: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::now_v7();
    let n = sqlx::query(
        "INSERT INTO follow_ups (id, case_id, scheduled_at, state, created_at, office_id, period_hours)
         VALUES ($1, $2, $3, 'due', $4, $5, $6) ON CONFLICT (case_id) DO NOTHING",
    )
    .bind(id)
    .bind(case)
    .bind(due)
    .bind(at)
    .bind(office)
    .bind(hours)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((n == 1).then_some(id))
}

pub async fn get<'e, E: PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<Option<FollowUpRow>, sqlx::Error> {
    sqlx::query_as::<_, FollowUpRow>(sqlx::AssertSqlSafe(format!("{SELECT} WHERE f.id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<Option<FollowUpRow>, sqlx::Error> {
    sqlx::query("SELECT 1 FROM follow_ups WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    get(&mut *tx, id).await
}

pub async fn of_case<'e, E: PgExecutor<'e>>(
    ex: E,
    case: Uuid,
) -> Result<Vec<FollowUpRow>, sqlx::Error> {
    sqlx::query_as::<_, FollowUpRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE f.case_id = $1 ORDER BY f.scheduled_at"
    )))
    .bind(case)
    .fetch_all(ex)
    .await
}

pub async fn list<'e, E: PgExecutor<'e>>(
    ex: E,
    scope: &str,
    office: Option<&str>,
    state: Option<&str>,
    limit: i64,
    unit: Option<&str>,
) -> Result<Vec<FollowUpRow>, sqlx::Error> {
    // `unit`: the caller's unit, kept away from the cases it is accused in.
    sqlx::query_as::<_, FollowUpRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.jurisdiction_code LIKE $1 || '%' AND ($2::text IS NULL OR f.office_id = $2)
           AND ($3::text IS NULL OR f.state = $3)
           AND ($5::text IS NULL OR c.excluded_unit_id IS DISTINCT FROM $5)
         ORDER BY f.scheduled_at, f.id LIMIT $4"
    )))
    .bind(scope)
    .bind(office)
    .bind(state)
    .bind(limit)
    .bind(unit)
    .fetch_all(ex)
    .await
}

pub async fn assign(
    tx: &mut PgConnection,
    id: Uuid,
    state: &str,
    to: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE follow_ups SET state = $2, assignee = $3 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn complete(
    tx: &mut PgConnection,
    id: Uuid,
    o: &Outcome,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE follow_ups SET state = 'completed', reached = $2, satisfaction = $3, rebound_risk = $4,
             completed_at = $5, completed_by = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(o.reached)
    .bind(o.satisfaction.map(|s| s.as_str()))
    .bind(o.rebound_risk)
    .bind(at)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Locks up to `limit` open follow-ups past due at `now` (skipping locked ones) and
/// marks them overdue; returns them.
pub async fn take_overdue(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<FollowUpRow>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM follow_ups WHERE state IN ('due', 'assigned') AND scheduled_at <= $1
         ORDER BY scheduled_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query("UPDATE follow_ups SET state = 'overdue', overdue_at = $2 WHERE id = ANY($1)")
        .bind(&ids)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as::<_, FollowUpRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE f.id = ANY($1) ORDER BY f.scheduled_at, f.id"
    )))
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
}
