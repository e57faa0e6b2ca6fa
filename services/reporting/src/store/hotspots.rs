//! Counts and places for the hotspot tests, and the hotspots found.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// Cases registered in [since, until) under `scope`, with their category, village,
/// day index (Asia/Shanghai days since `since`), registration number and signature.
pub struct Recent {
    pub category: String,
    pub village: String,
    pub day: u32,
    pub registration_no: String,
    pub signature: Vec<i32>,
    pub grouped: bool,
}

pub async fn recent(
    pool: &PgPool,
    scope: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Recent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT COALESCE(category, '') AS category, matter_code,
                ((registered_at AT TIME ZONE 'Asia/Shanghai')::date
                  - ($2 AT TIME ZONE 'Asia/Shanghai')::date) AS day,
                COALESCE(registration_no, '') AS registration_no, signature,
                group_id IS NOT NULL AS grouped
         FROM case_facts
         WHERE matter_code LIKE $1 || '%' AND registered_at >= $2 AND registered_at < $3
         ORDER BY registered_at, case_id",
    )
    .bind(scope)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Recent {
            category: r.get("category"),
            village: r.get("matter_code"),
            day: u32::try_from(r.get::<i32, _>("day")).unwrap_or(0),
            registration_no: r.get("registration_no"),
            signature: r.get("signature"),
            grouped: r.get("grouped"),
        })
        .collect())
}

/// A hotspot to store.
#[derive(Debug, Clone)]
pub struct Hotspot {
    pub id: Uuid,
    pub method: &'static str,
    pub category: String,
    pub jurisdiction_code: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub observed: i32,
    pub expected: f64,
    pub score: f64,
    pub registration_nos: Vec<String>,
    pub detected_at: DateTime<Utc>,
}

/// Stores a hotspot; false when the same one (method, category, place, start) is there.
pub async fn put(tx: &mut PgConnection, h: &Hotspot) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO hotspots (id, method, category, jurisdiction_code, period_start, period_end,
             observed, expected, score, registration_nos, detected_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (method, category, jurisdiction_code, period_start) DO NOTHING",
    )
    .bind(h.id)
    .bind(h.method)
    .bind(&h.category)
    .bind(&h.jurisdiction_code)
    .bind(h.period_start)
    .bind(h.period_end)
    .bind(h.observed)
    .bind(h.expected)
    .bind(h.score)
    .bind(&h.registration_nos)
    .bind(h.detected_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Hotspots under `scope` whose period overlaps [from, to).
pub async fn list(
    pool: &PgPool,
    scope: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    method: Option<&str>,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, method, category, jurisdiction_code, period_start, period_end, observed,
                expected, score, registration_nos, detected_at
         FROM hotspots
         WHERE (jurisdiction_code LIKE $1 || '%' OR $1 LIKE jurisdiction_code || '%')
           AND period_end > $2 AND period_start < $3 AND ($4::text IS NULL OR method = $4)
         ORDER BY period_start DESC, score DESC, id",
    )
    .bind(scope)
    .bind(from)
    .bind(to)
    .bind(method)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.get::<Uuid, _>("id"),
                "method": r.get::<String, _>("method"),
                "category": Some(r.get::<String, _>("category")).filter(|c| !c.is_empty()),
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "period_start": r.get::<DateTime<Utc>, _>("period_start"),
                "period_end": r.get::<DateTime<Utc>, _>("period_end"),
                "observed": r.get::<i32, _>("observed"),
                "expected": r.get::<f64, _>("expected"),
                "score": r.get::<f64, _>("score"),
                "registration_nos": r.get::<Vec<String>, _>("registration_nos"),
                "detected_at": r.get::<DateTime<Utc>, _>("detected_at"),
            })
        })
        .collect())
}
