//! Load generator for the running stack: runs one benchmark scenario with a fixed
//! number of concurrent clients and a fixed number of requests, then prints one row
//! of figures (throughput, latency percentiles, end-to-end drain time).
//!
//! Only loopback targets are accepted. Every loop is bounded: the run stops after
//! `--warmup` + `--requests` requests and a drain wait of at most `--drain-timeout`.
//!
//! Scenarios (`--scenario`):
//!   intake-register   POST /v1/cases on intake; registrars either all in the county
//!                     office (`--offices one`, every registration serialises on one
//!                     counter row) or spread over the township offices
//!                     (`--offices all`). Drain: time after the last response until
//!                     reporting's /v1/stats counts every case as dispatched by routing.
//!
//! stdout carries only the table (header unless `--no-header`, then one row;
//! `--print-header` prints the header alone); progress and error details go to stderr.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use xf_auth::{KeyAlgorithm, Signer, roles};
use xf_jurisdiction::{Tier, Tree};

#[derive(Parser)]
#[command(
    name = "xf-load",
    about = "Benchmark the running Xinfang stack and print a row of figures"
)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::IntakeRegister)]
    scenario: Scenario,
    /// Concurrent clients (each one request in flight at a time).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Measured requests in the run (after the warm-up).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Requests sent before measuring (same clients, not counted).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Registering offices: `one` (the county office) or `all` (every township office).
    #[arg(long, value_enum, default_value_t = Offices::One)]
    offices: Offices,
    /// Host the services listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Longest wait for the stack to drain after the load, seconds.
    #[arg(long, default_value_t = 300)]
    drain_timeout: u64,
    /// Do not wait for the drain (the drain column shows "-").
    #[arg(long)]
    no_drain: bool,
    /// Print only the row, not the table header.
    #[arg(long)]
    no_header: bool,
    /// Print only the table header and exit.
    #[arg(long)]
    print_header: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Case registrations on intake.
    IntakeRegister,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Offices {
    /// One registering office: the county's.
    One,
    /// Every township office of the county.
    All,
}

const INTAKE_PORT: u16 = 8081;
const REPORTING_PORT: u16 = 8085;

const CHANNELS: [&str; 4] = ["letter", "visit", "phone", "online"];
const CATEGORIES: [&str; 11] = [
    "land",
    "labour_wages",
    "social_security",
    "environment",
    "housing",
    "law_enforcement",
    "agriculture",
    "transport",
    "health",
    "education",
    "civil_affairs",
];
const SUMMARIES: [&str; 4] = [
    "承包地被占用，补偿标准不明",
    "工程完工半年，工资仍未结清",
    "养殖场污水直排溪流，气味严重",
    "村道破损多年无人维修",
];

/// One line of the benchmark table.
struct Row {
    name: String,
    clients: usize,
    requests: usize,
    errors: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    drain: Drain,
}

/// How the end-to-end drain went.
enum Drain {
    Skipped,
    Done(Duration),
    TimedOut(Duration),
}

impl Row {
    fn header() -> String {
        format!(
            "{:<36} {:>7} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8}",
            "benchmark", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms", "drain s"
        )
    }

    fn line(&self) -> String {
        let drain = match self.drain {
            Drain::Skipped => "-".to_owned(),
            Drain::Done(d) => format!("{:.1}", d.as_secs_f64()),
            Drain::TimedOut(d) => format!(">{}", d.as_secs()),
        };
        format!(
            "{:<36} {:>7} {:>9} {:>7} {:>9.1} {:>8.1} {:>8.1} {:>8}",
            self.name,
            self.clients,
            self.requests,
            self.errors,
            self.per_sec,
            self.p50_ms,
            self.p99_ms,
            drain
        )
    }
}

/// Outcome of a batch of requests.
#[derive(Default)]
struct Batch {
    ok: usize,
    /// Latencies of the successful requests, microseconds.
    latencies_us: Vec<u64>,
    /// Failures by kind ("HTTP 503: …", "transport: …").
    errors: BTreeMap<String, usize>,
    wall: Duration,
}

impl Batch {
    fn error_count(&self) -> usize {
        self.errors.values().sum()
    }
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[idx] as f64 / 1000.0
}

/// A registering office: its token and the places it may register cases for.
struct Office {
    token: String,
    places: Vec<String>,
}

/// Everything a registration client needs, shared by all clients.
struct Intake {
    http: reqwest::Client,
    url: String,
    offices: Vec<Office>,
    /// Today's date (China Standard Time), for letters.
    today: String,
}

impl Intake {
    fn body(&self, i: usize) -> (&str, Value) {
        let office = &self.offices[i % self.offices.len()];
        let j = i / self.offices.len();
        let place = &office.places[(j * 7 + i) % office.places.len()];
        let channel = CHANNELS[i % CHANNELS.len()];
        let mut body = json!({
            "channel": channel,
            "jurisdiction_code": place,
            "category": CATEGORIES[i % CATEGORIES.len()],
            "summary": format!("{}（压测 {i}）", SUMMARIES[i % SUMMARIES.len()]),
            // Intake requires a named petitioner (or an anonymous letter or call).
            "petitioners": [{"name": format!("压测{}", i % 1000)}],
        });
        // ... and the details of a letter or a visit.
        match channel {
            "letter" => {
                body["letter"] = json!({"received_on": self.today, "envelope_condition": "intact"});
            }
            "visit" => body["visit"] = json!({"receiving_staff": ["bench-1", "bench-2"]}),
            _ => {}
        }
        (&office.token, body)
    }

    /// Sends request numbers `first..first + n` from `clients` concurrent tasks.
    async fn run(self: &Arc<Self>, clients: usize, first: usize, n: usize) -> Batch {
        let next = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let me = Arc::clone(self);
            let next = Arc::clone(&next);
            let errors = Arc::clone(&errors);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n {
                        break;
                    }
                    let (token, body) = me.body(first + k);
                    let t0 = Instant::now();
                    let outcome = me
                        .http
                        .post(&me.url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await;
                    let failure = match outcome {
                        Ok(r) if r.status().is_success() => {
                            // Read the body so the connection goes back to the pool.
                            match r.bytes().await {
                                Ok(_) => None,
                                Err(e) => Some(format!("transport: {e}")),
                            }
                        }
                        Ok(r) => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            let text: String = text.chars().take(160).collect();
                            Some(format!("HTTP {}: {text}", status.as_u16()))
                        }
                        Err(e) => Some(format!("transport: {e}")),
                    };
                    match failure {
                        None => lat.push(t0.elapsed().as_micros() as u64),
                        Some(f) => {
                            if let Ok(mut m) = errors.lock() {
                                *m.entry(f).or_default() += 1;
                            }
                        }
                    }
                }
                lat
            }));
        }
        let mut batch = Batch::default();
        for t in tasks {
            match t.await {
                Ok(lat) => batch.latencies_us.extend(lat),
                Err(e) => {
                    *batch.errors.entry(format!("client task: {e}")).or_default() += 1;
                }
            }
        }
        batch.wall = start.elapsed();
        batch.ok = batch.latencies_us.len();
        if let Ok(m) = errors.lock() {
            for (k, v) in m.iter() {
                *batch.errors.entry(k.clone()).or_default() += v;
            }
        }
        batch
    }
}

/// Reads reporting's county statistics: (all cases, cases past "registered").
async fn progressed(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<i64> {
    let r = http.get(url).bearer_auth(token).send().await?;
    let status = r.status();
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}");
    }
    let v: Value = r.json().await?;
    let total = v["total"].as_i64().context("stats without total")?;
    let registered = v["by_status"]["registered"].as_i64().unwrap_or(0);
    Ok(total - registered)
}

async fn wait_ready(http: &reqwest::Client, host: &str, port: u16) -> anyhow::Result<()> {
    let url = format!("http://{host}:{port}/health/readyz");
    let start = Instant::now();
    loop {
        let ok = http
            .get(&url)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("{url} is not ready after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn print_errors(label: &str, b: &Batch) {
    for (kind, n) in &b.errors {
        eprintln!("  {label} error ×{n}: {kind}");
    }
}

async fn intake_register(a: &Args) -> anyhow::Result<Row> {
    let tree = Tree::fixture()?;
    let county = tree
        .of_tier(Tier::County)
        .first()
        .map(|d| d.code.to_string())
        .context("the fixture has no county")?;
    let signer = Signer::from_pem(xf_testkit::DEV_PRIVATE_PEM.as_bytes(), KeyAlgorithm::EdDSA)?;
    let registrar = |sub: &str, office: &str| {
        signer.sign(&xf_auth::claims(
            sub,
            &[roles::REGISTRAR],
            Some(&format!("{office}-xfb")),
            office,
            3600,
        ))
    };
    let villages = tree.of_tier(Tier::Village);
    let offices = match a.offices {
        Offices::One => vec![Office {
            token: registrar("bench-registrar", &county)?,
            places: villages.iter().map(|v| v.code.to_string()).collect(),
        }],
        Offices::All => {
            let mut v = Vec::new();
            for t in tree.of_tier(Tier::Township) {
                let code = t.code.to_string();
                let mut places: Vec<String> = tree
                    .children(&t.code)
                    .iter()
                    .map(|c| c.code.to_string())
                    .collect();
                if places.is_empty() {
                    places.push(code.clone());
                }
                v.push(Office {
                    token: registrar(&format!("bench-registrar-{code}"), &code)?,
                    places,
                });
            }
            v
        }
    };
    let n_offices = offices.len();
    let analyst = signer.sign(&xf_auth::claims(
        "bench-analyst",
        &[roles::ANALYST],
        None,
        &county,
        3600,
    ))?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(a.timeout))
        .pool_max_idle_per_host(a.clients.max(1) * 2)
        .build()?;
    wait_ready(&http, &a.host, INTAKE_PORT).await?;
    let stats_url = format!("http://{}:{REPORTING_PORT}/v1/stats", a.host);
    if !a.no_drain {
        wait_ready(&http, &a.host, REPORTING_PORT).await?;
    }
    let baseline = if a.no_drain {
        0
    } else {
        progressed(&http, &stats_url, &analyst).await?
    };

    let intake = Arc::new(Intake {
        http: http.clone(),
        url: format!("http://{}:{INTAKE_PORT}/v1/cases", a.host),
        offices,
        today: (chrono::Utc::now() + chrono::Duration::hours(8))
            .date_naive()
            .to_string(),
    });
    // Offset by the process id so the summaries of successive runs differ.
    let first = (std::process::id() as usize % 1000) * 1_000_000;
    let name = match a.offices {
        Offices::One => "intake register (one office)".to_owned(),
        Offices::All => format!("intake register ({n_offices} offices)"),
    };
    eprintln!(
        "==> {name}: {} clients, {} warm-up + {} requests",
        a.clients, a.warmup, a.requests
    );
    let warm = intake.run(a.clients, first, a.warmup).await;
    print_errors("warm-up", &warm);
    let b = intake.run(a.clients, first + a.warmup, a.requests).await;
    print_errors("measured", &b);
    let load_done = Instant::now();

    let drain = if a.no_drain {
        Drain::Skipped
    } else {
        let want = baseline + (warm.ok + b.ok) as i64;
        let limit = Duration::from_secs(a.drain_timeout);
        loop {
            let now = progressed(&http, &stats_url, &analyst).await;
            match now {
                Ok(n) if n >= want => break Drain::Done(load_done.elapsed()),
                _ if load_done.elapsed() > limit => {
                    let left = match now {
                        Ok(n) => format!("{} of {}", want - n, warm.ok + b.ok),
                        Err(e) => format!("unknown ({e})"),
                    };
                    eprintln!(
                        "  drain: {left} cases not dispatched after {} s",
                        a.drain_timeout
                    );
                    break Drain::TimedOut(limit);
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    };

    if b.ok == 0 {
        bail!("no registration succeeded (see the errors above)");
    }
    let mut lat = b.latencies_us.clone();
    lat.sort_unstable();
    let secs = b.wall.as_secs_f64();
    Ok(Row {
        name,
        clients: a.clients,
        requests: a.requests,
        errors: b.error_count(),
        per_sec: if secs > 0.0 { b.ok as f64 / secs } else { 0.0 },
        p50_ms: percentile_ms(&lat, 0.50),
        p99_ms: percentile_ms(&lat, 0.99),
        drain,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.print_header {
        println!("{}", Row::header());
        return Ok(());
    }
    if !loopback(&a.host) {
        bail!("--host must be a loopback address, not {}", a.host);
    }
    if a.clients == 0 || a.requests == 0 {
        bail!("--clients and --requests must be at least 1");
    }
    let row = match a.scenario {
        Scenario::IntakeRegister => intake_register(&a).await?,
    };
    if !a.no_header {
        println!("{}", Row::header());
    }
    println!("{}", row.line());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }

    #[test]
    fn only_loopback_hosts() {
        assert!(loopback("127.0.0.1"));
        assert!(loopback("localhost"));
        assert!(loopback("::1"));
        assert!(!loopback("10.0.0.1"));
        assert!(!loopback("example.org"));
    }
}
