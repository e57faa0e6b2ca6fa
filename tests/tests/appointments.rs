//! An appointment (约访) booked in scheduling reaches the petitioner's view in intake:
//! time, place and status, and its move when the session is cancelled.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use xf_auth::roles;
use xf_testkit::{Ctx, eventually};

const COUNTY: &str = "330122";
const VILLAGE: &str = "330122002200";

#[tokio::test]
async fn the_citizen_view_shows_the_appointment_and_its_move() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let registrar = ctx.token(&[roles::REGISTRAR], Some("330122-xfb"), COUNTY);
    let keeper = ctx.token(&[roles::SCHEDULER], None, COUNTY);
    let sched = |p: &str| ctx.svc("scheduling").url(p);
    let r = xf_testkit::http()
        .post(ctx.svc("intake").url("/v1/cases"))
        .bearer_auth(&registrar)
        .json(&xf_e2e::sample_case(
            "visit",
            VILLAGE,
            "land",
            "承包地被占用，补偿未到位",
            7,
        ))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: Value = r.json().await.expect("json");
    let case = receipt["case_id"].as_str().expect("id").to_owned();
    let public = ctx.svc("intake").url(&format!(
        "/v1/public/cases/{}?code={}",
        receipt["registration_no"].as_str().expect("no"),
        receipt["query_code"].as_str().expect("code")
    ));
    eventually(
        "scheduling knows the case",
        Duration::from_secs(60),
        || async {
            let (s, _) = xf_testkit::call(
                "GET",
                &sched(&format!("/v1/cases/{case}/follow-ups")),
                &keeper,
                None,
            )
            .await;
            (s == StatusCode::OK).then_some(())
        },
    )
    .await;

    let (s, v) = xf_testkit::call(
        "PUT",
        &sched("/v1/offices/v1"),
        &keeper,
        Some(json!({
        "name": "旧县村村委会", "jurisdiction_code": VILLAGE, "kind": "village", "place": "村委会",
        "people": [{"id": "zr", "name": "村主任", "post": "村委会主任", "role": "leader"},
                   {"id": "wy", "name": "委员", "post": "村委委员", "role": "staff"}],
        "duty": {"leaders": ["zr"], "staff": ["wy"], "staff_per_day": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = xf_testkit::call("PUT", &sched("/v1/offices/v1/reception-rules/wed"), &keeper, Some(json!({
        "kind": "weekly", "parameters": {"weekdays": ["wednesday"]}, "post": "村委会主任", "leaders": ["zr"],
        "slots": [{"start": "09:00", "end": "11:00"}], "place": "村委会接待室", "form": "appointment",
        "effective_from": "2027-01-01"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for step in ["generate", "publish"] {
        let (s, v) = xf_testkit::call(
            "POST",
            &sched(&format!("/v1/offices/v1/plans/2027/{step}")),
            &keeper,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{step}: {v}");
    }
    let (_, list) = xf_testkit::call(
        "GET",
        &sched("/v1/offices/v1/reception-sessions?from=2027-03-01&to=2027-03-31"),
        "",
        None,
    )
    .await;
    let first = list["items"][0]["id"].as_str().expect("session").to_owned();
    let (s, a) = xf_testkit::call(
        "POST",
        &sched(&format!("/v1/sessions/{first}/appointments")),
        &keeper,
        Some(json!({"case_id": case})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");

    let shown = eventually(
        "the citizen view shows the appointment",
        Duration::from_secs(60),
        || async {
            let v: Value = xf_testkit::http()
                .get(&public)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            v["appointment"]
                .is_object()
                .then(|| v["appointment"].clone())
        },
    )
    .await;
    // Wed 2027-03-03 09:00 in Shanghai is 01:00 UTC.
    assert_eq!(shown["starts_at"], "2027-03-03T01:00:00Z", "{shown}");
    assert_eq!(
        (shown["place"].clone(), shown["status"].clone()),
        (json!("村委会接待室"), json!("booked"))
    );

    let (s, _) = xf_testkit::call(
        "POST",
        &sched(&format!("/v1/sessions/{first}/cancel")),
        &keeper,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let moved = eventually(
        "the citizen view shows the move",
        Duration::from_secs(60),
        || async {
            let v: Value = xf_testkit::http()
                .get(&public)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (v["appointment"]["status"] == "moved").then_some(v)
        },
    )
    .await;
    assert_eq!(
        moved["appointment"]["starts_at"], "2027-03-10T01:00:00Z",
        "carried to the next Wednesday"
    );
    let kinds: Vec<&str> = moved["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "appointment")
        .filter_map(|e| e["detail"]["status"].as_str())
        .collect();
    assert_eq!(kinds, ["booked", "moved"]);
    ctx.cleanup().await;
}
