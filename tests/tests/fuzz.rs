//! The HTTP APIs fuzzed from their own OpenAPI documents with schemathesis (PyPI, in a
//! cached venv: `scripts/fuzz/install.sh`): every operation of every service gets
//! generated and mutated requests with a valid county-wide token of every role, and
//! none may answer a 5xx or a non-problem+json error.
//!
//! Needs `XINFANG_FUZZ_ST` (the `st` command; `make test` installs it and sets it).

use tokio::process::Command;
use xf_auth::roles;
use xf_testkit::Ctx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_generated_request_gets_a_server_error() {
    let Ok(st) = std::env::var("XINFANG_FUZZ_ST") else {
        panic!(
            "XINFANG_FUZZ_ST is not set: run `make test`, or point it at scripts/fuzz/install.sh's st"
        );
    };
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let token = ctx.token(
        &[
            roles::REGISTRAR,
            roles::HANDLER,
            roles::SUPERVISOR,
            roles::LEADER,
            roles::SCHEDULER,
            roles::ANALYST,
            roles::VAULT_READER,
            roles::ADMIN,
        ],
        Some("330122-xfb"),
        "330122",
    );
    let reports = std::env::temp_dir().join(format!("xf-fuzz-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&reports).expect("reports dir");
    let mut failed = Vec::new();
    for service in xf_e2e::SERVICES {
        let base = ctx.svc(service).base_url.clone();
        let probe = xf_testkit::http()
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("openapi");
        if !probe.status().is_success() {
            println!("{service}: no OpenAPI document, not fuzzed");
            continue;
        }
        let out = Command::new(&st)
            .arg("run")
            .arg(format!("{base}/openapi.json"))
            .args(["--checks", "not_a_server_error"])
            .args(["--max-examples", "25"])
            .args(["--workers", "2"])
            .args(["--seed", "20261203"])
            .args(["--request-timeout", "10"])
            .arg("--header")
            .arg(format!("Authorization: Bearer {token}"))
            // The deployment-wide sweeps act at once on everything: not for a fuzzer.
            .args(["--exclude-path", "/v1/admin/sweep"])
            .arg("--report-dir")
            .arg(reports.join(service))
            .env("NO_COLOR", "1")
            // Its cache goes with the reports, not into the source tree.
            .current_dir(&reports)
            .output()
            .await
            .expect("st runs");
        let text = String::from_utf8_lossy(&out.stdout);
        println!("== {service}\n{}", tail(&text, 12));
        // The run's own errors (schemathesis' internals) are shown, not held against the
        // API; a failure of a check is.
        let failures: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("❌ ST"))
            .collect();
        if !failures.is_empty() {
            failed.push(format!(
                "{service}: {failures:?}\n{}",
                failure_section(&text)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    ctx.cleanup().await;
}

/// The FAILURES section of a run's report.
fn failure_section(s: &str) -> String {
    let start = s.find("= FAILURES =").unwrap_or(0);
    let end = s[start..]
        .find("= WARNINGS =")
        .or_else(|| s[start..].find("= SUMMARY ="))
        .map_or(s.len(), |e| start + e);
    s[start..end].to_owned()
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
