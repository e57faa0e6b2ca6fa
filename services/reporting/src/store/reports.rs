//! Monthly reports: the cases of an office folded as of a moment, the stored reports
//! and the monthly job's claims.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::{self, Facts};

/// The office's cases registered from `from` (and, before it, those a leader assigned
/// or owns), each folded from its ledger entries before `until`.
pub async fn facts_as_of(
    pool: &PgPool,
    office: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Facts>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT l.case_id, l.envelope FROM ledger l
         WHERE l.occurred_at < $3 AND l.case_id IN (
             SELECT case_id FROM case_facts
             WHERE matter_code LIKE $1 || '%' AND registered_at < $3
               AND (registered_at >= $2 OR cardinality(leader_ids) > 0))",
    )
    .bind(office)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let mut by_case: BTreeMap<Uuid, Vec<sqlx::postgres::PgRow>> = BTreeMap::new();
    for r in rows {
        by_case.entry(r.get("case_id")).or_default().push(r);
    }
    Ok(by_case
        .values()
        .map(|rs| domain::fold(&super::entries(rs)))
        .filter(|f| f.registered_at.is_some_and(|t| t < until))
        .collect())
}

/// Every county and township with a case registered before `until`.
pub async fn offices(pool: &PgPool, until: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT o FROM case_facts,
             LATERAL (VALUES (left(matter_code, 6)), (left(matter_code, 9))) AS v(o)
         WHERE registered_at < $1 AND length(o) IN (6, 9) AND length(matter_code) >= length(o)
         ORDER BY o",
    )
    .bind(until)
    .fetch_all(pool)
    .await
}

/// A stored report.
pub struct Stored {
    pub id: Uuid,
    pub generated_at: DateTime<Utc>,
    pub body: serde_json::Value,
}

pub async fn get(pool: &PgPool, month: &str, office: &str) -> Result<Option<Stored>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT id, generated_at, body FROM reports WHERE month = $1 AND office_code = $2",
    )
    .bind(month)
    .bind(office)
    .fetch_optional(pool)
    .await?
    .map(|r| Stored {
        id: r.get("id"),
        generated_at: r.get("generated_at"),
        body: r.get("body"),
    }))
}

/// Stores a report unless one is stored for the month and office; true when stored.
pub async fn put(
    tx: &mut PgConnection,
    id: Uuid,
    month: &str,
    office: &str,
    at: DateTime<Utc>,
    body: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO reports (id, month, office_code, generated_at, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (month, office_code) DO NOTHING",
    )
    .bind(id)
    .bind(month)
    .bind(office)
    .bind(at)
    .bind(body)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Claims the monthly run of `month`: true for exactly one caller, ever (a second
/// replica waits for the first one's transaction and then finds the claim taken).
pub async fn claim(
    tx: &mut PgConnection,
    month: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO report_runs (month, claimed_at) VALUES ($1, $2) ON CONFLICT (month) DO NOTHING",
    )
    .bind(month)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn finish(
    tx: &mut PgConnection,
    month: &str,
    at: DateTime<Utc>,
    offices: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE report_runs SET finished_at = $2, offices = $3 WHERE month = $1")
        .bind(month)
        .bind(at)
        .bind(offices)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
