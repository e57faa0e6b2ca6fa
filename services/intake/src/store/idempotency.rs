//! The idempotency keys of registrations: a key claimed in the registration's
//! transaction, its answer stored with it, and read back for a retry.

use sqlx::{PgConnection, PgPool};

/// What a registrar's earlier request with a key left.
#[derive(Debug, sqlx::FromRow)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    /// None while the first request is still in flight.
    pub response: Option<serde_json::Value>,
}

/// Claims `key` for `registrar`; false when it was claimed before.
pub async fn claim(
    tx: &mut PgConnection,
    registrar: &str,
    key: &str,
    request_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO idempotency (registrar, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (registrar, key) DO NOTHING",
    )
    .bind(registrar)
    .bind(key)
    .bind(request_hash)
    .execute(&mut *tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Stores the answer given to the request that claimed `key`.
pub async fn answered(
    tx: &mut PgConnection,
    registrar: &str,
    key: &str,
    response: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency SET status = 201, response = $3 WHERE registrar = $1 AND key = $2",
    )
    .bind(registrar)
    .bind(key)
    .bind(response)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The earlier request with `key`, if its claim has committed.
pub async fn find(
    pool: &PgPool,
    registrar: &str,
    key: &str,
) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, response FROM idempotency WHERE registrar = $1 AND key = $2",
    )
    .bind(registrar)
    .bind(key)
    .fetch_optional(pool)
    .await
}
