use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::{BusError, KafkaSettings};

/// Creates the case topic and the dead-letter topic if they do not exist.
pub async fn ensure_topics(s: &KafkaSettings) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &s.brokers)
        .set("socket.timeout.ms", "5000")
        .create()?;
    let topics = [
        NewTopic::new(
            &s.topic,
            s.partitions,
            TopicReplication::Fixed(s.replication_factor),
        ),
        NewTopic::new(
            &s.dlq_topic,
            s.partitions,
            TopicReplication::Fixed(s.replication_factor),
        ),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin.create_topics(&topics, &opts).await? {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(BusError::Topic(name, code.to_string())),
        }
    }
    Ok(())
}

/// True when the broker answers a metadata request for `topic` within the timeout.
pub async fn broker_reachable(p: &FutureProducer, topic: &str, timeout: Duration) -> bool {
    let p = p.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || p.client().fetch_metadata(Some(&topic), timeout).is_ok())
        .await
        .unwrap_or(false)
}
