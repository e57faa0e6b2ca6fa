//! reporting's read models on the real Postgres and broker: the ledger and the facts
//! folded from it (duplicates and any order change nothing), the path over the tiers,
//! `GET /v1/stats` against hand-worked counts and its scoping and bad input.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;
use xf_events::v1::{
    CaseAccepted, CaseClosed, CaseDispatched, CaseEscalated, CaseNotAccepted, CaseRegistered,
    Channel, DeadlineBreached, DuplicateLinked, EscalationReason, FollowUpCompleted,
    FollowUpSatisfaction, ReplyIssued, ReplyOutcome, ReviewKind, ReviewRequested,
    SatisfactionRecorded, Stage, Tier,
};
use xf_events::{Envelope, Payload};
use xf_testkit::{Ctx, call, eventually, produce_raw};

const COUNTY: &str = "330122";
const TOWN_A: &str = "330122002";
const TOWN_B: &str = "330122003";
const V1: &str = "330122002200";
const V2: &str = "330122002201";
const V3: &str = "330122003200";

fn at(min: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(6) + chrono::Duration::minutes(min)
}

fn env(case: Uuid, producer: &str, code: &str, t: DateTime<Utc>, p: Payload) -> Envelope {
    xf_events::envelope(case, producer, xf_events::tier_of_code(code), code, t, p)
}

fn registered(no: &str, code: &str, category: &str, channel: Channel) -> Payload {
    Payload::CaseRegistered(CaseRegistered {
        registration_no: no.into(),
        channel: channel as i32,
        category: category.into(),
        matter_jurisdiction_code: code.into(),
        office_jurisdiction_code: COUNTY.into(),
        ..Default::default()
    })
}

fn dispatched(tier: Tier, code: &str, unit: &str) -> Payload {
    Payload::CaseDispatched(CaseDispatched {
        unit_id: unit.into(),
        unit_name: "某单位".into(),
        tier: tier as i32,
        jurisdiction_code: code.into(),
        ..Default::default()
    })
}

fn escalated(to: Tier, code: &str, from: &str) -> Payload {
    Payload::CaseEscalated(CaseEscalated {
        reason: EscalationReason::Overdue as i32,
        to_tier: to as i32,
        to_jurisdiction_code: code.into(),
        from_unit_id: from.into(),
        ..Default::default()
    })
}

/// The case that escalated village → township → county and closed there late.
fn escalating(case: Uuid, no: &str) -> Vec<Envelope> {
    vec![
        env(
            case,
            "intake",
            V1,
            at(0),
            registered(no, V1, "land", Channel::Letter),
        ),
        env(
            case,
            "routing",
            V1,
            at(1),
            dispatched(Tier::Village, V1, "v1-committee"),
        ),
        env(
            case,
            "supervision",
            V1,
            at(20),
            Payload::DeadlineBreached(DeadlineBreached {
                stage: Stage::Acceptance as i32,
                due_at: Some(xf_events::timestamp(at(19))),
                unit_id: "v1-committee".into(),
            }),
        ),
        env(
            case,
            "supervision",
            V1,
            at(21),
            escalated(Tier::Township, TOWN_A, "v1-committee"),
        ),
        env(
            case,
            "routing",
            TOWN_A,
            at(22),
            dispatched(Tier::Township, TOWN_A, "a-office"),
        ),
        env(
            case,
            "supervision",
            TOWN_A,
            at(40),
            escalated(Tier::County, COUNTY, "a-office"),
        ),
        env(
            case,
            "routing",
            COUNTY,
            at(41),
            dispatched(Tier::County, COUNTY, "county-land"),
        ),
        env(
            case,
            "routing",
            COUNTY,
            at(42),
            Payload::CaseAccepted(CaseAccepted {
                unit_id: "county-land".into(),
            }),
        ),
        env(
            case,
            "routing",
            COUNTY,
            at(50),
            Payload::ReplyIssued(ReplyIssued {
                unit_id: "county-land".into(),
                outcome: ReplyOutcome::Support as i32,
                text_length: 10,
            }),
        ),
        env(
            case,
            "routing",
            COUNTY,
            at(51),
            Payload::CaseClosed(CaseClosed {
                unit_id: "county-land".into(),
                ..Default::default()
            }),
        ),
    ]
}

async fn send(ctx: &Ctx, e: &Envelope) {
    produce_raw(
        &ctx.brokers,
        &ctx.topic,
        &e.case_id,
        &xf_events::encode(e),
        &[],
    )
    .await;
}

async fn start(ctx: &mut Ctx) {
    let s = ctx
        .settings::<xf_reporting::Ext>(&xf_reporting::binary(), &[("jobs.interval_ms", "3600000")])
        .expect("settings");
    let app = xf_reporting::build(s).await.expect("builds");
    ctx.spawn("reporting", app);
}

/// The facts of a case as a comparable row (without its id and trace).
async fn facts_row(pool: &sqlx::PgPool, case: Uuid) -> Value {
    sqlx::query_scalar(
        "SELECT to_jsonb(f) - 'case_id' - 'trace_id' - 'registration_no'
                || jsonb_build_object('path', (SELECT jsonb_agg(jsonb_build_array(tier, jurisdiction_code, unit_id) ORDER BY seq)
                                               FROM case_visits v WHERE v.case_id = f.case_id))
         FROM case_facts f WHERE case_id = $1",
    )
    .bind(case)
    .fetch_one(pool)
    .await
    .expect("facts")
}

#[tokio::test]
async fn duplicates_and_any_order_fold_to_the_same_facts() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let pool = ctx.svc("reporting").pool.clone();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let in_order = escalating(a, "330122-2026-000001");
    let same_for = |case: Uuid| -> Vec<Envelope> {
        in_order
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.case_id = case.to_string();
                e.event_id = Uuid::now_v7().to_string();
                e
            })
            .collect()
    };
    // a: in order, once. b: reversed, every event twice. c: interleaved, with the
    // breach delivered again under a new event id (a producer's retry).
    let mut rev = same_for(b);
    rev.reverse();
    let mut shuffled = same_for(c);
    shuffled.swap(0, 9);
    shuffled.swap(3, 6);
    let mut retry = shuffled[2].clone();
    retry.event_id = Uuid::now_v7().to_string();
    shuffled.push(retry);
    let mut tx = pool.begin().await.expect("tx");
    for e in &in_order {
        let ev = xf_events::decode(&xf_events::encode(e)).expect("decodes");
        assert!(
            xf_reporting::consumer::ingest(&mut tx, &ev)
                .await
                .expect("ingest")
        );
    }
    for e in rev.iter().chain(rev.iter()) {
        let ev = xf_events::decode(&xf_events::encode(e)).expect("decodes");
        xf_reporting::consumer::ingest(&mut tx, &ev)
            .await
            .expect("ingest");
    }
    for e in &shuffled {
        let ev = xf_events::decode(&xf_events::encode(e)).expect("decodes");
        xf_reporting::consumer::ingest(&mut tx, &ev)
            .await
            .expect("ingest");
    }
    tx.commit().await.expect("commit");
    let fa = facts_row(&pool, a).await;
    assert_eq!(fa, facts_row(&pool, b).await, "reversed and doubled");
    // The retry is one more ledger entry and changes no figure.
    let mut fc = facts_row(&pool, c).await;
    assert_eq!(fc["events"], 11);
    fc["events"] = fa["events"].clone();
    assert_eq!(fa, fc, "shuffled with a retry");
    assert_eq!(fa["status"], "closed");
    assert_eq!(fa["breaches"], 1);
    assert_eq!(fa["escalations"], 2);
    assert_eq!(
        fa["path"],
        serde_json::json!([
            ["village", V1, "v1-committee"],
            ["township", TOWN_A, "a-office"],
            ["county", COUNTY, "county-land"]
        ])
    );
    let ledger: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger WHERE case_id = $1")
        .bind(b)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(ledger, 10, "the ledger keeps each event once");

    // Over the broker: the same envelope twice (one event id) leaves one ledger entry.
    let d = Uuid::now_v7();
    let reg = env(
        d,
        "intake",
        V2,
        at(0),
        registered("330122-2026-000009", V2, "land", Channel::Visit),
    );
    send(&ctx, &reg).await;
    send(&ctx, &reg).await;
    let acc = env(
        d,
        "routing",
        V2,
        at(1),
        Payload::CaseAccepted(CaseAccepted {
            unit_id: "v2".into(),
        }),
    );
    send(&ctx, &acc).await;
    eventually(
        "the broker's events folded",
        Duration::from_secs(60),
        || async {
            let (n, s): (i32, String) =
                sqlx::query_as("SELECT events, status FROM case_facts WHERE case_id = $1")
                    .bind(d)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
            (n == 2 && s == "accepted").then_some(())
        },
    )
    .await;
    // The case's history lists both events, in order.
    let token = ctx.token(&["supervisor"], None, COUNTY);
    let (s, h) = call(
        "GET",
        &ctx.svc("reporting").url(&format!("/v1/cases/{d}/history")),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let kinds: Vec<_> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].clone())
        .collect();
    assert_eq!(kinds, ["CaseRegistered", "CaseAccepted"]);
    ctx.cleanup().await;
}

#[tokio::test]
async fn stats_match_hand_worked_counts_and_follow_the_token() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let (c1, c2, c3, c4) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let mut evs = escalating(c1, "330122-2026-000101");
    // c2: a collective visit of 12 in V2, accepted and closed on time, rated 5, a
    // follow-up that reached the petitioner, who was satisfied.
    let mut reg2 = registered("330122-2026-000102", V2, "land", Channel::Visit);
    if let Payload::CaseRegistered(r) = &mut reg2 {
        r.collective = true;
        r.headcount = 12;
    }
    evs.extend([
        env(c2, "intake", V2, at(0), reg2),
        env(
            c2,
            "routing",
            V2,
            at(1),
            dispatched(Tier::Village, V2, "v2-committee"),
        ),
        env(
            c2,
            "routing",
            V2,
            at(2),
            Payload::CaseAccepted(CaseAccepted {
                unit_id: "v2-committee".into(),
            }),
        ),
        env(
            c2,
            "routing",
            V2,
            at(3),
            Payload::ReplyIssued(ReplyIssued {
                unit_id: "v2-committee".into(),
                outcome: ReplyOutcome::Explain as i32,
                text_length: 5,
            }),
        ),
        env(
            c2,
            "routing",
            V2,
            at(4),
            Payload::CaseClosed(CaseClosed {
                unit_id: "v2-committee".into(),
                ..Default::default()
            }),
        ),
        env(
            c2,
            "intake",
            V2,
            at(5),
            Payload::SatisfactionRecorded(SatisfactionRecorded { score: 5 }),
        ),
        env(
            c2,
            "scheduling",
            V2,
            at(6),
            Payload::FollowUpCompleted(FollowUpCompleted {
                visit_id: Uuid::now_v7().to_string(),
                reached: true,
                satisfaction: FollowUpSatisfaction::Satisfied as i32,
                ..Default::default()
            }),
        ),
    ]);
    // c3: in township B, refused and referred to the courts; an accusation against
    // the B police station.
    let mut reg3 = registered("330122-2026-000103", V3, "water", Channel::Online);
    if let Payload::CaseRegistered(r) = &mut reg3 {
        r.confidential = true;
        r.excluded_unit_id = "b-police".into();
    }
    evs.extend([
        env(c3, "intake", V3, at(0), reg3),
        env(
            c3,
            "routing",
            TOWN_B,
            at(1),
            dispatched(Tier::Township, TOWN_B, "b-office"),
        ),
        env(
            c3,
            "routing",
            TOWN_B,
            at(2),
            Payload::CaseNotAccepted(CaseNotAccepted {
                unit_id: "b-office".into(),
                reason: "属于诉讼事项".into(),
                referral_channel: "court".into(),
            }),
        ),
    ]);
    // c4: a repeat petition of c2 filed above the competent tier; the petitioner
    // asked for review.
    evs.extend([
        env(
            c4,
            "intake",
            V2,
            at(10),
            registered("330122-2026-000104", V2, "land", Channel::Letter),
        ),
        env(
            c4,
            "routing",
            V2,
            at(11),
            Payload::DuplicateLinked(DuplicateLinked {
                original_case_id: c2.to_string(),
                similarity: 0.8,
                repeat_petition: true,
                skip_level: true,
                original_unit_id: "v2-committee".into(),
                original_jurisdiction_code: V2.into(),
            }),
        ),
        env(
            c4,
            "intake",
            V2,
            at(12),
            Payload::ReviewRequested(ReviewRequested {
                kind: ReviewKind::Review as i32,
                reason_category: String::new(),
            }),
        ),
    ]);
    // Delivered out of order, one of them twice.
    evs.reverse();
    let dup = evs[3].clone();
    evs.push(dup);
    for e in &evs {
        send(&ctx, e).await;
    }
    let url = |q: &str| ctx.svc("reporting").url(&format!("/v1/stats{q}"));
    let county = ctx.token(&["analyst"], None, COUNTY);
    let totals: Value = eventually("every event folded", Duration::from_secs(90), || async {
        let (s, v) = call("GET", &url(""), &county, None).await;
        (s == StatusCode::OK
            && v["totals"]["received"] == 4
            && v["totals"]["closed"] == 2
            && v["totals"]["follow_ups"] == 1
            && v["totals"]["reviews_asked"] == 1
            && v["totals"]["not_accepted"] == 1
            && v["totals"]["repeat_petitions"] == 1)
            .then(|| v["totals"].clone())
    })
    .await;
    let want = [
        ("received", 4),
        ("accepted", 2),
        ("not_accepted", 1),
        ("referred", 1),
        ("closed", 2),
        ("on_time", 1),
        ("overdue", 1),
        ("escalated", 1),
        ("reviews_asked", 1),
        ("repeat_petitions", 1),
        ("skip_level", 1),
        ("collective_visits", 1),
        ("collective_headcount", 12),
        ("satisfaction_recorded", 1),
        ("satisfied", 1),
        ("follow_ups", 1),
        ("follow_ups_reached", 1),
        ("follow_ups_satisfied", 1),
    ];
    for (k, n) in want {
        assert_eq!(totals[k], n, "{k}: {totals}");
    }
    assert_eq!(totals["satisfaction_mean"], 5.0);

    // By tier: c1 once in each tier it visited, once in the total.
    let (s, v) = call("GET", &url("?group_by=tier"), &county, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let by = |v: &Value, key: &str, fig: &str| -> Vec<(String, i64)> {
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r[key].as_str().unwrap_or("").to_owned(),
                    r[fig].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };
    assert_eq!(
        by(&v, "tier", "received"),
        [
            ("county".to_owned(), 1),
            ("township".into(), 2),
            ("village".into(), 3)
        ]
    );
    assert_eq!(v["totals"]["received"], 4);
    let (_, v) = call("GET", &url("?group_by=township,category"), &county, None).await;
    let rows: Vec<(String, String, i64)> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["township"].as_str().unwrap_or("").into(),
                r["category"].as_str().unwrap_or("").into(),
                r["received"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (TOWN_A.into(), "land".into(), 3),
            (TOWN_B.into(), "water".into(), 1)
        ]
    );
    // The cube (a token without a unit claim) and the case facts (a token with one,
    // which no case names as accused) give the same figures.
    let with_unit = ctx.token(&["analyst"], Some("county-office"), COUNTY);
    let year = xf_calendar::shanghai_day(Utc::now())
        .format("%Y")
        .to_string();
    // Whole months: the month cube.
    let whole =
        format!("?from={year}-01-01&to={year}-12-31&group_by=period,township&period=quarter");
    for q in [
        "?group_by=period,township,category",
        "?group_by=county&period=week",
        "",
        whole.as_str(),
    ] {
        let (_, a) = call("GET", &url(q), &county, None).await;
        let (_, b) = call("GET", &url(q), &with_unit, None).await;
        assert_eq!(a["totals"], b["totals"], "{q}");
        assert_eq!(a["rows"], b["rows"], "{q}");
    }
    let (_, v) = call("GET", &url("?unit=a-office"), &county, None).await;
    assert_eq!(v["totals"]["received"], 1, "{v}");
    let (_, v) = call(
        "GET",
        &url("?basis=closed&group_by=period&period=day"),
        &county,
        None,
    )
    .await;
    assert_eq!(v["totals"]["received"], 2, "closed by closing date: {v}");
    let (_, v) = call(
        "GET",
        &url(&format!("?jurisdiction={V2}&channel=visit")),
        &county,
        None,
    )
    .await;
    assert_eq!(v["totals"]["received"], 1, "{v}");

    // A township sees itself and below; a token outside is refused naming the field.
    let town_b = ctx.token(&["analyst"], None, TOWN_B);
    let (_, v) = call("GET", &url(""), &town_b, None).await;
    assert_eq!(v["totals"]["received"], 1, "{v}");
    let (s, v) = call(
        "GET",
        &url(&format!("?jurisdiction={COUNTY}")),
        &town_b,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["errors"][0]["field"], "jurisdiction");
    // The accused unit does not count (or see) the accusation.
    let police = ctx.token(&["supervisor"], Some("b-police"), TOWN_B);
    let (_, v) = call("GET", &url(""), &police, None).await;
    assert_eq!(v["totals"]["received"], 0, "{v}");
    let (s, _) = call(
        "GET",
        &ctx.svc("reporting").url(&format!("/v1/cases/{c3}")),
        &police,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = call(
        "GET",
        &ctx.svc("reporting").url(&format!("/v1/cases/{c1}")),
        &county,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["path"].as_array().map(Vec::len), Some(3), "{v}");
    // Handlers read no figures.
    let clerk = ctx.token(&["handler"], Some("a-office"), TOWN_A);
    let (s, _) = call("GET", &url(""), &clerk, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Bad input: problem+json naming the field, never an empty success.
    for (q, field) in [
        ("?group_by=petitioner", "group_by"),
        ("?from=2026-05-01&to=2026-04-01", "to"),
        ("?from=2026-05-01&to=", "to"),
        ("?from=2010-01-01", "to"),
        ("?from=2025-01-01&period=day&group_by=period", "period"),
        ("?jurisdiction=330122999", "jurisdiction"),
        ("?jurisdiction=33012", "jurisdiction"),
        ("?category=nothing-like-it", "category"),
        ("?unit=no-such-unit", "unit"),
        ("?status=open", "status"),
        ("?channel=fax", "channel"),
    ] {
        let (s, v) = call("GET", &url(q), &county, None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
        assert_eq!(v["errors"][0]["field"], field, "{q}: {v}");
    }

    // Every endpoint and download is in the OpenAPI document, downloads with their types.
    let doc: Value = xf_testkit::http()
        .get(ctx.svc("reporting").url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    for p in [
        "/v1/stats",
        "/v1/dashboard/overview",
        "/v1/dashboard/trend",
        "/v1/dashboard/categories",
        "/v1/dashboard/townships",
        "/v1/dashboard/units",
        "/v1/reports/monthly",
        "/v1/assessment",
        "/v1/assessment/cases",
        "/v1/hotspots",
        "/v1/hotspots/scan",
        "/v1/hotspots/sensitive",
        "/v1/ledger",
        "/v1/archive",
        "/v1/cases/{id}",
        "/v1/cases/{id}/history",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    for p in ["/v1/reports/monthly", "/v1/ledger"] {
        let content = &doc["paths"][p]["get"]["responses"]["200"]["content"];
        assert!(content["text/csv"].is_object(), "{p}: {content}");
        assert!(
            content["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
                .is_object(),
            "{p}: {content}"
        );
    }
    ctx.cleanup().await;
}

/// The facts of every case in a batch folded together equal those of the same events
/// one at a time: duplicates inside the batch, a retry under a new event id, events
/// split over two batches that overlap, and the cube in step with the facts.
#[tokio::test]
async fn a_batch_with_duplicates_folds_like_one_event_at_a_time() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let pool = ctx.svc("reporting").pool.clone();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // The same events (same times) for each case, under its own ids.
    let base = escalating(a, "330122-2026-000201");
    let of = |case: Uuid, _no: &str| -> Vec<Envelope> {
        base.iter()
            .map(|e| {
                let mut e = e.clone();
                e.case_id = case.to_string();
                if case != a {
                    e.event_id = Uuid::now_v7().to_string();
                }
                e
            })
            .collect()
    };
    let decode = |e: &Envelope| xf_events::decode(&xf_events::encode(e)).expect("decodes");
    // a: one event per transaction, in order.
    for e in of(a, "330122-2026-000201") {
        let mut tx = pool.begin().await.expect("tx");
        assert!(
            xf_reporting::consumer::ingest(&mut tx, &decode(&e))
                .await
                .expect("ingest")
        );
        tx.commit().await.expect("commit");
    }
    // b: one batch, reversed, every event twice, and the breach again under a new id.
    let mut eb = of(b, "330122-2026-000202");
    eb.reverse();
    let mut retry = eb[7].clone();
    retry.event_id = Uuid::now_v7().to_string();
    let batch: Vec<_> = eb
        .iter()
        .chain(eb.iter())
        .chain(std::iter::once(&retry))
        .map(decode)
        .collect();
    let pairs: Vec<_> = batch.iter().map(|e| (e, None)).collect();
    let mut tx = pool.begin().await.expect("tx");
    let n = xf_reporting::consumer::ingest_all(&mut tx, &pairs)
        .await
        .expect("batch");
    tx.commit().await.expect("commit");
    assert_eq!(n, 11, "ten events and the retry, each once");
    // c: two overlapping batches (events 0..7, then 4..10), together with a and b's
    // events again (nothing new for them).
    let ec: Vec<_> = of(c, "330122-2026-000203").iter().map(decode).collect();
    let again: Vec<_> = eb.iter().map(decode).collect();
    for part in [&ec[..7], &ec[4..]] {
        let pairs: Vec<_> = part
            .iter()
            .chain(again.iter())
            .map(|e| (e, Some("0af7651916cd43dd8448eb211c80319c".to_owned())))
            .collect();
        let mut tx = pool.begin().await.expect("tx");
        xf_reporting::consumer::ingest_all(&mut tx, &pairs)
            .await
            .expect("batch");
        tx.commit().await.expect("commit");
    }
    let fa = facts_row(&pool, a).await;
    let mut fb = facts_row(&pool, b).await;
    assert_eq!(fb["events"], 11);
    fb["events"] = fa["events"].clone();
    assert_eq!(fa, fb, "one batch with duplicates");
    assert_eq!(fa, facts_row(&pool, c).await, "two overlapping batches");
    assert_eq!(fa["breaches"], 1);
    let ledger: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger WHERE case_id = ANY($1)")
        .bind(vec![a, b, c])
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(ledger, 31);
    let trace: Option<String> =
        sqlx::query_scalar("SELECT trace_id FROM case_facts WHERE case_id = $1")
            .bind(c)
            .fetch_one(&pool)
            .await
            .expect("trace");
    assert_eq!(trace.as_deref(), Some("0af7651916cd43dd8448eb211c80319c"));
    // The cube kept by the batches equals the cube rebuilt from the facts.
    let cube = |pool: sqlx::PgPool| async move {
        let rows: Vec<(String, String, Vec<i32>)> = sqlx::query_as(
            "SELECT day::text || '/' || township, category, f FROM stats_cube
             UNION ALL SELECT 'm' || day::text || '/' || township, category, f FROM stats_cube_month
             ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .expect("cube");
        rows
    };
    let kept = cube(pool.clone()).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0].2[0], 3, "three cases received: {kept:?}");
    assert_eq!(kept[0].2[4], 3, "three closed: {kept:?}");
    xf_reporting::store::cube::rebuild(&pool)
        .await
        .expect("rebuild");
    assert_eq!(kept, cube(pool.clone()).await);
    ctx.cleanup().await;
}

/// Paused clocks over the broker: the pauses, the days they excluded and whether a
/// clock is paused now, in the case's facts, its detail, the statistics (cube and
/// facts alike) and the resolution ledger.
#[tokio::test]
async fn paused_time_is_counted() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let pool = ctx.svc("reporting").pool.clone();
    let (p1, p2, p3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let day = 86_400u64;
    let pause = |stage: Stage, before: u64| {
        Payload::ClockPaused(xf_events::v1::ClockPaused {
            stage: stage as i32,
            planned_days: 10,
            paused_secs_before: before,
            ..Default::default()
        })
    };
    let resume = |stage: Stage, excluded: u64, total: u64| {
        Payload::ClockResumed(xf_events::v1::ClockResumed {
            stage: stage as i32,
            excluded_secs: excluded,
            paused_secs_total: total,
            due_at: Some(xf_events::timestamp(at(300))),
        })
    };
    let closed = |unit: &str| {
        Payload::CaseClosed(CaseClosed {
            unit_id: unit.into(),
            ..Default::default()
        })
    };
    let mut evs = vec![
        // p1: handling paused twice (2 days, then 1 day 20 hours: 3 days 20 hours,
        // 4 whole days), closed.
        env(
            p1,
            "intake",
            V1,
            at(0),
            registered("330122-2026-000301", V1, "land", Channel::Letter),
        ),
        env(
            p1,
            "routing",
            V1,
            at(1),
            dispatched(Tier::Village, V1, "v1-committee"),
        ),
        env(p1, "supervision", V1, at(2), pause(Stage::Handling, 0)),
        env(
            p1,
            "supervision",
            V1,
            at(3),
            resume(Stage::Handling, 2 * day, 2 * day),
        ),
        env(
            p1,
            "supervision",
            V1,
            at(4),
            pause(Stage::Handling, 2 * day),
        ),
        env(
            p1,
            "supervision",
            V1,
            at(5),
            resume(Stage::Handling, day + 20 * 3600, 3 * day + 20 * 3600),
        ),
        env(p1, "routing", V1, at(6), closed("v1-committee")),
        // p2: acceptance paused, not resumed: paused now.
        env(
            p2,
            "intake",
            V2,
            at(0),
            registered("330122-2026-000302", V2, "land", Channel::Visit),
        ),
        env(p2, "supervision", V2, at(2), pause(Stage::Acceptance, 0)),
        // p3: never paused.
        env(
            p3,
            "intake",
            V3,
            at(0),
            registered("330122-2026-000303", V3, "water", Channel::Online),
        ),
    ];
    // Out of order, the last resumption again under a new event id.
    evs.reverse();
    let mut retry = evs[1].clone();
    retry.event_id = Uuid::now_v7().to_string();
    evs.push(retry);
    for e in &evs {
        send(&ctx, e).await;
    }
    let url = |q: &str| ctx.svc("reporting").url(&format!("/v1/stats{q}"));
    let county = ctx.token(&["analyst"], None, COUNTY);
    let totals: Value = eventually("every event folded", Duration::from_secs(90), || async {
        let (s, v) = call("GET", &url(""), &county, None).await;
        (s == StatusCode::OK
            && v["totals"]["received"] == 3
            && v["totals"]["closed"] == 1
            && v["totals"]["paused"] == 2
            && v["totals"]["paused_days"] == 4)
            .then(|| v["totals"].clone())
    })
    .await;
    assert_eq!(totals["paused"], 2, "{totals}");
    // The cube and the facts agree, grouped too.
    let with_unit = ctx.token(&["analyst"], Some("county-office"), COUNTY);
    for q in [
        "",
        "?group_by=period,township,category",
        "?group_by=township",
    ] {
        let (_, a) = call("GET", &url(q), &county, None).await;
        let (_, b) = call("GET", &url(q), &with_unit, None).await;
        assert_eq!(a["totals"], b["totals"], "{q}");
        assert_eq!(a["rows"], b["rows"], "{q}");
    }
    let (_, v) = call("GET", &url("?group_by=township"), &county, None).await;
    let rows: Vec<(String, i64, i64)> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["township"].as_str().unwrap_or("").into(),
                r["paused"].as_i64().unwrap_or(-1),
                r["paused_days"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(rows, [(TOWN_A.into(), 2, 4), (TOWN_B.into(), 0, 0)]);
    // Each case's detail.
    let detail = |id: Uuid| {
        let url = ctx.svc("reporting").url(&format!("/v1/cases/{id}"));
        let token = county.clone();
        async move { call("GET", &url, &token, None).await.1 }
    };
    let d1 = detail(p1).await;
    assert_eq!(
        (
            &d1["pauses"],
            &d1["paused_secs"],
            &d1["paused_days"],
            &d1["paused_now"]
        ),
        (
            &Value::from(2),
            &Value::from(3 * day + 20 * 3600),
            &Value::from(4),
            &Value::from(false)
        ),
        "{d1}"
    );
    let d2 = detail(p2).await;
    assert_eq!(d2["pauses"], 1, "{d2}");
    assert_eq!(d2["paused_now"], true, "{d2}");
    assert_eq!(detail(p3).await["pauses"], 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM case_facts WHERE paused_now")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
    // The resolution ledger shows the closed case's paused days.
    let today = xf_calendar::shanghai_day(Utc::now());
    let (s, v) = call(
        "GET",
        &ctx.svc("reporting").url(&format!(
            "/v1/ledger?from={}&to={today}",
            today - chrono::Duration::days(2)
        )),
        &county,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cols = v["columns"].as_array().expect("columns");
    let i = cols
        .iter()
        .position(|c| c == "paused_days")
        .expect("a paused_days column");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["rows"][0][i], 4, "{v}");
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_stored_statuses_are_the_shared_status_enum() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let pool = ctx.svc("reporting").pool.clone();
    let mut want: Vec<String> = xf_events::status::Status::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    want.sort();
    for constraint in ["case_facts_status_check", "ledger_status_after_check"] {
        assert_eq!(
            xf_testkit::check_values(&pool, constraint).await,
            want,
            "{constraint}"
        );
    }
    ctx.cleanup().await;
}
