//! Benchmark of reporting; one line each for
//!
//!   seed       `--cases` (default 1,000,000) case facts of a year of a large county
//!              (20 townships × 20 villages, 20 categories), written by one
//!              INSERT … SELECT over generate_series
//!   cube       the statistics cube built from them (per day, township, category)
//!   stats      `GET /v1/stats` over them grouped by month × category × township,
//!              `--requests` times one after another (target: p99 < 100 ms), and the
//!              same filtered by channel, which the cube does not hold
//!   ingest     `--events` case events (registration, dispatch, acceptance, reply,
//!              closing of `--events / 5` cases) folded into the ledger and the read
//!              models one transaction per event as the consumer does, by
//!              `--workers` concurrent workers (target: ≥ 5,000 events/s)
//!
//! Needs Postgres and a broker (`make bench` starts a fresh in-memory one). The
//! service's schema is created for the run and dropped at the end.

use std::time::Instant;

use anyhow::ensure;
use chrono::{Datelike, Utc};
use clap::Parser;
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
    #[arg(long, default_value_t = 4)]
    workers: usize,
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
         SELECT gen_random_uuid(), '330122-B-' || g, 'cat-' || ((g / 7) % 20),
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
    for i in 0..a.requests + 5 {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await?;
        ensure!(r.status().is_success(), "stats answered {}", r.status());
        let v: serde_json::Value = r.json().await?;
        if i >= 5 {
            samples.push(t.elapsed());
        } else {
            ensure!(
                v["totals"]["received"].as_i64() >= Some(a.cases * 9 / 10),
                "{}",
                v["totals"]
            );
        }
    }
    rows.push(Row::latency(
        format!(
            "reporting: stats of {}k cases, month×category×township",
            a.cases / 1000
        ),
        &mut samples,
    ));
    // The same with a filter the cube does not hold: over the case facts themselves.
    let url = format!("{url}&channel=letter");
    let mut samples = Vec::new();
    for _ in 0..(a.requests / 10).max(3) {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await?;
        ensure!(r.status().is_success(), "stats answered {}", r.status());
        let _: serde_json::Value = r.json().await?;
        samples.push(t.elapsed());
    }
    rows.push(Row::latency(
        "… filtered by channel (over the facts, no cube)",
        &mut samples,
    ));

    // Ingestion: five events per case, each in its own transaction.
    let cases = a.events / 5;
    let per = cases.div_ceil(a.workers.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..a.workers.max(1) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let case = Uuid::now_v7();
                let v = format!("330122{:03}{:03}", 1 + (w + i) % 20, 200 + i % 20);
                let t0 = Utc::now();
                let unit = format!("{v}-u");
                let payloads = [
                    Payload::CaseRegistered(CaseRegistered {
                        registration_no: format!("330122-I-{w}-{i}"),
                        category: format!("cat-{}", i % 20),
                        matter_jurisdiction_code: v.clone(),
                        ..Default::default()
                    }),
                    Payload::CaseDispatched(CaseDispatched {
                        unit_id: unit.clone(),
                        tier: Tier::Village as i32,
                        jurisdiction_code: v.clone(),
                        ..Default::default()
                    }),
                    Payload::CaseAccepted(CaseAccepted {
                        unit_id: unit.clone(),
                    }),
                    Payload::ReplyIssued(ReplyIssued {
                        unit_id: unit.clone(),
                        outcome: 1,
                        text_length: 1,
                    }),
                    Payload::CaseClosed(CaseClosed {
                        unit_id: unit.clone(),
                        ..Default::default()
                    }),
                ];
                for (k, p) in payloads.into_iter().enumerate() {
                    let env = xf_events::envelope(
                        case,
                        "routing",
                        Tier::Village,
                        &v,
                        t0 + chrono::Duration::seconds(k as i64),
                        p,
                    );
                    let ev = xf_events::decode(&xf_events::encode(&env))?;
                    let mut tx = pool.begin().await?;
                    xf_reporting::consumer::ingest(&mut tx, &ev).await?;
                    tx.commit().await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let took = started.elapsed();
    rows.push(Row::per_second(
        format!("reporting: ingest events ({} workers)", a.workers),
        per * a.workers.max(1) * 5,
        took,
        "events",
    ));
    Ok(rows)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut ctx = Ctx::new().await?;
    let result = run(&mut ctx, &a).await;
    ctx.cleanup().await;
    let rows = result?;
    if !a.no_header {
        println!("{}", Row::header());
    }
    for r in rows {
        println!("{}", r.line());
    }
    Ok(())
}
