//! Benchmark of reporting; one line each for
//!
//!   seed       `--cases` (default 1,000,000) case facts of a year of a large county
//!              (20 townships × 20 villages, 20 categories, every category in every
//!              township), written by one INSERT … SELECT over generate_series
//!   cube       the statistics cube built from them (per day, township, category)
//!   stats      `GET /v1/stats` over them grouped by month × category × township,
//!              `--requests` times one after another (target: p99 < 100 ms), and the
//!              same filtered by channel, which the cube does not hold
//!              (timed until the answer's last byte; the client's own JSON parsing
//!              is not counted), and the query alone inside the service (SQL and
//!              rows, without HTTP and JSON) to show where the time goes
//!   fold       `--events` case events (registration, dispatch, acceptance, reply,
//!              closing of `--events / 5` cases, stage by stage) handed to the
//!              consumer's batch handler `--batch` at a time, one transaction each,
//!              by `--workers` workers
//!   ingest     the same number of events waiting on the broker, read and applied by
//!              the service's own consumer (batches, inbox, checkpoints) in a fresh
//!              schema (target: ≥ 5,000 events/s)
//!
//! Needs Postgres and a broker (`make bench` starts a fresh in-memory one). The
//! service's schema is created for the run and dropped at the end.

use std::time::Instant;

use anyhow::ensure;
use chrono::{Datelike, Utc};
use clap::Parser;
use futures::StreamExt as _;
use uuid::Uuid;
use xf_e2e::bench::Row;
use xf_events::Payload;
use xf_events::v1::{CaseAccepted, CaseClosed, CaseDispatched, CaseRegistered, ReplyIssued, Tier};
use xf_testkit::Ctx;

#[derive(Parser)]
#[command(
    name = "xf-bench-report",
    about = "Time reporting's statistics and ingestion"
)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    cases: i64,
    #[arg(long, default_value_t = 200)]
    requests: usize,
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Workers of the direct folding row.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Events per transaction of the direct folding row (the bus's default batch).
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Print only the rows, not the table header.
    #[arg(long)]
    no_header: bool,
}

async fn run(ctx: &mut Ctx, a: &Args) -> anyhow::Result<Vec<Row>> {
    let s = ctx.settings::<xf_reporting::Ext>(
        &xf_reporting::binary(),
        &[("jobs.interval_ms", "86400000")],
    )?;
    let app = xf_reporting::build(s).await?;
    ctx.spawn("reporting", app);
    let pool = ctx.svc("reporting").pool.clone();
    let year_start = Utc::now() - chrono::Duration::days(365);
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO case_facts (case_id, registration_no, category, channel, tier,
             jurisdiction_code, unit_id, status, registered_at, updated_at, events,
             matter_code, office_code, accepted_at, closed_at, overdue, acceptance_late,
             satisfaction_score, collective, headcount)
         SELECT gen_random_uuid(), '330122-B-' || g, 'cat-' || ((g / 400) % 20),
                (ARRAY['letter','visit','phone','online'])[1 + g % 4], 'village', v, v || '-u',
                CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'accepted' END,
                r, r, 5, v, '330122', r + interval '2 days',
                CASE WHEN g % 3 = 0 THEN r + interval '20 days' END,
                g % 17 = 0, g % 17 = 0, CASE WHEN g % 5 = 0 THEN 1 + g % 5 END,
                g % 50 = 0, CASE WHEN g % 50 = 0 THEN 6 ELSE 0 END
         FROM (SELECT g,
                  '330122' || lpad((1 + g % 20)::text, 3, '0') || lpad((200 + (g / 20) % 20)::text, 3, '0') AS v,
                  $2::timestamptz + (g::bigint * 31536000 / $1) * interval '1 second' AS r
               FROM generate_series(1, $1) AS g) s",
    )
    .bind(a.cases)
    .bind(year_start)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE case_facts").execute(&pool).await?;
    let n = usize::try_from(a.cases)?;
    let mut rows = vec![Row::per_second(
        "reporting: seed case facts (one INSERT … SELECT)",
        n,
        started.elapsed(),
        "cases",
    )];
    let started = Instant::now();
    let cells = xf_reporting::store::cube::rebuild(&pool).await?;
    sqlx::query("ANALYZE stats_cube").execute(&pool).await?;
    rows.push(Row::per_second(
        format!("reporting: build the statistics cube ({cells} cells)"),
        n,
        started.elapsed(),
        "cases",
    ));

    let token = ctx.token(&["analyst"], None, "330122");
    let today = xf_calendar::shanghai_day(Utc::now());
    // The last twelve whole months, this one included (the dashboard's trend).
    let first = today.with_day(1).unwrap_or(today);
    let from = first
        .checked_sub_months(chrono::Months::new(11))
        .unwrap_or(first);
    let to = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    let url = ctx.svc("reporting").url(&format!(
        "/v1/stats?from={from}&to={to}&group_by=period,category,township"
    ));
    let http = xf_testkit::http();
    let mut samples = Vec::with_capacity(a.requests);
    let mut size = 0;
    for i in 0..a.requests + 5 {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await?;
        ensure!(r.status().is_success(), "stats answered {}", r.status());
        let body = r.bytes().await?;
        let took = t.elapsed();
        if i >= 5 {
            samples.push(took);
        } else {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            ensure!(
                v["totals"]["received"].as_i64() >= Some(a.cases * 9 / 10),
                "{}",
                v["totals"]
            );
            size = body.len();
        }
    }
    rows.push(Row::latency(
        format!(
            "reporting: stats of {}k cases, month×category×township ({} kB)",
            a.cases / 1000,
            size / 1000
        ),
        &mut samples,
    ));
    // The same query inside the service: SQL and rows, no HTTP or JSON.
    let q = xf_reporting::domain::query::Query {
        from,
        to,
        period: xf_reporting::domain::query::Period::Month,
        basis: xf_reporting::domain::query::Basis::Registered,
        jurisdiction: "330122".into(),
        tier: None,
        category: None,
        channel: None,
        unit: None,
        status: None,
        group_by: vec![
            xf_reporting::domain::query::Dim::Period,
            xf_reporting::domain::query::Dim::Category,
            xf_reporting::domain::query::Dim::Township,
        ],
    };
    let mut samples = Vec::with_capacity(a.requests);
    let mut groups = 0;
    for _ in 0..a.requests {
        let t = Instant::now();
        let ans = xf_reporting::store::stats::run(&pool, &q, None).await?;
        samples.push(t.elapsed());
        groups = ans.rows.len();
    }
    rows.push(Row::latency(
        format!("… the query alone ({groups} rows, SQL + decoding)"),
        &mut samples,
    ));
    // The same with a filter the cube does not hold: over the case facts themselves.
    let url = format!("{url}&channel=letter");
    let mut samples = Vec::new();
    for _ in 0..(a.requests / 10).max(3) {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await?;
        ensure!(r.status().is_success(), "stats answered {}", r.status());
        let _ = r.bytes().await?;
        samples.push(t.elapsed());
    }
    rows.push(Row::latency(
        "… filtered by channel (over the facts, no cube)",
        &mut samples,
    ));

    rows.extend(ingest_direct(&pool, a).await?);
    Ok(rows)
}

/// The events of `cases` cases of the county — registration, dispatch, acceptance,
/// reply, closing —, stage by stage (every case's registration, then every case's
/// dispatch…), as a busy day interleaves them: a batch of consecutive events touches
/// as many cases as it holds, and each refold reads history.
fn events(cases: usize, tag: &str) -> anyhow::Result<Vec<xf_events::Event>> {
    let t0 = Utc::now();
    let ids: Vec<Uuid> = (0..cases).map(|_| Uuid::now_v7()).collect();
    let mut out = Vec::with_capacity(cases * 5);
    for k in 0..5 {
        for (i, case) in ids.iter().enumerate() {
            let v = format!("330122{:03}{:03}", 1 + i % 20, 200 + (i / 20) % 20);
            let unit = format!("{v}-u");
            let p = match k {
                0 => Payload::CaseRegistered(CaseRegistered {
                    registration_no: format!("330122-{tag}-{i}"),
                    category: format!("cat-{}", (i / 7) % 20),
                    matter_jurisdiction_code: v.clone(),
                    ..Default::default()
                }),
                1 => Payload::CaseDispatched(CaseDispatched {
                    unit_id: unit.clone(),
                    tier: Tier::Village as i32,
                    jurisdiction_code: v.clone(),
                    ..Default::default()
                }),
                2 => Payload::CaseAccepted(CaseAccepted { unit_id: unit }),
                3 => Payload::ReplyIssued(ReplyIssued {
                    unit_id: unit,
                    outcome: 1,
                    text_length: 1,
                }),
                _ => Payload::CaseClosed(CaseClosed {
                    unit_id: unit,
                    ..Default::default()
                }),
            };
            let env = xf_events::envelope(
                *case,
                "routing",
                Tier::Village,
                &v,
                t0 + chrono::Duration::seconds(k),
                p,
            );
            out.push(xf_events::decode(&xf_events::encode(&env))?);
        }
    }
    Ok(out)
}

/// Folding alone: `--events` events handed to the consumer's batch handler in batches
/// of `--batch` (the bus's `kafka.consumer_batch`), one transaction each, by
/// `--workers` workers with cases of their own.
async fn ingest_direct(pool: &sqlx::PgPool, a: &Args) -> anyhow::Result<Vec<Row>> {
    let workers = a.workers.max(1);
    let per = (a.events / 5).div_ceil(workers);
    let mut work = Vec::new();
    for w in 0..workers {
        work.push(events(per, &format!("D{w}"))?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for evs in work {
        let pool = pool.clone();
        let batch = a.batch.max(1);
        tasks.push(tokio::spawn(async move {
            for chunk in evs.chunks(batch) {
                let pairs: Vec<_> = chunk.iter().map(|e| (e, None)).collect();
                let mut tx = pool.begin().await?;
                xf_reporting::consumer::ingest_all(&mut tx, &pairs).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let took = started.elapsed();
    Ok(vec![Row::per_second(
        format!(
            "reporting: fold events, batches of {} ({workers} worker{})",
            a.batch,
            if workers == 1 { "" } else { "s" }
        ),
        per * workers * 5,
        took,
        "events",
    )])
}

/// As the service really ingests: `--events` events already waiting on the broker,
/// read by the service's consumer (batches of `kafka.consumer_batch`, inbox,
/// checkpoints, one transaction per batch); timed from the first event in the ledger
/// to the last (the consumer group's join before it is not counted).
async fn ingest_broker(a: &Args) -> anyhow::Result<Row> {
    let mut ctx = Ctx::new().await?;
    let result = ingest_broker_in(&mut ctx, a).await;
    ctx.cleanup().await;
    result
}

async fn ingest_broker_in(ctx: &mut Ctx, a: &Args) -> anyhow::Result<Row> {
    {
        let s = ctx.settings::<xf_reporting::Ext>(
            &xf_reporting::binary(),
            &[
                ("jobs.interval_ms", "86400000"),
                ("database.max_connections", "8"),
            ],
        )?;
        let batch = s.kafka.consumer_batch;
        xf_bus::ensure_topics(&s.kafka).await?;
        let producer = xf_bus::producer(&s.kafka)?;
        let evs = events(a.events / 5, "B")?;
        let topic = ctx.topic.clone();
        let mut sends = futures::stream::iter(evs.iter().map(|ev| {
            let bytes = xf_events::encode(&ev.envelope);
            let key = ev.case_id.to_string();
            let producer = &producer;
            let topic = &topic;
            async move {
                producer
                    .send(
                        rdkafka::producer::FutureRecord::to(topic)
                            .key(&key)
                            .payload(&bytes),
                        std::time::Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| anyhow::anyhow!("produce: {e}"))
            }
        }))
        .buffer_unordered(1000);
        while let Some(r) = futures::StreamExt::next(&mut sends).await {
            r?;
        }
        drop(sends);
        let app = xf_reporting::build(s).await?;
        ctx.spawn("reporting", app);
        let pool = ctx.svc("reporting").pool.clone();
        let want = i64::try_from(evs.len())?;
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ledger")
                .fetch_one(&pool)
                .await
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(600);
        let mut first = None;
        loop {
            let n = count().await?;
            if n > 0 && first.is_none() {
                first = Some((Instant::now(), n));
            }
            if n >= want {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "only {n} of {want} events applied"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let (t, n0) = first.unwrap_or((Instant::now(), 0));
        anyhow::Ok(Row::per_second(
            format!("reporting: ingest over the broker (consumer, batch {batch})"),
            usize::try_from(want - n0)?,
            t.elapsed(),
            "events",
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut ctx = Ctx::new().await?;
    let result = run(&mut ctx, &a).await;
    ctx.cleanup().await;
    let mut rows = result?;
    rows.push(ingest_broker(&a).await?);
    if !a.no_header {
        println!("{}", Row::header());
    }
    for r in rows {
        println!("{}", r.line());
    }
    Ok(())
}
