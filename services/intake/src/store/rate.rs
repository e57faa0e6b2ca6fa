//! The GCRA cells of the public budgets (table `rate_limits`), spent atomically in
//! Postgres with Postgres's clock, so replicas share one budget per client.

use std::time::Duration;

use sqlx::PgPool;

use crate::domain::rate::Budget;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Allowed,
    /// Over budget: retry after this many seconds.
    Limited(u64),
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Spends one request of `client`'s budget in `bucket`.
pub async fn spend(
    pool: &PgPool,
    bucket: &str,
    client: &[u8],
    budget: Budget,
) -> Result<Spent, sqlx::Error> {
    let interval = micros(budget.interval());
    let tolerance = micros(budget.tolerance());
    // One statement: a new client starts with a full budget; an existing one moves its
    // TAT only when the request passes (the WHERE of the upsert).
    let passed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO rate_limits (bucket, client, tat)
         VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
         ON CONFLICT (bucket, client) DO UPDATE
             SET tat = GREATEST(rate_limits.tat, clock_timestamp()) + $3 * interval '1 microsecond'
             WHERE GREATEST(rate_limits.tat, clock_timestamp())
                   <= clock_timestamp() + $4 * interval '1 microsecond'
         RETURNING 1",
    )
    .bind(bucket)
    .bind(client)
    .bind(interval as f64)
    .bind(tolerance as f64)
    .fetch_optional(pool)
    .await?;
    if passed.is_some() {
        if rand::random_range(0..512) == 0 {
            // Cells whose TAT is past hold a full budget: the same as no row.
            sqlx::query(
                "DELETE FROM rate_limits WHERE tat < clock_timestamp() - interval '1 minute'",
            )
            .execute(pool)
            .await?;
        }
        return Ok(Spent::Allowed);
    }
    let ahead: f64 = sqlx::query_scalar(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM (tat - clock_timestamp())))::float8
         FROM rate_limits WHERE bucket = $1 AND client = $2",
    )
    .bind(bucket)
    .bind(client)
    .fetch_optional(pool)
    .await?
    .unwrap_or(0.0);
    Ok(Spent::Limited(
        budget.retry_after(Duration::from_secs_f64(ahead.max(0.0))),
    ))
}
