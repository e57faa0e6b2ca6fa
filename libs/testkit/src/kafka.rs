use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Record {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(hk, _)| hk == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a topic from the beginning until `want` records arrived or `timeout` passed,
/// then one more second, so that records beyond `want` show up too.
pub async fn read_topic(brokers: &str, topic: &str, want: usize, timeout: Duration) -> Vec<Record> {
    let group = format!("reader-{}", uuid::Uuid::new_v4().simple());
    let consumer: StreamConsumer = match ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
    {
        Ok(c) => c,
        Err(e) => panic!("test reader: {e}"),
    };
    if let Err(e) = consumer.subscribe(&[topic]) {
        panic!("test reader subscribe: {e}");
    }
    let mut out = Vec::new();
    let mut deadline = tokio::time::Instant::now() + timeout;
    let mut settling = false;
    loop {
        if out.len() >= want && !settling {
            settling = true;
            deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        (0..h.count())
                            .map(|i| {
                                let hd = h.get(i);
                                (
                                    hd.key.to_owned(),
                                    hd.value
                                        .map(|v| String::from_utf8_lossy(v).into_owned())
                                        .unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Record {
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers,
                });
            }
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => break,
        }
    }
    out
}

/// Produces a raw record (e.g. an undecodable one, or a duplicate delivery).
pub async fn produce_raw(
    brokers: &str,
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: &[(&str, &str)],
) {
    let p: FutureProducer = match ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "10000")
        .create()
    {
        Ok(p) => p,
        Err(e) => panic!("test producer: {e}"),
    };
    let mut h = OwnedHeaders::new();
    for (k, v) in headers {
        h = h.insert(Header {
            key: k,
            value: Some(*v),
        });
    }
    let rec = FutureRecord::to(topic).key(key).payload(payload).headers(h);
    if let Err((e, _)) = p.send(rec, Duration::from_secs(10)).await {
        panic!("test produce: {e}");
    }
}
