//! One error shape everywhere: every refusal of every service is
//! `application/problem+json` — unknown routes, a bad path or query value, broken JSON,
//! the wrong content type, a body too large — and a 422 names every failing field at
//! once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::Ctx;

async fn send(
    method: &str,
    url: &str,
    token: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, String, Value) {
    let mut rb = xf_testkit::http()
        .request(method.parse().expect("method"), url)
        .bearer_auth(token);
    if let Some(ct) = ct {
        rb = rb.header("content-type", ct);
    }
    let r = rb.body(body).send().await.expect("request");
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let v = r.json().await.unwrap_or(Value::Null);
    (status, ct, v)
}

fn fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect();
    f.sort();
    f
}

#[tokio::test]
async fn every_refusal_is_problem_json_and_names_every_field() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let t = ctx.token(
        &[
            roles::REGISTRAR,
            roles::SUPERVISOR,
            roles::ADMIN,
            roles::HANDLER,
            roles::SCHEDULER,
        ],
        Some("330122-xfb"),
        "330122",
    );
    let json_ct = Some("application/json");

    // Every failing field of a body at once, in each service that takes one.
    let cases = [
        (
            "intake",
            "/v1/cases",
            vec!["category", "channel", "jurisdiction_code", "summary"],
        ),
        (
            "supervision",
            "/v1/cards",
            vec!["case_id", "due_at", "instruction", "undertaking_unit_id"],
        ),
        (
            "routing",
            "/v1/units/e-unit",
            vec!["jurisdiction_code", "kind", "name"],
        ),
    ];
    for (service, path, want) in cases {
        let method = if path.starts_with("/v1/units") {
            "PUT"
        } else {
            "POST"
        };
        let url = ctx.svc(service).url(path);
        let (s, ct, v) = send(method, &url, &t, json_ct, b"{}".to_vec()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{service} {path}: {v}");
        assert_eq!(ct, "application/problem+json");
        let got = fields(&v);
        for f in &want {
            assert!(
                got.contains(&f.to_string()),
                "{service} {path}: {f} not named in {v}"
            );
        }
    }

    for service in xf_e2e::SERVICES {
        let base = |p: &str| ctx.svc(service).url(p);
        // An unknown route.
        let (s, ct, v) = send("GET", &base("/v1/no-such-thing"), &t, None, vec![]).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::NOT_FOUND, "application/problem+json"),
            "{service}: {v}"
        );
        // Health answers HEAD too.
        let r = xf_testkit::http()
            .head(base("/health/livez"))
            .send()
            .await
            .expect("head");
        assert_eq!(r.status(), StatusCode::OK, "{service} HEAD livez");
    }

    // Broken JSON, the wrong content type, a body too large, a bad path value.
    let url = ctx.svc("intake").url("/v1/cases");
    let (s, ct, _) = send("POST", &url, &t, json_ct, b"{\"channel\":".to_vec()).await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::BAD_REQUEST, "application/problem+json")
    );
    let (s, ct, _) = send("POST", &url, &t, Some("text/plain"), b"{}".to_vec()).await;
    assert_eq!(
        (s, ct.as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/problem+json"
        )
    );
    let big = serde_json::to_vec(&json!({"summary": "长".repeat(200_000)})).expect("json");
    let (s, ct, _) = send("POST", &url, &t, json_ct, big).await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "application/problem+json")
    );
    let (s, ct, v) = send(
        "GET",
        &ctx.svc("supervision").url("/v1/cases/not-a-uuid/deadlines"),
        &t,
        None,
        vec![],
    )
    .await;
    assert!(s.is_client_error(), "{v}");
    assert_eq!(ct, "application/problem+json");
    let (s, ct, v) = send(
        "GET",
        &ctx.svc("routing").url("/v1/worklist?limit=many"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "application/problem+json"),
        "{v}"
    );
    // A NUL character, which Postgres cannot store, in a query value or a JSON string:
    // 422 naming the field, nothing registered.
    let (s, _, v) = send(
        "GET",
        &ctx.svc("supervision").url("/v1/cards?unit_id=a%00b"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["unit_id".to_owned()]),
        "{v}"
    );
    let mut body = xf_e2e::sample_case("phone", "330122002200", "land", "x", 1);
    body["summary"] = json!("村道\u{0}塌方");
    let (s, _, v) = send(
        "POST",
        &url,
        &t,
        json_ct,
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["summary".to_owned()]),
        "{v}"
    );
    ctx.cleanup().await;
}

/// Paths the manual names answer as it says: the implicit letters-and-visits office of
/// a division is a unit like the others, and the monitor takes plain dates.
#[tokio::test]
async fn documented_paths_answer_as_documented() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let t = ctx.token(&[roles::SUPERVISOR, roles::ADMIN], None, "330122");
    let (s, ct, v) = send(
        "GET",
        &ctx.svc("routing").url("/v1/units/330122002-xfb"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ct} {v}");
    assert_eq!(v["unit"]["kind"], "xfb", "{v}");
    assert_eq!(v["unit"]["jurisdiction_code"], "330122002", "{v}");
    assert_eq!(v["unit"]["implicit"], true, "{v}");
    let (s, _, _) = send(
        "GET",
        &ctx.svc("routing").url("/v1/units/999999-xfb"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no such division");
    let monitor = |q: &str| ctx.svc("supervision").url(&format!("/v1/monitor?{q}"));
    let (s, _, v) = send(
        "GET",
        &monitor("from=2026-01-01&to=2026-01-31"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, v) = send(
        "GET",
        &monitor("from=2026-02-01&to=2026-01-31"),
        &t,
        None,
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "from after to: {v}");
    ctx.cleanup().await;
}
