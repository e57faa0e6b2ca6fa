//! Cases under faults, and the check that nothing was lost or doubled: one implementation
//! for `make chaos` (`xf-chaos`, 10,000 cases) and the short variant in
//! `tests/tests/chaos.rs` (inside `make test`).
//!
//! The world is the test's own: a durable broker ([`TestBroker`], sqlite storage) and a
//! Postgres cluster ([`TestPostgres`]) that can be restarted, with the five real service
//! binaries on fixed ports (a restarted service comes back where its peers expect it).
//! Registrars in the county's township offices register cases, each retried with the
//! same `Idempotency-Key` until intake accepts it, while, in turn, each service is killed
//! with SIGKILL and started again, the broker is restarted (its storage kept) and Postgres
//! is crashed (`pg_ctl stop -m immediate`) and started again. Once the stack has settled,
//! every schema is read directly with SQL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use xf_auth::roles;
use xf_jurisdiction::{Tier, Tree};
use xf_testkit::{Ctx, Process, Stop, TestBroker, TestPostgres, free_port};

use crate::SERVICES;

/// One fault of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's process killed with SIGKILL, then started again on its port.
    Kill(&'static str),
    /// The broker process killed and started again on the same storage.
    Broker,
    /// Postgres crashed (immediate stop, recovery from the WAL on start) and started again.
    Postgres,
}

impl Fault {
    pub fn label(&self) -> String {
        match self {
            Fault::Kill(s) => format!("kill -9 {s}"),
            Fault::Broker => "broker restart".into(),
            Fault::Postgres => "postgres restart".into(),
        }
    }
}

/// Faults by name: `intake` … `reporting` (killed), `broker`, `postgres`.
pub fn parse_faults(list: &str) -> anyhow::Result<Vec<Fault>> {
    list.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| match f {
            "broker" => Ok(Fault::Broker),
            "postgres" => Ok(Fault::Postgres),
            s => SERVICES
                .iter()
                .find(|x| **x == s)
                .map(|x| Fault::Kill(x))
                .ok_or_else(|| {
                    anyhow::anyhow!("unknown fault {s:?} (a service name, broker or postgres)")
                }),
        })
        .collect()
}

/// Every fault once: each of the five services killed, the broker, Postgres.
pub fn every_fault() -> Vec<Fault> {
    let mut f: Vec<Fault> = SERVICES.iter().map(|s| Fault::Kill(s)).collect();
    f.push(Fault::Broker);
    f.push(Fault::Postgres);
    f
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub cases: usize,
    /// Registrars registering at once.
    pub clients: usize,
    /// At most this many registrations started per second (0: as fast as intake goes), so
    /// that a short run still spans its faults.
    pub rate: f64,
    /// In this order, evenly spread over the registrations.
    pub faults: Vec<Fault>,
    /// How long a killed process or server stays down.
    pub down: Duration,
    /// Longest wait for the stack to settle after the last registration.
    pub settle_timeout: Duration,
    /// Longest time one case's registration may take (all its retries).
    pub register_timeout: Duration,
    /// Where the services' logs are written (one file per process lifetime), if anywhere.
    pub logs: Option<PathBuf>,
    /// The services' log level (`telemetry.log_level`).
    pub log_level: String,
    /// `kafka.assignment` of the services: `all` (each reads every partition) or
    /// `group` (the broker's coordinator assigns them).
    pub assignment: String,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl Options {
    pub fn new(cases: usize) -> Options {
        Options {
            cases,
            clients: 8,
            rate: 0.0,
            faults: every_fault(),
            down: Duration::from_secs(2),
            settle_timeout: Duration::from_secs(600),
            register_timeout: Duration::from_secs(300),
            logs: None,
            log_level: "warn".into(),
            assignment: "all".into(),
            verbose: false,
        }
    }
}

/// A fault as it happened.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    pub fault: Fault,
    /// Registrations accepted when it struck.
    pub at_case: usize,
    /// From the fault until every service answered ready again.
    pub recovered_secs: f64,
}

/// One service's figures.
#[derive(Debug, Clone, Default)]
pub struct ServiceCheck {
    pub service: &'static str,
    /// What it must hold per case (for the table).
    pub holds: &'static str,
    /// Registered cases it does not hold.
    pub lost: usize,
    /// Cases it holds twice (or an effect applied twice).
    pub doubled: usize,
    /// Events in its inbox.
    pub inbox: i64,
    /// Inbox rows minus distinct event ids (the primary key makes it 0).
    pub inbox_doubled: i64,
    /// Events some outbox published that its inbox lacks (and it did not dead-letter).
    pub events_missing: i64,
    pub outbox: i64,
    pub outbox_stuck: i64,
    pub dead_letters: i64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub cases: usize,
    /// Registrations never accepted within the time allowed.
    pub unregistered: usize,
    pub faults: Vec<FaultRecord>,
    pub services: Vec<ServiceCheck>,
    /// Events written to all the outboxes.
    pub events: i64,
    /// Records on the dead-letter topic, each with who failed it and why.
    pub dlq: Vec<String>,
    /// The services' own records of what they dead-lettered (`dead_letters`).
    pub dead_letter_rows: Vec<String>,
    /// Answers other than 201 the registrars retried on, by kind.
    pub retries: BTreeMap<String, usize>,
    /// Keys registered again after the run that named another case.
    pub replay_mismatches: usize,
    /// What went wrong beyond the counts (a service that did not come back, …).
    pub problems: Vec<String>,
    pub register_secs: f64,
    pub settle_secs: f64,
    pub secs: f64,
}

impl Report {
    pub fn lost(&self) -> usize {
        self.unregistered
            + self.services.iter().map(|s| s.lost).sum::<usize>()
            + self
                .services
                .iter()
                .map(|s| usize::try_from(s.events_missing).unwrap_or(0))
                .sum::<usize>()
    }

    pub fn doubled(&self) -> usize {
        self.replay_mismatches
            + self.services.iter().map(|s| s.doubled).sum::<usize>()
            + self
                .services
                .iter()
                .map(|s| usize::try_from(s.inbox_doubled).unwrap_or(0))
                .sum::<usize>()
    }

    pub fn stuck(&self) -> i64 {
        self.services.iter().map(|s| s.outbox_stuck).sum()
    }

    /// Nothing lost, nothing doubled, nothing stuck, every dead letter explained,
    /// every fault recovered from.
    pub fn passed(&self) -> bool {
        self.lost() == 0 && self.doubled() == 0 && self.stuck() == 0 && self.problems.is_empty()
    }

    /// The table `make chaos` prints.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|f| {
                format!(
                    "{} @{} (ready {:.1} s)",
                    f.fault.label(),
                    f.at_case,
                    f.recovered_secs
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "| cases | faults | lost | doubled | stuck outbox rows | DLQ | seconds |"
        );
        let _ = writeln!(o, "| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {:.0} |",
            self.cases,
            faults.join("; "),
            self.lost(),
            self.doubled(),
            self.stuck(),
            self.dlq.len(),
            self.secs
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| service | holds per case | lost | doubled | inbox events | inbox doubled | events missing | outbox rows | stuck | dead letters |"
        );
        let _ = writeln!(
            o,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for s in &self.services {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                s.service,
                s.holds,
                s.lost,
                s.doubled,
                s.inbox,
                s.inbox_doubled,
                s.events_missing,
                s.outbox,
                s.outbox_stuck,
                s.dead_letters
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "registrations {:.1} s, settled {:.1} s after; {} events through the bus; {} never accepted; {} replays named another case",
            self.register_secs,
            self.settle_secs,
            self.events,
            self.unregistered,
            self.replay_mismatches
        );
        if !self.retries.is_empty() {
            let r: Vec<String> = self
                .retries
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            let _ = writeln!(o, "registrar retries: {}", r.join(", "));
        }
        for d in &self.dlq {
            let _ = writeln!(o, "dead-letter topic: {d}");
        }
        for d in &self.dead_letter_rows {
            let _ = writeln!(o, "dead letter: {d}");
        }
        for p in &self.problems {
            let _ = writeln!(o, "problem: {p}");
        }
        o
    }
}

/// A registering office: its token and the villages it registers cases for.
struct Office {
    token: String,
    places: Vec<String>,
}

const CHANNELS: [&str; 4] = ["letter", "visit", "phone", "online"];
const CATEGORIES: [&str; 6] = [
    "land",
    "labour_wages",
    "social_security",
    "environment",
    "housing",
    "agriculture",
];
const SUMMARIES: [&str; 4] = [
    "承包地被占用，补偿标准不明",
    "工程完工半年，工资仍未结清",
    "养殖场污水直排溪流，气味严重",
    "村道破损多年无人维修",
];

/// The registrars: one per township office of the fixture county.
fn offices(ctx: &Ctx) -> anyhow::Result<Vec<Office>> {
    let tree = Tree::fixture()?;
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
        let token = ctx.signer().sign(&xf_auth::claims(
            &format!("chaos-registrar-{code}"),
            &[roles::REGISTRAR],
            Some(&format!("{code}-xfb")),
            &code,
            // Longer than the longest run.
            12 * 3600,
        ))?;
        v.push(Office { token, places });
    }
    anyhow::ensure!(!v.is_empty(), "the fixture has no township");
    Ok(v)
}

/// Case `n`'s registration: the same body every time (intake compares it on a replay).
fn body(offices: &[Office], n: usize, today: &str) -> (usize, Value) {
    let o = n % offices.len();
    let office = &offices[o];
    let place = &office.places[(n / offices.len()) % office.places.len()];
    let channel = CHANNELS[n % CHANNELS.len()];
    let mut body = json!({
        "channel": channel,
        "jurisdiction_code": place,
        "category": CATEGORIES[n % CATEGORIES.len()],
        "summary": format!("{}（演练 {n}）", SUMMARIES[n % SUMMARIES.len()]),
        "petitioners": [{"name": format!("演练{}", n % 1000)}],
    });
    match channel {
        "letter" => body["letter"] = json!({"received_on": today, "envelope_condition": "intact"}),
        "visit" => body["visit"] = json!({"receiving_staff": ["chaos-1", "chaos-2"]}),
        _ => {}
    }
    (o, body)
}

/// The five services, started and restarted on their own ports.
struct Stack {
    procs: HashMap<&'static str, Process>,
    ports: HashMap<&'static str, u16>,
    token_file: String,
    logs: Option<PathBuf>,
    log_level: String,
    assignment: String,
    lifetimes: HashMap<&'static str, usize>,
}

impl Stack {
    fn extra(&self, service: &str) -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = vec![
            ("telemetry.log_level".into(), self.log_level.clone()),
            ("database.max_connections".into(), "6".into()),
            // tansu's group coordinator can leave a restarted consumer without partitions
            // after a broker restart (README, "Known limits"): each service, one process
            // here, reads every partition from its own checkpoints.
            ("kafka.assignment".into(), self.assignment.clone()),
        ];
        if service == "intake" {
            e.extend([
                (
                    "peers.routing_url".into(),
                    format!("http://127.0.0.1:{}", self.ports["routing"]),
                ),
                (
                    "peers.supervision_url".into(),
                    format!("http://127.0.0.1:{}", self.ports["supervision"]),
                ),
                ("peers.token_file".into(), self.token_file.clone()),
                ("citizen.rate_per_minute".into(), "60000".into()),
            ]);
        }
        e
    }

    async fn start(&mut self, ctx: &Ctx, service: &'static str) {
        let extra = self.extra(service);
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let p = ctx
            .start_binary_on(service, self.ports[service], &extra)
            .await;
        self.procs.insert(service, p);
    }

    fn save_log(&mut self, service: &'static str, log: &str) {
        let n = self.lifetimes.entry(service).or_insert(0);
        *n += 1;
        if let Some(dir) = &self.logs {
            let _ = std::fs::write(dir.join(format!("{service}-{n}.log")), log);
        }
    }

    async fn kill(&mut self, service: &'static str) {
        if let Some(p) = self.procs.remove(service) {
            let log = p.kill().await;
            self.save_log(service, &log);
        }
    }

    /// Services whose process ended by itself.
    fn exited(&mut self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for s in SERVICES {
            if self.procs.get_mut(s).is_some_and(Process::exited) {
                out.push(s);
            }
        }
        out
    }

    /// Waits until every service answers ready; the ones that do not, by name.
    async fn ready(&self, timeout: Duration) -> Vec<&'static str> {
        let http = xf_testkit::http();
        let deadline = Instant::now() + timeout;
        let mut waiting: Vec<&'static str> = SERVICES.to_vec();
        while !waiting.is_empty() && Instant::now() < deadline {
            let mut still = Vec::new();
            for s in waiting {
                let url = format!("http://127.0.0.1:{}/health/readyz", self.ports[s]);
                let ok = http
                    .get(&url)
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    still.push(s);
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        waiting
    }

    async fn stop_all(&mut self) {
        for s in SERVICES {
            if let Some(p) = self.procs.remove(s) {
                let log = p.kill().await;
                self.save_log(s, &log);
            }
        }
    }
}

/// Everything the registrars share.
struct Load {
    http: reqwest::Client,
    url: String,
    offices: Vec<Office>,
    today: String,
    next: AtomicUsize,
    accepted: AtomicUsize,
    ids: Mutex<Vec<Option<Uuid>>>,
    retries: Mutex<BTreeMap<String, usize>>,
    timeout: Duration,
    rate: f64,
    started: Instant,
}

impl Load {
    async fn register_once(&self, n: usize) -> Result<Uuid, String> {
        let (o, body) = body(&self.offices, n, &self.today);
        let r = self
            .http
            .post(&self.url)
            .bearer_auth(&self.offices[o].token)
            .header("Idempotency-Key", format!("chaos-{n}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    "no connection".to_owned()
                }
            })?;
        let status = r.status();
        if status != StatusCode::CREATED && status != StatusCode::OK {
            let v: Value = r.json().await.unwrap_or_default();
            let code = v["code"].as_str().unwrap_or_default().to_owned();
            return Err(format!("{} {code}", status.as_u16()).trim().to_owned());
        }
        let v: Value = r
            .json()
            .await
            .map_err(|_| "unreadable receipt".to_owned())?;
        v["case_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "a receipt without case_id".to_owned())
    }

    /// Registers case `n`, retrying with its key until intake accepts it.
    async fn register(&self, n: usize) -> Option<Uuid> {
        let deadline = Instant::now() + self.timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.register_once(n).await {
                Ok(id) => return Some(id),
                Err(kind) => {
                    *self
                        .retries
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(kind.clone())
                        .or_insert(0) += 1;
                    // Bad input would never pass: give up on it at once.
                    let permanent = kind.starts_with('4')
                        && !kind.starts_with("409")
                        && !kind.starts_with("429");
                    if permanent || Instant::now() > deadline {
                        eprintln!("chaos: case {n} not registered: {kind}");
                        return None;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn run_client(self: Arc<Self>, total: usize) {
        loop {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            if n >= total {
                return;
            }
            if self.rate > 0.0 {
                let at = self.started + Duration::from_secs_f64(n as f64 / self.rate);
                tokio::time::sleep_until(at.into()).await;
            }
            let id = self.register(n).await;
            if let Some(id) = id {
                self.ids.lock().unwrap_or_else(|e| e.into_inner())[n] = Some(id);
                self.accepted.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Runs the load with the faults and checks every schema.
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut pg = TestPostgres::start("xinfang_chaos")
        .await
        .context("a Postgres of the test's own")?;
    let mut broker = TestBroker::start().await.context("a durable broker")?;
    let ctx = Ctx::with(&broker.brokers(), &pg.url()).await?;
    if let Some(dir) = &opts.logs {
        std::fs::create_dir_all(dir)?;
    }
    let token_file = crate::peer_token_file(&ctx)?;
    let mut stack = Stack {
        procs: HashMap::new(),
        ports: SERVICES.iter().map(|s| (*s, free_port())).collect(),
        token_file,
        logs: opts.logs.clone(),
        log_level: opts.log_level.clone(),
        assignment: opts.assignment.clone(),
        lifetimes: HashMap::new(),
    };
    // Intake asks routing and supervision: they start first.
    for s in [
        "routing",
        "supervision",
        "intake",
        "scheduling",
        "reporting",
    ] {
        stack.start(&ctx, s).await;
    }
    let not_ready = stack.ready(Duration::from_secs(60)).await;
    anyhow::ensure!(not_ready.is_empty(), "not ready at start: {not_ready:?}");

    let load = Arc::new(Load {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(opts.clients * 2)
            .build()?,
        url: format!("http://127.0.0.1:{}/v1/cases", stack.ports["intake"]),
        offices: offices(&ctx)?,
        today: chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).context("UTC+8")?)
            .date_naive()
            .to_string(),
        next: AtomicUsize::new(0),
        accepted: AtomicUsize::new(0),
        ids: Mutex::new(vec![None; opts.cases]),
        retries: Mutex::new(BTreeMap::new()),
        timeout: opts.register_timeout,
        rate: opts.rate,
        started: Instant::now(),
    });
    let clients: Vec<_> = (0..opts.clients.max(1))
        .map(|_| tokio::spawn(load.clone().run_client(opts.cases)))
        .collect();

    // The faults, in turn, as the registrations pass evenly spaced marks.
    let mut report = Report {
        cases: opts.cases,
        ..Report::default()
    };
    let k = opts.faults.len();
    for (i, fault) in opts.faults.iter().enumerate() {
        let mark = opts.cases * (i + 1) / (k + 1);
        while load.accepted.load(Ordering::SeqCst) < mark
            && !clients.iter().all(|c| c.is_finished())
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let at_case = load.accepted.load(Ordering::SeqCst);
        if opts.verbose {
            eprintln!(
                "chaos: {} at {at_case} cases ({:.0} s)",
                fault.label(),
                started.elapsed().as_secs_f64()
            );
        }
        let t = Instant::now();
        match fault {
            Fault::Kill(s) => {
                stack.kill(s).await;
                tokio::time::sleep(opts.down).await;
                stack.start(&ctx, s).await;
            }
            Fault::Broker => {
                broker.stop().await;
                tokio::time::sleep(opts.down).await;
                broker.resume().await.context("the broker comes back")?;
            }
            Fault::Postgres => {
                pg.restart(Stop::Crash, opts.down)
                    .await
                    .context("Postgres comes back")?;
            }
        }
        let not_ready = stack.ready(Duration::from_secs(120)).await;
        if !not_ready.is_empty() {
            report.problems.push(format!(
                "after {}: not ready again within 120 s: {not_ready:?}",
                fault.label()
            ));
        }
        report.faults.push(FaultRecord {
            fault: *fault,
            at_case,
            recovered_secs: t.elapsed().as_secs_f64(),
        });
        for s in stack.exited() {
            report
                .problems
                .push(format!("{s} exited by itself after {}", fault.label()));
            stack.kill(s).await;
            stack.start(&ctx, s).await;
        }
    }
    for c in clients {
        let _ = c.await;
    }
    report.register_secs = started.elapsed().as_secs_f64();
    if opts.verbose {
        eprintln!(
            "chaos: {} registrations accepted in {:.0} s; waiting for the stack to settle",
            load.accepted.load(Ordering::SeqCst),
            report.register_secs
        );
    }

    let schemas: Vec<(&'static str, String)> =
        SERVICES.iter().map(|s| (*s, ctx.schema(s))).collect();
    let settle = Instant::now();
    let settled = settle_down(ctx.admin(), &schemas, opts.settle_timeout, opts.verbose).await;
    report.settle_secs = settle.elapsed().as_secs_f64();
    if !settled {
        report.problems.push(format!(
            "the stack did not settle within {} s",
            opts.settle_timeout.as_secs()
        ));
    }
    for s in stack.exited() {
        report.problems.push(format!("{s} exited by itself"));
    }

    let ids: Vec<Option<Uuid>> = load.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
    report.unregistered = ids.iter().filter(|i| i.is_none()).count();
    let registered: Vec<Uuid> = ids.iter().flatten().copied().collect();
    // The same keys once more: the same cases.
    let step = (opts.cases / 50).max(1);
    for n in (0..opts.cases).step_by(step) {
        if let Some(want) = ids[n]
            && load.register(n).await != Some(want)
        {
            report.replay_mismatches += 1;
        }
    }
    check(ctx.admin(), &schemas, &registered, &mut report).await?;
    let recorded: usize = report
        .services
        .iter()
        .map(|s| usize::try_from(s.dead_letters).unwrap_or(0))
        .sum();
    report.dlq = dead_letter_topic(&ctx, recorded).await;
    // Each record must say who failed it and why; the services record each one too.
    if report.dlq.iter().any(|d| d.contains("=?")) {
        report
            .problems
            .push("a dead letter without its reason".into());
    }
    if report.dlq.len() != recorded {
        report.problems.push(format!(
            "{} records on the dead-letter topic, {recorded} recorded by the services",
            report.dlq.len()
        ));
    }
    report.retries = load
        .retries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    stack.stop_all().await;
    ctx.cleanup().await;
    drop(broker);
    drop(pg);
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// All the schemas' outboxes, as one relation.
fn all_outboxes(schemas: &[(&str, String)]) -> String {
    schemas
        .iter()
        .map(|(_, s)| format!("SELECT event_id, event_type, key FROM {s}.outbox"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Waits until no outbox row waits and every consumer's inbox (with its dead letters)
/// covers every event published; false on time-out.
async fn settle_down(
    admin: &PgPool,
    schemas: &[(&str, String)],
    timeout: Duration,
    verbose: bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    let mut last_report = Instant::now();
    let all = all_outboxes(schemas);
    loop {
        let mut behind = 0i64;
        let mut stuck = 0i64;
        let mut ok = true;
        for (_, s) in schemas {
            let r: Result<(i64, i64), sqlx::Error> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL),
                        (SELECT count(*) FROM ({all}) o
                          WHERE NOT EXISTS (SELECT 1 FROM {s}.inbox i WHERE i.event_id = o.event_id)
                            AND NOT EXISTS (SELECT 1 FROM {s}.dead_letters d WHERE d.event_id = o.event_id))"
            )))
            .fetch_one(admin)
            .await;
            match r {
                Ok((st, be)) => {
                    stuck += st;
                    behind += be;
                }
                Err(_) => ok = false,
            }
        }
        if ok && stuck == 0 && behind == 0 {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        if verbose && last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "chaos: settling: {stuck} outbox rows unsent, {behind} events not yet applied (summed over the consumers)"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ids_of(admin: &PgPool, sql: String) -> anyhow::Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(admin)
        .await?)
}

/// Cases of `registered` missing from `have`, and the ids `have` holds more than once or
/// outside `registered`.
fn compare(registered: &HashSet<Uuid>, have: &[Uuid]) -> (usize, usize) {
    let mut seen = HashSet::new();
    let mut doubled = 0;
    for id in have {
        if !seen.insert(*id) || !registered.contains(id) {
            doubled += 1;
        }
    }
    let lost = registered.iter().filter(|id| !seen.contains(id)).count();
    (lost, doubled)
}

/// Reads every schema and fills the report's per-service figures.
pub async fn check(
    admin: &PgPool,
    schemas: &[(&'static str, String)],
    registered: &[Uuid],
    report: &mut Report,
) -> anyhow::Result<()> {
    let reg: HashSet<Uuid> = registered.iter().copied().collect();
    if reg.len() != registered.len() {
        // Two keys answered with the same case.
        report.problems.push(format!(
            "{} registrations share a case id",
            registered.len() - reg.len()
        ));
    }
    let all = all_outboxes(schemas);
    report.events = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM ({all}) o"
    )))
    .fetch_one(admin)
    .await?;
    let dup_events: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) - count(DISTINCT event_id) FROM ({all}) o"
    )))
    .fetch_one(admin)
    .await?;
    if dup_events > 0 {
        report
            .problems
            .push(format!("{dup_events} event ids written to two outboxes"));
    }
    let s = |name: &str| {
        schemas
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    // Each case's own events, once: a second CaseRegistered or CaseDispatched for the
    // same case would be an effect applied twice upstream.
    let twice = |schema: String, event_type: &str| {
        format!(
            "SELECT count(*) FROM (SELECT key FROM {schema}.outbox WHERE event_type = '{event_type}'
              GROUP BY key HAVING count(*) > 1) t"
        )
    };
    for (service, schema) in schemas {
        let mut c = ServiceCheck {
            service,
            ..ServiceCheck::default()
        };
        let (lost, doubled) = match *service {
            "intake" => {
                c.holds = "case, idempotency key, one CaseRegistered";
                let have = ids_of(admin, format!("SELECT id FROM {schema}.cases")).await?;
                let (lost, mut doubled) = compare(&reg, &have);
                let keys: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {schema}.idempotency WHERE status = 201"
                )))
                .fetch_one(admin)
                .await?;
                if keys != registered.len() as i64 {
                    report.problems.push(format!(
                        "intake holds {keys} answered idempotency keys for {} registrations",
                        registered.len()
                    ));
                }
                let more: i64 =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(twice(s("intake"), "CaseRegistered")))
                        .fetch_one(admin)
                        .await?;
                doubled += usize::try_from(more).unwrap_or(0);
                let have = ids_of(
                    admin,
                    format!(
                        "SELECT key::uuid FROM {schema}.outbox WHERE event_type = 'CaseRegistered'"
                    ),
                )
                .await?;
                let (no_event, _) = compare(&reg, &have);
                (lost + no_event, doubled)
            }
            "routing" => {
                c.holds = "case, dispatched once";
                let have = ids_of(admin, format!("SELECT id FROM {schema}.cases")).await?;
                let (lost, mut doubled) = compare(&reg, &have);
                let undispatched = ids_of(
                    admin,
                    format!("SELECT DISTINCT case_id FROM {schema}.case_history WHERE action = 'dispatched'"),
                )
                .await?;
                let (not_dispatched, _) = compare(&reg, &undispatched);
                let more: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM (SELECT case_id FROM {schema}.case_history
                      WHERE action = 'dispatched' GROUP BY case_id HAVING count(*) > 1) t"
                )))
                .fetch_one(admin)
                .await?;
                doubled += usize::try_from(more).unwrap_or(0);
                let more: i64 =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(twice(s("routing"), "CaseDispatched")))
                        .fetch_one(admin)
                        .await?;
                doubled += usize::try_from(more).unwrap_or(0);
                (lost + not_dispatched, doubled)
            }
            "supervision" => {
                c.holds = "one acceptance clock";
                let have = ids_of(
                    admin,
                    format!("SELECT case_id FROM {schema}.clocks WHERE stage = 'acceptance'"),
                )
                .await?;
                compare(&reg, &have)
            }
            "scheduling" => {
                c.holds = "case (registered, dispatched unit)";
                let have = ids_of(admin, format!("SELECT id FROM {schema}.cases")).await?;
                let (lost, doubled) = compare(&reg, &have);
                let no_unit = ids_of(
                    admin,
                    format!("SELECT id FROM {schema}.cases WHERE unit_id IS NOT NULL"),
                )
                .await?;
                let (undispatched, _) = compare(&reg, &no_unit);
                (lost + undispatched, doubled)
            }
            _ => {
                c.holds = "facts; ledger: one CaseRegistered, one CaseDispatched";
                let have =
                    ids_of(admin, format!("SELECT case_id FROM {schema}.case_facts")).await?;
                let (lost, mut doubled) = compare(&reg, &have);
                for t in ["CaseRegistered", "CaseDispatched"] {
                    let have = ids_of(
                        admin,
                        format!("SELECT case_id FROM {schema}.ledger WHERE event_type = '{t}'"),
                    )
                    .await?;
                    let (_, d) = compare(&reg, &have);
                    doubled += d;
                }
                (lost, doubled)
            }
        };
        c.lost = lost;
        c.doubled = doubled;
        let (inbox, inbox_doubled, missing, outbox, stuck, dead): (i64, i64, i64, i64, i64, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT count(*) FROM {schema}.inbox),
                        (SELECT count(*) - count(DISTINCT event_id) FROM {schema}.inbox),
                        (SELECT count(*) FROM ({all}) o
                          WHERE NOT EXISTS (SELECT 1 FROM {schema}.inbox i WHERE i.event_id = o.event_id)
                            AND NOT EXISTS (SELECT 1 FROM {schema}.dead_letters d WHERE d.event_id = o.event_id)),
                        (SELECT count(*) FROM {schema}.outbox),
                        (SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL),
                        (SELECT count(*) FROM {schema}.dead_letters)"
            )))
            .fetch_one(admin)
            .await?;
        c.inbox = inbox;
        c.inbox_doubled = inbox_doubled;
        c.events_missing = missing;
        c.outbox = outbox;
        c.outbox_stuck = stuck;
        c.dead_letters = dead;
        if dead > 0 {
            let rows: Vec<(Option<Uuid>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT event_id, error FROM {schema}.dead_letters ORDER BY id LIMIT 20"
            )))
            .fetch_all(admin)
            .await?;
            for (id, error) in rows {
                report.dead_letter_rows.push(format!(
                    "{service} dead-lettered {}: {error}",
                    id.map(|i| i.to_string())
                        .unwrap_or_else(|| "an undecodable record".into())
                ));
            }
        }
        report.services.push(c);
    }
    Ok(())
}

/// The dead-letter topic's records (read until `expected` arrived, or 15 s): who failed
/// each and why.
async fn dead_letter_topic(ctx: &Ctx, expected: usize) -> Vec<String> {
    let records = xf_testkit::read_topic(
        &ctx.brokers,
        &ctx.dlq_topic,
        expected.max(1),
        Duration::from_secs(15),
    )
    .await;
    records
        .iter()
        .map(|r| {
            format!(
                "failed_by={} type={} error={}",
                r.header(xf_bus::headers::FAILED_BY).unwrap_or("?"),
                r.header(xf_bus::headers::EVENT_TYPE).unwrap_or("?"),
                r.header(xf_bus::headers::ERROR).unwrap_or("?"),
            )
        })
        .collect()
}
