//! Postgres for one service: a pool whose connections live in the service's own
//! schema, the shared outbox/inbox tables, and the service's embedded migrations.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use sqlx;

/// The outbox, inbox and dead-letter tables every service has. Versions below 1000
/// belong here; services number their own migrations from 1000 up.
pub fn base_migrations() -> Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.set_ignore_missing(true);
    m
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// postgres://user:password@host:port/database for this service's own role.
    #[serde(serialize_with = "redact")]
    pub url: SecretString,
    /// The schema this service owns; every table lives there.
    pub schema: String,
    pub max_connections: u32,
    /// Seconds to wait for a connection from the pool.
    pub acquire_timeout_secs: u64,
}

fn redact<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database.schema {0:?} must be a lower-case identifier (a-z, 0-9, _)")]
    BadSchema(String),
    #[error("database.url is not a valid postgres URL: {0}")]
    BadUrl(String),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// True for a schema name we accept (also keeps it safe to interpolate).
pub fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Opens a pool whose connections use `schema` (created if missing) as search path.
/// The pool is lazy: the service starts even while the database is down, and
/// readiness reports it.
pub fn pool(s: &DatabaseSettings) -> Result<PgPool, StoreError> {
    if !valid_schema(&s.schema) {
        return Err(StoreError::BadSchema(s.schema.clone()));
    }
    let opts: PgConnectOptions = s
        .url
        .expose_secret()
        .parse()
        .map_err(|e: sqlx::Error| StoreError::BadUrl(e.to_string()))?;
    let opts = opts.options([("search_path", s.schema.as_str())]);
    Ok(PgPoolOptions::new()
        .max_connections(s.max_connections)
        .acquire_timeout(Duration::from_secs(s.acquire_timeout_secs))
        .connect_lazy_with(opts))
}

/// Creates the schema if needed and applies the base and the service's migrations.
/// `service` should be built with `sqlx::migrate!`; applied versions of the other
/// migrator are ignored.
pub async fn migrate(pool: &PgPool, schema: &str, mut service: Migrator) -> Result<(), StoreError> {
    if !valid_schema(schema) {
        return Err(StoreError::BadSchema(schema.to_owned()));
    }
    // Only create it when missing: CREATE needs a privilege a service role that was
    // given its schema by the administrator does not have.
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(pool)
        .await?;
    }
    base_migrations().run(pool).await?;
    service.set_ignore_missing(true);
    service.run(pool).await?;
    Ok(())
}

/// Drops a schema and everything in it (tests and `make down --purge`).
pub async fn drop_schema(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    if !valid_schema(schema) {
        return Err(StoreError::BadSchema(schema.to_owned()));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

use xf_http::{FieldError, Problem};

/// True for errors that pass with time (connection lost, pool exhausted, server
/// shutting down, serialization failure or deadlock): retry rather than give up.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("57P")
                || c == "40001"
                || c == "40P01"
                || c == "53300"
        }),
        _ => false,
    }
}

/// The one answer to a database error, for every service's routes: unavailable (503,
/// with `Retry-After`) when it passes with time, a conflict (409) on a unique
/// violation, a validation failure (422 naming the column or constraint) when a stored
/// rule refuses a value, a conflict too when an exclusion constraint finds an overlap,
/// and an internal error (500, cause logged) otherwise.
pub fn problem(e: &sqlx::Error) -> Problem {
    if is_transient(e) {
        let mut p = Problem::unavailable(e);
        p.retry_after = Some(1);
        return p;
    }
    let sqlx::Error::Database(db) = e else {
        return Problem::internal(e);
    };
    let code = db.code().unwrap_or_default().into_owned();
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    let name = pg
        .and_then(|p| p.column().or(p.constraint()))
        .unwrap_or("value")
        .to_owned();
    match code.as_str() {
        "23505" => Problem::conflict("a record with the same key exists"),
        "23P01" => Problem::conflict("it overlaps a record that exists"),
        "23502" | "23503" | "23514" => {
            tracing::info!(sqlstate = %code, constraint = %name, "stored rule refused a value");
            Problem::validation(vec![FieldError::new(
                name,
                "refused by a rule of the stored data",
            )])
        }
        c if c.starts_with("22") => Problem::validation(vec![FieldError::new(
            name,
            "out of the range the stored data allows",
        )]),
        _ => Problem::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(valid_schema("intake"));
        assert!(valid_schema("t_0a1b_routing"));
        assert!(!valid_schema("Intake"));
        assert!(!valid_schema("1x"));
        assert!(!valid_schema("a;drop"));
        assert!(!valid_schema(""));
    }
}
