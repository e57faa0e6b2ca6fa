//! The bus on the durable development broker: a large backlog of events written to an
//! outbox, published by the relay and applied by a consumer while both run, on a fresh
//! tansu with sqlite storage. Prints one table row per consumer batch size: how fast the
//! relay published, how fast the consumer applied, and whether consumption stalled (no
//! progress for `--stall-secs`) and resumed after a consumer restart and a broker restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use xf_bus::{Consumer, HandleError, Handler, KafkaSettings, Outbox, Relay};
use xf_events::v1::CaseRegistered;
use xf_events::{Payload, Tier};
use xf_testkit::TestBroker;

#[derive(Parser)]
#[command(
    name = "xf-bench-bus",
    about = "Events through the outbox, the durable broker and a consumer"
)]
struct Args {
    /// Events per run.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Consumer batch sizes to run, one row each.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 200])]
    batch: Vec<usize>,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Seconds without progress that count as a stall.
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    /// Stop a run after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
    /// Use this broker instead of starting a fresh durable one (it is not restarted).
    #[arg(long)]
    brokers: Option<String>,
    /// Exit with status 1 when a run stalled, lost or doubled an event (for tests).
    #[arg(long)]
    check: bool,
    /// Keep the schemas (for inspection) instead of dropping them.
    #[arg(long)]
    keep: bool,
    /// Postgres for the two schemas of a run (dropped afterwards).
    #[arg(
        long,
        env = "XINFANG_TEST_DATABASE_URL",
        default_value = "postgres://xinfang:xinfang@127.0.0.1:5432/xinfang_test"
    )]
    database_url: String,
}

/// Applies an event by counting it.
struct Count;

impl Handler for Count {
    async fn handle(
        &self,
        tx: &mut sqlx::PgConnection,
        ev: &xf_events::Event,
    ) -> Result<(), HandleError> {
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

async fn schema(url: &str, name: &str) -> anyhow::Result<PgPool> {
    let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&admin)
        .await?;
    let opts: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(opts.options([("search_path", name)]))
        .await?;
    xf_store::migrate(&pool, name, xf_store::base_migrations()).await?;
    Ok(pool)
}

async fn drop_schema(url: &str, name: &str) {
    if let Ok(admin) = PgPoolOptions::new().max_connections(1).connect(url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE"
        )))
        .execute(&admin)
        .await;
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

struct Row {
    batch: usize,
    events: usize,
    relay_secs: f64,
    applied_secs: Option<f64>,
    applied: i64,
    stalled_at: Option<i64>,
    after_restart: &'static str,
    twice: i64,
}

fn spawn_consumer(
    sink: &PgPool,
    k: &KafkaSettings,
    cancel: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let c = Consumer::new(
        sink.clone(),
        xf_bus::producer(k)?,
        Arc::new(Count),
        "bench-sink",
        k,
    )?;
    Ok(tokio::spawn(c.run(cancel.clone())))
}

/// Waits until `applied` reaches `want`; `Err(n)` if it made no progress for `stall`.
async fn progress(sink: &PgPool, want: i64, stall: Duration, deadline: Instant) -> Result<(), i64> {
    let mut last = -1;
    let mut since = Instant::now();
    loop {
        let n = count(sink, "SELECT count(*) FROM applied").await;
        if n >= want {
            return Ok(());
        }
        if n != last {
            last = n;
            since = Instant::now();
        } else if since.elapsed() >= stall || Instant::now() >= deadline {
            return Err(n);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn run(args: &Args, batch: usize) -> anyhow::Result<Row> {
    let mut broker = match &args.brokers {
        Some(_) => None,
        None => Some(TestBroker::start().await?),
    };
    let brokers = match (&args.brokers, &broker) {
        (Some(b), _) => b.clone(),
        (None, Some(b)) => b.brokers(),
        (None, None) => anyhow::bail!("no broker"),
    };
    let id = Uuid::now_v7().simple().to_string();
    let (src_name, sink_name) = (format!("bench_src_{id}"), format!("bench_sink_{id}"));
    let source = schema(&args.database_url, &src_name).await?;
    let sink = schema(&args.database_url, &sink_name).await?;
    sqlx::query("CREATE TABLE applied (event_id UUID PRIMARY KEY, n INTEGER NOT NULL)")
        .execute(&sink)
        .await?;
    let k = KafkaSettings {
        brokers,
        topic: format!("bench.{id}"),
        dlq_topic: format!("bench.{id}.dlq"),
        partitions: args.partitions,
        replication_factor: 1,
        group_id: format!("bench-{id}"),
        assignment: xf_bus::Assignment::Group,
        message_timeout_ms: 60_000,
        relay_batch: 1000,
        relay_poll_ms: 50,
        consumer_batch: batch,
        outbox_max_pending: 0,
        max_attempts: 3,
        outbox_retention_hours: 72,
    };
    xf_bus::ensure_topics(&k).await?;
    // The backlog: one registration per case, as intake writes them.
    let outbox = Outbox::new(&k.topic);
    for chunk in (0..args.events).collect::<Vec<_>>().chunks(5000) {
        let envs: Vec<_> = chunk
            .iter()
            .map(|i| {
                let mut env = xf_events::envelope(
                    Uuid::now_v7(),
                    "bench",
                    Tier::Village,
                    "330122002200",
                    Utc::now(),
                    Payload::CaseRegistered(CaseRegistered {
                        registration_no: format!("330122-2026-{i:07}"),
                        matter_jurisdiction_code: "330122002200".into(),
                        category: "land".into(),
                        ..Default::default()
                    }),
                );
                env.sequence = 1;
                env
            })
            .collect();
        let mut tx = source.begin().await?;
        outbox.put_many(&mut tx, &envs).await?;
        tx.commit().await?;
    }
    let want = args.events as i64;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let relay_cancel = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            source.clone(),
            xf_bus::producer(&k)?,
            &src_name,
            "bench-source",
            &k,
        )
        .run(relay_cancel.clone()),
    );
    let mut cancel = CancellationToken::new();
    let mut consumer = spawn_consumer(&sink, &k, &cancel)?;
    let relay_watch = {
        let source = source.clone();
        tokio::spawn(async move {
            loop {
                let left = count(
                    &source,
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL",
                )
                .await;
                if left == 0 {
                    return started.elapsed().as_secs_f64();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let stall = Duration::from_secs(args.stall_secs);
    let mut stalled_at = None;
    let mut after_restart = "-";
    let mut applied_secs = None;
    match progress(&sink, want, stall, deadline).await {
        Ok(()) => applied_secs = Some(started.elapsed().as_secs_f64()),
        Err(n) => {
            stalled_at = Some(n);
            eprintln!("==> batch {batch}: no progress at {n} events; restarting the consumer");
            cancel.cancel();
            let _ = consumer.await;
            cancel = CancellationToken::new();
            consumer = spawn_consumer(&sink, &k, &cancel)?;
            let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
            after_restart = match progress(&sink, want, stall, deadline).await {
                Ok(()) => "consumer restart",
                Err(_) if broker.is_none() => "no",
                Err(_) => {
                    eprintln!("==> batch {batch}: still stuck; restarting the broker");
                    cancel.cancel();
                    let _ = consumer.await;
                    if let Some(b) = broker.as_mut() {
                        b.stop().await;
                        b.resume().await?;
                    }
                    cancel = CancellationToken::new();
                    consumer = spawn_consumer(&sink, &k, &cancel)?;
                    match progress(&sink, want, stall, deadline).await {
                        Ok(()) => "broker restart",
                        Err(_) => "no",
                    }
                }
            };
        }
    }
    let relay_secs = tokio::time::timeout(Duration::from_secs(5), relay_watch)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(f64::NAN);
    cancel.cancel();
    relay_cancel.cancel();
    let _ = consumer.await;
    let _ = relay.await;
    let applied = count(&sink, "SELECT count(*) FROM applied").await;
    let twice = count(&sink, "SELECT count(*) FROM applied WHERE n > 1").await;
    source.close().await;
    sink.close().await;
    if !args.keep {
        drop_schema(&args.database_url, &src_name).await;
        drop_schema(&args.database_url, &sink_name).await;
    }
    if let Some(b) = broker.as_mut() {
        b.stop().await;
    }
    Ok(Row {
        batch,
        events: args.events,
        relay_secs,
        applied_secs,
        applied,
        stalled_at,
        after_restart,
        twice,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "| consumer batch | events | relay done s | relay ev/s | all applied s | applied ev/s | stalled at | resumed after | applied twice |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    let mut failed = false;
    for &batch in &args.batch {
        let r = run(&args, batch).await?;
        failed |= r.stalled_at.is_some() || r.twice != 0 || r.applied != r.events as i64;
        let rate = |secs: f64| {
            if secs.is_finite() && secs > 0.0 {
                format!("{:.0}", r.events as f64 / secs)
            } else {
                "-".into()
            }
        };
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            r.batch,
            r.events,
            r.relay_secs,
            rate(r.relay_secs),
            r.applied_secs
                .map_or_else(|| format!("({} applied)", r.applied), |s| format!("{s:.1}")),
            r.applied_secs.map_or_else(|| "-".into(), rate),
            r.stalled_at.map_or_else(|| "-".into(), |n| n.to_string()),
            r.after_restart,
            r.twice,
        );
    }
    if args.check && failed {
        eprintln!("==> a run stalled, lost or doubled events");
        std::process::exit(1);
    }
    Ok(())
}
