//! routing's dispatch against the real Postgres and broker.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;
use xf_events::v1::{CaseRegistered, Urgency};
use xf_events::{Payload, Tier};
use xf_testkit::{Ctx, eventually, produce_raw, read_topic};

fn registered(case: Uuid, code: &str, f: impl FnOnce(&mut CaseRegistered)) -> xf_events::Envelope {
    let mut r = CaseRegistered {
        registration_no: "330122-2026-000001".into(),
        category: "land".into(),
        matter_jurisdiction_code: code.into(),
        office_jurisdiction_code: "330122".into(),
        ..Default::default()
    };
    f(&mut r);
    xf_events::envelope(
        case,
        "intake",
        Tier::Village,
        code,
        Utc::now(),
        Payload::CaseRegistered(r),
    )
}

#[tokio::test]
async fn urgent_collective_matters_raise_an_alert_and_closed_ones_are_not_dispatched() {
    let mut ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
        .expect("settings");
    let app = xf_routing::build(s).await.expect("builds");
    ctx.spawn("routing", app);

    let urgent = Uuid::now_v7();
    let spot = Uuid::now_v7();
    let plain = Uuid::now_v7();
    let events = [
        registered(urgent, "330122002200", |r| {
            r.collective = true;
            r.headcount = 40;
            r.urgency = Urgency::Urgent as i32;
        }),
        registered(spot, "330122002201", |r| r.answered_on_spot = true),
        registered(plain, "330122003", |_| {}),
    ];
    for e in &events {
        produce_raw(
            &ctx.brokers,
            &ctx.topic,
            &e.case_id,
            &xf_events::encode(e),
            &[],
        )
        .await;
    }
    let pool = ctx.svc("routing").pool.clone();
    eventually(
        "both open cases dispatched",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
                .fetch_one(&pool)
                .await
                .ok()?;
            (n == 2).then_some(())
        },
    )
    .await;
    let alerts: Vec<(Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT case_id, detail FROM case_history WHERE action = 'alert'")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, urgent);
    assert_eq!(alerts[0].1["reason"], "collective and urgent");
    let spot_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM cases WHERE id = $1")
        .bind(spot)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        spot_rows, 0,
        "answered on the spot: closed at intake, not dispatched"
    );

    // On the topic: 3 registrations, 2 dispatches, 1 alert, and for both dispatched
    // cases (filed at the county office, competent below it) a skip-level notice.
    let records = read_topic(&ctx.brokers, &ctx.topic, 8, Duration::from_secs(30)).await;
    let mut kinds: Vec<&str> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .map(|e| e.type_name())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "CaseDispatched",
            "CaseDispatched",
            "CaseEscalated",
            "CaseEscalated",
            "CaseRegistered",
            "CaseRegistered",
            "CaseRegistered",
            "UrgentAlertRaised"
        ]
    );
    ctx.cleanup().await;
}
