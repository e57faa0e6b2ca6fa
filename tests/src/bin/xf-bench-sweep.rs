//! Benchmark of supervision's deadline sweeper: `--cases` (default 20,000) acceptance
//! clocks whose breach is due at once; one line each for
//!
//!   sweep      firing every breach: per timer, a DeadlineBreached and a CaseEscalated
//!              written to the outbox, the clock marked breached, in batches of
//!              `--batch` per transaction (the service's default is 500)
//!   publish    the outbox relay publishing those events to the broker
//!
//! Needs Postgres and a broker (`make bench` starts a fresh in-memory one). The
//! service's schema is created for the run and dropped at the end.

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;
use clap::Parser;
use xf_e2e::bench::Row;
use xf_testkit::Ctx;

#[derive(Parser)]
#[command(
    name = "xf-bench-sweep",
    about = "Time sweeping and escalating overdue cases"
)]
struct Args {
    /// Overdue cases.
    #[arg(long, default_value_t = 20_000)]
    cases: i64,
    /// Timers per transaction.
    #[arg(long, default_value_t = 500)]
    batch: i64,
    /// Print only the rows, not the table header.
    #[arg(long)]
    no_header: bool,
}

async fn run(ctx: &mut Ctx, a: &Args) -> anyhow::Result<Vec<Row>> {
    // The service's own sweeper waits an hour; the benchmark sweeps.
    let s = ctx.settings::<xf_supervision::Ext>(
        &xf_supervision::binary(),
        &[("sweeper.interval_ms", "3600000")],
    )?;
    let app = xf_supervision::build(s).await?;
    ctx.spawn("supervision", app);
    let pool = ctx.svc("supervision").pool.clone();
    let due = Utc::now() - chrono::Duration::days(1);
    sqlx::query(
        "WITH c AS (
             INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at,
                 due_at, state, period_days, policy)
             SELECT gen_random_uuid(), 'acceptance', 'village',
                    '330122002' || lpad((200 + g % 18)::text, 3, '0'),
                    '330122002' || lpad((200 + g % 18)::text, 3, '0') || '-xfb',
                    $2 - interval '15 days', $2, 'running', 15, 'statutory'
             FROM generate_series(1, $1) AS g
             RETURNING id, case_id, due_at)
         INSERT INTO timers (clock_id, case_id, kind, fire_at)
         SELECT id, case_id, 'breach', due_at FROM c",
    )
    .bind(a.cases)
    .bind(due)
    .execute(&pool)
    .await?;
    let sweeper = xf_supervision::sweeper::Sweeper {
        pool: pool.clone(),
        outbox: xf_bus::Outbox::new(&ctx.topic),
        clock: xf_app::Clock::system(),
        batch: a.batch,
    };
    let started = Instant::now();
    let fired = sweeper.sweep().await?;
    let swept = started.elapsed();
    if fired.breaches != a.cases as u64 || fired.escalations != a.cases as u64 {
        bail!(
            "fired {fired:?}, expected {} breaches and escalations",
            a.cases
        );
    }
    let n = usize::try_from(a.cases)?;
    let mut rows = vec![Row::per_second(
        format!("sweep + escalate overdue (batch {})", a.batch),
        n,
        swept,
        "cases",
    )];
    // The relay publishes what the sweep wrote.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&pool)
                .await?;
        if pending == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{pending} events still unpublished after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows.push(Row::per_second(
        "… and published (2 events per case)",
        n * 2,
        started.elapsed(),
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
