//! Kafka for the services: an idempotent producer, the transactional outbox and its
//! relay, an idempotent consumer backed by an inbox table, W3C trace headers, dead
//! letters, and topic creation through the admin API.
//!
//! Guarantees:
//! - an event is written to the outbox in the transaction that made the change;
//! - the relay marks a row published only after the broker acknowledged it, and never
//!   publishes a later event of a case before an earlier one;
//! - a consumer records the event id in its inbox in the transaction of the effect and
//!   stores the offset only after that transaction committed, so a redelivered event
//!   has no second effect;
//! - an event that cannot be decoded, or keeps failing, goes to the dead-letter topic
//!   with the error, and the consumer moves on.

mod consumer;
mod outbox;
mod relay;
mod settings;
mod topics;

pub use consumer::{Consumer, Delivered, HandleError, Handler};
pub use outbox::{Backlog, Outbox};
pub use relay::Relay;
pub use settings::{Assignment, KafkaSettings};
pub use topics::{broker_reachable, ensure_topics};

use rdkafka::ClientConfig;
use rdkafka::producer::FutureProducer;

/// Kafka header names.
pub mod headers {
    pub const TRACEPARENT: &str = "traceparent";
    pub const EVENT_TYPE: &str = "xf-event-type";
    pub const EVENT_ID: &str = "xf-event-id";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const ERROR: &str = "xf-error";
    pub const SOURCE_TOPIC: &str = "xf-source-topic";
    pub const SOURCE_PARTITION: &str = "xf-source-partition";
    pub const SOURCE_OFFSET: &str = "xf-source-offset";
    pub const FAILED_BY: &str = "xf-failed-by";
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("topic {0}: {1}")]
    Topic(String, String),
}

/// The idempotent producer (`enable.idempotence=true`, `acks=all`).
pub fn producer(s: &KafkaSettings) -> Result<FutureProducer, BusError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &s.brokers)
        // Not the idempotent producer: after a message timed out during a broker
        // outage it bumps its epoch, and tansu 0.6 then refuses that producer's every
        // later write. Order per case is kept by one request in flight per connection;
        // a retried batch may arrive twice, which consumers drop by event id.
        .set("enable.idempotence", "false")
        .set("max.in.flight.requests.per.connection", "1")
        .set("acks", "all")
        .set("message.timeout.ms", s.message_timeout_ms.to_string())
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "100000")
        .set("client.id", &s.group_id)
        .create()?)
}
