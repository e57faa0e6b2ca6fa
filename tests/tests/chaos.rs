//! Faults mid-load, on the real binaries and a durable broker of the test's own: a
//! service killed (SIGKILL) while cases flow, or the broker restarted, loses nothing and
//! doubles nothing once it is back — intake's outbox holds what it registered, routing
//! and supervision resume from their checkpoints and inboxes, and a registrar retrying
//! with the same `Idempotency-Key` after intake itself was killed gets one case, not two.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use xf_auth::roles;
use xf_testkit::{Ctx, TestBroker, eventually};

const N: usize = 48;

async fn register(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> Result<Value, String> {
    let body = xf_e2e::sample_case(
        "phone",
        "330122003",
        "environment",
        "化工厂夜间偷排废水",
        9_000 + n,
    );
    let r = http
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", format!("chaos-{n}"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != StatusCode::CREATED && r.status() != StatusCode::OK {
        return Err(format!("{}", r.status()));
    }
    r.json().await.map_err(|e| e.to_string())
}

/// Registers case `n`, retrying with its key until intake answers.
async fn register_until_done(http: &reqwest::Client, url: &str, token: &str, n: usize) -> String {
    eventually("the registration", Duration::from_secs(90), || async {
        register(http, url, token, n)
            .await
            .ok()
            .and_then(|v| v["case_id"].as_str().map(str::to_owned))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_services_lose_and_double_nothing() {
    let mut broker = TestBroker::start().await.expect("durable broker");
    let ctx = Ctx::with_brokers(&broker.brokers()).await.expect("context");
    let registrar = ctx.token(&[roles::REGISTRAR], None, "330122");
    let overseer = ctx.token(&[roles::SUPERVISOR], None, "330122");
    let http = xf_testkit::http();
    let mut intake = ctx.start_binary("intake", &[]).await;
    let mut routing = ctx.start_binary("routing", &[]).await;
    let mut supervision = ctx.start_binary("supervision", &[]).await;

    let mut ids = Vec::new();
    for n in 0..N {
        match n {
            // Routing crashes a third of the way in and comes back later.
            12 => {
                routing.kill().await;
                routing = ctx.start_binary("routing", &[]).await;
            }
            // Intake crashes: the registrar's retry with the same key makes one case.
            24 => {
                intake.kill().await;
                intake = ctx.start_binary("intake", &[]).await;
            }
            // The broker restarts (its storage kept): everyone reconnects.
            32 => {
                broker.stop().await;
                broker.resume().await.expect("the broker comes back");
            }
            // Supervision crashes while dispatches arrive.
            40 => {
                supervision.kill().await;
                supervision = ctx.start_binary("supervision", &[]).await;
            }
            _ => {}
        }
        let url = intake.url("/v1/cases");
        ids.push(register_until_done(&http, &url, &registrar, n).await);
    }
    // The same keys again: the same cases.
    let url = intake.url("/v1/cases");
    for n in [0, 12, 24, 32, 40, N - 1] {
        let again = register_until_done(&http, &url, &registrar, n).await;
        assert_eq!(again, ids[n], "retry of {n} made another case");
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), N, "one case per registration");

    // Every case reaches routing exactly once.
    for id in &ids {
        let url = routing.url(&format!("/v1/cases/{id}/routing"));
        let dispatches = eventually("dispatched", Duration::from_secs(120), || async {
            let r = http.get(&url).bearer_auth(&overseer).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            let v: Value = r.json().await.ok()?;
            let n = v["history"]
                .as_array()?
                .iter()
                .filter(|h| h["action"] == "dispatched")
                .count();
            (n > 0).then_some(n)
        })
        .await;
        assert_eq!(dispatches, 1, "case {id} dispatched {dispatches} times");
    }
    // Every case has exactly one acceptance clock in supervision.
    for id in &ids {
        let url = supervision.url(&format!("/v1/cases/{id}/deadlines"));
        let clocks = eventually("an acceptance clock", Duration::from_secs(120), || async {
            let r = http.get(&url).bearer_auth(&overseer).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            let v: Value = r.json().await.ok()?;
            let n = v["clocks"]
                .as_array()?
                .iter()
                .filter(|c| c["stage"] == "acceptance")
                .count();
            (n > 0).then_some(n)
        })
        .await;
        assert_eq!(clocks, 1, "case {id} has {clocks} acceptance clocks");
    }
    supervision.stop().await;
    routing.stop().await;
    intake.stop().await;
    ctx.cleanup().await;
}
