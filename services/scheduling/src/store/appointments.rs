//! Appointments (约访).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppointmentRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub case_id: Uuid,
    pub state: String,
    pub moves: i32,
    pub booked_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "id, session_id, case_id, state, moves, booked_by, created_at, updated_at";

pub async fn get<'e, E: PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<Option<AppointmentRow>, sqlx::Error> {
    sqlx::query_as::<_, AppointmentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM appointments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<Option<AppointmentRow>, sqlx::Error> {
    sqlx::query_as::<_, AppointmentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM appointments WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
}

/// The live appointment of a case, if any.
pub async fn live_of_case(
    tx: &mut PgConnection,
    case: Uuid,
) -> Result<Option<AppointmentRow>, sqlx::Error> {
    sqlx::query_as::<_, AppointmentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM appointments WHERE case_id = $1 AND state = 'booked'"
    )))
    .bind(case)
    .fetch_optional(&mut *tx)
    .await
}

pub async fn of_session<'e, E: PgExecutor<'e>>(
    ex: E,
    session: Uuid,
    live_only: bool,
    hide_from: Option<&str>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    // `hide_from`: a unit kept away from the cases it is accused in.
    sqlx::query_as::<_, AppointmentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM appointments a WHERE session_id = $1 AND (NOT $2 OR state = 'booked')
           AND ($3::text IS NULL OR NOT EXISTS (
               SELECT 1 FROM cases c WHERE c.id = a.case_id AND c.excluded_unit_id = $3))
         ORDER BY created_at, id"
    )))
    .bind(session)
    .bind(live_only)
    .bind(hide_from)
    .fetch_all(ex)
    .await
}

/// Books; `Ok(false)` when the case already has a live appointment (the unique index).
pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    session: Uuid,
    case: Uuid,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO appointments (id, session_id, case_id, state, booked_by, created_at, updated_at)
         VALUES ($1, $2, $3, 'booked', $4, $5, $5)
         ON CONFLICT (case_id) WHERE state = 'booked' DO NOTHING",
    )
    .bind(id)
    .bind(session)
    .bind(case)
    .bind(by)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn move_to(
    tx: &mut PgConnection,
    id: Uuid,
    session: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE appointments SET session_id = $2, moves = moves + 1, updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(session)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn cancel(tx: &mut PgConnection, id: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE appointments SET state = 'cancelled', updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Live bookings of a session, counted under its row lock.
pub async fn booked(tx: &mut PgConnection, session: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM appointments WHERE session_id = $1 AND state = 'booked'",
    )
    .bind(session)
    .fetch_one(&mut *tx)
    .await
}
