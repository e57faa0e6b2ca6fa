//! `make chaos`: cases through the five real service binaries on a durable broker and a
//! Postgres of the run's own, while each service in turn is killed with SIGKILL and
//! restarted, the broker is restarted and Postgres is crashed and restarted; then every
//! schema is checked with SQL and the table printed (see `xf_e2e::chaos`).
//!
//! Exit status: 0 when nothing was lost, doubled or left in an outbox and every fault was
//! recovered from; 1 otherwise; 2 when the run itself could not be set up.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use xf_e2e::chaos::{Options, parse_faults, run};

#[derive(Parser)]
#[command(
    name = "xf-chaos",
    about = "Register cases through the five services under faults; check every schema"
)]
struct Args {
    /// Cases to register.
    #[arg(long, default_value_t = 10_000)]
    cases: usize,
    /// Registrars at once (each one request in flight).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds a killed process or server stays down.
    #[arg(long, default_value_t = 2)]
    down: u64,
    /// Longest wait, in seconds, for the stack to settle after the last registration.
    #[arg(long, default_value_t = 900)]
    settle_timeout: u64,
    /// Write each service process's log here (one file per lifetime).
    #[arg(long)]
    logs: Option<PathBuf>,
    /// The faults, in turn (services by name, `broker`, `postgres`).
    #[arg(
        long,
        default_value = "intake,routing,supervision,scheduling,reporting,broker,postgres"
    )]
    faults: String,
    /// `kafka.assignment` of the services: `all` (each reads every partition from its
    /// checkpoints) or `group` (tansu's coordinator assigns them; see Known limits).
    #[arg(long, default_value = "all")]
    assignment: String,
    /// The services' log level (warn keeps the logs small; info shows each rebalance).
    #[arg(long, default_value = "warn")]
    log_level: String,
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut opts = Options::new(a.cases);
    opts.faults = match parse_faults(&a.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("chaos: --faults: {e}");
            std::process::exit(2);
        }
    };
    opts.clients = a.clients.max(1);
    opts.down = Duration::from_secs(a.down);
    opts.settle_timeout = Duration::from_secs(a.settle_timeout);
    opts.logs = a.logs;
    opts.log_level = a.log_level;
    opts.assignment = a.assignment;
    opts.verbose = true;
    eprintln!(
        "chaos: {} cases, {} registrars; faults in turn: {}",
        opts.cases,
        opts.clients,
        opts.faults
            .iter()
            .map(|f| f.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Ctrl-C ends the run; the broker and Postgres of the run go with it (on drop).
    let report = tokio::select! {
        r = run(&opts) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    let Some(report) = report else {
        eprintln!("chaos: interrupted");
        std::process::exit(2);
    };
    match report {
        Ok(r) => {
            println!("{}", r.table());
            if !r.passed() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("chaos: the run failed: {e:#}");
            std::process::exit(2);
        }
    }
}
