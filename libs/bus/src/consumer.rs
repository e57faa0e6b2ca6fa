use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use xf_events::Event;

use crate::{BusError, KafkaSettings, headers};

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Passes with time (database unreachable, deadlock): retried without limit.
    #[error("transient: {0}")]
    Transient(String),
    /// Will not pass by itself: retried a bounded number of times, then dead-lettered.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        if xf_store::is_transient(&e) {
            HandleError::Transient(e.to_string())
        } else {
            HandleError::Permanent(e.to_string())
        }
    }
}

/// What a service does with an event, inside the transaction that also records the
/// event in the inbox. Write any events it causes with [`crate::Outbox::put`] on `tx`.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Event,
    ) -> impl Future<Output = Result<(), HandleError>> + Send + 'a;
}

/// An idempotent consumer: one per service process, in the service's consumer group.
pub struct Consumer<H: Handler> {
    pool: PgPool,
    consumer: StreamConsumer,
    producer: FutureProducer,
    handler: Arc<H>,
    service: String,
    topic: String,
    dlq_topic: String,
    max_attempts: u32,
}

enum Outcome {
    Done,
    Duplicate,
    DeadLettered,
    Cancelled,
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        pool: PgPool,
        producer: FutureProducer,
        handler: Arc<H>,
        service: &str,
        s: &KafkaSettings,
    ) -> Result<Self, BusError> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &s.brokers)
            .set("group.id", &s.group_id)
            .set("client.id", format!("{}-consumer", s.group_id))
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            // Offsets are stored only after the effect's transaction committed.
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("topic.metadata.refresh.interval.ms", "5000")
            .create()?;
        Ok(Consumer {
            pool,
            consumer,
            producer,
            handler,
            service: service.to_owned(),
            topic: s.topic.clone(),
            dlq_topic: s.dlq_topic.clone(),
            max_attempts: s.max_attempts,
        })
    }

    /// Consumes until cancelled, then commits the stored offsets.
    pub async fn run(self, cancel: CancellationToken) {
        if let Err(e) = self.consumer.subscribe(&[self.topic.as_str()]) {
            tracing::error!(error = %e, "cannot subscribe");
            return;
        }
        let counter = xf_telemetry::counter_vec(
            "xf_events_consumed_total",
            "Events consumed, by type and outcome",
            &["service", "type", "outcome"],
        );
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => break,
                m = self.consumer.recv() => m,
            };
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "kafka receive failed; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                    continue;
                }
            };
            let event_type = header(&msg, headers::EVENT_TYPE)
                .unwrap_or("Unknown")
                .to_owned();
            let outcome = self.process(&msg, &cancel).await;
            let label = match outcome {
                Outcome::Done => "processed",
                Outcome::Duplicate => "duplicate",
                Outcome::DeadLettered => "dead_lettered",
                Outcome::Cancelled => break,
            };
            counter
                .with_label_values(&[self.service.as_str(), event_type.as_str(), label])
                .inc();
            if let Err(e) = self.consumer.store_offset_from_message(&msg) {
                tracing::warn!(error = %e, "cannot store offset");
            }
        }
        if let Err(e) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored yet is fine.
            tracing::debug!(error = %e, "final offset commit");
        }
        tracing::info!(service = %self.service, "consumer stopped");
    }

    async fn process(&self, msg: &BorrowedMessage<'_>, cancel: &CancellationToken) -> Outcome {
        let payload = msg.payload().unwrap_or_default();
        let event = match xf_events::decode(payload) {
            Ok(ev) => ev,
            Err(e) => {
                return self
                    .dead_letter(msg, None, &format!("undecodable event: {e}"), 1, cancel)
                    .await;
            }
        };
        if event.payload().is_none() {
            // A payload from a newer contract version: skip, per the evolution rules.
            return Outcome::Done;
        }
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("consume {}", event.type_name()),
            xf.case_id = %event.case_id,
            xf.tier = xf_events::tier_name(event.tier()),
            xf.jurisdiction = %event.envelope.jurisdiction_code,
            xf.event_type = event.type_name(),
            xf.service = %self.service,
        );
        if let Some(tp) = header(msg, headers::TRACEPARENT) {
            xf_telemetry::set_parent(&span, tp);
        }
        let mut attempts = 0u32;
        let mut backoff = Duration::from_millis(50);
        loop {
            if cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            let r = self.try_once(msg, &event).instrument(span.clone()).await;
            match r {
                Ok(true) => return Outcome::Done,
                Ok(false) => return Outcome::Duplicate,
                Err(HandleError::Transient(e)) => {
                    tracing::warn!(parent: &span, error = %e, "transient failure; retrying");
                }
                Err(HandleError::Permanent(e)) => {
                    attempts += 1;
                    tracing::warn!(parent: &span, error = %e, attempts, "event failed");
                    if attempts >= self.max_attempts {
                        return self
                            .dead_letter(msg, Some(event.event_id), &e, attempts, cancel)
                            .await;
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Outcome::Cancelled,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One attempt: Ok(true) processed, Ok(false) already processed before.
    async fn try_once(
        &self,
        msg: &BorrowedMessage<'_>,
        event: &Event,
    ) -> Result<bool, HandleError> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO inbox (event_id, event_type, topic, kafka_partition, kafka_offset)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.event_id)
        .bind(event.type_name())
        .bind(msg.topic())
        .bind(msg.partition())
        .bind(msg.offset())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            return Ok(false);
        }
        self.handler.handle(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn dead_letter(
        &self,
        msg: &BorrowedMessage<'_>,
        event_id: Option<uuid::Uuid>,
        error: &str,
        attempts: u32,
        cancel: &CancellationToken,
    ) -> Outcome {
        tracing::error!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            error,
            "sending event to the dead-letter topic"
        );
        let partition = msg.partition().to_string();
        let offset = msg.offset().to_string();
        let mut hdrs = OwnedHeaders::new();
        if let Some(h) = msg.headers() {
            for i in 0..h.count() {
                let hd = h.get(i);
                hdrs = hdrs.insert(Header {
                    key: hd.key,
                    value: hd.value,
                });
            }
        }
        let hdrs = hdrs
            .insert(Header {
                key: headers::ERROR,
                value: Some(error),
            })
            .insert(Header {
                key: headers::SOURCE_TOPIC,
                value: Some(msg.topic()),
            })
            .insert(Header {
                key: headers::SOURCE_PARTITION,
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: headers::SOURCE_OFFSET,
                value: Some(offset.as_str()),
            })
            .insert(Header {
                key: headers::FAILED_BY,
                value: Some(self.service.as_str()),
            });
        loop {
            let mut rec = FutureRecord::to(&self.dlq_topic)
                .payload(msg.payload().unwrap_or_default())
                .headers(hdrs.clone());
            if let Some(k) = msg.key() {
                rec = rec.key(k);
            }
            match self.producer.send(rec, Duration::from_secs(30)).await {
                Ok(_) => break,
                Err((e, _)) => {
                    tracing::warn!(error = %e, "dead-letter publish failed; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Outcome::Cancelled,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        let _ = sqlx::query(
            "INSERT INTO dead_letters (event_id, topic, kafka_partition, kafka_offset, error, attempts)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event_id)
        .bind(msg.topic())
        .bind(msg.partition())
        .bind(msg.offset())
        .bind(error)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await;
        Outcome::DeadLettered
    }
}

fn header<'a>(msg: &'a BorrowedMessage<'_>, key: &str) -> Option<&'a str> {
    let h = msg.headers()?;
    (0..h.count())
        .map(|i| h.get(i))
        .find(|hd| hd.key == key)
        .and_then(|hd| hd.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}
