use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::PgConnection;
use xf_events::Envelope;

/// How far the relay is behind: the outbox rows not yet acknowledged by the broker, as
/// the relay last counted them, and the bound past which a service stops taking new
/// work (a slow or absent broker slows the service down; nothing is dropped).
#[derive(Debug, Default)]
pub struct Backlog {
    pending: AtomicI64,
    oldest_secs: AtomicI64,
    max_pending: i64,
}

impl Backlog {
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Age in seconds of the oldest row waiting (0 when none).
    pub fn oldest_secs(&self) -> i64 {
        self.oldest_secs.load(Ordering::Relaxed)
    }

    pub fn max_pending(&self) -> i64 {
        self.max_pending
    }

    /// Whether the backlog is over its bound (never with a bound of 0).
    pub fn saturated(&self) -> bool {
        self.max_pending > 0 && self.pending() >= self.max_pending
    }

    pub(crate) fn set(&self, pending: i64, oldest_secs: i64) {
        self.pending.store(pending, Ordering::Relaxed);
        self.oldest_secs.store(oldest_secs, Ordering::Relaxed);
    }
}

/// Writes events into the service's outbox table inside the caller's transaction.
#[derive(Debug, Clone)]
pub struct Outbox {
    topic: String,
    backlog: Arc<Backlog>,
}

impl Outbox {
    pub fn new(topic: impl Into<String>) -> Self {
        Self::bounded(topic, 0)
    }

    /// An outbox whose backlog reports saturation at `max_pending` waiting rows (0: never).
    pub fn bounded(topic: impl Into<String>, max_pending: i64) -> Self {
        Outbox {
            topic: topic.into(),
            backlog: Arc::new(Backlog {
                max_pending,
                ..Backlog::default()
            }),
        }
    }

    /// What the relay last counted of this outbox (shared with the relay).
    pub fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Adds `env` to the outbox. Call it inside the transaction that makes the change
    /// the event describes, while holding the case's row lock, so that one case's
    /// events are numbered in the order they happened. The current span's W3C
    /// `traceparent` is stored with the event.
    pub async fn put(&self, conn: &mut PgConnection, env: &Envelope) -> Result<(), sqlx::Error> {
        let event_id: uuid::Uuid = env
            .event_id
            .parse()
            .map_err(|e: uuid::Error| sqlx::Error::Protocol(format!("event id: {e}")))?;
        let traceparent = xf_telemetry::current_traceparent();
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, event_type, payload, traceparent)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event_id)
        .bind(&self.topic)
        .bind(&env.case_id)
        .bind(xf_events::type_name(env.payload.as_ref()))
        .bind(xf_events::encode(env))
        .bind(traceparent)
        .execute(&mut *conn)
        .await?;
        notify(conn).await
    }

    /// Adds many events in one statement, in the order given (for bulk work such as a
    /// deadline sweep); same rules as [`Outbox::put`].
    pub async fn put_many(
        &self,
        conn: &mut PgConnection,
        envs: &[Envelope],
    ) -> Result<(), sqlx::Error> {
        if envs.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(envs.len());
        let mut keys = Vec::with_capacity(envs.len());
        let mut types = Vec::with_capacity(envs.len());
        let mut payloads = Vec::with_capacity(envs.len());
        for env in envs {
            ids.push(
                env.event_id
                    .parse::<uuid::Uuid>()
                    .map_err(|e| sqlx::Error::Protocol(format!("event id: {e}")))?,
            );
            keys.push(env.case_id.clone());
            types.push(xf_events::type_name(env.payload.as_ref()).to_owned());
            payloads.push(xf_events::encode(env));
        }
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, event_type, payload, traceparent)
             SELECT e, $2, k, t, p, $6
             FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::bytea[])
                  WITH ORDINALITY AS x(e, k, t, p, n)
             ORDER BY n",
        )
        .bind(&ids)
        .bind(&self.topic)
        .bind(&keys)
        .bind(&types)
        .bind(&payloads)
        .bind(xf_telemetry::current_traceparent())
        .execute(&mut *conn)
        .await?;
        notify(conn).await
    }
}

/// Wakes the relay's LISTEN when the transaction commits.
async fn notify(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify('xf_outbox_' || current_schema(), '')")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
