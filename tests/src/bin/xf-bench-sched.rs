//! Benchmark of scheduling; one line each for
//!
//!   plans      the annual plan of every office of the demo county (the fixture's 235
//!              offices: county bureau, court, 信访局, 14 townships, 218 villages)
//!              generated and checked against the goals, overlaps and the duty rule
//!              (target: under 1 s for all)
//!   store      the same plans generated, checked and stored as drafts through the API
//!   ics        the published iCalendar feed of a village (a year of office hours and
//!              reception days) under `--clients` concurrent clients (target: p99 < 20 ms)
//!
//! Needs Postgres and a broker (`make bench` starts a fresh in-memory one). The
//! service's schema is created for the run and dropped at the end.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use chrono::NaiveDate;
use clap::Parser;
use xf_calendar::OfficialCalendar;
use xf_e2e::bench::Row;
use xf_scheduling::domain::{plan, roster};
use xf_testkit::Ctx;

#[derive(Parser)]
#[command(name = "xf-bench-sched", about = "Time annual plans and the ICS feed")]
struct Args {
    /// The plan year.
    #[arg(long, default_value_t = 2026)]
    year: i32,
    /// Feed requests in all.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent feed clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Print only the rows, not the table header.
    #[arg(long)]
    no_header: bool,
}

async fn run(ctx: &mut Ctx, a: &Args) -> anyhow::Result<Vec<Row>> {
    let tree = xf_jurisdiction::Tree::fixture()?;
    let offices = xf_scheduling::fixture::offices(&tree)?;
    let models: Vec<_> = offices
        .iter()
        .map(xf_scheduling::fixture::model)
        .collect::<anyhow::Result<_>>()?;
    let (from, to) = match (
        NaiveDate::from_ymd_opt(a.year, 1, 1),
        NaiveDate::from_ymd_opt(a.year, 12, 31),
    ) {
        (Some(f), Some(t)) => (f, t),
        _ => bail!("bad year"),
    };
    // Warm the holiday and lunar tables once, as a running service has them.
    OfficialCalendar.preload([a.year, a.year + 1]);
    let _ = xf_calendar::lunar::lunar_date(from);
    let started = Instant::now();
    let mut sessions = 0;
    let mut violations = 0;
    for (o, (people, rules)) in offices.iter().zip(&models) {
        let planned = plan::generate(people, rules, a.year, &OfficialCalendar);
        let duty = roster::generate(&o.body.duty, from, to, &OfficialCalendar);
        let held = plan::held(&planned);
        violations += plan::check(people, rules, a.year, &held, &duty, &OfficialCalendar).len();
        sessions += planned.len();
    }
    let took = started.elapsed();
    ensure!(
        violations == 0,
        "the fixture's plans have {violations} violations"
    );
    let mut rows = vec![Row {
        name: format!("plans: {} offices generated + checked", offices.len()),
        count: sessions,
        secs: took.as_secs_f64(),
        rate: format!(
            "{:.0} ms for all (target < 1000)",
            took.as_secs_f64() * 1000.0
        ),
    }];

    // The same through the service: offices, rules and draft plans stored.
    let s = ctx.settings::<xf_scheduling::Ext>(
        &xf_scheduling::binary(),
        &[("http.workers", "2"), ("database.max_connections", "8")],
    )?;
    let app = xf_scheduling::build(s).await?;
    ctx.spawn("scheduling", app);
    let base = ctx.svc("scheduling").base_url.clone();
    let token = ctx.token(&["scheduler"], None, "330122");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()?;
    for o in &offices {
        let r = http
            .put(format!("{base}/v1/offices/{}", o.id))
            .bearer_auth(&token)
            .json(&o.body)
            .send()
            .await?;
        ensure!(r.status().is_success(), "office {}: {}", o.id, r.status());
        for (id, rule) in &o.rules {
            let r = http
                .put(format!("{base}/v1/offices/{}/reception-rules/{id}", o.id))
                .bearer_auth(&token)
                .json(rule)
                .send()
                .await?;
            ensure!(
                r.status().is_success(),
                "rule {} {id}: {}",
                o.id,
                r.status()
            );
        }
    }
    let started = Instant::now();
    for o in &offices {
        let r = http
            .post(format!(
                "{base}/v1/offices/{}/plans/{}/generate",
                o.id, a.year
            ))
            .bearer_auth(&token)
            .send()
            .await?;
        ensure!(r.status().is_success(), "plan {}: {}", o.id, r.status());
    }
    let took = started.elapsed();
    rows.push(Row::per_second(
        format!("plans via the API, stored ({} offices)", offices.len()),
        sessions,
        took,
        "sessions",
    ));

    // The ICS feed of one village under load.
    let village = offices
        .iter()
        .find(|o| o.body.kind == "village")
        .map(|o| o.id.clone());
    let Some(village) = village else {
        bail!("no village")
    };
    let r = http
        .post(format!(
            "{base}/v1/offices/{village}/plans/{}/publish",
            a.year
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(r.status().is_success(), "publish: {}", r.status());
    let url = format!("{base}/v1/offices/{village}/reception-calendar.ics?from={from}&to={to}");
    let body = http.get(&url).send().await?.text().await?;
    let events = body.matches("BEGIN:VEVENT").count();
    for _ in 0..20 {
        http.get(&url).send().await?.bytes().await?;
    }
    let per = a.requests.div_ceil(a.clients.max(1));
    let mut tasks = Vec::new();
    for _ in 0..a.clients.max(1) {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                if let Ok(r) = http.get(&url).send().await
                    && r.status().is_success()
                    && r.bytes().await.is_ok()
                {
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await?);
    }
    ensure!(
        samples.len() == per * a.clients.max(1),
        "some feed requests failed"
    );
    let mut row = Row::latency(
        format!(
            "ics feed, {} clients ({events} events, {} kB)",
            a.clients,
            body.len() / 1024
        ),
        &mut samples,
    );
    row.rate = format!("{} (target p99 < 20 ms)", row.rate);
    rows.push(row);
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
