//! Notices: inboxes per unit and per staff user (list, unread count, mark read), the
//! accused unit never notified, and the signed webhook — retried with back-off under
//! one idempotency key, parked with its error after repeated failure, retried by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{CaseRegistered, UrgentAlertRaised};
use xf_testkit::{Ctx, eventually, produce_raw};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";
const SECRET: &str = "a-webhook-secret-for-tests-0001";

/// One request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Got {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver: answers 500 to the first attempt of every key, and always to
/// notices for `unit:u-dead`; 200 otherwise. Records every request.
async fn receiver() -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let log = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (p + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let headers: HashMap<String, String> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                    .collect();
                let body = buf[head_end..].to_vec();
                let key = headers.get("idempotency-key").cloned().unwrap_or_default();
                let status = {
                    let mut g = log.lock().expect("lock");
                    let seen = g
                        .iter()
                        .any(|x| x.headers.get("idempotency-key") == Some(&key));
                    let dead = String::from_utf8_lossy(&body).contains("u-dead");
                    g.push(Got { headers, body });
                    if dead || !seen { 500 } else { 200 }
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, got)
}

async fn produce(ctx: &Ctx, case: Uuid, p: Payload) {
    let env = xf_events::envelope(
        case,
        "routing",
        xf_events::tier_of_code(VILLAGE),
        VILLAGE,
        Utc::now(),
        p,
    );
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &env.case_id,
        &xf_events::encode(&env),
        &[],
    )
    .await;
}

fn alert(units: &[&str], leaders: &[&str]) -> Payload {
    Payload::UrgentAlertRaised(UrgentAlertRaised {
        unit_ids: units.iter().map(|s| (*s).to_owned()).collect(),
        leader_ids: leaders.iter().map(|s| (*s).to_owned()).collect(),
        reason: "collective".into(),
    })
}

async fn call(ctx: &Ctx, method: &str, path: &str, token: &str) -> (StatusCode, Value) {
    xf_testkit::call(method, &ctx.svc("supervision").url(path), token, None).await
}

#[tokio::test]
async fn notices_reach_the_inboxes_and_the_signed_webhook_retries_then_parks() {
    let mut ctx = Ctx::new().await.expect("context");
    let (url, got) = receiver().await;
    let secret_file = std::env::temp_dir().join(format!("xinfang-{}-hook.secret", ctx.id));
    std::fs::write(&secret_file, SECRET).expect("secret");
    let secret_path = secret_file.to_string_lossy().into_owned();
    let s = ctx
        .settings::<xf_supervision::Ext>(
            &xf_supervision::binary(),
            &[
                ("webhook.url", url.as_str()),
                ("webhook.secret_file", secret_path.as_str()),
                ("webhook.max_attempts", "3"),
                ("webhook.base_backoff_ms", "50"),
                ("webhook.interval_ms", "50"),
            ],
        )
        .expect("settings");
    let app = xf_supervision::build(s).await.expect("builds");
    ctx.spawn("supervision", app);

    // A collective matter: the unit and the leader are told at once (R5).
    let case = Uuid::now_v7();
    produce(&ctx, case, alert(&["u-a"], &["leader-1"])).await;
    let unit = ctx.token(&["handler"], Some("u-a"), COUNTY);
    let leader = ctx
        .signer()
        .sign(&xf_auth::claims("leader-1", &["leader"], None, COUNTY, 600))
        .expect("token");
    let inbox = eventually("the unit's notice", Duration::from_secs(60), || async {
        let (s, v) = call(&ctx, "GET", "/v1/inbox", &unit).await;
        (s == StatusCode::OK && v["unread"] == 1).then_some(v)
    })
    .await;
    let notice = &inbox["items"][0];
    assert_eq!(notice["kind"], "urgent_alert");
    assert_eq!(notice["case_id"], case.to_string());
    assert_eq!(notice["recipient_kind"], "unit");
    let (_, v) = call(&ctx, "GET", "/v1/inbox/unread-count", &leader).await;
    assert_eq!(v["unread"], 1, "the leader's own inbox");
    // Marking read: once for the unit; another's notice does not exist for a caller.
    let id = notice["id"].as_str().expect("id");
    let other = ctx.token(&["handler"], Some("u-b"), COUNTY);
    let (s, _) = call(&ctx, "POST", &format!("/v1/inbox/{id}/read"), &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = call(&ctx, "POST", &format!("/v1/inbox/{id}/read"), &unit).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["unread"], 0);
    let (_, v) = call(&ctx, "GET", "/v1/inbox?unread=true", &unit).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    let (s, v) = call(&ctx, "GET", "/v1/inbox?limit=0", &unit).await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );

    // The webhook: both notices delivered after one failed attempt each, signed, with
    // the same idempotency key on the retry.
    let delivered = eventually("both delivered", Duration::from_secs(60), || async {
        let g = got.lock().expect("lock").clone();
        (g.len() >= 4).then_some(g)
    })
    .await;
    let mut keys: HashMap<String, usize> = HashMap::new();
    for r in &delivered {
        let ts: i64 = r.headers["x-xinfang-timestamp"].parse().expect("ts");
        assert!(
            xf_notify::verify(
                SECRET.as_bytes(),
                ts,
                &r.body,
                &r.headers["x-xinfang-signature"]
            ),
            "a valid signature"
        );
        *keys
            .entry(r.headers["idempotency-key"].clone())
            .or_default() += 1;
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["kind"], "urgent_alert");
        assert_eq!(body["case_id"], case.to_string());
    }
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.values().all(|n| *n == 2), "one retry each: {keys:?}");

    // The accused unit of an accusation is never notified.
    let accusation = Uuid::now_v7();
    produce(
        &ctx,
        accusation,
        Payload::CaseRegistered(CaseRegistered {
            matter_jurisdiction_code: VILLAGE.into(),
            office_jurisdiction_code: COUNTY.into(),
            confidential: true,
            excluded_unit_id: "u-accused".into(),
            category: "discipline".into(),
            ..Default::default()
        }),
    )
    .await;
    produce(&ctx, accusation, alert(&["u-accused", "u-c"], &[])).await;
    let c = ctx.token(&["handler"], Some("u-c"), COUNTY);
    eventually("u-c told", Duration::from_secs(60), || async {
        let (_, v) = call(&ctx, "GET", "/v1/inbox/unread-count", &c).await;
        (v["unread"] == 1).then_some(())
    })
    .await;
    let accused = ctx.token(&["handler"], Some("u-accused"), COUNTY);
    let (_, v) = call(&ctx, "GET", "/v1/inbox", &accused).await;
    assert_eq!(v["unread"], 0, "{v}");

    // A receiver that keeps failing: retried, then parked with its error, never dropped.
    produce(&ctx, Uuid::now_v7(), alert(&["u-dead"], &[])).await;
    let admin = ctx.token(&["admin"], None, COUNTY);
    let parked = eventually("parked", Duration::from_secs(60), || async {
        let (_, v) = call(
            &ctx,
            "GET",
            "/v1/notifications/deliveries?state=parked",
            &admin,
        )
        .await;
        v["items"][0].is_object().then_some(v)
    })
    .await;
    let p = &parked["items"][0];
    assert_eq!(p["recipient"], "unit:u-dead");
    assert_eq!(p["attempts"], 3);
    assert_eq!(p["last_status"], 500);
    assert!(
        p["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("attempt 3:")),
        "{p}"
    );
    let pid = p["id"].as_i64().expect("id");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/notifications/deliveries/{pid}/retry"),
        &unit,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "administrators only");
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/notifications/deliveries/{pid}/retry"),
        &admin,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("pending")));
    let (s, v) = call(
        &ctx,
        "GET",
        "/v1/notifications/deliveries?state=lost",
        &admin,
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("state"))
    );
    let _ = std::fs::remove_file(&secret_file);
    ctx.cleanup().await;
}
