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
    assisting: &[String],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, tier, jurisdiction_code, unit_id, assisting_unit_ids, status, trace_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'dispatched', $6, $7)
         ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier,
             jurisdiction_code = EXCLUDED.jurisdiction_code, unit_id = EXCLUDED.unit_id,
             assisting_unit_ids = EXCLUDED.assisting_unit_ids,
             status = 'dispatched', updated_at = EXCLUDED.updated_at",
    )
    .bind(id)
    .bind(tier)
    .bind(code)
    .bind(unit)
    .bind(assisting)
    .bind(xf_telemetry::current_trace_id())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What the visibility rule needs of a case, from its registration: where the matter
/// arose, the accused unit, the confidential flag. A later dispatch keeps them.
pub struct Registered<'a> {
    pub id: Uuid,
    pub tier: &'a str,
    pub matter_code: &'a str,
    pub excluded_unit: Option<&'a str>,
    pub confidential: bool,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub async fn register_case(tx: &mut PgConnection, r: &Registered<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, tier, jurisdiction_code, status, trace_id, updated_at,
                            matter_code, excluded_unit_id, confidential)
         VALUES ($1, $2, $3, 'registered', $4, $5, $3, $6, $7)
         ON CONFLICT (id) DO UPDATE SET matter_code = EXCLUDED.matter_code,
             excluded_unit_id = EXCLUDED.excluded_unit_id, confidential = EXCLUDED.confidential",
    )
    .bind(r.id)
    .bind(r.tier)
    .bind(r.matter_code)
    .bind(xf_telemetry::current_trace_id())
    .bind(r.at)
    .bind(r.excluded_unit)
    .bind(r.confidential)
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
    pub matter_code: Option<String>,
    pub excluded_unit_id: Option<String>,
    pub confidential: bool,
    pub assisting_unit_ids: Vec<String>,
}

impl CaseRow {
    /// The case as the visibility rule sees it.
    pub fn access(&self) -> xf_access::Case<'_> {
        xf_access::Case {
            matter_code: self
                .matter_code
                .as_deref()
                .unwrap_or(&self.jurisdiction_code),
            jurisdiction_code: &self.jurisdiction_code,
            lead_unit: self.unit_id.as_deref(),
            assisting_units: &self.assisting_unit_ids,
            excluded_unit: self.excluded_unit_id.as_deref(),
            confidential: self.confidential,
        }
    }
}

pub async fn case<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as::<_, CaseRow>(
        "SELECT id, tier, jurisdiction_code, unit_id, status, trace_id, matter_code, excluded_unit_id,
                confidential, assisting_unit_ids FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}
