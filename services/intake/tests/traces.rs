//! What the intake binary exports over OTLP: spans named by route template, only the
//! attributes the span policy allows, and none of a petitioner's code, reason, name,
//! phone, ID number, summary or registration number.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use xf_auth::roles;
use xf_testkit::otlp::Collector;
use xf_testkit::{Ctx, eventually};

#[tokio::test]
async fn exported_spans_carry_route_templates_and_nothing_personal() {
    let ctx = Ctx::new().await.expect("context");
    let collector = Collector::start().await.expect("collector");
    let endpoint = collector.endpoint();
    let intake = ctx
        .start_binary(
            "intake",
            &[
                ("telemetry.otlp_endpoint", endpoint.as_str()),
                ("telemetry.log_level", "debug"),
            ],
        )
        .await;
    let base = intake.base_url.clone();
    let http = xf_testkit::http();

    let token = ctx.token(&[roles::REGISTRAR, roles::VAULT_READER], None, "330122");
    let (name, phone, id_no) = ("欧阳明月", "13912345678", "11010519491231002X");
    let summary = "桐君街道某路段井盖缺失多日无人处理";
    let r = http
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({
            "channel": "online", "jurisdiction_code": "330122003", "category": "transport",
            "summary": summary,
            "petitioners": [{"name": name, "phone": phone, "id_number": id_no}]
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: serde_json::Value = r.json().await.expect("json");
    let id = receipt["case_id"].as_str().expect("id").to_owned();
    let no = receipt["registration_no"].as_str().expect("no").to_owned();
    let code = receipt["query_code"].as_str().expect("code").to_owned();

    // The citizen's status lookup, with the query code in the query string.
    let r = http
        .get(format!("{base}/v1/public/cases/{no}?code={code}"))
        .send()
        .await
        .expect("status");
    assert_eq!(r.status(), StatusCode::OK);
    // A vault read and a register read, each with a reason in the query string.
    let vault_reason = "核实来访人身份以便电话回复";
    let r = http
        .get(format!("{base}/v1/cases/{id}/petitioners"))
        .query(&[("reason", vault_reason)])
        .bearer_auth(&token)
        .send()
        .await
        .expect("vault read");
    assert_eq!(r.status(), StatusCode::OK);
    let read_reason = "登记复核前调阅原始登记";
    let r = http
        .get(format!("{base}/v1/cases/{id}"))
        .query(&[("reason", read_reason)])
        .bearer_auth(&token)
        .send()
        .await
        .expect("register read");
    assert_eq!(r.status(), StatusCode::OK);
    // A refused lookup (wrong code) too.
    let r = http
        .get(format!("{base}/v1/public/cases/{no}?code=WRONGCODE"))
        .send()
        .await
        .expect("status");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Stop the binary: the batch exporter flushes on shutdown.
    let log = intake.stop().await;
    let spans = eventually("spans exported", Duration::from_secs(20), || async {
        let s = collector.spans();
        s.iter()
            .any(|s| s.attribute("http.route") == Some("/v1/cases/{id}"))
            .then_some(s)
    })
    .await;

    let routes: Vec<&str> = spans
        .iter()
        .filter_map(|s| s.attribute("http.route"))
        .collect();
    for want in [
        "/v1/cases",
        "/v1/public/cases/{registration_no}",
        "/v1/cases/{id}/petitioners",
        "/v1/cases/{id}",
    ] {
        assert!(routes.contains(&want), "no span for {want}: {routes:?}");
    }
    let lookup = spans
        .iter()
        .find(|s| s.attribute("http.route") == Some("/v1/public/cases/{registration_no}"))
        .expect("lookup span");
    assert_eq!(lookup.name, "GET /v1/public/cases/{registration_no}");
    assert_eq!(lookup.service, "intake");
    let register = spans
        .iter()
        .find(|s| s.name == "register")
        .expect("the register span");
    assert_eq!(register.attribute("xf.case_id"), Some(id.as_str()));
    assert_eq!(register.attribute("xf.jurisdiction"), Some("330122003"));
    for s in &spans {
        for (k, _) in s
            .attributes
            .iter()
            .chain(s.events.iter().flat_map(|(_, a)| a.iter()))
        {
            assert!(
                xf_telemetry::policy::allowed(k),
                "{k} is not on the allow-list: {s:?}"
            );
        }
        let text = s.text();
        for secret in [
            code.as_str(),
            "WRONGCODE",
            vault_reason,
            read_reason,
            name,
            phone,
            id_no,
            summary,
            no.as_str(),
            "?",
        ] {
            assert!(!text.contains(secret), "a span carries {secret}: {text}");
        }
    }
    // And the log lines hold none of it either.
    assert!(log.contains("\"level\":\"DEBUG\""), "debug logging was on");
    for secret in [
        code.as_str(),
        vault_reason,
        read_reason,
        name,
        phone,
        id_no,
        summary,
    ] {
        assert!(!log.contains(secret), "the log holds {secret}");
    }
    ctx.cleanup().await;
}
