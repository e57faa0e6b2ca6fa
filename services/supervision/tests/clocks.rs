//! Deadline policies, clocks, pauses, extensions and the durable timers, against the
//! real Postgres, broker, JWTs and HTTP.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{CaseAccepted, CaseDispatched, DeadlineExtended, Stage};
use xf_supervision::deadline::{Counting, OfficialCalendar, due};
use xf_testkit::{Ctx, eventually, produce_raw, read_topic};

const COUNTY: &str = "330122";
const TOWN: &str = "330122002";
const VILLAGE: &str = "330122002200";

async fn start(ctx: &mut Ctx, extra: &[(&str, &str)]) {
    let s = ctx
        .settings::<xf_supervision::Ext>(&xf_supervision::binary(), extra)
        .expect("settings");
    let app = xf_supervision::build(s).await.expect("builds");
    ctx.spawn("supervision", app);
}

async fn call(
    ctx: &Ctx,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    xf_testkit::call(method, &ctx.svc("supervision").url(path), token, body).await
}

async fn produce(ctx: &Ctx, case: Uuid, code: &str, at: DateTime<Utc>, p: Payload) {
    let env = xf_events::envelope(case, "routing", xf_events::tier_of_code(code), code, at, p);
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &env.case_id,
        &xf_events::encode(&env),
        &[],
    )
    .await;
}

fn dispatched(code: &str, unit: &str) -> Payload {
    Payload::CaseDispatched(CaseDispatched {
        unit_id: unit.into(),
        tier: xf_events::tier_of_code(code) as i32,
        jurisdiction_code: code.into(),
        ..Default::default()
    })
}

async fn clocks_of(ctx: &Ctx, case: Uuid, token: &str, n: usize) -> Value {
    eventually("clocks", Duration::from_secs(60), || async {
        let (s, v) = call(
            ctx,
            "GET",
            &format!("/v1/cases/{case}/deadlines"),
            token,
            None,
        )
        .await;
        (s == StatusCode::OK && v["clocks"].as_array().map(Vec::len) >= Some(n)).then_some(v)
    })
    .await
}

/// The payloads of a case's events on the topic, in topic order.
async fn case_payloads(ctx: &Ctx, case: Uuid) -> Vec<Payload> {
    read_topic(
        &ctx.brokers,
        &ctx.topic,
        usize::MAX,
        Duration::from_secs(10),
    )
    .await
    .iter()
    .filter_map(|r| xf_events::decode(&r.payload).ok())
    .filter(|e| e.case_id == case)
    .filter_map(|e| e.payload().cloned())
    .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn policies_are_data_with_inheritance_versions_and_checked_input() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx, &[]).await;
    let admin = ctx.token(&["admin"], None, COUNTY);

    // Bad input: zero and negative periods, unknown stage and counting, bad warnings.
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/policies/bad",
        &admin,
        Some(json!({
        "name": "坏", "jurisdiction_code": COUNTY,
        "stages": {"handling": {"days": 0}, "acceptance": {"days": -3},
                   "lunch": {"days": 1}, "review": {"days": 30, "warn_days": [30]}}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut fields: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "stages.acceptance.days",
            "stages.handling.days",
            "stages.lunch",
            "stages.review.warn_days[0]"
        ]
    );
    let (s, _) = call(&ctx, "GET", "/v1/policies/bad", &admin, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing stored");

    // The county takes the 30-day preset (篇六); a township shortens acceptance.
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/policies/tl-30",
        &admin,
        Some(json!({
        "name": "桐庐30日办结", "jurisdiction_code": COUNTY, "preset": "handling-30-max-60",
        "effective_from": "2024-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/policies/jx-acc",
        &admin,
        Some(json!({
        "name": "镇10日受理", "jurisdiction_code": TOWN, "effective_from": "2024-01-01T00:00:00Z",
        "stages": {"acceptance": {"days": 10, "counting": "working_days", "warn_days": [2]}}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Overlapping another policy of the same place: refused, nothing changed.
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/policies/tl-other",
        &admin,
        Some(json!({
        "name": "重叠", "jurisdiction_code": COUNTY, "effective_from": "2025-01-01T00:00:00Z",
        "stages": {"handling": {"days": 45}}})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = call(&ctx, "GET", "/v1/policies/tl-other", &admin, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Outside the administrator's jurisdiction.
    let other = ctx.token(&["admin"], None, "330106");
    let (s, _) = call(
        &ctx,
        "PUT",
        "/v1/policies/x",
        &other,
        Some(json!({
        "name": "x", "jurisdiction_code": COUNTY, "stages": {"handling": {"days": 45}}})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (_, e) = call(
        &ctx,
        "GET",
        &format!("/v1/policies/effective?jurisdiction={VILLAGE}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(e["stages"]["acceptance"]["policy"], "jx-acc", "{e}");
    assert_eq!(
        e["stages"]["acceptance"]["rule"]["counting"],
        "working_days"
    );
    assert_eq!(e["stages"]["handling"]["policy"], "tl-30");
    assert_eq!(e["stages"]["handling"]["rule"]["days"], 30);
    assert_eq!(
        e["stages"]["review"]["policy"], "statutory",
        "the rest is inherited"
    );

    // A clock follows the policy in force; version 2 applies from its start only.
    let case = Uuid::now_v7();
    let t0 = Utc::now();
    produce(&ctx, case, VILLAGE, t0, dispatched(VILLAGE, "v-xfb")).await;
    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::CaseAccepted(CaseAccepted {
            unit_id: "v-xfb".into(),
        }),
    )
    .await;
    let v = clocks_of(&ctx, case, &admin, 2).await;
    let acc = &v["clocks"][0];
    assert_eq!(
        (
            acc["stage"].as_str(),
            acc["policy"].as_str(),
            acc["counting"].as_str()
        ),
        (Some("acceptance"), Some("jx-acc"), Some("working_days"))
    );
    let expected = due(t0, 10, Counting::WorkingDays, &OfficialCalendar);
    assert_eq!(acc["due_at"].as_str().map(at), Some(expected));
    let handling = &v["clocks"][1];
    assert_eq!(
        (
            handling["policy"].as_str(),
            handling["period_days"].as_i64()
        ),
        (Some("tl-30"), Some(30))
    );
    let (s, v2) = call(
        &ctx,
        "PUT",
        "/v1/policies/tl-30",
        &admin,
        Some(json!({
        "name": "桐庐45日办结", "jurisdiction_code": COUNTY,
        "stages": {"handling": {"days": 45, "max_extension_days": 30}}})),
    )
    .await;
    assert_eq!(
        (s, v2["version"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{v2}"
    );
    let (_, p) = call(&ctx, "GET", "/v1/policies/tl-30", &admin, None).await;
    assert!(
        p["versions"][0]["effective_to"].is_string(),
        "version 1 ended where 2 began"
    );
    let (_, again) = call(
        &ctx,
        "GET",
        &format!("/v1/cases/{case}/deadlines"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        again["clocks"][1]["policy_version"], 1,
        "a running clock keeps its version"
    );
    ctx.cleanup().await;
}

#[tokio::test]
async fn extensions_and_pauses_move_the_due_moment() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx, &[]).await;
    let sup = ctx.token(&["supervisor"], None, COUNTY);
    let case = Uuid::now_v7();
    let t0 = Utc::now();
    produce(&ctx, case, VILLAGE, t0, dispatched(VILLAGE, "v-xfb")).await;
    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::CaseAccepted(CaseAccepted {
            unit_id: "v-xfb".into(),
        }),
    )
    .await;
    let v = clocks_of(&ctx, case, &sup, 2).await;
    assert_eq!(
        v["clocks"][0]["state"], "stopped",
        "acceptance stops when accepted"
    );
    let due0 = v["clocks"][1]["due_at"].as_str().map(at).expect("due");
    assert_eq!(due0, due(t0, 60, Counting::CalendarDays, &OfficialCalendar));

    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::DeadlineExtended(DeadlineExtended {
            stage: Stage::Handling as i32,
            days: 30,
            new_due_at: None,
        }),
    )
    .await;
    let v = eventually("extended", Duration::from_secs(60), || async {
        let (_, v) = call(
            &ctx,
            "GET",
            &format!("/v1/cases/{case}/deadlines"),
            &sup,
            None,
        )
        .await;
        (v["clocks"][1]["extended_days"] == 30).then_some(v)
    })
    .await;
    assert_eq!(
        v["clocks"][1]["due_at"].as_str().map(at),
        Some(due(t0, 90, Counting::CalendarDays, &OfficialCalendar))
    );
    // A second extension is refused by the policy (one, at most 30 days).
    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::DeadlineExtended(DeadlineExtended {
            stage: Stage::Handling as i32,
            days: 10,
            new_due_at: None,
        }),
    )
    .await;

    // Pause for a hearing, then resume three days later: due moves by three days.
    let path = format!("/v1/cases/{case}/clocks/handling");
    // The handling unit itself has no right to stop its own clock.
    let handler = ctx.token(&["handler"], Some("v-xfb"), COUNTY);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &handler,
        Some(json!({"reason": "hearing", "days": 5})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // Each bad field named: a reason off the list, no planned length, a long note.
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "听证", "note": "x".repeat(501)})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["reason", "note", "days"]);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    // Past the policy's maximum (30 days of pauses by default): refused, named.
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "hearing", "days": 31})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("days")),
        "{v}"
    );
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "hearing", "note": "听证会定于下周", "days": 5})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["max_pause_days"], 30);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "hearing", "days": 5})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "already paused");
    assert_eq!(v["code"], "illegal_transition", "{v}");
    ctx.svc("supervision")
        .clock
        .advance(chrono::Duration::days(3));
    let (s, v) = call(&ctx, "POST", &format!("{path}/resume"), &sup, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let moved = v["due_at"].as_str().map(at).expect("due")
        - due(t0, 90, Counting::CalendarDays, &OfficialCalendar);
    assert!(
        (moved - chrono::Duration::days(3)).num_seconds().abs() < 5,
        "moved by {moved}"
    );
    // Who paused, why and for how long is on record; the bus says only the reason code.
    let (_, v) = call(
        &ctx,
        "GET",
        &format!("/v1/cases/{case}/deadlines"),
        &sup,
        None,
    )
    .await;
    assert_eq!(v["pauses"][0]["reason"], "hearing");
    assert_eq!(v["pauses"][0]["note"], "听证会定于下周");
    assert_eq!(v["pauses"][0]["paused_by"], "test-user");
    assert!(
        v["pauses"][0]["excluded_secs"]
            .as_i64()
            .is_some_and(|s| (s - 3 * 86_400).abs() < 5)
    );
    // Another pause may use only what is left of the 30 days.
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "appraisal", "days": 28})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("days")),
        "{v}"
    );
    let events = eventually(
        "ClockPaused and ClockResumed",
        Duration::from_secs(60),
        || async {
            let mut paused = None;
            let mut resumed = None;
            for p in case_payloads(&ctx, case).await {
                match p {
                    Payload::ClockPaused(p) => paused = Some(p),
                    Payload::ClockResumed(r) => resumed = Some(r),
                    _ => {}
                }
            }
            paused.zip(resumed)
        },
    )
    .await;
    assert_eq!(events.0.stage, Stage::Handling as i32);
    assert_eq!(events.0.reason, xf_events::v1::PauseReason::Hearing as i32);
    assert_eq!(events.0.planned_days, 5);
    assert!((events.1.excluded_secs as i64 - 3 * 86_400).abs() < 5);
    let (s, _) = call(&ctx, "POST", &format!("{path}/resume"), &sup, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "not paused");
    let (_, v) = call(
        &ctx,
        "GET",
        &format!("/v1/cases/{case}/deadlines"),
        &sup,
        None,
    )
    .await;
    assert_eq!(
        v["clocks"][1]["extended_days"], 30,
        "the second extension changed nothing"
    );
    // A pause that is never resumed ends by itself at its planned end: the sweeper
    // resumes it, excluding what was planned (two days), not the five that passed.
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &sup,
        Some(json!({"reason": "awaiting_petitioner", "days": 2})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    ctx.svc("supervision")
        .clock
        .advance(chrono::Duration::days(5));
    let v = eventually(
        "the pause ended by itself",
        Duration::from_secs(60),
        || async {
            let (_, v) = call(
                &ctx,
                "GET",
                &format!("/v1/cases/{case}/deadlines"),
                &sup,
                None,
            )
            .await;
            (v["clocks"][1]["state"] == "running" && v["pauses"][1]["resumed_at"].is_string())
                .then_some(v)
        },
    )
    .await;
    assert_eq!(v["pauses"][1]["resumed_by"], "system:planned-end");
    assert_eq!(v["pauses"][1]["excluded_secs"], 2 * 86_400, "{v}");
    let moved = v["clocks"][1]["due_at"].as_str().map(at).expect("due")
        - due(t0, 90, Counting::CalendarDays, &OfficialCalendar);
    assert!(
        (moved - chrono::Duration::days(5)).num_seconds().abs() < 5,
        "3 + 2 days excluded, moved by {moved}"
    );
    let resumed = eventually("its ClockResumed", Duration::from_secs(60), || async {
        let all: Vec<_> = case_payloads(&ctx, case)
            .await
            .into_iter()
            .filter_map(|p| match p {
                Payload::ClockResumed(r) => Some(r),
                _ => None,
            })
            .collect();
        (all.len() >= 2).then_some(all)
    })
    .await;
    assert_eq!(resumed[1].excluded_secs, 2 * 86_400);
    assert!((resumed[1].paused_secs_total as i64 - 5 * 86_400).abs() < 5);

    // Pausing a stopped clock is refused; outside the scope is refused.
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/cases/{case}/clocks/acceptance/pause"),
        &sup,
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let stranger = ctx.token(&["supervisor"], None, "330106");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("{path}/pause"),
        &stranger,
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "outside: no such case");
    ctx.cleanup().await;
}

/// The case's events in topic order, each once: the relay delivers at least once, so a
/// restart between publishing and marking a row sent may publish it again (consumers keep
/// it once by its event id, and so does this count).
fn kinds(records: &[xf_testkit::Record], case: Uuid) -> Vec<&'static str> {
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter(|e| e.case_id == case && seen.insert(e.event_id))
        .map(|e| e.type_name())
        .collect()
}

#[tokio::test]
async fn timers_fire_exactly_once_across_a_restart_and_concurrent_sweepers() {
    let mut ctx = Ctx::new().await.expect("context");
    // A long interval: nothing fires unless asked, so the restart is what fires it.
    start(&mut ctx, &[("sweeper.interval_ms", "3600000")]).await;
    let admin = ctx.token(&["admin"], None, COUNTY);
    let case = Uuid::now_v7();
    let t0 = Utc::now();
    produce(&ctx, case, VILLAGE, t0, dispatched(VILLAGE, "v-xfb")).await;
    clocks_of(&ctx, case, &admin, 1).await;
    let (_, f) = call(&ctx, "POST", "/v1/admin/sweep", &admin, None).await;
    assert_eq!(f["breaches"], 0, "nothing is due yet");

    // A year later (the service restarts with its clock moved): the acceptance clock's
    // warnings and breach fire once, and the breach escalates.
    ctx.svc_mut("supervision").stop().await;
    let year = (365 * 86_400).to_string();
    start(
        &mut ctx,
        &[
            ("clock.offset_secs", &year),
            ("sweeper.interval_ms", "3600000"),
        ],
    )
    .await;
    let v = eventually("breached", Duration::from_secs(60), || async {
        let (_, v) = call(
            &ctx,
            "GET",
            &format!("/v1/cases/{case}/deadlines"),
            &admin,
            None,
        )
        .await;
        (v["clocks"][0]["state"] == "breached").then_some(v)
    })
    .await;
    assert!(v["clocks"][0]["breached_at"].is_string());
    ctx.svc_mut("supervision").stop().await;
    start(
        &mut ctx,
        &[
            ("clock.offset_secs", &year),
            ("sweeper.interval_ms", "3600000"),
        ],
    )
    .await;
    let (_, f) = call(&ctx, "POST", "/v1/admin/sweep", &admin, None).await;
    assert_eq!(f["breaches"], 0, "fired before the restart, not again");
    let records = read_topic(&ctx.brokers, &ctx.topic, 6, Duration::from_secs(30)).await;
    let k = kinds(&records, case);
    let count = |n: &str| k.iter().filter(|x| **x == n).count();
    assert_eq!(
        (
            count("DeadlineWarning"),
            count("DeadlineBreached"),
            count("CaseEscalated")
        ),
        (2, 1, 1),
        "{k:?}"
    );

    // 300 timers due at once, two sweepers racing: each fires exactly once.
    let pool = ctx.svc("supervision").pool.clone();
    let mut cases = Vec::new();
    for _ in 0..300 {
        let c = Uuid::now_v7();
        cases.push(c);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
                 state, period_days, policy) VALUES ($1, 'acceptance', 'village', $2, 'u', $3, $3, 'running', 15, 'statutory')
             RETURNING id",
        )
        .bind(c)
        .bind(VILLAGE)
        .bind(Utc.with_ymd_and_hms(2026, 1, 5, 16, 0, 0).single().expect("time"))
        .fetch_one(&pool)
        .await
        .expect("clock");
        sqlx::query("INSERT INTO timers (clock_id, case_id, kind, fire_at) SELECT id, case_id, 'breach', due_at FROM clocks WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .expect("timer");
    }
    let outbox = xf_bus::Outbox::new(&ctx.topic);
    let sweeper = |batch| xf_supervision::sweeper::Sweeper {
        pool: pool.clone(),
        outbox: outbox.clone(),
        clock: xf_app::Clock::system(),
        batch,
    };
    let (s1, s2) = (sweeper(7), sweeper(11));
    let (a, b) = tokio::join!(s1.sweep(), s2.sweep());
    let (a, b) = (a.expect("sweeps"), b.expect("sweeps"));
    assert_eq!(a.breaches + b.breaches, 300, "{a:?} {b:?}");
    let fired: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM timers WHERE case_id = ANY($1) AND fired_at IS NOT NULL",
    )
    .bind(&cases)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(fired, 300);
    let keys: Vec<String> = cases.iter().map(Uuid::to_string).collect();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE key = ANY($1)")
        .bind(&keys)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(events, 600, "one breach and one escalation per clock");
    ctx.cleanup().await;
}

#[tokio::test]
async fn a_superior_transfer_runs_its_report_back_clock_until_closed() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx, &[]).await;
    let sup = ctx.token(&["supervisor"], None, COUNTY);
    let case = Uuid::now_v7();
    let t0 = Utc::now();
    let due = t0 + chrono::Duration::days(20);
    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::CaseDispatched(CaseDispatched {
            unit_id: "v-xfb".into(),
            tier: xf_events::tier_of_code(VILLAGE) as i32,
            jurisdiction_code: VILLAGE.into(),
            superior_reference: "杭信转〔2026〕12号".into(),
            superior_due_at: Some(xf_events::timestamp(due)),
            ..Default::default()
        }),
    )
    .await;
    let v = clocks_of(&ctx, case, &sup, 2).await;
    let report = v["clocks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["stage"] == "superior_report"))
        .cloned()
        .expect("a report-back clock");
    assert_eq!(
        report["due_at"].as_str().map(at).map(|d| d.timestamp()),
        Some(due.timestamp())
    );
    assert_eq!(report["policy"], "superior");
    produce(
        &ctx,
        case,
        VILLAGE,
        t0,
        Payload::CaseClosed(xf_events::v1::CaseClosed {
            unit_id: "v-xfb".into(),
            ..Default::default()
        }),
    )
    .await;
    eventually("stopped on closing", Duration::from_secs(60), || async {
        let (_, v) = call(
            &ctx,
            "GET",
            &format!("/v1/cases/{case}/deadlines"),
            &sup,
            None,
        )
        .await;
        v["clocks"]
            .as_array()?
            .iter()
            .any(|c| c["stage"] == "superior_report" && c["state"] == "stopped")
            .then_some(())
    })
    .await;
    // A policy cannot time it.
    let admin = ctx.token(&["admin"], None, COUNTY);
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/policies/p",
        &admin,
        Some(json!({
        "name": "x", "jurisdiction_code": COUNTY,
        "stages": {"superior_report": {"days": 10}}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "stages.superior_report");
    ctx.cleanup().await;
}

#[tokio::test]
async fn a_transfer_keeps_the_clocks_and_an_anonymous_item_gets_no_reply_clock() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx, &[]).await;
    let sup = ctx.token(&["supervisor"], None, COUNTY);
    let case = Uuid::now_v7();
    let t0 = Utc::now() - chrono::Duration::days(2);
    produce(&ctx, case, VILLAGE, t0, dispatched(VILLAGE, "u-first")).await;
    let before = clocks_of(&ctx, case, &sup, 1).await;
    let due0 = before["clocks"][0]["due_at"].clone();
    // Two days on, the case is transferred (退单/改派): CaseTransferred, then the dispatch.
    let t1 = Utc::now();
    produce(
        &ctx,
        case,
        VILLAGE,
        t1,
        Payload::CaseTransferred(xf_events::v1::CaseTransferred {
            from_unit_id: "u-first".into(),
            to_unit_id: "u-second".into(),
        }),
    )
    .await;
    produce(&ctx, case, VILLAGE, t1, dispatched(VILLAGE, "u-second")).await;
    let after = eventually("the transfer", Duration::from_secs(60), || async {
        let (_, v) = call(
            &ctx,
            "GET",
            &format!("/v1/cases/{case}/deadlines"),
            &sup,
            None,
        )
        .await;
        (v["transfers"] == 1 && v["clocks"][0]["unit_id"] == "u-second").then_some(v)
    })
    .await;
    let acceptance: Vec<&Value> = after["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .filter(|c| c["stage"] == "acceptance")
        .collect();
    assert_eq!(acceptance.len(), 1, "no second acceptance clock: {after:#}");
    assert_eq!(acceptance[0]["state"], "running");
    assert_eq!(
        acceptance[0]["due_at"], due0,
        "the deadline survives the transfer"
    );
    assert!(
        after["age_secs"]
            .as_i64()
            .is_some_and(|s| s >= 2 * 86_400 - 60),
        "the case's age counts from its first dispatch: {after:#}"
    );

    // An anonymous letter (R3): handled, but no clock for telling or answering anyone.
    let anon = Uuid::now_v7();
    produce(
        &ctx,
        anon,
        VILLAGE,
        t1,
        Payload::CaseRegistered(xf_events::v1::CaseRegistered {
            matter_jurisdiction_code: VILLAGE.into(),
            office_jurisdiction_code: COUNTY.into(),
            anonymous: true,
            category: "environment".into(),
            ..Default::default()
        }),
    )
    .await;
    produce(&ctx, anon, VILLAGE, t1, dispatched(VILLAGE, "u-first")).await;
    produce(
        &ctx,
        anon,
        VILLAGE,
        t1,
        Payload::CaseAccepted(CaseAccepted {
            unit_id: "u-first".into(),
        }),
    )
    .await;
    let v = clocks_of(&ctx, anon, &sup, 1).await;
    let stages: Vec<&str> = v["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .filter_map(|c| c["stage"].as_str())
        .collect();
    assert_eq!(stages, ["handling"], "{v:#}");
    ctx.cleanup().await;
}
