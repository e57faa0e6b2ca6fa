//! Outbound notices through a pluggable channel: a signed webhook that an SMS gateway
//! or an e-mail relay receives.
//!
//! A notice to deliver is a row in the service's `deliveries` table, written in the
//! transaction of what caused it ([`enqueue`]). The [`Worker`] posts due rows with
//! `FOR UPDATE SKIP LOCKED` (so replicas never post one twice at once), each with
//! - `Idempotency-Key: <delivery key>` — the same on every retry, so the receiver can
//!   drop repeats;
//! - `X-Xinfang-Timestamp: <unix seconds>` and
//!   `X-Xinfang-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under the
//!   shared secret.
//!
//! A 2xx answer marks it delivered; anything else is retried with exponential back-off
//! (`base_backoff_ms · 2^attempt`, at most an hour) until `max_attempts`, then the row
//! is **parked** with its last error and status, visible to operators, and can be
//! retried by hand ([`retry`]). Nothing is dropped.
//!
//! The table (each service's migration creates it):
//! ```sql
//! CREATE TABLE deliveries (
//!     id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, recipient TEXT NOT NULL,
//!     body JSONB NOT NULL, state TEXT NOT NULL DEFAULT 'pending'
//!         CHECK (state IN ('pending', 'delivered', 'parked')),
//!     attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TIMESTAMPTZ NOT NULL,
//!     last_error TEXT, last_status INTEGER, delivered_at TIMESTAMPTZ,
//!     created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
//! ```

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;
use xf_app::Clock;

/// The webhook channel. An empty `url` switches outbound delivery off (notices stay in
/// the inboxes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub url: String,
    /// File with the shared secret the body is signed with.
    pub secret_file: String,
    /// Attempts before a delivery is parked.
    pub max_attempts: u32,
    /// The first retry's delay; each further one doubles it.
    pub base_backoff_ms: u64,
    /// Milliseconds between passes of the worker.
    pub interval_ms: u64,
    /// Per-request timeout.
    pub timeout_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            url: String::new(),
            secret_file: String::new(),
            max_attempts: 8,
            base_backoff_ms: 30_000,
            interval_ms: 1_000,
            timeout_ms: 5_000,
        }
    }
}

impl WebhookSettings {
    /// Problems with these settings, named under `prefix`.
    pub fn problems(&self, prefix: &str) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !self.url.is_empty() {
            if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
                p.push((format!("{prefix}.url"), "an http:// or https:// URL".into()));
            }
            if let Err(e) = self.secret() {
                p.push((format!("{prefix}.secret_file"), e.to_string()));
            }
        }
        if !(1..=100).contains(&self.max_attempts) {
            p.push((format!("{prefix}.max_attempts"), "1 to 100".into()));
        }
        if !(1..=3_600_000).contains(&self.base_backoff_ms) {
            p.push((format!("{prefix}.base_backoff_ms"), "1 to 3600000".into()));
        }
        if !(10..=3_600_000).contains(&self.interval_ms) {
            p.push((format!("{prefix}.interval_ms"), "10 to 3600000".into()));
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            p.push((format!("{prefix}.timeout_ms"), "100 to 60000".into()));
        }
        p
    }

    fn secret(&self) -> anyhow::Result<Vec<u8>> {
        let s = std::fs::read_to_string(&self.secret_file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.secret_file))?;
        let s = s.trim();
        if s.len() < 16 {
            anyhow::bail!("the secret must be at least 16 characters");
        }
        Ok(s.as_bytes().to_vec())
    }
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `signature` is the one for `body` at `timestamp` (for receivers and tests).
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> bool {
    let want = sign(secret, timestamp, body);
    want.len() == signature.len()
        && want
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Queues one delivery in the caller's transaction; a second one with the same `key`
/// is ignored (the key is also the receiver's idempotency key).
pub async fn enqueue(
    tx: &mut PgConnection,
    key: &str,
    recipient: &str,
    body: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deliveries (key, recipient, body, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4, $4) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(recipient)
    .bind(body)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Puts a parked delivery back in the queue, due now. False when there is no parked
/// delivery with that id.
pub async fn retry(pool: &PgPool, id: i64, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2,
             updated_at = $2 WHERE id = $1 AND state = 'parked'",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pass {
    pub delivered: u64,
    pub retried: u64,
    pub parked: u64,
}

/// Posts due deliveries.
#[derive(Clone)]
pub struct Worker {
    pool: PgPool,
    clock: Clock,
    http: reqwest::Client,
    url: String,
    secret: Vec<u8>,
    settings: WebhookSettings,
}

impl Worker {
    /// None when no webhook is configured.
    pub fn new(pool: PgPool, clock: Clock, s: &WebhookSettings) -> anyhow::Result<Option<Worker>> {
        if s.url.is_empty() {
            return Ok(None);
        }
        Ok(Some(Worker {
            pool,
            clock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(s.timeout_ms))
                .build()?,
            url: s.url.clone(),
            secret: s.secret()?,
            settings: s.clone(),
        }))
    }

    /// Runs passes every `interval_ms` until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        let every = Duration::from_millis(self.settings.interval_ms);
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "notice delivery pass failed; retrying");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Posts every delivery due now, one at a time, each in its own transaction.
    pub async fn pass(&self) -> Result<Pass, sqlx::Error> {
        let mut out = Pass::default();
        loop {
            let now = self.clock.now();
            let mut tx = self.pool.begin().await?;
            let Some(row) = sqlx::query(
                "SELECT id, key, body, attempts FROM deliveries
                 WHERE state = 'pending' AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(out);
            };
            let id: i64 = row.get("id");
            let key: String = row.get("key");
            let body: serde_json::Value = row.get("body");
            let attempts: i32 = row.get::<i32, _>("attempts") + 1;
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let ts = now.timestamp();
            let answer = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("Idempotency-Key", &key)
                .header("X-Xinfang-Timestamp", ts.to_string())
                .header("X-Xinfang-Signature", sign(&self.secret, ts, &bytes))
                .body(bytes)
                .send()
                .await;
            let (status, error) = match answer {
                Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
                Ok(r) => (
                    Some(r.status().as_u16()),
                    Some(format!("the receiver answered {}", r.status())),
                ),
                Err(e) => (
                    None,
                    Some(if e.is_timeout() {
                        "timed out".to_owned()
                    } else if e.is_connect() {
                        "could not connect".to_owned()
                    } else {
                        "request failed".to_owned()
                    }),
                ),
            };
            let status = status.map(i32::from);
            match error {
                None => {
                    sqlx::query(
                        "UPDATE deliveries SET state = 'delivered', attempts = $2, last_status = $3,
                             last_error = NULL, delivered_at = $4, updated_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(attempts)
                    .bind(status)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    out.delivered += 1;
                }
                Some(err) => {
                    let park =
                        attempts >= i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX);
                    let shift = u32::try_from(attempts - 1).unwrap_or(0).min(20);
                    let delay_ms = self
                        .settings
                        .base_backoff_ms
                        .saturating_mul(1u64 << shift)
                        .min(3_600_000);
                    let next = now
                        + chrono::Duration::milliseconds(
                            i64::try_from(delay_ms).unwrap_or(3_600_000),
                        );
                    sqlx::query(
                        "UPDATE deliveries SET state = $2, attempts = $3, last_status = $4,
                             last_error = $5, next_attempt_at = $6, updated_at = $7 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(if park { "parked" } else { "pending" })
                    .bind(attempts)
                    .bind(status)
                    .bind(format!("attempt {attempts}: {err}"))
                    .bind(next)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if park {
                        out.parked += 1;
                    } else {
                        out.retried += 1;
                    }
                }
            }
            tx.commit().await?;
            if out.delivered + out.retried + out.parked >= 1000 {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_body_and_the_time() {
        let s = sign(b"a-shared-secret-0001", 1_770_000_000, b"{\"a\":1}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        assert!(verify(
            b"a-shared-secret-0001",
            1_770_000_000,
            b"{\"a\":1}",
            &s
        ));
        assert!(!verify(
            b"a-shared-secret-0001",
            1_770_000_001,
            b"{\"a\":1}",
            &s
        ));
        assert!(!verify(
            b"a-shared-secret-0001",
            1_770_000_000,
            b"{\"a\":2}",
            &s
        ));
        assert!(!verify(
            b"another-secret-0002",
            1_770_000_000,
            b"{\"a\":1}",
            &s
        ));
    }
}
