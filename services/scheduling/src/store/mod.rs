//! scheduling's SQL: nothing else touches its schema.

pub mod appointments;
pub mod duty;
pub mod follow_ups;
pub mod offices;
pub mod sessions;

use sqlx::PgConnection;
use uuid::Uuid;

/// Records a dispatched case (scheduling holds its id, tier and place only).
pub async fn upsert_case(
    tx: &mut PgConnection,
    id: Uuid,
    tier: &str,
    code: &str,
    unit: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, tier, jurisdiction_code, unit_id, status, trace_id, updated_at)
         VALUES ($1, $2, $3, $4, 'dispatched', $5, $6)
         ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier,
             jurisdiction_code = EXCLUDED.jurisdiction_code, unit_id = EXCLUDED.unit_id,
             status = 'dispatched', updated_at = EXCLUDED.updated_at",
    )
    .bind(id)
    .bind(tier)
    .bind(code)
    .bind(unit)
    .bind(xf_telemetry::current_trace_id())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a known case closed; false when scheduling never saw it dispatched.
pub async fn close_case(
    tx: &mut PgConnection,
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE cases SET status = 'closed', updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// A case as scheduling knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: Uuid,
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub status: String,
    pub trace_id: Option<String>,
}

pub async fn case<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as::<_, CaseRow>(
        "SELECT id, tier, jurisdiction_code, unit_id, status, trace_id FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}
