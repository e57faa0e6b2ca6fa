//! A case flows intake → routing → supervision → scheduling → reporting, in one trace.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use xf_auth::roles;
use xf_testkit::{Ctx, eventually};

const COUNTY: &str = "330122";

async fn get_json(url: String, token: &str) -> Option<Value> {
    let r = xf_testkit::http()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::OK {
        return None;
    }
    r.json().await.ok()
}

#[tokio::test]
async fn cases_flow_through_every_service_in_one_trace() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let reader = ctx.token(&[roles::SUPERVISOR, roles::ANALYST], None, COUNTY);
    let http = xf_testkit::http();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let places = ["330122002200", "330122003", "330122002201"];
    let mut ids = Vec::new();
    for (i, code) in places.iter().enumerate() {
        let mut req = http
            .post(ctx.svc("intake").url("/v1/cases"))
            .bearer_auth(&registrar)
            .json(&xf_e2e::sample_case(
                "letter",
                code,
                "labour_wages",
                &format!("工地拖欠农民工工资 {i}"),
                i,
            ));
        if i == 0 {
            req = req.header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"));
        }
        let r = req.send().await.expect("register");
        assert_eq!(r.status(), StatusCode::CREATED);
        let b: Value = r.json().await.expect("json");
        ids.push(b["case_id"].as_str().expect("id").to_owned());
    }

    let first = &ids[0];
    let routed = eventually(
        "routing dispatched the case",
        Duration::from_secs(60),
        || {
            get_json(
                ctx.svc("routing")
                    .url(&format!("/v1/cases/{first}/routing")),
                &reader,
            )
        },
    )
    .await;
    assert_eq!(routed["status"], "dispatched");
    assert_eq!(routed["unit_id"], "330122002200-xfb");
    assert_eq!(routed["tier"], "village");
    assert_eq!(
        routed["trace_id"], trace_id,
        "routing joined the caller's trace"
    );

    let clocks = eventually(
        "supervision started the acceptance clock",
        Duration::from_secs(60),
        || {
            get_json(
                ctx.svc("supervision")
                    .url(&format!("/v1/cases/{first}/deadlines")),
                &reader,
            )
        },
    )
    .await;
    assert_eq!(clocks["clocks"][0]["stage"], "acceptance");
    assert_eq!(clocks["clocks"][0]["state"], "running");
    assert_eq!(clocks["clocks"][0]["period_days"], 15);
    assert_eq!(clocks["trace_id"], trace_id);

    let sched = eventually(
        "scheduling recorded the case",
        Duration::from_secs(60),
        || {
            get_json(
                ctx.svc("scheduling")
                    .url(&format!("/v1/cases/{first}/follow-ups")),
                &reader,
            )
        },
    )
    .await;
    assert_eq!(sched["trace_id"], trace_id);

    // Every case reaches reporting as dispatched.
    for id in &ids {
        let facts = eventually(
            "reporting folded the case",
            Duration::from_secs(60),
            || async {
                let v = get_json(
                    ctx.svc("reporting").url(&format!("/v1/cases/{id}")),
                    &reader,
                )
                .await?;
                (v["status"] == "dispatched").then_some(v)
            },
        )
        .await;
        if id == first {
            assert_eq!(facts["trace_id"], trace_id);
        }
    }
    // And intake's own projection follows.
    let got = eventually(
        "intake saw the dispatch",
        Duration::from_secs(60),
        || async {
            let v = get_json(
                ctx.svc("intake")
                    .url(&format!("/v1/cases/{first}?reason=%E6%A0%B8%E5%AF%B9%E5%8A%9E%E7%90%86%E7%8A%B6%E6%80%81")),
                &registrar,
            )
            .await?;
            (v["status"] == "dispatched").then_some(v)
        },
    )
    .await;
    assert_eq!(got["handling_unit"], "330122002200-xfb");

    let stats = get_json(ctx.svc("reporting").url("/v1/stats"), &reader)
        .await
        .expect("stats");
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_tier"]["village"], 2);
    assert_eq!(stats["by_tier"]["township"], 1);
    assert_eq!(stats["by_status"]["dispatched"], 3);

    // A township user sees only its own part.
    let township = ctx.token(&[roles::ANALYST], None, "330122003");
    let s2 = get_json(ctx.svc("reporting").url("/v1/stats"), &township)
        .await
        .expect("stats");
    assert_eq!(s2["total"], 1);
    let r = http
        .get(ctx.svc("reporting").url("/v1/stats?jurisdiction=330122"))
        .bearer_auth(&township)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    ctx.cleanup().await;
}

#[tokio::test]
async fn an_overdue_case_climbs_village_township_county_to_the_city() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let village = "330122002200";
    let registrar = ctx.token(
        &[roles::REGISTRAR],
        Some(&format!("{village}-xfb")),
        village,
    );
    let reader = ctx.token(&[roles::SUPERVISOR], None, COUNTY);
    let r = xf_testkit::http()
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&registrar)
        .json(&xf_e2e::sample_case(
            "visit",
            village,
            "transport",
            "村道塌方无人修",
            7,
        ))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["case_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let routing = ctx.svc("routing").url(&format!("/v1/cases/{id}/routing"));
    let first = eventually(
        "dispatched at the village",
        Duration::from_secs(60),
        || async {
            let v = get_json(routing.clone(), &reader).await?;
            (v["status"] == "dispatched").then_some(v)
        },
    )
    .await;
    assert_eq!(first["jurisdiction_code"], village);
    let deadlines = ctx
        .svc("supervision")
        .url(&format!("/v1/cases/{id}/deadlines"));
    eventually(
        "the acceptance clock runs",
        Duration::from_secs(60),
        || async {
            let v = get_json(deadlines.clone(), &reader).await?;
            (v["clocks"][0]["state"] == "running").then_some(())
        },
    )
    .await;

    // Twenty days on (past the due day, which a weekend can push back), nobody has
    // decided: the breach at each tier escalates it (R19).
    ctx.svc("supervision")
        .clock
        .advance(chrono::Duration::days(20));
    let mut last = Value::Null;
    for _ in 0..300 {
        last = get_json(routing.clone(), &reader).await.unwrap_or_default();
        if last["status"] == "city" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if last["status"] != "city" {
        let clocks = get_json(deadlines.clone(), &reader).await;
        panic!("not handed to the city level: {last:#}\nclocks: {clocks:#?}");
    }
    let chain: Vec<String> = last["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| {
            let code = h["detail"]["jurisdiction_code"]
                .as_str()
                .or(h["detail"]["from_jurisdiction_code"].as_str())?;
            Some(format!("{}@{code}", h["action"].as_str()?))
        })
        .collect();
    assert_eq!(
        chain,
        [
            format!("dispatched@{village}"),
            "redispatched_up@330122002".to_owned(),
            "redispatched_up@330122".to_owned(),
            "handed_to_city@330122".to_owned(),
        ]
    );
    let clocks = get_json(deadlines, &reader).await.expect("clocks");
    let breached: Vec<&str> = clocks["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .filter(|c| c["stage"] == "acceptance" && c["breached_at"].is_string())
        .filter_map(|c| c["jurisdiction_code"].as_str())
        .collect();
    assert_eq!(breached, [village, "330122002", COUNTY]);
    let facts = ctx.svc("reporting").url(&format!("/v1/cases/{id}"));
    eventually(
        "reporting knows it was overdue",
        Duration::from_secs(30),
        || async {
            let v = get_json(facts.clone(), &reader).await?;
            (v["overdue"] == true).then_some(())
        },
    )
    .await;
    ctx.cleanup().await;
}

#[tokio::test]
async fn the_petitioner_sees_the_owning_leader_until_released() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let leader = ctx.token(&[roles::LEADER], None, COUNTY);
    let r = xf_testkit::http()
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&registrar)
        .json(&xf_e2e::sample_case(
            "visit",
            "330122002200",
            "land",
            "宅基地纠纷多年未决",
            11,
        ))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let b: Value = r.json().await.expect("json");
    let (id, no, code) = (
        b["case_id"].as_str().expect("id").to_owned(),
        b["registration_no"].as_str().expect("no").to_owned(),
        b["query_code"].as_str().expect("code").to_owned(),
    );
    let public = ctx
        .svc("intake")
        .url(&format!("/v1/public/cases/{no}?code={code}"));
    let ownership = ctx
        .svc("supervision")
        .url(&format!("/v1/cases/{id}/ownership"));
    // Supervision knows the case once routing dispatched it.
    eventually("leader assigned", Duration::from_secs(60), || async {
        let (s, _) = xf_testkit::call(
            "POST",
            &ownership,
            &leader,
            Some(serde_json::json!({"leader_id": "wang-sj", "leader_title": "县委副书记"})),
        )
        .await;
        (s == StatusCode::CREATED).then_some(())
    })
    .await;
    eventually(
        "the citizen view shows the leader",
        Duration::from_secs(60),
        || async {
            let v = get_json(public.clone(), "").await?;
            (v["leader_owner"] == "县委副书记").then_some(())
        },
    )
    .await;
    let (s, _) = xf_testkit::call(
        "POST",
        &format!("{ownership}/release"),
        &leader,
        Some(serde_json::json!({"reason": "已息诉罢访"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    eventually(
        "the citizen view no longer shows it",
        Duration::from_secs(60),
        || async {
            let v = get_json(public.clone(), "").await?;
            v["leader_owner"].is_null().then_some(())
        },
    )
    .await;
    ctx.cleanup().await;
}
