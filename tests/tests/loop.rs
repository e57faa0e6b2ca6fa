//! A case's whole life on the real stack: register → dispatch → accept → reply → close
//! → follow-up → satisfaction, a repeat linked to it, a review with its reason and
//! outcome, and a case that escalates — with the petitioner's view checked at each step.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::{Ctx, call, eventually};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";
const WAIT: Duration = Duration::from_secs(60);

/// The citizen's view once `pred` holds of it.
async fn view_when(public: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    // The citizen's endpoints allow about one request a second per address.
    for _ in 0..90 {
        let (s, v) = call("GET", public, "", None).await;
        if s == StatusCode::OK && pred(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    panic!("the citizen's view never showed {what}: {last:#}");
}

/// Routing's view of a case once `pred` holds of it.
async fn routing_when(
    ctx: &Ctx,
    token: &str,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let url = ctx.svc("routing").url(&format!("/v1/cases/{id}/routing"));
    eventually(what, WAIT, || async {
        let (s, v) = call("GET", &url, token, None).await;
        (s == StatusCode::OK && pred(&v)).then_some(v)
    })
    .await
}

async fn register(ctx: &Ctx, token: &str, body: Value) -> (String, String, String, Value) {
    let (s, b) = call(
        "POST",
        &ctx.svc("intake").url("/v1/cases"),
        token,
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b:#}");
    let public = ctx.svc("intake").url(&format!(
        "/v1/public/cases/{}?code={}",
        b["registration_no"].as_str().expect("no"),
        b["query_code"].as_str().expect("code")
    ));
    (
        b["case_id"].as_str().expect("id").to_owned(),
        b["registration_no"].as_str().expect("no").to_owned(),
        public,
        b,
    )
}

#[tokio::test]
async fn a_case_goes_round_the_whole_loop_and_the_petitioner_sees_each_step() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let reader = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    let body = xf_e2e::sample_case(
        "visit",
        VILLAGE,
        "labour_wages",
        "工地拖欠农民工工资三个月",
        41,
    );

    // The receipt's date is supervision's preview of the acceptance stage.
    let (id, no, public, receipt) = register(&ctx, &registrar, body.clone()).await;
    let d = &receipt["acceptance_deadline"];
    assert_eq!(d["policy_id"], "statutory", "{receipt:#}");
    assert_eq!(d["days"], 15);
    assert_eq!(d["counting"], "calendar_days");
    let due: chrono::DateTime<chrono::Utc> = d["due_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("due_at");
    let message = receipt["message"].as_str().expect("message");
    assert!(
        message.contains(&xf_intake::peers::date_zh(due)) && !message.contains("15日内"),
        "{message}"
    );
    let v = view_when(&public, "the registration", |v| v["status"].is_string()).await;
    assert_eq!(v["deadline"]["stage"], "acceptance");
    assert_eq!(v["deadline"]["policy_id"], "statutory");
    assert!(v["acceptance"].is_null() && v["reply"].is_null(), "{v:#}");
    // 首接首办 (R9): the office that first received it, shown to the petitioner and in
    // the register with the receiving user.
    assert_eq!(v["first_receiver_office"], COUNTY);
    let (s, entry) = call(
        "GET",
        &ctx.svc("intake").url(&format!(
            "/v1/cases/{id}?reason=%E6%A0%B8%E5%AF%B9%E9%A6%96%E6%8E%A5"
        )),
        &registrar,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{entry:#}");
    assert_eq!(entry["first_receiver"]["user"], "test-user");
    assert_eq!(entry["first_receiver"]["office_code"], COUNTY);

    // Dispatch: the handling unit and the acceptance clock.
    let routed = routing_when(&ctx, &reader, &id, "dispatched", |v| {
        v["status"] == "dispatched"
    })
    .await;
    let unit = routed["unit_id"].as_str().expect("unit").to_owned();
    let v = view_when(&public, "the dispatch", |v| v["status"] == "dispatched").await;
    assert_eq!(v["handled_by"], routed["unit_name"]);
    assert_eq!(v["acceptance"]["accepted"], Value::Null);

    // Accept: the handling clock's date.
    let handler = ctx.token(&[roles::HANDLER], Some(&unit), COUNTY);
    let case = ctx.svc("routing").url(&format!("/v1/cases/{id}"));
    let (s, b) = call("POST", &format!("{case}/accept"), &handler, None).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let v = view_when(&public, "the acceptance and the handling date", |v| {
        v["status"] == "accepted" && v["deadline"]["stage"] == "handling"
    })
    .await;
    assert_eq!(v["acceptance"]["accepted"], true);
    assert_eq!(v["deadline"]["policy_id"], "statutory");

    // Reply: the petitioner reads the text itself.
    let text = "经核实，拖欠的工资已于本月全部结清。";
    let (s, b) = call(
        "POST",
        &format!("{case}/reply"),
        &handler,
        Some(json!({"outcome": "support", "text": text})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let v = view_when(&public, "the reply", |v| v["reply"]["text"] == text).await;
    assert_eq!(v["status"], "replied");
    assert_eq!(v["reply"]["outcome"], "support");

    // Close, then the follow-up visit (回访).
    let (s, b) = call("POST", &format!("{case}/close"), &handler, None).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let scheduler = ctx.token(&[roles::SCHEDULER], None, COUNTY);
    let visits = eventually("a follow-up visit was booked", WAIT, || async {
        let (s, v) = call(
            "GET",
            &ctx.svc("scheduling")
                .url(&format!("/v1/cases/{id}/follow-ups")),
            &scheduler,
            None,
        )
        .await;
        (s == StatusCode::OK && v["follow_ups"][0].is_object()).then_some(v)
    })
    .await;
    let visit = visits["follow_ups"][0]["visit_id"]
        .as_str()
        .expect("visit")
        .to_owned();
    let v = view_when(&public, "the booked follow-up", |v| {
        v["status"] == "closed" && v["follow_up"]["scheduled_at"].is_string()
    })
    .await;
    assert!(v["follow_up"]["completed_at"].is_null());
    let fu = ctx
        .svc("scheduling")
        .url(&format!("/v1/follow-ups/{visit}"));
    let (s, b) = call(
        "POST",
        &format!("{fu}/assign"),
        &scheduler,
        Some(json!({"assignee": "test-user"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let (s, b) = call(
        "POST",
        &format!("{fu}/complete"),
        &scheduler,
        Some(json!({"reached": true, "satisfaction": "satisfied", "rebound_risk": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let v = view_when(&public, "the completed follow-up", |v| {
        v["follow_up"]["completed_at"].is_string()
    })
    .await;
    assert_eq!(v["follow_up"]["reached"], true);
    assert_eq!(v["follow_up"]["satisfaction"], "satisfied");

    // The petitioner's own rating, once.
    let code = receipt["query_code"].as_str().expect("code");
    let rate = ctx
        .svc("intake")
        .url(&format!("/v1/public/cases/{no}/satisfaction"));
    let (s, b) = call("POST", &rate, "", Some(json!({"code": code, "score": 4}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b:#}");
    let (s, _) = call("POST", &rate, "", Some(json!({"code": code, "score": 5}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let v = view_when(&public, "the rating", |v| v["satisfaction"] == 4).await;
    assert_eq!(v["status"], "closed");
    // What the petitioner was told along the way (no gateway here: shown, not sent).
    let told: Vec<&str> = v["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(told, ["accepted", "replied", "follow_up"], "{v:#}");

    // The same petitioner comes back on the same matter: linked to the earlier case.
    let (_, _, repeat_view, _) = register(&ctx, &registrar, body.clone()).await;
    let r = view_when(&repeat_view, "the link to the earlier case", |v| {
        v["status"] == "linked"
    })
    .await;
    assert_eq!(r["linked_case"]["registration_no"], no.as_str());
    // Back on the same matter inside the review window: the reply did not settle it —
    // a perfunctory-handling flag against the unit that replied (R17).
    let flags = eventually("the perfunctory-handling flag", WAIT, || async {
        let (s, v) = call(
            "GET",
            &ctx.svc("supervision").url("/v1/accountability/perfunctory"),
            &reader,
            None,
        )
        .await;
        (s == StatusCode::OK && v["items"][0].is_object()).then_some(v)
    })
    .await;
    assert_eq!(flags["items"][0]["original_case_id"], id.as_str());
    assert_eq!(flags["items"][0]["unit_id"], unit.as_str());
    // Filed again at the county office for a village matter: over the tier (越级).
    assert_eq!(flags["items"][0]["followed_by"], "skip_level");

    // A review (复查): the reason kept, the next tier up answers, the outcome shown.
    let reason = "工资数额计算有误，仍少发一个月";
    let (s, b) = call(
        "POST",
        &ctx.svc("intake")
            .url(&format!("/v1/public/cases/{no}/review")),
        "",
        Some(json!({"code": code, "kind": "review", "reason": reason})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b:#}");
    let v = view_when(&public, "the review request", |v| {
        v["reviews"][0]["reason"] == reason
    })
    .await;
    assert!(v["reviews"][0]["outcome"].is_null());
    let up = routing_when(&ctx, &reader, &id, "the review went a tier up", |v| {
        v["status"] == "dispatched" && v["review_level"] == 1
    })
    .await;
    assert_eq!(up["jurisdiction_code"], "330122002");
    let reviewer = ctx.token(
        &[roles::HANDLER],
        Some(up["unit_id"].as_str().expect("unit")),
        COUNTY,
    );
    let (s, b) = call("POST", &format!("{case}/accept"), &reviewer, None).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let (s, b) = call(
        "POST",
        &format!("{case}/reply"),
        &reviewer,
        Some(json!({"outcome": "explain", "text": "经复查，工资已按合同足额发放，少发部分系个税代扣。"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let v = view_when(&public, "the review's outcome", |v| {
        v["reviews"][0]["outcome"] == "explain"
    })
    .await;
    assert_eq!(v["reviews"][0]["kind"], "review");
    assert_eq!(v["reply"]["outcome"], "explain");
    assert!(
        v["reply"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("经复查")),
        "{v:#}"
    );

    // An anonymous letter (R3): handled, no reply clock, nothing delivered, no notices.
    let mut anon = xf_e2e::sample_case(
        "letter",
        VILLAGE,
        "environment",
        "河道有人夜间倾倒建筑垃圾",
        43,
    );
    anon["anonymous"] = json!(true);
    anon["petitioners"] = json!([]);
    let (anon_id, _, anon_view, _) = register(&ctx, &registrar, anon).await;
    let routed = routing_when(
        &ctx,
        &reader,
        &anon_id,
        "the anonymous letter dispatched",
        |v| v["status"] == "dispatched",
    )
    .await;
    let h = ctx.token(
        &[roles::HANDLER],
        Some(routed["unit_id"].as_str().expect("unit")),
        COUNTY,
    );
    let acase = ctx.svc("routing").url(&format!("/v1/cases/{anon_id}"));
    let (s, b) = call("POST", &format!("{acase}/accept"), &h, None).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let reply = json!({"outcome": "support", "text": "已责成清理并加强巡查。"});
    let (s, b) = call("POST", &format!("{acase}/reply"), &h, Some(reply.clone())).await;
    assert_eq!(
        (s, b["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("deliver")),
        "{b:#}"
    );
    let mut undelivered = reply;
    undelivered["deliver"] = json!(false);
    let (s, b) = call("POST", &format!("{acase}/reply"), &h, Some(undelivered)).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    let v = view_when(&anon_view, "the anonymous letter's result", |v| {
        v["status"] == "replied"
    })
    .await;
    assert_eq!(v["notices"], json!([]), "{v:#}");
    let clocks = eventually("the anonymous letter's clocks", WAIT, || async {
        let (s, v) = call(
            "GET",
            &ctx.svc("supervision")
                .url(&format!("/v1/cases/{anon_id}/deadlines")),
            &reader,
            None,
        )
        .await;
        (s == StatusCode::OK && v["clocks"][0]["state"] == "stopped").then_some(v)
    })
    .await;
    assert!(
        clocks["clocks"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["stage"] == "handling")),
        "only the handling clock runs: {clocks:#}"
    );

    // Another case nobody decides on: overdue, it escalates, and the petitioner sees it.
    let (_, _, late_view, _) = register(
        &ctx,
        &registrar,
        xf_e2e::sample_case("visit", VILLAGE, "transport", "村道塌方无人修", 42),
    )
    .await;
    view_when(&late_view, "the dispatch", |v| v["status"] == "dispatched").await;
    ctx.svc("supervision")
        .clock
        .advance(chrono::Duration::days(20));
    let v = view_when(&late_view, "the escalation", |v| {
        v["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["kind"] == "escalated"))
    })
    .await;
    let first_up = v["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "escalated"))
        .expect("escalated");
    assert_eq!(first_up["detail"]["to_jurisdiction_code"], "330122002");
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_deadline_preview_answers_from_policy_and_names_bad_fields() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_supervision::Ext>(&xf_supervision::binary(), &[])
        .expect("settings");
    let app = xf_supervision::build(s).await.expect("build");
    ctx.spawn("supervision", app);
    let url = |q: &str| {
        ctx.svc("supervision")
            .url(&format!("/v1/deadlines/preview?{q}"))
    };
    // Public: no token. 2026-03-02 (Monday) + 15 calendar days = 17 March, end of day.
    let (s, v) = call(
        "GET",
        &url("jurisdiction=330122002200&stage=acceptance&start=2026-03-02T09:00:00%2B08:00"),
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v:#}");
    assert_eq!(v["policy_id"], "statutory");
    assert_eq!(v["days"], 15);
    assert_eq!(v["counting"], "calendar_days");
    assert_eq!(v["due_at"], "2026-03-17T16:00:00Z");
    // A county's own handling policy wins below it.
    let admin = ctx.token(&[roles::ADMIN], None, COUNTY);
    let (s, b) = call(
        "PUT",
        &ctx.svc("supervision").url("/v1/policies/tonglu-handling"),
        &admin,
        Some(
            json!({"name": "桐庐县办理时限", "jurisdiction_code": COUNTY,
            "effective_from": "2026-01-01T00:00:00Z",
            "stages": {"handling": {"days": 30, "counting": "working_days"}}}),
        ),
    )
    .await;
    assert!(s.is_success(), "{b:#}");
    let (s, v) = call(
        "GET",
        &url("jurisdiction=330122002&stage=handling&start=2026-03-02T09:00:00%2B08:00"),
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v:#}");
    assert_eq!(v["policy_id"], "tonglu-handling");
    assert_eq!(v["days"], 30);
    assert_eq!(v["counting"], "working_days");
    // Each bad field named, in one answer.
    let (s, v) = call(
        "GET",
        &url("jurisdiction=33012&stage=lunch&start=yesterday"),
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v:#}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["jurisdiction", "stage", "start"]);
    let (s, v) = call("GET", &url("stage=acceptance"), "", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v:#}");
    ctx.cleanup().await;
}

/// The 3-month progress notice (R15, 篇三) and the petitioner's notices delivered: a
/// case still being handled 90 days after acceptance gets the notice from supervision's
/// timer, and intake — the one service holding the phone — sends each notice through
/// the signed webhook to the SMS gateway, once, with the read of the phone audited. An
/// anonymous item (R3) gets no progress clock and nothing is sent.
#[tokio::test]
async fn the_three_month_notice_and_every_notice_reach_the_petitioners_phone() {
    let mut ctx = Ctx::new().await.expect("context");
    let secret = "a-gateway-secret-for-the-e2e-0001";
    let secret_file = std::env::temp_dir().join(format!("xinfang-{}-gateway.secret", ctx.id));
    std::fs::write(&secret_file, secret).expect("secret");
    let secret_path = secret_file.to_string_lossy().into_owned();
    let (url, got) = xf_testkit::endpoint::accepting().await;
    xf_e2e::start_all_with_intake(
        &mut ctx,
        &[
            ("webhook.url", url.as_str()),
            ("webhook.secret_file", secret_path.as_str()),
            ("webhook.interval_ms", "50"),
            ("webhook.base_backoff_ms", "50"),
        ],
    )
    .await
    .expect("stack starts");
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let reader = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    // The county times the notice (the seed's local rule, a shipped preset).
    let admin = ctx.token(&[roles::ADMIN], None, COUNTY);
    let (s, b) = call(
        "PUT",
        &ctx.svc("supervision").url(
            "/v1/policies/county-progress-notice?reason=%E5%8E%BF%E5%AE%9A%E5%91%8A%E7%9F%A5%E6%97%B6%E9%99%90",
        ),
        &admin,
        Some(json!({"name": "三个月告知", "jurisdiction_code": COUNTY,
                    "preset": "progress-notice-3m"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b:#}");
    let body = xf_e2e::sample_case("phone", VILLAGE, "labour_wages", "工资拖欠未结", 7);
    let phone = body["petitioners"][0]["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let (id, no, public, _) = register(&ctx, &registrar, body).await;
    let mut anon = xf_e2e::sample_case("phone", VILLAGE, "labour_wages", "匿名反映工资拖欠", 8);
    anon["anonymous"] = json!(true);
    anon["petitioners"] = json!([]);
    let (anon_id, _, _, _) = register(&ctx, &registrar, anon).await;

    let mut units = Vec::new();
    for case in [&id, &anon_id] {
        let routed = routing_when(&ctx, &reader, case, "dispatched", |v| {
            v["status"] == "dispatched"
        })
        .await;
        let unit = routed["unit_id"].as_str().expect("unit").to_owned();
        let handler = ctx.token(&[roles::HANDLER], Some(&unit), COUNTY);
        let (s, b) = call(
            "POST",
            &ctx.svc("routing").url(&format!("/v1/cases/{case}/accept")),
            &handler,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b:#}");
        units.push(unit);
    }
    // The progress clock runs for the named petitioner only.
    let stages = |v: &Value| -> Vec<String> {
        v["clocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["stage"].as_str().map(str::to_owned))
            .collect()
    };
    let clocks = eventually("the progress clock", WAIT, || async {
        let (s, v) = call(
            "GET",
            &ctx.svc("supervision")
                .url(&format!("/v1/cases/{id}/deadlines")),
            &reader,
            None,
        )
        .await;
        (s == StatusCode::OK && stages(&v).iter().any(|s| s == "progress_notice")).then_some(v)
    })
    .await;
    let progress = clocks["clocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["stage"] == "progress_notice")
        .expect("clock");
    assert_eq!(progress["period_days"], 90, "{progress:#}");
    let (_, v) = call(
        "GET",
        &ctx.svc("supervision")
            .url(&format!("/v1/cases/{anon_id}/deadlines")),
        &reader,
        None,
    )
    .await;
    assert!(
        !stages(&v).iter().any(|s| s == "progress_notice"),
        "no progress clock for an anonymous item: {v:#}"
    );

    // Three months on (93 days: a period ending on a rest day runs to the next working
    // day), not concluded: the petitioner is told how it stands.
    ctx.svc("supervision")
        .clock
        .advance(chrono::Duration::days(93));
    view_when(&public, "the progress notice", |v| {
        v["notices"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["kind"] == "progress_notice"))
    })
    .await;

    // Each notice went to the gateway once, signed, addressed to the phone.
    let sent = eventually("accepted and progress notices sent", WAIT, || async {
        let g = got.lock().expect("lock").clone();
        let kinds: Vec<String> = g
            .iter()
            .filter_map(|r| r.json()["kind"].as_str().map(str::to_owned))
            .collect();
        (kinds.iter().any(|k| k == "accepted") && kinds.iter().any(|k| k == "progress_notice"))
            .then_some(g)
    })
    .await;
    let mut kinds = Vec::new();
    for r in &sent {
        let ts: i64 = r.headers["x-xinfang-timestamp"].parse().expect("ts");
        assert!(
            xf_notify::verify(
                secret.as_bytes(),
                ts,
                &r.body,
                &r.headers["x-xinfang-signature"]
            ),
            "signed"
        );
        let b = r.json();
        assert_eq!(b["to"]["phone"], phone.as_str(), "{b:#}");
        assert_eq!(b["registration_no"], no.as_str());
        assert!(b["text"].as_str().is_some_and(|t| t.contains(&no)), "{b:#}");
        kinds.push(b["kind"].as_str().unwrap_or_default().to_owned());
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["accepted", "progress_notice"],
        "nothing for the anonymous item"
    );
    let keys: std::collections::HashSet<&String> =
        sent.iter().map(|r| &r.headers["idempotency-key"]).collect();
    assert_eq!(keys.len(), sent.len(), "each notice sent once");
    // Reading the phone for a notice is in the read audit, with its purpose.
    let (s, audit) = call(
        "GET",
        &ctx.svc("intake")
            .url(&format!("/v1/vault/audit?case_id={id}")),
        &reader,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{audit:#}");
    let purposes: Vec<&str> = audit["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(
        purposes
            .iter()
            .filter(|p| **p == "告知信访人办理情况")
            .count(),
        2,
        "one read of the phone per notice sent: {audit:#}"
    );
    let _ = std::fs::remove_file(&secret_file);
    ctx.cleanup().await;
}
