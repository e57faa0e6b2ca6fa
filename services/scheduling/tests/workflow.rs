//! The schedule at work, through the real HTTP API, Postgres, broker and JWTs: bad input
//! and scope, the published feeds, swaps with the notice rule, regeneration proposals,
//! the duty roster and log, appointments and follow-up visits with their events.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use xf_events::Payload;
use xf_events::v1::{CaseClosed, CaseDispatched, CaseRegistered};
use xf_testkit::{Ctx, eventually, produce_raw, read_topic};

const COUNTY: &str = "330122";
const VILLAGE_CODE: &str = "330122002200";

async fn start(ctx: &mut Ctx) {
    let s = ctx
        .settings::<xf_scheduling::Ext>(
            &xf_scheduling::binary(),
            &[("follow_up.sweep_interval_ms", "3600000")],
        )
        .expect("settings");
    let app = xf_scheduling::build(s).await.expect("builds");
    ctx.spawn("scheduling", app);
}

async fn call(
    ctx: &Ctx,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    xf_testkit::call(method, &ctx.svc("scheduling").url(path), token, body).await
}

async fn text(ctx: &Ctx, path: &str) -> (StatusCode, String, String) {
    let r = xf_testkit::http()
        .get(ctx.svc("scheduling").url(path))
        .send()
        .await
        .expect("get");
    let s = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (s, ct, r.text().await.unwrap_or_default())
}

fn fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    f.sort();
    f
}

/// A small office of the village: two leaders, two staff, a Wednesday appointment day
/// with one place, Thursday fixed-point sessions in rotation.
async fn small_office(ctx: &Ctx, t: &str) -> &'static str {
    let id = "t-village";
    let (s, v) = call(ctx, "PUT", &format!("/v1/offices/{id}"), t, Some(json!({
        "name": "测试村委会", "jurisdiction_code": VILLAGE_CODE, "kind": "village", "place": "村委会",
        "notice_days": 2, "follow_up_hours": 168,
        "people": [
            {"id": "sj", "name": "村书记", "post": "村党支部书记", "role": "leader"},
            {"id": "zr", "name": "村主任", "post": "村委会主任", "role": "leader"},
            {"id": "wy", "name": "委员", "post": "村委委员", "role": "staff"},
            {"id": "kj", "name": "报账员", "post": "村报账员", "role": "staff"}],
        "duty": {"leaders": ["sj", "zr"], "staff": ["wy", "kj"], "staff_per_day": 1}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for (rule, body) in [
        (
            "wednesday",
            json!({"kind": "weekly", "parameters": {"weekdays": ["wednesday"]}, "post": "村委会主任",
            "leaders": ["zr"], "slots": [{"start": "09:00", "end": "11:00"}], "place": "村委会接待室",
            "form": "appointment", "capacity": 1, "effective_from": "2027-01-01"}),
        ),
        (
            "thursday",
            json!({"kind": "weekly", "parameters": {"weekdays": ["thursday"]}, "post": "村干部",
            "leaders": ["sj", "zr"], "slots": [{"start": "14:00", "end": "16:00"}], "place": "村委会接待室",
            "form": "fixed_point", "capacity": 5, "effective_from": "2027-01-01"}),
        ),
    ] {
        let (s, v) = call(
            ctx,
            "PUT",
            &format!("/v1/offices/{id}/reception-rules/{rule}"),
            t,
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    id
}

async fn sessions(ctx: &Ctx, office: &str, from: &str, to: &str) -> Vec<Value> {
    let (s, v) = call(
        ctx,
        "GET",
        &format!("/v1/offices/{office}/reception-sessions?from={from}&to={to}"),
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn set_clock(ctx: &Ctx, y: i32, m: u32, d: u32, h: u32) {
    let at = Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    ctx.svc("scheduling").clock.set(at);
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing_and_writes_need_a_scoped_token() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let t = ctx.token(&["scheduler"], None, COUNTY);
    let office = small_office(&ctx, &t).await;
    let rule = json!({"kind": "fixed_day", "parameters": {"day": 31}, "post": "村党支部书记",
        "leaders": ["nobody"], "slots": [{"start": "09:00", "end": "12:00"}], "place": "x",
        "form": "fixed_point", "effective_from": "2027-01-01"});
    // No token, a token of another county, a token without the role.
    let (s, _) = call(
        &ctx,
        "PUT",
        &format!("/v1/offices/{office}/reception-rules/r"),
        "",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let stranger = ctx.token(&["scheduler"], None, "330106");
    let (s, _) = call(
        &ctx,
        "PUT",
        &format!("/v1/offices/{office}/reception-rules/r"),
        &stranger,
        Some(rule.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let analyst = ctx.token(&["analyst"], None, COUNTY);
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &analyst,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A village token may keep its own village's calendar, not the county's.
    let village = ctx.token(&["scheduler"], None, VILLAGE_CODE);
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &village,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &ctx,
        "PUT",
        "/v1/offices/t-county",
        &village,
        Some(json!({
        "name": "县", "jurisdiction_code": COUNTY, "kind": "county", "place": "x", "people": []})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The 31st is refused (use last_day), with the unknown leader named too.
    let (s, v) = call(
        &ctx,
        "PUT",
        &format!("/v1/offices/{office}/reception-rules/r"),
        &t,
        Some(rule),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["leaders[0]", "parameters.day"]);
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("last_day"),
        "{v}"
    );
    let (_, rules) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/reception-rules?on=2027-06-01"),
        "",
        None,
    )
    .await;
    let ids: Vec<&str> = rules["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["thursday", "wednesday"], "nothing stored");
    // Unknown office, bad kinds, bad dates, bad ranges.
    let (s, _) = call(
        &ctx,
        "GET",
        "/v1/offices/nowhere/reception-sessions",
        "",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/reception-sessions?from=2027-13-01"),
        "",
        None,
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["from".to_owned()])
    );
    let (s, v) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/reception-sessions?from=2027-02-01&to=2027-01-01"),
        "",
        None,
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["to".to_owned()])
    );
    let (s, v) = call(
        &ctx,
        "PUT",
        "/v1/offices/t2",
        &t,
        Some(json!({
        "name": "", "jurisdiction_code": "33x", "kind": "hamlet", "place": "p", "notice_days": -1,
        "follow_up_hours": 0, "people": [{"id": "a", "name": "A", "post": "书记", "role": "boss"}],
        "duty": {"leaders": ["a", "zz"], "staff_per_day": 0}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&v),
        [
            "duty.leaders[0]",
            "duty.leaders[1]",
            "duty.staff_per_day",
            "follow_up_hours",
            "jurisdiction_code",
            "kind",
            "name",
            "notice_days",
            "people[0].role"
        ]
    );
    let (s, _) = call(&ctx, "GET", "/v1/offices/t2", "", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The OpenAPI document lists every endpoint.
    let (s, doc) = call(&ctx, "GET", "/openapi.json", "", None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/offices",
        "/v1/offices/{office}",
        "/v1/offices/{office}/reception-rules",
        "/v1/offices/{office}/reception-rules/{rule}",
        "/v1/offices/{office}/reception-rules/{rule}/recurrence.ics",
        "/v1/offices/{office}/reception-sessions",
        "/v1/offices/{office}/reception-calendar.ics",
        "/v1/offices/{office}/leaders/{leader}/reception-calendar.ics",
        "/v1/offices/{office}/plans/{year}",
        "/v1/offices/{office}/plans/{year}/generate",
        "/v1/offices/{office}/plans/{year}/publish",
        "/v1/offices/{office}/plans/{year}/proposal/apply",
        "/v1/offices/{office}/swaps",
        "/v1/sessions/{id}",
        "/v1/sessions/{id}/cancel",
        "/v1/sessions/{id}/move",
        "/v1/sessions/{id}/cases",
        "/v1/sessions/{id}/appointments",
        "/v1/appointments/{id}",
        "/v1/appointments/{id}/cancel",
        "/v1/appointments/{id}/reschedule",
        "/v1/offices/{office}/duty-roster",
        "/v1/offices/{office}/duty-roster/coverage",
        "/v1/offices/{office}/duty-roster/{date}",
        "/v1/offices/{office}/duty-log",
        "/v1/offices/{office}/handovers",
        "/v1/cases/{id}/follow-ups",
        "/v1/follow-ups",
        "/v1/follow-ups/{id}/assign",
        "/v1/follow-ups/{id}/complete",
        "/v1/admin/sweep",
        // The frame's, as every service has them.
        "/health/livez",
        "/health/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/admin/audit",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    assert_eq!(paths.len(), 36, "{:?}", paths.keys().collect::<Vec<_>>());
    ctx.cleanup().await;
}

#[tokio::test]
async fn feeds_swaps_cancellations_and_regeneration_proposals() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let t = ctx.token(&["scheduler"], None, COUNTY);
    let office = small_office(&ctx, &t).await;
    let (s, g) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    // Drafts are not public.
    assert!(
        sessions(&ctx, office, "2027-01-01", "2027-01-31")
            .await
            .is_empty()
    );
    let (s, p) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/publish"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/publish"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "published once");
    let jan = sessions(&ctx, office, "2027-01-01", "2027-01-31").await;
    // Thursdays 2027-01-07, 14, 21, 28 (sj, zr, sj, zr); Wednesdays 6, 13, 20, 27 (zr).
    let thu: Vec<(&str, &str)> = jan
        .iter()
        .filter(|x| x["rule_id"] == "thursday")
        .map(|x| {
            (
                x["date"].as_str().unwrap_or(""),
                x["leader_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        thu,
        [
            ("2027-01-07", "sj"),
            ("2027-01-14", "zr"),
            ("2027-01-21", "sj"),
            ("2027-01-28", "zr")
        ]
    );
    assert!(
        jan.iter()
            .all(|x| x["provisional"] == true && x["status"] == "scheduled" && x["sequence"] == 0)
    );

    // The ICS feed: one VEVENT per session, Asia/Shanghai with its VTIMEZONE, stable UIDs.
    let (s, ct, ics) = text(
        &ctx,
        &format!("/v1/offices/{office}/reception-calendar.ics?from=2027-01-01&to=2027-01-31"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/calendar; charset=utf-8");
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n")
            && ics.contains("BEGIN:VTIMEZONE\r\nTZID:Asia/Shanghai\r\n")
    );
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), jan.len());
    let first_thu = jan
        .iter()
        .find(|x| x["date"] == "2027-01-07")
        .expect("thursday");
    let uid = format!("UID:{}@xinfang", first_thu["id"].as_str().expect("id"));
    assert!(ics.contains(&uid));
    assert!(ics.contains("DTSTART;TZID=Asia/Shanghai:20270107T140000\r\n"));
    // Subscribed clients revalidate: the same ETag is 304 until the schedule changes.
    let feed_url = ctx.svc("scheduling").url(&format!(
        "/v1/offices/{office}/reception-calendar.ics?from=2027-01-01&to=2027-01-31"
    ));
    let etag = |r: &reqwest::Response| {
        r.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let first = xf_testkit::http()
        .get(&feed_url)
        .send()
        .await
        .expect("feed");
    let tag = etag(&first).expect("etag");
    let again = xf_testkit::http()
        .get(&feed_url)
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("feed");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // One leader's feed.
    let (s, _, sj) = text(
        &ctx,
        &format!(
            "/v1/offices/{office}/leaders/sj/reception-calendar.ics?from=2027-01-01&to=2027-01-31"
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sj.matches("BEGIN:VEVENT").count(), 2);
    let (s, _, _) = text(
        &ctx,
        &format!("/v1/offices/{office}/leaders/wy/reception-calendar.ics"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "staff have no reception calendar");

    // R24: on Tue 2027-01-12 the session of Thu 01-14 is 2 days away (allowed); on Wed
    // 01-13 it is 1 day away: refused, naming the rule, nothing changed, kept in history.
    let id14 = jan
        .iter()
        .find(|x| x["date"] == "2027-01-14")
        .and_then(|x| x["id"].as_str())
        .expect("14")
        .to_owned();
    let id21 = jan
        .iter()
        .find(|x| x["date"] == "2027-01-21")
        .and_then(|x| x["id"].as_str())
        .expect("21")
        .to_owned();
    set_clock(&ctx, 2027, 1, 13, 10);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/swaps"),
        &t,
        Some(json!({"session_id": id14, "kind": "swap", "with_session_id": id21})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(fields(&v), ["session_id"]);
    assert!(
        v["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("notice_days"),
        "{v}"
    );
    let again = sessions(&ctx, office, "2027-01-14", "2027-01-21").await;
    assert!(again.iter().all(|x| x["sequence"] == 0));
    set_clock(&ctx, 2027, 1, 12, 10);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/swaps"),
        &t,
        Some(json!({"session_id": id14, "kind": "swap", "with_session_id": id21})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let changed = xf_testkit::http()
        .get(&feed_url)
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("feed");
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "the swap changed the feed"
    );
    assert_ne!(etag(&changed).as_deref(), Some(tag.as_str()));
    let after = sessions(&ctx, office, "2027-01-14", "2027-01-21").await;
    let by_id = |id: &str| {
        after
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .expect("session")
    };
    assert_eq!(
        (
            by_id(&id14)["leader_id"].clone(),
            by_id(&id14)["sequence"].clone()
        ),
        (json!("sj"), json!(1))
    );
    assert_eq!(
        (
            by_id(&id21)["leader_id"].clone(),
            by_id(&id21)["sequence"].clone()
        ),
        (json!("zr"), json!(1))
    );
    let (_, h) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/swaps"),
        &t,
        None,
    )
    .await;
    let mut outcomes: Vec<(&str, Option<&str>)> = h["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|x| {
            (
                x["outcome"].as_str().unwrap_or(""),
                x["refused_rule"].as_str(),
            )
        })
        .collect();
    // (The test moved the clock back between the two requests.)
    outcomes.sort_unstable();
    assert_eq!(
        outcomes,
        [("accepted", None), ("refused", Some("notice_days"))]
    );
    // A substitute who is staff, or busy, is refused.
    let id28 = jan
        .iter()
        .find(|x| x["date"] == "2027-01-28")
        .and_then(|x| x["id"].as_str())
        .expect("28")
        .to_owned();
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/swaps"),
        &t,
        Some(json!({"session_id": id28, "kind": "substitute", "substitute_id": "wy"})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["substitute_id".to_owned()]
        )
    );

    // Rotation across a cancelled session: cancel Thu 01-21 (SEQUENCE 2, STATUS CANCELLED).
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{id21}/cancel"),
        &t,
        Some(json!({"reason": "leader_unavailable"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{id21}/cancel"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "cancelled once");
    let (_, _, ics) = text(
        &ctx,
        &format!("/v1/offices/{office}/reception-calendar.ics?from=2027-01-01&to=2027-01-31"),
    )
    .await;
    let event21 = ics
        .split("BEGIN:VEVENT")
        .find(|e| e.contains(&format!("UID:{id21}@xinfang")))
        .expect("event kept");
    assert!(
        event21.contains("STATUS:CANCELLED\r\n") && event21.contains("SEQUENCE:2\r\n"),
        "{event21}"
    );
    // Regenerating proposes nothing for unchanged rules: the rotation after the cancelled
    // session stays as published.
    let (s, g) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["state"], "published");
    assert_eq!(g["proposal"], json!([]), "{g}");
    // A rule's new version from March: regeneration proposes the changes and moves
    // nothing until they are applied; the swapped and cancelled sessions stay.
    let (s, _) = call(&ctx, "PUT", &format!("/v1/offices/{office}/reception-rules/thursday"), &t, Some(json!({
        "kind": "weekly", "parameters": {"weekdays": ["thursday"]}, "post": "村干部", "leaders": ["sj", "zr"],
        "slots": [{"start": "14:00", "end": "16:00"}], "place": "村文化礼堂", "form": "fixed_point",
        "capacity": 5, "effective_from": "2027-03-01"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, g) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &t,
        None,
    )
    .await;
    let proposal = g["proposal"].as_array().expect("proposal");
    assert!(!proposal.is_empty());
    assert!(
        proposal
            .iter()
            .all(|c| c["action"] == "update" && c["session"]["place"] == "村文化礼堂"),
        "{g}"
    );
    let march = sessions(&ctx, office, "2027-03-01", "2027-03-31").await;
    assert!(
        march
            .iter()
            .filter(|x| x["rule_id"] == "thursday")
            .all(|x| x["place"] == "村委会接待室"),
        "not moved yet"
    );
    let (s, a) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/proposal/apply"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["changed"].as_u64(), Some(proposal.len() as u64));
    let march = sessions(&ctx, office, "2027-03-01", "2027-03-31").await;
    assert!(
        march
            .iter()
            .filter(|x| x["rule_id"] == "thursday")
            .all(|x| x["place"] == "村文化礼堂" && x["sequence"] == 1)
    );
    let jan = sessions(&ctx, office, "2027-01-14", "2027-01-21").await;
    assert_eq!(
        jan.iter()
            .find(|x| x["id"] == id14.as_str())
            .map(|x| x["leader_id"].clone()),
        Some(json!("sj"))
    );

    // A lunar rule as an RFC 7529 recurrence.
    let (s, _) = call(&ctx, "PUT", &format!("/v1/offices/{office}/reception-rules/lunar"), &t, Some(json!({
        "kind": "lunar_days", "parameters": {"endings": [3, 6, 9]}, "post": "村党支部书记", "leaders": ["sj"],
        "slots": [{"start": "09:00", "end": "11:00"}], "place": "村委会", "form": "random", "effective_from": "2027-01-01"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, ct, r) = text(&ctx, &format!("/v1/offices/{office}/reception-rules/lunar/recurrence.ics?from=2027-01-01&to=2027-12-31")).await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::OK, "text/calendar; charset=utf-8")
    );
    assert!(
        r.replace("\r\n ", "").contains(
            "RRULE:RSCALE=CHINESE;FREQ=MONTHLY;BYMONTHDAY=3,6,9,13,16,19,23,26,29;UNTIL="
        ),
        "{r}"
    );
    assert!(
        r.contains("EXDATE;TZID=Asia/Shanghai:"),
        "weekend lunar days are excluded"
    );

    // The duty roster: a day emptied by hand is a coverage gap and lowers the score.
    let (s, c) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/duty-roster/coverage?from=2027-02-01&to=2027-02-28"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["gaps"], json!([]), "{c}");
    let score = c["quality"]["score"].as_u64().expect("score");
    assert!(score > 50, "{c}");
    let (s, _) = call(
        &ctx,
        "PUT",
        &format!("/v1/offices/{office}/duty-roster/2027-02-03"),
        &t,
        Some(json!({"leaders": [], "staff": ["wy"]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, c) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/duty-roster/coverage?from=2027-02-01&to=2027-02-28"),
        &t,
        None,
    )
    .await;
    assert_eq!(c["gaps"][0]["rule"], "duty_leader_missing");
    assert_eq!(c["gaps"][0]["date"], "2027-02-03");
    assert!(c["quality"]["score"].as_u64() < Some(score), "{c}");
    let (s, v) = call(
        &ctx,
        "PUT",
        &format!("/v1/offices/{office}/duty-roster/2027-02-04"),
        &t,
        Some(json!({"leaders": ["wy"]})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["leaders[0]".to_owned()]
        )
    );
    // The plan check lists it too.
    let (_, plan) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/plans/2027"),
        &t,
        None,
    )
    .await;
    assert!(
        plan["violations"]
            .as_array()
            .expect("v")
            .iter()
            .any(|v| v["rule"] == "duty_leader_missing" && v["date"] == "2027-02-03")
    );

    // The duty log is append-only; a visit received by one person is flagged.
    set_clock(&ctx, 2027, 2, 3, 15);
    let (s, l) = call(&ctx, "POST", &format!("/v1/offices/{office}/duty-log"), &t,
        Some(json!({"kind": "visit", "category": "land", "received_by": ["wy"], "outcome": "registered"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    assert_eq!(l["thin"], true);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/duty-log"),
        &t,
        Some(json!({"kind": "gossip", "received_by": ["ghost"], "outcome": "x", "headcount": 0})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&v),
        ["headcount", "kind", "outcome", "received_by[0]"]
    );
    let (_, c) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/duty-roster/coverage?from=2027-02-01&to=2027-02-28"),
        &t,
        None,
    )
    .await;
    assert_eq!(c["quality"]["thin_visits"], json!([l["id"]]));
    let pool = ctx.svc("scheduling").pool.clone();
    assert!(
        sqlx::query("UPDATE duty_log SET headcount = 2")
            .execute(&pool)
            .await
            .is_err(),
        "append-only"
    );
    assert!(
        sqlx::query("DELETE FROM duty_log")
            .execute(&pool)
            .await
            .is_err(),
        "append-only"
    );
    let (s, h) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/handovers"),
        &t,
        Some(json!({"from": "sj", "to": "zr", "open_case_ids": []})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let (_, hs) = call(
        &ctx,
        "GET",
        &format!("/v1/offices/{office}/handovers?from=2027-02-03&to=2027-02-03"),
        &t,
        None,
    )
    .await;
    assert_eq!(hs["items"].as_array().map(Vec::len), Some(1));
    ctx.cleanup().await;
}

async fn produce(ctx: &Ctx, case: Uuid, code: &str, p: Payload) {
    let env = xf_events::envelope(
        case,
        "routing",
        xf_events::tier_of_code(code),
        code,
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

fn dispatched(code: &str) -> Payload {
    Payload::CaseDispatched(CaseDispatched {
        unit_id: format!("{code}-gov"),
        tier: xf_events::tier_of_code(code) as i32,
        jurisdiction_code: code.into(),
        ..Default::default()
    })
}

async fn known(ctx: &Ctx, case: Uuid, t: &str) -> Value {
    eventually("case known", Duration::from_secs(60), || async {
        let (s, v) = call(ctx, "GET", &format!("/v1/cases/{case}/follow-ups"), t, None).await;
        (s == StatusCode::OK).then_some(v)
    })
    .await
}

#[tokio::test]
async fn appointments_and_follow_ups_with_their_events() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let t = ctx.token(&["scheduler"], None, COUNTY);
    let office = small_office(&ctx, &t).await;
    call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/generate"),
        &t,
        None,
    )
    .await;
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/offices/{office}/plans/2027/publish"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for case in [a, b, c] {
        produce(&ctx, case, VILLAGE_CODE, dispatched(VILLAGE_CODE)).await;
    }
    for case in [a, b, c] {
        known(&ctx, case, &t).await;
    }
    let feb = sessions(&ctx, office, "2027-02-01", "2027-02-28").await;
    let wed = |d: &str| {
        feb.iter()
            .find(|x| x["date"] == d && x["rule_id"] == "wednesday")
            .and_then(|x| x["id"].as_str())
            .expect(d)
            .to_owned()
    };
    let (w3, w10) = (wed("2027-02-03"), wed("2027-02-10"));

    // Book; a second booking of the same case and a full session are refused.
    let (s, ap) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w3}/appointments"),
        &t,
        Some(json!({"case_id": a})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ap}");
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w10}/appointments"),
        &t,
        Some(json!({"case_id": a})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::CONFLICT, vec!["case_id".to_owned()]),
        "double booking"
    );
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w3}/appointments"),
        &t,
        Some(json!({"case_id": b})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::CONFLICT, vec!["session_id".to_owned()]),
        "full: {v}"
    );
    assert!(v["detail"].as_str().unwrap_or("").contains("session_full"));
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w3}/appointments"),
        &t,
        Some(json!({"case_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["case_id".to_owned()])
    );
    // Cancelling the session carries the appointment to the next session with room
    // (the Thursday after), and says so.
    let (s, v) = call(&ctx, "POST", &format!("/v1/sessions/{w3}/cancel"), &t, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["appointments_moved"], 1);
    let ap_id = ap["id"].as_str().expect("id").to_owned();
    let (_, moved) = call(&ctx, "GET", &format!("/v1/appointments/{ap_id}"), &t, None).await;
    assert_eq!(
        (
            moved["date"].clone(),
            moved["state"].clone(),
            moved["moves"].clone()
        ),
        (json!("2027-02-04"), json!("booked"), json!(1))
    );
    // Reschedule it into Wednesday 02-10, then it is full for b; cancel frees it.
    let (s, r) = call(
        &ctx,
        "POST",
        &format!("/v1/appointments/{ap_id}/reschedule"),
        &t,
        Some(json!({"session_id": w10})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w10}/appointments"),
        &t,
        Some(json!({"case_id": b})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/appointments/{ap_id}/cancel"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/appointments/{ap_id}/cancel"),
        &t,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "cancelled once");
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w10}/appointments"),
        &t,
        Some(json!({"case_id": b})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // Moving a session takes its appointment along.
    let (s, m) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w10}/move"),
        &t,
        Some(json!({"date": "2027-02-11", "start": "08:00", "end": "09:00"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["appointments_moved"], 1);
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w10}/move"),
        &t,
        Some(json!({"date": "2027-02-13", "start": "08:00", "end": "09:00"})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["date".to_owned()]),
        "a Saturday"
    );
    // A past session takes no booking.
    set_clock(&ctx, 2027, 2, 18, 12);
    let w17 = wed("2027-02-17");
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{w17}/appointments"),
        &t,
        Some(json!({"case_id": c})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["session_id".to_owned()]
        )
    );
    ctx.svc("scheduling").clock.set(Utc::now());

    // Follow-ups: a settled village case is due in the village's 7 days; one at the
    // county's office in its 24 hours.
    let (s, _) = call(
        &ctx,
        "PUT",
        "/v1/offices/t-county",
        &t,
        Some(json!({
        "name": "县信访局", "jurisdiction_code": COUNTY, "kind": "county", "place": "接待中心",
        "follow_up_hours": 24, "people": []})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let county_case = Uuid::now_v7();
    produce(&ctx, county_case, COUNTY, dispatched(COUNTY)).await;
    known(&ctx, county_case, &t).await;
    for (case, code) in [(a, VILLAGE_CODE), (county_case, COUNTY)] {
        produce(
            &ctx,
            case,
            code,
            Payload::CaseClosed(CaseClosed {
                unit_id: "u".into(),
                ..Default::default()
            }),
        )
        .await;
    }
    let fa = eventually("follow-up", Duration::from_secs(60), || async {
        let v = known(&ctx, a, &t).await;
        v["follow_ups"][0]
            .is_object()
            .then_some(v["follow_ups"][0].clone())
    })
    .await;
    let fc = eventually("follow-up", Duration::from_secs(60), || async {
        let v = known(&ctx, county_case, &t).await;
        v["follow_ups"][0]
            .is_object()
            .then_some(v["follow_ups"][0].clone())
    })
    .await;
    assert_eq!(
        (
            fa["office"].clone(),
            fa["period_hours"].clone(),
            fa["state"].clone()
        ),
        (json!(office), json!(168), json!("due"))
    );
    assert_eq!(
        (fc["office"].clone(), fc["period_hours"].clone()),
        (json!("t-county"), json!(24))
    );
    let visit = fa["visit_id"].as_str().expect("id").to_owned();
    // Completing before assignment, someone else's, and twice are refused.
    let clerk = ctx
        .signer()
        .sign(&xf_auth::claims(
            "clerk-7",
            &["scheduler"],
            None,
            COUNTY,
            3600,
        ))
        .expect("token");
    let other = ctx
        .signer()
        .sign(&xf_auth::claims(
            "clerk-8",
            &["scheduler"],
            None,
            COUNTY,
            3600,
        ))
        .expect("token");
    let outcome =
        json!({"reached": true, "satisfaction": "basically_satisfied", "rebound_risk": false});
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/complete"),
        &clerk,
        Some(outcome.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "not assigned");
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/assign"),
        &t,
        Some(json!({"assignee": "clerk-7"})),
    )
    .await;
    assert_eq!((s, v["state"].clone()), (StatusCode::OK, json!("assigned")));
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/complete"),
        &other,
        Some(outcome.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "someone else's");
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/complete"),
        &clerk,
        Some(json!({"reached": true, "rebound_risk": false})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["satisfaction".to_owned()]
        )
    );
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/complete"),
        &clerk,
        Some(outcome.clone()),
    )
    .await;
    assert_eq!(
        (s, v["state"].clone(), v["late"].clone()),
        (StatusCode::OK, json!("completed"), json!(false)),
        "{v}"
    );
    let (s, _) = call(
        &ctx,
        "POST",
        &format!("/v1/follow-ups/{visit}/complete"),
        &clerk,
        Some(outcome),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "twice");
    // Two days on, the county case's 24 hours have passed: overdue, once.
    ctx.svc("scheduling")
        .clock
        .advance(chrono::Duration::days(2));
    let admin = ctx.token(&["admin"], None, COUNTY);
    let (s, v) = call(&ctx, "POST", "/v1/admin/sweep", &admin, None).await;
    assert_eq!((s, v["overdue"].clone()), (StatusCode::OK, json!(1)), "{v}");
    let (_, v) = call(&ctx, "POST", "/v1/admin/sweep", &admin, None).await;
    assert_eq!(v["overdue"], 0);
    let (_, list) = call(&ctx, "GET", "/v1/follow-ups?state=overdue", &t, None).await;
    assert_eq!(list["items"][0]["case_id"], json!(county_case));

    // The events, on the bus.
    let records = read_topic(&ctx.brokers, &ctx.topic, 120, Duration::from_secs(30)).await;
    let kinds: Vec<(&'static str, Uuid)> = records
        .iter()
        .filter_map(|r| xf_events::decode(&r.payload).ok())
        .filter(|e| e.envelope.producer == "scheduling")
        .map(|e| (e.type_name(), e.case_id))
        .collect();
    let count = |k: &str, case: Uuid| kinds.iter().filter(|(x, c)| *x == k && *c == case).count();
    assert_eq!(count("AppointmentBooked", a), 1, "{kinds:?}");
    assert_eq!(
        count("AppointmentMoved", a),
        2,
        "carried along, rescheduled"
    );
    assert_eq!(count("AppointmentCancelled", a), 1);
    assert_eq!(
        (count("AppointmentBooked", b), count("AppointmentMoved", b)),
        (1, 1),
        "moved with its session"
    );
    assert_eq!(
        count("FollowUpScheduled", a) + count("FollowUpScheduled", county_case),
        2
    );
    assert_eq!(count("FollowUpCompleted", a), 1);
    assert_eq!(count("FollowUpOverdue", county_case), 1);
    assert!(kinds.iter().any(|(k, _)| *k == "ReceptionSessionScheduled"));
    assert!(kinds.iter().any(|(k, _)| *k == "ReceptionSessionCancelled"));
    assert!(kinds.iter().any(|(k, _)| *k == "ReceptionSessionChanged"));
    ctx.cleanup().await;
}

/// An accusation (R13): the accused unit never learns of the case here either — not its
/// follow-up visit, not its appointment, not that it exists — whatever its roles; a
/// token from elsewhere gets 404 too, and the office's own staff see it.
#[tokio::test]
async fn the_accused_unit_never_sees_the_case_its_visits_or_its_appointment() {
    let mut ctx = Ctx::new().await.expect("context");
    start(&mut ctx).await;
    let t = ctx.token(&["scheduler"], None, COUNTY);
    let office = small_office(&ctx, &t).await;
    for step in ["generate", "publish"] {
        let (s, v) = call(
            &ctx,
            "POST",
            &format!("/v1/offices/{office}/plans/2027/{step}"),
            &t,
            None,
        )
        .await;
        assert!(s.is_success(), "{step}: {v}");
    }
    let accused = "330122-gaj";
    let (case, plain) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, excluded) in [(case, accused), (plain, "")] {
        produce(
            &ctx,
            id,
            VILLAGE_CODE,
            Payload::CaseRegistered(CaseRegistered {
                category: "accusation".into(),
                matter_jurisdiction_code: VILLAGE_CODE.into(),
                office_jurisdiction_code: COUNTY.into(),
                confidential: !excluded.is_empty(),
                excluded_unit_id: excluded.into(),
                ..Default::default()
            }),
        )
        .await;
        produce(&ctx, id, VILLAGE_CODE, dispatched(VILLAGE_CODE)).await;
        known(&ctx, id, &t).await;
    }
    let feb = sessions(&ctx, office, "2027-02-01", "2027-02-28").await;
    let session = feb
        .iter()
        .find(|x| x["date"] == "2027-02-03")
        .and_then(|x| x["id"].as_str())
        .expect("a session")
        .to_owned();
    let (s, ap) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{session}/appointments"),
        &t,
        Some(json!({"case_id": case})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ap}");
    let ap_id = ap["id"].as_str().expect("id").to_owned();
    for id in [case, plain] {
        produce(
            &ctx,
            id,
            VILLAGE_CODE,
            Payload::CaseClosed(CaseClosed {
                unit_id: format!("{VILLAGE_CODE}-gov"),
                ..Default::default()
            }),
        )
        .await;
    }
    let visit = eventually("the follow-up", Duration::from_secs(60), || async {
        let v = known(&ctx, case, &t).await;
        v["follow_ups"][0]["visit_id"].as_str().map(str::to_owned)
    })
    .await;
    eventually("the other follow-up", Duration::from_secs(60), || async {
        let v = known(&ctx, plain, &t).await;
        v["follow_ups"][0].is_object().then_some(())
    })
    .await;

    // The accused unit, with every role the office's staff have and the whole county.
    let roles = ["scheduler", "handler", "leader", "registrar", "admin"];
    let own = ctx.token(&roles, Some(accused), COUNTY);
    let elsewhere = ctx.token(&roles, None, "110101");
    for token in [&own, &elsewhere] {
        let (s, v) = call(
            &ctx,
            "GET",
            &format!("/v1/cases/{case}/follow-ups"),
            token,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert!(!v.to_string().contains(&visit), "{v}");
    }
    let (s, _) = call(
        &ctx,
        "GET",
        &format!("/v1/cases/{plain}/follow-ups"),
        &own,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "another case is no secret to it");
    let (s, _) = call(
        &ctx,
        "GET",
        &format!("/v1/appointments/{ap_id}"),
        &own,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&ctx, "GET", &format!("/v1/appointments/{ap_id}"), &t, None).await;
    assert_eq!(s, StatusCode::OK, "the office sees its appointment");
    let (_, list) = call(
        &ctx,
        "GET",
        &format!("/v1/sessions/{session}/appointments"),
        &own,
        None,
    )
    .await;
    assert!(!list.to_string().contains(&case.to_string()), "{list}");
    let (_, list) = call(&ctx, "GET", "/v1/follow-ups", &own, None).await;
    let listed = list.to_string();
    assert!(!listed.contains(&case.to_string()), "{list}");
    assert!(listed.contains(&plain.to_string()), "{list}");
    let (_, list) = call(&ctx, "GET", "/v1/follow-ups", &t, None).await;
    assert!(list.to_string().contains(&case.to_string()), "{list}");
    for (method, path, body) in [
        (
            "POST",
            format!("/v1/follow-ups/{visit}/assign"),
            json!({"assignee": "x"}),
        ),
        (
            "POST",
            format!("/v1/follow-ups/{visit}/complete"),
            json!({"reached": true, "satisfaction": "satisfied", "rebound_risk": false}),
        ),
    ] {
        let (s, v) = call(&ctx, method, &path, &own, Some(body)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    let next = feb
        .iter()
        .find(|x| x["date"] == "2027-02-10")
        .and_then(|x| x["id"].as_str())
        .expect("a later session")
        .to_owned();
    let (s, v) = call(
        &ctx,
        "POST",
        &format!("/v1/sessions/{next}/appointments"),
        &own,
        Some(json!({"case_id": case})),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["case_id".to_owned()]),
        "{v}"
    );
    assert!(
        !v.to_string().contains("outside"),
        "it does not learn the case exists: {v}"
    );
    ctx.cleanup().await;
}
