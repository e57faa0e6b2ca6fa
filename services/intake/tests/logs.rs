//! The intake binary's own log output, at debug level, holds no personal data.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use xf_auth::roles;
use xf_testkit::{Ctx, eventually};

#[tokio::test]
async fn logs_hold_no_personal_data() {
    let ctx = Ctx::new().await.expect("context");
    let intake = ctx
        .start_binary(
            "intake",
            &[
                ("telemetry.log_level", "debug"),
                ("telemetry.log_format", "json"),
            ],
        )
        .await;
    let base = intake.base_url.clone();
    let http = xf_testkit::http();

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

    let log = intake.stop().await;
    assert!(log.contains("\"level\":\"DEBUG\""), "debug logging was on");
    assert!(log.contains("stopped"), "graceful shutdown logged");
    for secret in [name, phone, id_no, "桐君街道某小区"] {
        assert!(!log.contains(secret), "log holds {secret}");
    }
    ctx.cleanup().await;
}
