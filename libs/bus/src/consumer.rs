use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;
use xf_events::Event;

use crate::{Assignment, BusError, KafkaSettings, headers};
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

    /// The events of one batch not applied before (each once, in the order received),
    /// inside the batch's one transaction. By default [`Handler::handle`] for each in
    /// turn, inside its own span; a handler that can apply them together (set-based
    /// SQL) overrides this. An error rolls the whole batch back, and each event is then
    /// retried alone through [`Handler::handle`].
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [Delivered<'a>],
    ) -> impl Future<Output = Result<(), HandleError>> + Send + 'a {
        async move {
            for d in events {
                self.handle(&mut *tx, d.event)
                    .instrument(d.span.clone())
                    .await?;
            }
            Ok(())
        }
    }
}

/// One event of a batch handed to [`Handler::handle_batch`], with the span it is
/// consumed in (its parent is the producer's trace).
pub struct Delivered<'a> {
    pub event: &'a Event,
    pub span: tracing::Span,
}

/// Where consumption stands, per partition of the consumed topic: the next offset whose
/// effect is not yet committed in this service's schema (`consumer_offsets`). The schema is
/// the record; this is what this process last read or wrote of it.
#[derive(Default)]
struct Checkpoints {
    next: Mutex<HashMap<i32, i64>>,
    /// Set when the broker hands this process partitions: the loop re-reads the schema.
    reassigned: AtomicBool,
}

impl Checkpoints {
    fn get(&self, partition: i32) -> Option<i64> {
        self.next.lock().ok()?.get(&partition).copied()
    }

    /// Moves each partition's checkpoint forward (never back).
    fn remember(&self, reached: impl IntoIterator<Item = (i32, i64)>) {
        if let Ok(mut m) = self.next.lock() {
            for (partition, next) in reached {
                let e = m.entry(partition).or_insert(next);
                *e = (*e).max(next);
            }
        }
    }
}

/// The consumer's context: on every assignment it starts each partition at the
/// checkpoint the service's schema holds, so a restart, a rebalance or a broker that
/// forgot the group's committed offsets neither repeats nor skips work.
pub struct Resume {
    topic: String,
    checkpoints: Arc<Checkpoints>,
}

impl ClientContext for Resume {}

impl ConsumerContext for Resume {
    fn rebalance(
        &self,
        base: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(base.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<i32> = tpl
                    .elements_for_topic(&self.topic)
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                for p in parts {
                    if let Some(next) = self.checkpoints.get(p) {
                        let _ = tpl.set_partition_offset(&self.topic, p, Offset::Offset(next));
                    }
                }
                self.checkpoints.reassigned.store(true, Ordering::SeqCst);
                tracing::info!(partitions = tpl.count(), "partitions assigned");
                if cooperative {
                    base.incremental_assign(tpl)
                } else {
                    base.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                if cooperative {
                    base.incremental_unassign(tpl)
                } else {
                    base.unassign()
                }
            }
            other => {
                tracing::warn!(error = ?other, "rebalance failed");
                base.unassign()
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot apply the assignment");
        }
    }
}

/// An idempotent consumer: one per service process, in the service's consumer group.
/// Events waiting together are applied in one transaction (up to `consumer_batch`),
/// with their inbox rows and the partition checkpoint; an event that fails is retried
/// alone, so one bad event never holds back or rolls back the others.
pub struct Consumer<H: Handler> {
    pool: PgPool,
    consumer: StreamConsumer<Resume>,
    checkpoints: Arc<Checkpoints>,
    producer: FutureProducer,
    handler: Arc<H>,
    service: String,
    topic: String,
    dlq_topic: String,
    max_attempts: u32,
    batch: usize,
    assignment: Assignment,
    brokers: String,
}

#[derive(Clone, Copy)]
enum Outcome {
    Done,
    Duplicate,
    /// Below the partition's checkpoint: applied before, not even looked up.
    Behind,
    DeadLettered,
    Cancelled,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Done => "processed",
            Outcome::Duplicate => "duplicate",
            Outcome::Behind => "behind_checkpoint",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// A received message and what its payload decoded to.
struct Item {
    msg: OwnedMessage,
    /// `Err`: undecodable; `Ok(None)`: a payload of a newer contract version.
    event: Result<Option<Event>, String>,
}

impl Item {
    fn new(msg: OwnedMessage) -> Item {
        let event = match xf_events::decode(msg.payload().unwrap_or_default()) {
            // A later contract on this topic would be a breaking change: not guessed at.
            Ok(ev) if ev.envelope.schema_version > xf_events::SCHEMA_VERSION => Err(format!(
                "unsupported schema_version {} (this service reads {})",
                ev.envelope.schema_version,
                xf_events::SCHEMA_VERSION
            )),
            Ok(ev) if ev.payload().is_none() => Ok(None),
            Ok(ev) => Ok(Some(ev)),
            Err(e) => Err(format!("undecodable event: {e}")),
        };
        Item { msg, event }
    }

    fn event_type(&self) -> &str {
        header(&self.msg, headers::EVENT_TYPE).unwrap_or("Unknown")
    }

    fn span(&self, ev: &Event, service: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("consume {}", ev.type_name()),
            xf.case_id = %ev.case_id,
            xf.tier = xf_events::tier_name(ev.tier()),
            xf.jurisdiction = %ev.envelope.jurisdiction_code,
            xf.event_type = ev.type_name(),
            xf.service = %service,
        );
        if let Some(tp) = header(&self.msg, headers::TRACEPARENT) {
            xf_telemetry::set_parent(&span, tp);
        }
        span
    }
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        pool: PgPool,
        producer: FutureProducer,
        handler: Arc<H>,
        service: &str,
        s: &KafkaSettings,
    ) -> Result<Self, BusError> {
        let checkpoints = Arc::new(Checkpoints::default());
        let consumer: StreamConsumer<Resume> = ClientConfig::new()
            .set("bootstrap.servers", &s.brokers)
            .set("group.id", &s.group_id)
            .set("client.id", format!("{}-consumer", s.group_id))
            // With every partition assigned by this process the schema's checkpoints are
            // the only record: nothing is committed to the coordinator.
            .set(
                "enable.auto.commit",
                if s.assignment == Assignment::All {
                    "false"
                } else {
                    "true"
                },
            )
            .set("auto.commit.interval.ms", "1000")
            // Offsets are stored only after the effect's transaction committed.
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("topic.metadata.refresh.interval.ms", "5000")
            .create_with_context(Resume {
                topic: s.topic.clone(),
                checkpoints: checkpoints.clone(),
            })?;
        Ok(Consumer {
            pool,
            consumer,
            checkpoints,
            producer,
            handler,
            service: service.to_owned(),
            topic: s.topic.clone(),
            dlq_topic: s.dlq_topic.clone(),
            max_attempts: s.max_attempts,
            batch: s.consumer_batch.max(1),
            assignment: s.assignment,
            brokers: s.brokers.clone(),
        })
    }

    /// The partitions of the topic, from the broker's metadata (on a blocking thread).
    async fn partitions(&self) -> Result<Vec<i32>, String> {
        let (brokers, topic) = (self.brokers.clone(), self.topic.clone());
        tokio::task::spawn_blocking(move || {
            let probe: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create()
                .map_err(|e| e.to_string())?;
            let md = probe
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            let parts: Vec<i32> = md
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if parts.is_empty() {
                Err(format!("no partitions of {topic} in the metadata yet"))
            } else {
                Ok(parts)
            }
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Takes every partition of the topic, each from its checkpoint (or the start).
    async fn assign_all(&self) -> Result<usize, String> {
        let parts = self.partitions().await?;
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            let at = self
                .checkpoints
                .get(*p)
                .map_or(Offset::Beginning, Offset::Offset);
            tpl.add_partition_offset(&self.topic, *p, at)
                .map_err(|e| e.to_string())?;
        }
        self.consumer.assign(&tpl).map_err(|e| e.to_string())?;
        tracing::info!(
            partitions = parts.len(),
            "every partition assigned by this process"
        );
        Ok(parts.len())
    }

    /// Consumes until cancelled, then commits the stored offsets.
    pub async fn run(self, cancel: CancellationToken) {
        // The checkpoints first, so the first assignment already starts from them.
        loop {
            match self.load_checkpoints().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the consumer checkpoints; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        match self.assignment {
            Assignment::Group => {
                if let Err(e) = self.consumer.subscribe(&[self.topic.as_str()]) {
                    tracing::error!(error = %e, "cannot subscribe");
                    return;
                }
            }
            Assignment::All => loop {
                match self.assign_all().await {
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot assign the partitions yet; retrying");
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            },
        }
        let counter = xf_telemetry::counter_vec(
            "xf_events_consumed_total",
            "Events consumed, by type and outcome",
            &["service", "type", "outcome"],
        );
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => break,
                m = self.consumer.recv() => m.map(|m| m.detach()),
            };
            let first = match first {
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
            // Whatever else is already waiting joins the batch.
            let mut batch = vec![Item::new(first)];
            while batch.len() < self.batch {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(m)) => batch.push(Item::new(m.detach())),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "kafka receive failed inside a batch");
                        break;
                    }
                    None => break,
                }
            }
            if self.checkpoints.reassigned.swap(false, Ordering::SeqCst)
                && let Err(e) = self.load_checkpoints().await
            {
                tracing::warn!(error = %e, "cannot re-read the consumer checkpoints");
            }
            let outcomes = self.handle(&batch, &cancel).await;
            for (item, outcome) in batch.iter().zip(&outcomes) {
                if matches!(outcome, Outcome::Cancelled) {
                    break;
                }
                counter
                    .with_label_values(&[self.service.as_str(), item.event_type(), outcome.label()])
                    .inc();
                if let Err(e) = self.consumer.store_offset(
                    item.msg.topic(),
                    item.msg.partition(),
                    item.msg.offset(),
                ) {
                    tracing::debug!(error = %e, "cannot store offset");
                }
            }
            if outcomes.iter().any(|o| matches!(o, Outcome::Cancelled)) {
                break;
            }
        }
        if self.assignment == Assignment::Group
            && let Err(e) = self.consumer.commit_consumer_state(CommitMode::Sync)
        {
            // Nothing stored yet is fine.
            tracing::debug!(error = %e, "final offset commit");
        }
        tracing::info!(service = %self.service, "consumer stopped");
    }

    async fn load_checkpoints(&self) -> Result<(), sqlx::Error> {
        let rows: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT kafka_partition, next_offset FROM consumer_offsets WHERE topic = $1",
        )
        .bind(&self.topic)
        .fetch_all(&self.pool)
        .await?;
        self.checkpoints.remember(rows);
        Ok(())
    }

    /// Applies a batch in order; one outcome per item (a `Cancelled` ends it).
    async fn handle(&self, items: &[Item], cancel: &CancellationToken) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(items.len());
        let mut i = 0;
        while i < items.len() {
            // A run of decodable events, then the undecodable one that ends it.
            let end = items[i..]
                .iter()
                .position(|it| it.event.is_err())
                .map_or(items.len(), |p| i + p);
            if end > i {
                out.extend(self.apply_run(&items[i..end], cancel).await);
                if matches!(out.last(), Some(Outcome::Cancelled)) {
                    return out;
                }
            }
            if let Some(bad) = items.get(end) {
                let reason = bad.event.as_ref().err().cloned().unwrap_or_default();
                let o = if self.behind(&bad.msg) {
                    Outcome::Behind
                } else {
                    self.dead_letter(&bad.msg, None, &reason, 1, cancel).await
                };
                out.push(o);
                if matches!(o, Outcome::Cancelled) {
                    return out;
                }
            }
            i = end + 1;
        }
        out
    }

    /// A run of decodable events: one transaction for all of them; if any fails, each
    /// alone with its own retries.
    async fn apply_run(&self, run: &[Item], cancel: &CancellationToken) -> Vec<Outcome> {
        if run.len() > 1 {
            match self.try_together(run).await {
                Ok(outcomes) => return outcomes,
                Err(e) => {
                    tracing::debug!(error = %e, events = run.len(), "batch failed; applying one by one");
                }
            }
        }
        let mut out = Vec::with_capacity(run.len());
        for item in run {
            let o = self.process(item, cancel).await;
            out.push(o);
            if matches!(o, Outcome::Cancelled) {
                break;
            }
        }
        out
    }

    async fn try_together(&self, run: &[Item]) -> Result<Vec<Outcome>, HandleError> {
        let mut tx = self.pool.begin().await?;
        // The inbox rows of every event not yet applied, in one statement.
        let mut seen = HashSet::new();
        let (mut ids, mut types, mut topics, mut parts, mut offsets) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for item in run {
            if let Ok(Some(ev)) = &item.event
                && !self.behind(&item.msg)
                && seen.insert(ev.event_id)
            {
                ids.push(ev.event_id);
                types.push(ev.type_name().to_owned());
                topics.push(item.msg.topic().to_owned());
                parts.push(item.msg.partition());
                offsets.push(item.msg.offset());
            }
        }
        let mut fresh: HashSet<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbox (event_id, event_type, topic, kafka_partition, kafka_offset)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int8[])
             ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
        .bind(&ids)
        .bind(&types)
        .bind(&topics)
        .bind(&parts)
        .bind(&offsets)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut out = Vec::with_capacity(run.len());
        let mut todo = Vec::with_capacity(fresh.len());
        for item in run {
            let o = match &item.event {
                _ if self.behind(&item.msg) => Outcome::Behind,
                Ok(Some(ev)) if fresh.remove(&ev.event_id) => {
                    todo.push(Delivered {
                        event: ev,
                        span: item.span(ev, &self.service),
                    });
                    Outcome::Done
                }
                Ok(Some(_)) => Outcome::Duplicate,
                // A payload from a newer contract version: skip, per the evolution rules.
                _ => Outcome::Done,
            };
            out.push(o);
        }
        if !todo.is_empty() {
            self.handler.handle_batch(&mut tx, &todo).await?;
        }
        let msgs: Vec<&OwnedMessage> = run.iter().map(|i| &i.msg).collect();
        let reached = self.checkpoint(&mut tx, &msgs).await?;
        tx.commit().await?;
        self.checkpoints.remember(reached);
        Ok(out)
    }

    /// Whether this message lies below its partition's checkpoint.
    fn behind(&self, msg: &OwnedMessage) -> bool {
        msg.topic() == self.topic
            && self
                .checkpoints
                .get(msg.partition())
                .is_some_and(|next| msg.offset() < next)
    }

    /// Moves each partition's checkpoint past these messages, in `tx`; returns the new
    /// checkpoints to remember once `tx` commits.
    async fn checkpoint(
        &self,
        tx: &mut PgConnection,
        msgs: &[&OwnedMessage],
    ) -> Result<Vec<(i32, i64)>, sqlx::Error> {
        let mut reached: HashMap<i32, i64> = HashMap::new();
        for m in msgs.iter().filter(|m| m.topic() == self.topic) {
            let e = reached.entry(m.partition()).or_insert(m.offset() + 1);
            *e = (*e).max(m.offset() + 1);
        }
        if reached.is_empty() {
            return Ok(Vec::new());
        }
        let (parts, nexts): (Vec<i32>, Vec<i64>) = reached.iter().map(|(p, n)| (*p, *n)).unzip();
        sqlx::query(
            "INSERT INTO consumer_offsets (topic, kafka_partition, next_offset)
             SELECT $1, p, n FROM unnest($2::int4[], $3::int8[]) AS t(p, n)
             ON CONFLICT (topic, kafka_partition) DO UPDATE
             SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset),
                 updated_at = now()",
        )
        .bind(&self.topic)
        .bind(&parts)
        .bind(&nexts)
        .execute(&mut *tx)
        .await?;
        Ok(reached.into_iter().collect())
    }

    /// One decodable event on its own, retried: transient failures without limit,
    /// permanent ones up to `max_attempts`, then to the dead-letter topic.
    async fn process(&self, item: &Item, cancel: &CancellationToken) -> Outcome {
        let event = match &item.event {
            Ok(Some(ev)) => ev,
            Ok(None) => return self.skip(&item.msg).await,
            Err(reason) => return self.dead_letter(&item.msg, None, reason, 1, cancel).await,
        };
        if self.behind(&item.msg) {
            return Outcome::Behind;
        }
        let span = item.span(event, &self.service);
        let mut attempts = 0u32;
        let mut backoff = Duration::from_millis(50);
        loop {
            if cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            let r = self
                .try_once(&item.msg, event)
                .instrument(span.clone())
                .await;
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
                            .dead_letter(&item.msg, Some(event.event_id), &e, attempts, cancel)
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

    /// A payload of a newer contract version: nothing to apply; the checkpoint moves on.
    async fn skip(&self, msg: &OwnedMessage) -> Outcome {
        if let Ok(mut tx) = self.pool.begin().await
            && let Ok(reached) = self.checkpoint(&mut tx, &[msg]).await
            && tx.commit().await.is_ok()
        {
            self.checkpoints.remember(reached);
        }
        Outcome::Done
    }

    /// One attempt: Ok(true) processed, Ok(false) already processed before.
    async fn try_once(&self, msg: &OwnedMessage, event: &Event) -> Result<bool, HandleError> {
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
        if fresh {
            self.handler.handle(&mut tx, event).await?;
        }
        let reached = self.checkpoint(&mut tx, &[msg]).await?;
        tx.commit().await?;
        self.checkpoints.remember(reached);
        Ok(fresh)
    }

    async fn dead_letter(
        &self,
        msg: &OwnedMessage,
        event_id: Option<Uuid>,
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
        // The record and the checkpoint past the event, together; retried while the
        // database is away, so the event is not dead-lettered twice after a restart.
        loop {
            match self
                .record_dead_letter(msg, event_id, error, attempts)
                .await
            {
                Ok(()) => break,
                Err(e) if xf_store::is_transient(&e) => {
                    tracing::warn!(error = %e, "cannot record the dead letter; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Outcome::Cancelled,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record the dead letter");
                    break;
                }
            }
        }
        Outcome::DeadLettered
    }

    async fn record_dead_letter(
        &self,
        msg: &OwnedMessage,
        event_id: Option<Uuid>,
        error: &str,
        attempts: u32,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO dead_letters (event_id, topic, kafka_partition, kafka_offset, error, attempts)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event_id)
        .bind(msg.topic())
        .bind(msg.partition())
        .bind(msg.offset())
        .bind(error)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
        let reached = self.checkpoint(&mut tx, &[msg]).await?;
        tx.commit().await?;
        self.checkpoints.remember(reached);
        Ok(())
    }
}

fn header<'a>(msg: &'a OwnedMessage, key: &str) -> Option<&'a str> {
    let h = msg.headers()?;
    (0..h.count())
        .map(|i| h.get(i))
        .find(|hd| hd.key == key)
        .and_then(|hd| hd.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}
