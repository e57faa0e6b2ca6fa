//! Deadline policies: versions, the one in force, and the statutory seed.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A policy version as the API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PolicyRow {
    pub id: String,
    pub version: i32,
    pub name: String,
    pub jurisdiction_code: String,
    pub stages: serde_json::Value,
    pub preset: Option<String>,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, version, name, jurisdiction_code, stages, preset, effective_from, effective_to";

/// The rule of one stage in the most specific policy in force at `at` for `code` that
/// defines it: (policy id, version, the stage's JSON).
pub async fn stage_in_force(
    conn: &mut PgConnection,
    code: &str,
    at: DateTime<Utc>,
    stage: &str,
) -> Result<Option<(String, i32, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version, stages -> $3 FROM policies
         WHERE $1 LIKE jurisdiction_code || '%' AND effective_from <= $2
           AND (effective_to IS NULL OR effective_to > $2) AND stages ? $3
         ORDER BY length(jurisdiction_code) DESC, id LIMIT 1",
    )
    .bind(code)
    .bind(at)
    .bind(stage)
    .fetch_optional(conn)
    .await
}

/// Serialises policy writers for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE policies IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The latest version of a policy.
pub async fn latest(tx: &mut PgConnection, id: &str) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as::<_, PolicyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies WHERE id = $1 ORDER BY version DESC LIMIT 1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
}

/// Another policy of the same place in force in an overlapping period: (id, version).
pub async fn clash(
    tx: &mut PgConnection,
    code: &str,
    id: &str,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<Option<(String, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version FROM policies
         WHERE jurisdiction_code = $1 AND id <> $2
           AND effective_from < COALESCE($4, 'infinity'::timestamptz)
           AND COALESCE(effective_to, 'infinity'::timestamptz) > $3
         LIMIT 1",
    )
    .bind(code)
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_optional(&mut *tx)
    .await
}

/// Ends a version where the next one starts (unless it ends earlier).
pub async fn end_version(
    tx: &mut PgConnection,
    id: &str,
    version: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE policies SET effective_to = $2 WHERE id = $1 AND version = $3
           AND (effective_to IS NULL OR effective_to > $2)",
    )
    .bind(id)
    .bind(at)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut PgConnection,
    p: &PolicyRow,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO policies (id, version, name, jurisdiction_code, stages, preset,
             effective_from, effective_to, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&p.id)
    .bind(p.version)
    .bind(&p.name)
    .bind(&p.jurisdiction_code)
    .bind(&p.stages)
    .bind(&p.preset)
    .bind(p.effective_from)
    .bind(p.effective_to)
    .bind(at)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Every version of a policy, oldest first.
pub async fn versions<'e, E: PgExecutor<'e>>(
    ex: E,
    id: &str,
) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as::<_, PolicyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies WHERE id = $1 ORDER BY version"
    )))
    .bind(id)
    .fetch_all(ex)
    .await
}

/// The policies in force at `at` that cover `code` or lie within it (all when None).
pub async fn in_force<'e, E: PgExecutor<'e>>(
    ex: E,
    at: DateTime<Utc>,
    code: Option<&str>,
) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as::<_, PolicyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies
         WHERE effective_from <= $1 AND (effective_to IS NULL OR effective_to > $1)
           AND ($2::text IS NULL OR $2 LIKE jurisdiction_code || '%' OR jurisdiction_code LIKE $2 || '%')
         ORDER BY length(jurisdiction_code), jurisdiction_code, id"
    )))
    .bind(at)
    .bind(code)
    .fetch_all(ex)
    .await
}
