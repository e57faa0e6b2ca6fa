use serde::{Deserialize, Serialize};

/// How a service's consumer gets its partitions of the case topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The broker's consumer-group coordinator shares the partitions among the
    /// service's replicas (a real Kafka in production).
    #[default]
    Group,
    /// This process reads every partition itself, from the checkpoints in its schema,
    /// without asking the coordinator: one replica per service on the development
    /// broker, whose coordinator can leave a restarted consumer without partitions
    /// (README, "Known limits"). Two replicas would both read everything; the inbox
    /// still applies each event once.
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Comma-separated bootstrap servers, e.g. 127.0.0.1:9092.
    pub brokers: String,
    /// The case event topic.
    pub topic: String,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// Partitions of the topics when this service creates them.
    pub partitions: i32,
    /// Replication factor of the topics when this service creates them.
    pub replication_factor: i32,
    /// Consumer group of this service.
    pub group_id: String,
    /// Who hands the consumer its partitions (`group` or `all`).
    #[serde(default)]
    pub assignment: Assignment,
    /// How long the producer tries to deliver one event before reporting failure.
    pub message_timeout_ms: u32,
    /// Outbox rows the relay publishes per round.
    pub relay_batch: i64,
    /// How often the relay looks for rows when no notification arrives.
    pub relay_poll_ms: u64,
    /// Unpublished outbox rows past which the service answers new work with 429 and
    /// Retry-After (0: no bound).
    pub outbox_max_pending: i64,
    /// Events the consumer applies in one transaction when they are waiting (1 = one
    /// transaction per event).
    pub consumer_batch: usize,
    /// Attempts before an event that keeps failing goes to the dead-letter topic.
    pub max_attempts: u32,
    /// Published outbox rows are deleted after this many hours.
    pub outbox_retention_hours: u32,
}

impl KafkaSettings {
    /// Checks the values; returns every problem as (key, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.brokers.trim().is_empty() {
            out.push((
                "kafka.brokers".into(),
                "must name at least one broker".into(),
            ));
        }
        for (k, v) in [
            ("kafka.topic", &self.topic),
            ("kafka.dlq_topic", &self.dlq_topic),
            ("kafka.group_id", &self.group_id),
        ] {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                out.push((
                    k.into(),
                    "must be a non-empty name of letters, digits, '.', '_' or '-'".into(),
                ));
            }
        }
        if self.topic == self.dlq_topic {
            out.push((
                "kafka.dlq_topic".into(),
                "must differ from kafka.topic".into(),
            ));
        }
        if !(1..=1000).contains(&self.partitions) {
            out.push(("kafka.partitions".into(), "must be 1 to 1000".into()));
        }
        if !(1..=10).contains(&self.replication_factor) {
            out.push(("kafka.replication_factor".into(), "must be 1 to 10".into()));
        }
        if !(1000..=900_000).contains(&self.message_timeout_ms) {
            out.push((
                "kafka.message_timeout_ms".into(),
                "must be 1000 to 900000".into(),
            ));
        }
        if !(1..=10_000).contains(&self.relay_batch) {
            out.push(("kafka.relay_batch".into(), "must be 1 to 10000".into()));
        }
        if !(1..=60_000).contains(&self.relay_poll_ms) {
            out.push(("kafka.relay_poll_ms".into(), "must be 1 to 60000".into()));
        }
        if !(0..=100_000_000).contains(&self.outbox_max_pending) {
            out.push((
                "kafka.outbox_max_pending".into(),
                "must be 0 (no bound) to 100000000".into(),
            ));
        }
        if !(1..=5_000).contains(&self.consumer_batch) {
            out.push(("kafka.consumer_batch".into(), "must be 1 to 5000".into()));
        }
        if !(1..=100).contains(&self.max_attempts) {
            out.push(("kafka.max_attempts".into(), "must be 1 to 100".into()));
        }
        out
    }
}
