//! Notices: inboxes per unit and per staff user (list, unread count, mark read), the
//! accused unit never notified, and the signed webhook — retried with back-off under
//! one idempotency key, parked with its error after repeated failure, retried by hand;
//! and each kind of notice reaching those who must act: deadline warnings and breaches
//! the unit and its supervising office, a card the undertaking unit, a follow-up visit
//! the leader and the office, a rating the handling unit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{
    CaseDispatched, CaseRegistered, DeadlineBreached, DeadlineWarning, FollowUpScheduled,
    SatisfactionRecorded, Stage, SupervisionCardIssued, UrgentAlertRaised,
};
use xf_testkit::endpoint::{self, Got};
use xf_testkit::{Ctx, eventually, produce_raw};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";
const SECRET: &str = "a-webhook-secret-for-tests-0001";

/// A webhook receiver: answers 500 to the first attempt of every key, and always to
/// notices for `unit:u-dead`; 200 otherwise. Records every request.
async fn receiver() -> (String, Arc<Mutex<Vec<Got>>>) {
    endpoint::receiver(Arc::new(|got: &Got, seen: bool| {
        let dead = String::from_utf8_lossy(&got.body).contains("u-dead");
        (if dead || !seen { 500 } else { 200 }, Vec::new())
    }))
    .await
}

async fn start(ctx: &mut Ctx, extra: &[(&str, &str)]) {
    let s = ctx
        .settings::<xf_supervision::Ext>(&xf_supervision::binary(), extra)
        .expect("settings");
    let app = xf_supervision::build(s).await.expect("builds");
    ctx.spawn("supervision", app);
}

fn event(case: Uuid, p: Payload) -> xf_events::Envelope {
    xf_events::envelope(
        case,
        "routing",
        xf_events::tier_of_code(VILLAGE),
        VILLAGE,
        Utc::now(),
        p,
    )
}

async fn produce(ctx: &Ctx, case: Uuid, p: Payload) {
    produce_env(ctx, &event(case, p)).await;
}

async fn produce_env(ctx: &Ctx, env: &xf_events::Envelope) {
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &env.case_id,
        &xf_events::encode(env),
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
    start(
        &mut ctx,
        &[
            ("webhook.url", url.as_str()),
            ("webhook.secret_file", secret_path.as_str()),
            ("webhook.max_attempts", "3"),
            ("webhook.base_backoff_ms", "50"),
            ("webhook.interval_ms", "50"),
        ],
    )
    .await;

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

/// The kinds of notice in an inbox, oldest first, once it holds `n`.
async fn kinds(ctx: &Ctx, token: &str, n: usize) -> Vec<String> {
    let v = eventually("notices", Duration::from_secs(60), || async {
        let (s, v) = call(ctx, "GET", "/v1/inbox?limit=100", token).await;
        (s == StatusCode::OK && v["items"].as_array().map(Vec::len) >= Some(n)).then_some(v)
    })
    .await;
    let mut k: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["kind"].as_str().map(str::to_owned))
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn each_event_reaches_the_unit_its_office_the_leader_and_no_one_else() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx, &[]).await;

    // A village case handled by the village's unit `v-unit`; its supervising office is
    // the village's letters-and-visits office.
    let case = Uuid::now_v7();
    let office = format!("{VILLAGE}-xfb");
    produce(
        &ctx,
        case,
        Payload::CaseDispatched(CaseDispatched {
            unit_id: "v-unit".into(),
            tier: xf_events::tier_of_code(VILLAGE) as i32,
            jurisdiction_code: VILLAGE.into(),
            ..Default::default()
        }),
    )
    .await;
    let unit = ctx.token(&["handler"], Some("v-unit"), COUNTY);
    let sup = ctx.token(&["supervisor"], Some(&office), COUNTY);
    eventually("the acceptance clock", Duration::from_secs(60), || async {
        let (s, v) = call(&ctx, "GET", &format!("/v1/cases/{case}/deadlines"), &sup).await;
        (s == StatusCode::OK && v["clocks"][0]["unit_id"] == "v-unit").then_some(())
    })
    .await;
    let due = Some(xf_events::timestamp(Utc::now()));
    produce(
        &ctx,
        case,
        Payload::DeadlineWarning(DeadlineWarning {
            stage: Stage::Acceptance as i32,
            due_at: due,
            days_left: 2,
        }),
    )
    .await;
    // A breach names no unit: the unit of the stage's clock is told.
    produce(
        &ctx,
        case,
        Payload::DeadlineBreached(DeadlineBreached {
            stage: Stage::Acceptance as i32,
            due_at: due,
            unit_id: String::new(),
        }),
    )
    .await;
    produce(
        &ctx,
        case,
        Payload::SupervisionCardIssued(SupervisionCardIssued {
            card_id: "card-1".into(),
            unit_id: "v-unit".into(),
            due_at: due,
        }),
    )
    .await;
    produce(
        &ctx,
        case,
        Payload::FollowUpScheduled(FollowUpScheduled {
            visit_id: "visit-1".into(),
            scheduled_at: due,
            leader_id: "leader-9".into(),
            office_id: office.clone(),
            period_hours: 168,
        }),
    )
    .await;
    // The rating is delivered twice (at least once on the bus): one notice.
    let rating = event(
        case,
        Payload::SatisfactionRecorded(SatisfactionRecorded { score: 2 }),
    );
    for _ in 0..2 {
        produce_env(&ctx, &rating).await;
    }

    assert_eq!(
        kinds(&ctx, &unit, 4).await,
        [
            "card_issued",
            "deadline_breached",
            "deadline_warning",
            "satisfaction_recorded"
        ],
        "the handling unit: warning, breach, card, rating"
    );
    assert_eq!(
        kinds(&ctx, &sup, 3).await,
        [
            "deadline_breached",
            "deadline_warning",
            "follow_up_scheduled"
        ],
        "its supervising office: warning, breach and the follow-up it makes"
    );
    let leader = ctx
        .signer()
        .sign(&xf_auth::claims("leader-9", &["leader"], None, COUNTY, 600))
        .expect("token");
    assert_eq!(kinds(&ctx, &leader, 1).await, ["follow_up_scheduled"]);
    let (_, v) = call(&ctx, "GET", "/v1/inbox?limit=100", &leader).await;
    assert_eq!(v["items"][0]["recipient_kind"], "user");
    assert_eq!(v["items"][0]["detail"]["visit_id"], "visit-1", "{v}");
    let (_, v) = call(&ctx, "GET", "/v1/inbox?limit=100", &unit).await;
    let warning = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["kind"] == "deadline_warning")
        .cloned()
        .expect("warning");
    assert_eq!(warning["detail"]["stage"], "acceptance", "{warning}");
    assert_eq!(warning["detail"]["days_left"], 2);
    // Nobody else hears of it; once a later notice is in, the rating is there once.
    let other = ctx.token(&["handler"], Some("v-other"), COUNTY);
    let (_, v) = call(&ctx, "GET", "/v1/inbox", &other).await;
    assert_eq!(v["unread"], 0, "{v}");
    produce(&ctx, Uuid::now_v7(), alert(&["v-unit"], &[])).await;
    let k = kinds(&ctx, &unit, 5).await;
    assert_eq!(
        k.iter().filter(|k| *k == "satisfaction_recorded").count(),
        1,
        "{k:?}"
    );
    ctx.cleanup().await;
}
