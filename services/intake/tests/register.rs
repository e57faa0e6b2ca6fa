//! intake's registration API against the real Postgres and broker.

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::Ctx;

const VILLAGE: &str = "330122002200"; // 旧县村, 旧县街道, 桐庐县
const COUNTY: &str = "330122";

async fn start() -> Ctx {
    let mut ctx = Ctx::new().await.expect("test context");
    let s = ctx
        .settings::<xf_intake::Ext>(&xf_intake::binary(), &[])
        .expect("settings");
    let app = xf_intake::build(s).await.expect("intake builds");
    ctx.spawn("intake", app);
    ctx
}

fn valid() -> Value {
    json!({
        "channel": "visit",
        "jurisdiction_code": VILLAGE,
        "category": "land",
        "summary": "村里土地征收补偿款至今未发放到位",
        "petitioners": [{"name": "王五", "phone": "13800138000"}],
        "visit": {"receiving_staff": ["staff-1", "staff-2"]}
    })
}

async fn counts(ctx: &Ctx) -> (i64, i64) {
    let pool = &ctx.svc("intake").pool;
    let cases: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(pool)
        .await
        .expect("count");
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
        .expect("count");
    (cases, outbox)
}

#[tokio::test]
async fn registers_a_case_with_a_number_and_an_event() {
    let ctx = start().await;
    let token = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let http = xf_testkit::http();
    let r = http
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&token)
        .json(&valid())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.expect("json");
    let no = body["registration_no"].as_str().expect("number");
    assert!(
        no.starts_with("330122-20") && no.ends_with("-000001"),
        "{no}"
    );
    let second: Value = http
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&token)
        .json(&valid())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        second["registration_no"]
            .as_str()
            .expect("number")
            .ends_with("-000002")
    );
    assert_eq!(counts(&ctx).await, (2, 2));
    let id = body["case_id"].as_str().expect("id");
    let got: Value = http
        .get(ctx.svc("intake").url(&format!("/v1/cases/{id}")))
        .query(&[("reason", "登记后核对")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(got["jurisdiction_code"], VILLAGE);
    assert_eq!(got["timeline"][0]["kind"], "registered");
    // Another county's registrar does not learn it exists.
    let other = ctx.token(&[roles::REGISTRAR], None, "330127");
    let r = http
        .get(ctx.svc("intake").url(&format!("/v1/cases/{id}")))
        .query(&[("reason", "登记后核对")])
        .bearer_auth(&other)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    ctx.cleanup().await;
}

async fn problem(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json", "status {status}");
    (status, r.json().await.expect("problem body"))
}

fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_field_and_changes_nothing() {
    let ctx = start().await;
    let token = ctx.token(&[roles::REGISTRAR], None, COUNTY);
    let http = xf_testkit::http();
    let url = ctx.svc("intake").url("/v1/cases");
    let post = |body: String, ct: &'static str| {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    let (s, p) = problem(
        post("{not json".into(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );

    let mut missing = valid();
    missing.as_object_mut().expect("object").remove("summary");
    let (s, p) = problem(
        post(missing.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&p), ["summary"]);

    let mut wrong = valid();
    wrong["category"] = json!(12);
    let (s, p) = problem(
        post(wrong.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["category".to_owned()]
        )
    );

    let mut unknown = valid();
    unknown["jurisdiction_code"] = json!("330122999999");
    let (s, p) = problem(
        post(unknown.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["jurisdiction_code".to_owned()]
        )
    );

    let mut several = valid();
    several["jurisdiction_code"] = json!("33012");
    several["channel"] = json!("carrier pigeon");
    several["category"] = json!("nonsense");
    several["summary"] = json!("   ");
    let (s, p) = problem(
        post(several.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut f = fields(&p);
    f.sort();
    assert_eq!(
        f,
        [
            "category",
            "channel",
            "jurisdiction_code",
            "summary",
            "visit"
        ]
    );

    let (s, p) = problem(post(valid().to_string(), "text/plain").await.expect("req")).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    let mut big = valid();
    big["summary"] = json!("长".repeat(200_000));
    let (s, p) = problem(
        post(big.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    let mut future = valid();
    future["received_at"] = json!("2999-01-01T00:00:00Z");
    let (s, p) = problem(
        post(future.to_string(), "application/json")
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["received_at".to_owned()]
        )
    );

    assert_eq!(counts(&ctx).await, (0, 0), "nothing written");
    ctx.cleanup().await;
}

#[tokio::test]
async fn tokens_are_checked_and_scope_is_enforced() {
    let ctx = start().await;
    let http = xf_testkit::http();
    let url = ctx.svc("intake").url("/v1/cases");

    let r = http.post(&url).json(&valid()).send().await.expect("req");
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );

    let signer = ctx.signer();
    // Signed with another key: a forged token.
    let other_key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKFPQSeysNGFrYUp3h7bEQA5gkgsTijG4rYVslWH1h5K\n-----END PRIVATE KEY-----\n";
    let forger =
        xf_auth::Signer::from_pem(other_key.as_bytes(), xf_auth::KeyAlgorithm::EdDSA).expect("key");
    let cases = [
        (
            "expired",
            signer.sign(&xf_auth::claims(
                "u",
                &[roles::REGISTRAR],
                None,
                COUNTY,
                -600,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "forged",
            forger.sign(&xf_auth::claims(
                "u",
                &[roles::REGISTRAR],
                None,
                COUNTY,
                600,
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another county",
            Ok(ctx.token(&[roles::REGISTRAR], None, "330127")),
            StatusCode::FORBIDDEN,
        ),
        (
            "not a registrar",
            Ok(ctx.token(&[roles::ANALYST], None, COUNTY)),
            StatusCode::FORBIDDEN,
        ),
        (
            "garbage",
            Ok("not.a.token".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, token, want) in cases {
        let token = token.expect("signs");
        let r = http
            .post(&url)
            .bearer_auth(token)
            .json(&valid())
            .send()
            .await
            .expect("req");
        assert_eq!(problem(r).await.0, want, "{what}");
    }

    assert_eq!(counts(&ctx).await, (0, 0), "nothing written");
    ctx.cleanup().await;
}

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let ctx = start().await;
    let http = xf_testkit::http();
    let live = http
        .get(ctx.svc("intake").url("/health/livez"))
        .send()
        .await
        .expect("req");
    assert_eq!(live.status(), StatusCode::OK);
    let ready = http
        .get(ctx.svc("intake").url("/health/readyz"))
        .send()
        .await
        .expect("req");
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "database and broker reachable"
    );
    let r = http
        .get(ctx.svc("intake").url("/nope"))
        .send()
        .await
        .expect("req");
    assert_eq!(problem(r).await.0, StatusCode::NOT_FOUND);
    let m = http
        .get(ctx.svc("intake").url("/metrics"))
        .send()
        .await
        .expect("req");
    let text = m.text().await.expect("text");
    assert!(text.contains("xf_http_requests_total"), "{text}");
    ctx.cleanup().await;
}
