//! The intake binary's own log output, at debug level, holds no personal data.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use xf_auth::roles;
use xf_testkit::{Ctx, eventually};

#[tokio::test]
async fn logs_hold_no_personal_data() {
    let ctx = Ctx::new().await.expect("context");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_xf-intake"));
    cmd.arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in ctx.overrides("intake") {
        cmd.env(
            format!("XF_{}", k.replace('.', "__").to_ascii_uppercase()),
            v,
        );
    }
    cmd.env("XF_HTTP__PORT", port.to_string())
        .env("XF_TELEMETRY__LOG_LEVEL", "debug")
        .env("XF_TELEMETRY__LOG_FORMAT", "json");
    let child = cmd.spawn().expect("intake starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = xf_testkit::http();
    eventually("intake answers", Duration::from_secs(30), || async {
        http.get(format!("{base}/health/livez"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    let token = ctx.token(&[roles::REGISTRAR, roles::VAULT_READER], None, "330122");
    let name = "司马青云";
    let phone = "13712345678";
    let id_no = "11010519491231002X";
    let r = http
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({
            "channel": "online", "jurisdiction_code": "330122003", "category": "housing",
            "summary": "危房改造补助未到位",
            "petitioners": [{"name": name, "phone": phone, "id_number": id_no, "address": "桐君街道某小区"}]
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: serde_json::Value = r.json().await.expect("json");
    let id = receipt["case_id"].as_str().expect("id");
    // A decrypted read and a failed registration exercise more log lines.
    let read = http
        .get(format!(
            "{base}/v1/cases/{id}/petitioners?reason=答复前核实"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), StatusCode::OK);
    let bad = http
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({"channel": "online", "jurisdiction_code": "330122003", "category": "housing",
                      "summary": "x", "petitioners": [{"name": name, "phone": "123", "id_number": "110105194912310021"}]}))
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Let the relay publish, so its lines are in the log too.
    let pool = sqlx::PgPool::connect(&xf_testkit::database_url())
        .await
        .expect("pool");
    let schema = ctx.schema("intake");
    eventually(
        "the event is published",
        Duration::from_secs(30),
        || async {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {schema}.outbox WHERE published_at IS NOT NULL"
            )))
            .fetch_one(&pool)
            .await
            .ok()?;
            (n == 1).then_some(())
        },
    )
    .await;

    let pid = child.id().expect("pid");
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stops on SIGTERM")
        .expect("output");
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("\"level\":\"DEBUG\""), "debug logging was on");
    assert!(log.contains("stopped"), "graceful shutdown logged");
    for secret in [name, phone, id_no, "桐君街道某小区"] {
        assert!(!log.contains(secret), "log holds {secret}");
    }
    ctx.cleanup().await;
}
