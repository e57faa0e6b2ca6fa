//! Faults mid-load, on the real binaries, a durable broker and a Postgres of the test's
//! own — the short variant of `make chaos`, with the same code (`xf_e2e::chaos`): while
//! cases are registered, each of the five services in turn is killed with SIGKILL and
//! started again, the broker is restarted on its storage, and Postgres is crashed and
//! started again. Registrars retry with the same `Idempotency-Key` until intake accepts.
//! Then every schema is read with SQL: every case once in intake, routing (dispatched
//! once), supervision (one acceptance clock), scheduling and reporting (one
//! CaseRegistered, one CaseDispatched in its ledger); every event some outbox published
//! is in every consumer's inbox; no outbox row is left unsent; nothing dead-lettered.

use std::time::Duration;

use xf_e2e::chaos::{Options, run};

/// A few hundred cases: seven faults at an eighth of the way each.
const CASES: usize = 240;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_killed_the_broker_and_postgres_restarted_lose_and_double_nothing() {
    let mut opts = Options::new(CASES);
    opts.clients = 4;
    // About 30 s of registrations, so that every fault strikes while cases flow.
    opts.rate = 8.0;
    opts.down = Duration::from_secs(1);
    opts.settle_timeout = Duration::from_secs(120);
    opts.register_timeout = Duration::from_secs(120);
    opts.verbose = true;
    let report = run(&opts).await.expect("the chaos run");
    println!("{}", report.table());
    assert_eq!(
        report.faults.len(),
        7,
        "every fault struck:\n{}",
        report.table()
    );
    assert_eq!(report.lost(), 0, "lost:\n{}", report.table());
    assert_eq!(report.doubled(), 0, "doubled:\n{}", report.table());
    assert_eq!(report.stuck(), 0, "stuck outbox rows:\n{}", report.table());
    assert!(report.dlq.is_empty(), "dead letters:\n{}", report.table());
    assert!(report.passed(), "{}", report.table());
}
