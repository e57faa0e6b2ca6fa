use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use crate::{Backlog, BusError, KafkaSettings, headers};

/// Publishes outbox rows to Kafka. Several relays (replicas) may run at once: each
/// round locks a batch with `FOR UPDATE SKIP LOCKED`, and rows are marked published
/// only after the broker acknowledged them.
pub struct Relay {
    pool: PgPool,
    producer: FutureProducer,
    schema: String,
    service: String,
    batch: i64,
    poll: Duration,
    retention_hours: u32,
    backlog: Arc<Backlog>,
    /// To build a new producer when the current one stays stuck.
    settings: KafkaSettings,
}

/// Failed rounds in a row after which the relay replaces its producer: an idempotent
/// producer whose messages timed out during a broker outage bumps its epoch, and a broker
/// that does not follow (tansu 0.6 answers every later produce with an unknown error)
/// would otherwise keep the outbox from draining for good.
const ROUNDS_BEFORE_NEW_PRODUCER: u32 = 3;

struct Row_ {
    id: i64,
    topic: String,
    key: String,
    event_type: String,
    event_id: uuid::Uuid,
    payload: Vec<u8>,
    traceparent: Option<String>,
}

impl Relay {
    pub fn new(
        pool: PgPool,
        producer: FutureProducer,
        schema: &str,
        service: &str,
        s: &KafkaSettings,
    ) -> Self {
        Relay {
            pool,
            producer,
            schema: schema.to_owned(),
            service: service.to_owned(),
            batch: s.relay_batch,
            poll: Duration::from_millis(s.relay_poll_ms),
            retention_hours: s.outbox_retention_hours,
            backlog: Arc::new(Backlog::default()),
            settings: s.clone(),
        }
    }

    /// Counts the backlog into `backlog` (the outbox's, so the service sees it).
    pub fn watching(mut self, backlog: Arc<Backlog>) -> Self {
        self.backlog = backlog;
        self
    }

    /// Once a second, until cancelled: how many rows wait and how old the oldest is,
    /// into the backlog and the `xf_outbox_pending` / `xf_outbox_oldest_seconds` gauges.
    async fn watch(
        pool: PgPool,
        backlog: Arc<Backlog>,
        service: String,
        cancel: CancellationToken,
    ) {
        let pending = xf_telemetry::gauge_vec(
            "xf_outbox_pending",
            "Outbox rows not yet acknowledged by the broker",
            &["service"],
        )
        .with_label_values(&[service.as_str()]);
        let oldest = xf_telemetry::gauge_vec(
            "xf_outbox_oldest_seconds",
            "Age of the oldest outbox row not yet acknowledged by the broker",
            &["service"],
        )
        .with_label_values(&[service.as_str()]);
        loop {
            let r: Result<(i64, i64), sqlx::Error> = sqlx::query_as(
                "SELECT count(*),
                        COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::int8
                 FROM outbox WHERE published_at IS NULL",
            )
            .fetch_one(&pool)
            .await;
            match r {
                Ok((n, age)) => {
                    backlog.set(n, age);
                    pending.set(n);
                    oldest.set(age);
                }
                Err(e) => tracing::debug!(error = %e, "cannot count the outbox backlog"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Runs until cancelled; rows left unpublished stay for the next start.
    pub async fn run(mut self, cancel: CancellationToken) {
        let watcher = tokio::spawn(Self::watch(
            self.pool.clone(),
            self.backlog.clone(),
            self.service.clone(),
            cancel.child_token(),
        ));
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(100);
        let mut last_cleanup = std::time::Instant::now();
        let published = xf_telemetry::counter_vec(
            "xf_outbox_published_total",
            "Outbox events acknowledged by the broker",
            &["service"],
        )
        .with_label_values(&[self.service.as_str()]);
        let mut failed_rounds = 0u32;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            match self.publish_once().await {
                Ok(n) if n > 0 => {
                    published.inc_by(n as u64);
                    backoff = Duration::from_millis(100);
                    failed_rounds = 0;
                    continue;
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    failed_rounds = 0;
                }
                Err(e) => {
                    tracing::warn!(error = %e, service = %self.service, "outbox relay round failed; retrying");
                    failed_rounds += 1;
                    if failed_rounds >= ROUNDS_BEFORE_NEW_PRODUCER {
                        failed_rounds = 0;
                        match crate::producer(&self.settings) {
                            Ok(p) => {
                                tracing::warn!(service = %self.service, "outbox relay: a new producer replaces the stuck one");
                                self.producer = p;
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot create a new producer"),
                        }
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    if listener.is_none() {
                        listener = self.listen().await;
                    }
                    continue;
                }
            }
            if last_cleanup.elapsed() > Duration::from_secs(600) {
                last_cleanup = std::time::Instant::now();
                if let Err(e) = self.cleanup().await {
                    tracing::warn!(error = %e, "outbox cleanup failed");
                }
            }
            // Wait for a commit notification, or poll.
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        if l.recv().await.is_err() {
                            tokio::time::sleep(self.poll).await;
                        }
                    }
                    None => tokio::time::sleep(self.poll).await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = wait => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        watcher.abort();
        tracing::info!(service = %self.service, "outbox relay stopped");
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut l = PgListener::connect_with(&self.pool).await.ok()?;
        l.listen(&format!("xf_outbox_{}", self.schema)).await.ok()?;
        Some(l)
    }

    async fn cleanup(&self) -> Result<u64, BusError> {
        let r = sqlx::query(
            "DELETE FROM outbox WHERE published_at IS NOT NULL
             AND published_at < now() - make_interval(hours => $1)",
        )
        .bind(i32::try_from(self.retention_hours).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Publishes one batch; returns how many rows were acknowledged.
    pub async fn publish_once(&self) -> Result<usize, BusError> {
        let mut tx = self.pool.begin().await?;
        // Lock a batch; leave out any row whose case has an earlier unpublished row
        // outside the batch (locked by another relay), so per-case order holds.
        let rows = sqlx::query(
            "WITH batch AS (
                 SELECT id FROM outbox WHERE published_at IS NULL
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             SELECT o.id, o.topic, o.key, o.event_type, o.event_id, o.payload, o.traceparent
             FROM outbox o JOIN batch b ON b.id = o.id
             WHERE NOT EXISTS (
                 SELECT 1 FROM outbox e
                 WHERE e.key = o.key AND e.published_at IS NULL AND e.id < o.id
                   AND e.id NOT IN (SELECT id FROM batch))
             ORDER BY o.id",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let rows: Vec<Row_> = rows
            .into_iter()
            .map(|r| Row_ {
                id: r.get("id"),
                topic: r.get("topic"),
                key: r.get("key"),
                event_type: r.get("event_type"),
                event_id: r.get("event_id"),
                payload: r.get("payload"),
                traceparent: r.get("traceparent"),
            })
            .collect();

        let mut futures = Vec::with_capacity(rows.len());
        for row in &rows {
            let event_id = row.event_id.to_string();
            let mut hdrs = OwnedHeaders::new()
                .insert(Header {
                    key: headers::EVENT_TYPE,
                    value: Some(row.event_type.as_str()),
                })
                .insert(Header {
                    key: headers::EVENT_ID,
                    value: Some(event_id.as_str()),
                })
                .insert(Header {
                    key: headers::CONTENT_TYPE,
                    value: Some(xf_events::CONTENT_TYPE),
                });
            if let Some(tp) = &row.traceparent {
                hdrs = hdrs.insert(Header {
                    key: headers::TRACEPARENT,
                    value: Some(tp.as_str()),
                });
            }
            let mut record = FutureRecord::to(&row.topic)
                .key(row.key.as_str())
                .payload(row.payload.as_slice())
                .headers(hdrs);
            // Queue full is back-pressure: wait for deliveries to drain, then retry.
            let fut = loop {
                match self.producer.send_result(record) {
                    Ok(f) => break f,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            };
            futures.push(fut);
        }
        let results = join_all(futures).await;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut first_error = None;
        for (row, res) in rows.iter().zip(results) {
            match res {
                Ok(Ok(_)) => ok.push(row.id),
                Ok(Err((e, _))) => {
                    first_error.get_or_insert_with(|| e.to_string());
                    failed.push(row.id);
                }
                Err(_) => {
                    first_error.get_or_insert_with(|| "delivery cancelled".to_owned());
                    failed.push(row.id);
                }
            }
        }
        if !ok.is_empty() {
            sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                .bind(&ok)
                .execute(&mut *tx)
                .await?;
        }
        if !failed.is_empty() {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
            )
            .bind(&failed)
            .bind(first_error.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(e) = first_error {
            return Err(BusError::Topic(
                self.service.clone(),
                format!("{} events not acknowledged: {e}", failed.len()),
            ));
        }
        Ok(ok.len())
    }
}
