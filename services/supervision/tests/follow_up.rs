//! Scheduling's overdue follow-up visit is a breach like any other: a breached
//! `follow_up` clock and one `DeadlineBreached`, on the real Postgres and broker.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{CaseDispatched, FollowUpOverdue, Stage};
use xf_testkit::{Ctx, eventually, produce_raw, read_topic};

const VILLAGE: &str = "330122002200";

async fn produce(ctx: &Ctx, case: Uuid, producer: &str, p: Payload) {
    let env = xf_events::envelope(
        case,
        producer,
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

#[tokio::test]
async fn an_overdue_follow_up_is_recorded_as_a_breach_once() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_supervision::Ext>(&xf_supervision::binary(), &[])
        .expect("settings");
    let app = xf_supervision::build(s).await.expect("builds");
    ctx.spawn("supervision", app);
    let token = ctx.token(&["supervisor"], None, "330122");
    let case = Uuid::now_v7();
    produce(
        &ctx,
        case,
        "routing",
        Payload::CaseDispatched(CaseDispatched {
            unit_id: "v-committee".into(),
            tier: xf_events::tier_of_code(VILLAGE) as i32,
            jurisdiction_code: VILLAGE.into(),
            ..Default::default()
        }),
    )
    .await;
    let due = Utc::now() - chrono::Duration::hours(2);
    let overdue = || {
        Payload::FollowUpOverdue(FollowUpOverdue {
            visit_id: Uuid::now_v7().to_string(),
            due_at: Some(xf_events::timestamp(due)),
            office_id: "330122002200-cwh".into(),
            assignee_id: String::new(),
        })
    };
    // Delivered twice (two event ids): one breach.
    produce(&ctx, case, "scheduling", overdue()).await;
    produce(&ctx, case, "scheduling", overdue()).await;
    let url = ctx
        .svc("supervision")
        .url(&format!("/v1/cases/{case}/deadlines"));
    let clock: Value = eventually("the follow-up breach", Duration::from_secs(60), || async {
        let (s, v) = xf_testkit::call("GET", &url, &token, None).await;
        (s == StatusCode::OK)
            .then(|| {
                v["clocks"]
                    .as_array()
                    .and_then(|a| a.iter().find(|c| c["stage"] == "follow_up").cloned())
            })
            .flatten()
    })
    .await;
    assert_eq!(clock["state"], "breached", "{clock}");
    assert_eq!(clock["unit_id"], "330122002200-cwh");
    eventually("both events handled", Duration::from_secs(60), || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_type = 'FollowUpOverdue'")
                .fetch_one(&ctx.svc("supervision").pool)
                .await
                .ok()?;
        (n == 2).then_some(())
    })
    .await;
    let records = read_topic(&ctx.brokers, &ctx.topic, 4, Duration::from_secs(20)).await;
    let breaches: Vec<_> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter(|e| e.case_id == case)
        .filter_map(|e| match e.payload() {
            Some(Payload::DeadlineBreached(b)) => Some(b.stage),
            _ => None,
        })
        .collect();
    assert_eq!(breaches, [Stage::FollowUp as i32]);
    ctx.cleanup().await;
}
