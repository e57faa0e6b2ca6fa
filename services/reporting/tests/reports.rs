//! The monthly report (stored, regenerated identical, XLSX read back equal to the API),
//! the monthly job (exactly once with two replicas), unit assessment, the ledger
//! export, hotspots, and no personal data or free text in reporting's schema — on the
//! real Postgres and broker.

use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use xf_events::v1::{
    CaseAccepted, CaseClosed, CaseDispatched, CaseRegistered, Channel, DeadlineBreached, Stage,
};
use xf_events::{Envelope, Payload};
use xf_testkit::{Ctx, call, eventually, produce_raw, read_topic};

const COUNTY: &str = "330122";
const TOWN_A: &str = "330122002";
const V1: &str = "330122002200";
const V2: &str = "330122002201";
const V3: &str = "330122003200";
const UNIT_NAME: &str = "某某镇人民政府信访办";

fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
}

fn env(case: Uuid, code: &str, at: DateTime<Utc>, p: Payload) -> Envelope {
    xf_events::envelope(case, "routing", xf_events::tier_of_code(code), code, at, p)
}

fn reg(no: &str, code: &str, category: &str) -> Payload {
    Payload::CaseRegistered(CaseRegistered {
        registration_no: no.into(),
        channel: Channel::Letter as i32,
        category: category.into(),
        matter_jurisdiction_code: code.into(),
        office_jurisdiction_code: COUNTY.into(),
        ..Default::default()
    })
}

fn dispatch(code: &str, unit: &str, leader: &str) -> Payload {
    Payload::CaseDispatched(CaseDispatched {
        unit_id: unit.into(),
        unit_name: UNIT_NAME.into(),
        tier: xf_events::tier_of_code(code) as i32,
        jurisdiction_code: code.into(),
        leader_id: leader.into(),
        ..Default::default()
    })
}

async fn send(ctx: &Ctx, evs: &[Envelope]) {
    for e in evs {
        produce_raw(
            &ctx.brokers,
            &ctx.topic,
            &e.case_id,
            &xf_events::encode(e),
            &[],
        )
        .await;
    }
}

async fn start(ctx: &mut Ctx) {
    let s = ctx
        .settings::<xf_reporting::Ext>(
            &xf_reporting::binary(),
            &[
                ("jobs.interval_ms", "3600000"),
                ("jobs.hotspot_min_count", "5"),
            ],
        )
        .expect("settings");
    let app = xf_reporting::build(s).await.expect("builds");
    ctx.spawn("reporting", app);
}

async fn folded(ctx: &Ctx, n: i64) {
    let pool = ctx.svc("reporting").pool.clone();
    eventually(
        "every event in the ledger",
        Duration::from_secs(90),
        || async {
            let c: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger")
                .fetch_one(&pool)
                .await
                .ok()?;
            (c >= n).then_some(())
        },
    )
    .await;
}

/// September, October 2026 and October 2025 cases of the county.
fn history() -> (Vec<Envelope>, Uuid, Uuid) {
    let (c0, c1, c2, c9) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let evs = vec![
        env(
            c0,
            V1,
            t(2026, 9, 10, 2),
            reg("330122-2026-000010", V1, "land"),
        ),
        env(
            c9,
            V2,
            t(2025, 10, 10, 2),
            reg("330122-2025-000090", V2, "water"),
        ),
        // c1: land in V1, dispatched, late, accepted and closed in October.
        env(
            c1,
            V1,
            t(2026, 10, 12, 2),
            reg("330122-2026-000011", V1, "land"),
        ),
        env(c1, V1, t(2026, 10, 12, 3), dispatch(V1, "v1-committee", "")),
        env(
            c1,
            V1,
            t(2026, 10, 28, 3),
            Payload::DeadlineBreached(DeadlineBreached {
                stage: Stage::Acceptance as i32,
                due_at: Some(xf_events::timestamp(t(2026, 10, 27, 16))),
                unit_id: "v1-committee".into(),
            }),
        ),
        env(
            c1,
            V1,
            t(2026, 10, 29, 3),
            Payload::CaseAccepted(CaseAccepted {
                unit_id: "v1-committee".into(),
            }),
        ),
        env(
            c1,
            V1,
            t(2026, 10, 30, 3),
            Payload::CaseClosed(CaseClosed {
                unit_id: "v1-committee".into(),
                ..Default::default()
            }),
        ),
        // c2: water in V2, assigned by leader-7, accepted; still open at the month's end.
        env(
            c2,
            V2,
            t(2026, 10, 20, 2),
            reg("330122-2026-000012", V2, "water"),
        ),
        env(
            c2,
            V2,
            t(2026, 10, 20, 3),
            dispatch(V2, "v2-committee", "leader-7"),
        ),
        env(
            c2,
            V2,
            t(2026, 10, 21, 3),
            Payload::CaseAccepted(CaseAccepted {
                unit_id: "v2-committee".into(),
            }),
        ),
    ];
    (evs, c1, c2)
}

fn cell(d: &Data) -> Value {
    match d {
        Data::Float(f) => json!(*f),
        Data::Int(i) => json!(*i as f64),
        Data::String(s) => json!(s),
        Data::Empty => Value::Null,
        other => json!(other.to_string()),
    }
}

#[tokio::test]
async fn the_monthly_report_is_stored_regenerates_identical_and_its_xlsx_matches_the_api() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let (evs, c1, c2) = history();
    send(&ctx, &evs).await;
    folded(&ctx, evs.len() as i64).await;
    let token = ctx.token(&["leader"], None, COUNTY);
    let base = |p: &str| ctx.svc("reporting").url(p);
    let (s, r) = call(
        "GET",
        &base("/v1/reports/monthly?month=2026-10"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["final"], true, "October is over");
    let rep = r["report"].clone();
    let st = &rep["statistics"];
    assert_eq!(st["this_month"]["received"], 2, "{st}");
    assert_eq!(st["this_month"]["closed"], 1);
    assert_eq!(st["this_month"]["overdue"], 1);
    assert_eq!(st["previous_month"]["figures"]["received"], 1);
    assert_eq!(st["same_month_last_year"]["figures"]["received"], 1);
    assert_eq!(st["change_vs_previous_month"]["received"]["delta"], 1.0);
    assert_eq!(rep["leaders"][0]["leader_id"], "leader-7", "{rep}");
    assert_eq!(rep["leaders"][0]["cases"][0]["status"], "accepted");

    // November: c2 closes. October's report, regenerated, is the same.
    send(
        &ctx,
        &[env(
            c2,
            V2,
            t(2026, 11, 5, 3),
            Payload::CaseClosed(CaseClosed {
                unit_id: "v2-committee".into(),
                ..Default::default()
            }),
        )],
    )
    .await;
    folded(&ctx, evs.len() as i64 + 1).await;
    let (s, g) = call(
        "POST",
        &base("/v1/reports/monthly"),
        &token,
        Some(json!({"month": "2026-10"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["identical"], true, "{g}");
    assert_eq!(g["report"], rep);
    let (_, again) = call(
        "GET",
        &base("/v1/reports/monthly?month=2026-10"),
        &token,
        None,
    )
    .await;
    assert_eq!(again["report"], rep);
    assert_eq!(again["id"], r["id"]);

    // The XLSX opens; its totals are the API's.
    let http = xf_testkit::http();
    let resp = http
        .get(base("/v1/reports/monthly?month=2026-10&format=xlsx"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = resp.bytes().await.expect("body");
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).expect("opens");
    let summary = wb.worksheet_range("Summary").expect("Summary");
    let row = |name: &str| -> Vec<Value> {
        summary
            .rows()
            .find(|r| r.first().is_some_and(|c| cell(c) == json!(name)))
            .map(|r| r.iter().map(cell).collect())
            .unwrap_or_default()
    };
    let (s, api) = call(
        "GET",
        &base("/v1/stats?from=2026-10-01&to=2026-10-31&group_by=category"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{api}");
    for fig in ["received", "accepted", "overdue"] {
        let want = api["totals"][fig].as_f64().expect("figure");
        assert_eq!(row(fig)[1], json!(want), "{fig}");
    }
    let cats = wb.worksheet_range("Categories").expect("Categories");
    let sum: f64 = cats
        .rows()
        .skip(1)
        .filter_map(|r| r.get(1).and_then(|c| cell(c).as_f64()))
        .sum();
    assert_eq!(sum, api["totals"]["received"].as_f64().expect("received"));
    let leaders = wb.worksheet_range("Leaders").expect("Leaders");
    assert_eq!(leaders.rows().count(), 2, "header and c2");

    // CSV of the summary.
    let csv = http
        .get(base("/v1/reports/monthly?month=2026-10&format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert!(csv.contains("received,2,1,1"), "{csv}");

    // Assessment: each figure links to its cases.
    let (s, a) = call(
        "GET",
        &base("/v1/assessment?from=2026-10-01&to=2026-10-31"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let units = a["units"].as_array().expect("units");
    let v1 = units
        .iter()
        .find(|u| u["unit_id"] == "v1-committee")
        .expect("v1");
    let v2 = units
        .iter()
        .find(|u| u["unit_id"] == "v2-committee")
        .expect("v2");
    assert_eq!(v1["counts"]["overdue"], 1);
    assert_eq!(v1["rank"], 2, "{a}");
    assert_eq!(v2["rank"], 1);
    assert!(v1["score"].as_f64() < v2["score"].as_f64());
    let link = v1["links"]["overdue"].as_str().expect("link");
    let (s, cs) = call("GET", &base(link), &token, None).await;
    assert_eq!(s, StatusCode::OK, "{cs}");
    assert_eq!(cs["cases"][0]["case_id"], c1.to_string());

    // The ledger: October's closed case, as CSV and XLSX.
    let led = http
        .get(base("/v1/ledger?from=2026-10-01&to=2026-10-31&format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ledger")
        .text()
        .await
        .expect("text");
    let lines: Vec<&str> = led.lines().collect();
    assert_eq!(lines.len(), 2, "{led}");
    assert!(
        lines[1].starts_with("330122-2026-000011,land,letter,v1-committee"),
        "{led}"
    );
    let x = http
        .get(base("/v1/ledger?from=2026-10-01&to=2026-11-30&format=xlsx"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("xlsx")
        .bytes()
        .await
        .expect("bytes");
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(x.to_vec())).expect("opens");
    assert_eq!(
        wb.worksheet_range("Ledger").expect("sheet").rows().count(),
        3
    );

    // Bad input names the field.
    for (url, field) in [
        ("/v1/reports/monthly?month=2026-13", "month"),
        ("/v1/reports/monthly?month=2026-10&format=pdf", "format"),
        ("/v1/ledger?from=2026-11-01&to=2026-10-01", "to"),
        (
            "/v1/assessment/cases?unit=v1-committee&figure=luck",
            "figure",
        ),
        ("/v1/hotspots?method=astrology", "method"),
    ] {
        let (s, v) = call("GET", &base(url), &token, None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert_eq!(v["errors"][0]["field"], field, "{url}");
    }

    // No personal data or free text in the schema: no such columns, and the unit
    // name the dispatches carried is nowhere (not even in the ledger's envelopes).
    let pool = ctx.svc("reporting").pool.clone();
    let cols: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name IN ('ledger', 'case_facts',
             'case_visits', 'reports', 'report_runs', 'hotspots', 'stats_cube')",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    for bad in ["name", "phone", "summary", "address", "id_number", "reason"] {
        assert!(!cols.iter().any(|c| c.contains(bad)), "{bad} in {cols:?}");
    }
    let hex: String = UNIT_NAME.bytes().map(|b| format!("{b:02x}")).collect();
    for table in ["ledger", "case_facts", "case_visits", "reports"] {
        let dump: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(string_agg(t::text, ' '), '') FROM {table} t"
        )))
        .fetch_one(&pool)
        .await
        .expect("dump");
        assert!(!dump.contains(UNIT_NAME) && !dump.contains(&hex), "{table}");
    }
    assert!(!led.contains(UNIT_NAME) && !csv.contains(UNIT_NAME));
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_monthly_job_runs_once_with_two_replicas() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let (evs, _, _) = history();
    send(&ctx, &evs).await;
    folded(&ctx, evs.len() as i64).await;
    let pool = ctx.svc("reporting").pool.clone();
    let replica = |at: DateTime<Utc>| xf_reporting::jobs::Jobs {
        pool: pool.clone(),
        outbox: xf_bus::Outbox::new(&ctx.topic),
        clock: xf_app::Clock::with_offset(at - Utc::now()),
        archive_after_days: 365,
        min_count: 5,
    };
    // 1 November 2026 is a Sunday: nothing is due; Monday 2 November it is.
    let sunday = replica(t(2026, 10, 31, 20));
    assert_eq!(
        xf_reporting::jobs::monthly::run_due(&sunday)
            .await
            .expect("runs"),
        None
    );
    let (a, b) = (replica(t(2026, 11, 2, 1)), replica(t(2026, 11, 2, 1)));
    let (ra, rb) = tokio::join!(
        xf_reporting::jobs::monthly::run_due(&a),
        xf_reporting::jobs::monthly::run_due(&b)
    );
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert!(
        ra.is_some() != rb.is_some(),
        "exactly one replica ran: {ra:?} {rb:?}"
    );
    // Offices: the county and its township with cases before November.
    assert_eq!(ra.or(rb), Some(2));
    assert_eq!(
        xf_reporting::jobs::monthly::run_due(&a)
            .await
            .expect("again"),
        None
    );
    let (runs, reports, notices): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM report_runs WHERE month = '2026-10'),
                (SELECT count(*) FROM reports WHERE month = '2026-10'),
                (SELECT count(*) FROM outbox WHERE event_type = 'MonthlyReportIssued'
                   AND key IN (SELECT id::text FROM reports WHERE month = '2026-10'))",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!((runs, reports, notices), (1, 2, 2));
    let records = read_topic(
        &ctx.brokers,
        &ctx.topic,
        evs.len() + 2,
        Duration::from_secs(30),
    )
    .await;
    let leaders: Vec<Vec<String>> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter_map(|e| match e.payload() {
            Some(Payload::MonthlyReportIssued(m))
                if m.office_jurisdiction_code == COUNTY && m.month == "2026-10" =>
            {
                Some(m.leader_ids.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(leaders, [vec!["leader-7".to_owned()]]);
    ctx.cleanup().await;
}

#[tokio::test]
async fn a_spike_and_similar_cases_across_villages_are_hotspots_once() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let now = Utc::now();
    let mut evs = Vec::new();
    let mut n = 0;
    let mut case = |code: &str, cat: &str, at: DateTime<Utc>, sig: Vec<u32>| {
        n += 1;
        let c = Uuid::now_v7();
        let mut p = reg(&format!("330122-2026-9{n:05}"), code, cat);
        if let Payload::CaseRegistered(r) = &mut p {
            r.signature = sig;
        }
        env(c, code, at, p)
    };
    // A quiet history: one land case a day in V1 for the week before last.
    for d in 3..10 {
        evs.push(case(V1, "land", now - chrono::Duration::days(d), vec![]));
    }
    // Today: eight land cases in township A.
    for i in 0..8 {
        let v = if i % 2 == 0 { V1 } else { V2 };
        evs.push(case(
            v,
            "land",
            now - chrono::Duration::minutes(5 + i),
            vec![],
        ));
    }
    // Three alike matters from three villages (two townships), in another category.
    let sig = xf_similarity::Signature::keyed("村口砂石厂夜间施工噪音扰民，多次反映未解决", b"k")
        .as_slice()
        .to_vec();
    for v in [V1, V2, V3] {
        evs.push(case(
            v,
            "environment",
            now - chrono::Duration::minutes(3),
            sig.clone(),
        ));
    }
    send(&ctx, &evs).await;
    folded(&ctx, evs.len() as i64).await;
    let token = ctx.token(&["supervisor"], None, COUNTY);
    let url = ctx.svc("reporting").url("/v1/hotspots/scan");
    let (s, v) = call("POST", &url, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    let c2 = items
        .iter()
        .find(|h| h["method"] == "ears_c2")
        .unwrap_or_else(|| panic!("no EARS alarm: {v}"));
    assert_eq!(c2["jurisdiction_code"], TOWN_A);
    assert_eq!(c2["category"], "land");
    assert_eq!(c2["observed"], 8);
    assert_eq!(c2["registration_nos"].as_array().map(Vec::len), Some(8));
    let similar = items
        .iter()
        .find(|h| h["method"] == "similar_cases")
        .unwrap_or_else(|| panic!("no similar cluster: {v}"));
    assert_eq!(similar["jurisdiction_code"], COUNTY);
    assert_eq!(similar["observed"], 3);
    // Scanning again finds nothing new; the list shows them.
    let (_, again) = call("POST", &url, &token, None).await;
    assert_eq!(again["new"], 0, "{again}");
    let (_, list) = call(
        "GET",
        &ctx.svc("reporting").url("/v1/hotspots"),
        &token,
        None,
    )
    .await;
    assert!(
        list["items"].as_array().expect("items").len() >= 2,
        "{list}"
    );
    // A township token sees its own.
    let town = ctx.token(&["analyst"], None, TOWN_A);
    let (_, mine) = call(
        "GET",
        &ctx.svc("reporting").url("/v1/hotspots?method=ears_c2"),
        &town,
        None,
    )
    .await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");
    // And each was announced on the bus.
    let records = read_topic(
        &ctx.brokers,
        &ctx.topic,
        evs.len() + items.len(),
        Duration::from_secs(30),
    )
    .await;
    let announced = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter(|e| matches!(e.payload(), Some(Payload::HotspotDetected(_))))
        .count();
    assert_eq!(announced, items.len());
    ctx.cleanup().await;
}
