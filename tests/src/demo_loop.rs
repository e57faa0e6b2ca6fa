//! The demo's closed loop: one case from registration to the petitioner's rating —
//! register → dispatch → accept → reply → close → follow-up → satisfaction — then the
//! same petitioner back on the same matter (linked), a review a tier up with its
//! reason and outcome, and the cross-level monitor; the citizen's view at each step.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xf_auth::{Signer, roles};

/// The services' base URLs.
pub struct Urls {
    pub intake: String,
    pub routing: String,
    pub supervision: String,
    pub scheduling: String,
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut rb = match method {
        "POST" => http.post(url),
        _ => http.get(url),
    };
    if !token.is_empty() {
        rb = rb.bearer_auth(token);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await?;
    let s = r.status().as_u16();
    Ok((s, r.json().await.unwrap_or_default()))
}

/// Polls `url` (once a second: the citizen's endpoints are rate-limited) until `pred`.
pub(crate) async fn until(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let start = Instant::now();
    loop {
        let (s, v) = call(http, "GET", url, token, None).await?;
        if s == 200 && pred(&v) {
            return Ok(v);
        }
        if start.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("{what} did not happen within 60 s: {v}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub(crate) fn token(
    signer: &Signer,
    sub: &str,
    roles: &[&str],
    unit: Option<&str>,
    county: &str,
) -> String {
    signer
        .sign(&xf_auth::claims(sub, roles, unit, county, 3600))
        .unwrap_or_default()
}

pub(crate) fn ok(s: u16) -> anyhow::Result<()> {
    if (200..300).contains(&s) {
        Ok(())
    } else {
        anyhow::bail!("unexpected status {s}")
    }
}

/// The joint consultation (联合会商, R11) where the case has assisting units: each
/// unit's written opinion, then the lead unit's meeting record. Returns the units.
pub(crate) async fn consult(
    http: &reqwest::Client,
    case: &str,
    lead: &str,
    signer: &Signer,
    county: &str,
) -> anyhow::Result<Vec<String>> {
    let lead_token = token(
        signer,
        "demo-handler",
        &[roles::HANDLER],
        Some(lead),
        county,
    );
    let (_, c) = call(
        http,
        "GET",
        &format!("{case}/consultation"),
        &lead_token,
        None,
    )
    .await?;
    if c["required"] != true {
        return Ok(Vec::new());
    }
    let units: Vec<String> = c["units"]
        .as_array()
        .map(|u| {
            u.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for u in &units {
        let t = token(signer, "demo-handler", &[roles::HANDLER], Some(u), county);
        ok(call(
            http,
            "POST",
            &format!("{case}/consultation/opinions"),
            &t,
            Some(json!({"text": format!("{u}：同意按核查结果处理。")})),
        )
        .await?
        .0)?;
    }
    ok(call(
        http,
        "POST",
        &format!("{case}/consultation/meeting"),
        &lead_token,
        Some(
            json!({"held_at": chrono::Utc::now().to_rfc3339(), "participants": units,
            "minutes": "会商一致：由牵头单位答复信访人。"}),
        ),
    )
    .await?
    .0)?;
    Ok(units)
}

/// Runs the loop on a new case in `village`, with a petitioner numbered `person`.
pub async fn run(
    http: &reqwest::Client,
    u: &Urls,
    signer: &Signer,
    county: &str,
    village: &str,
    person: usize,
) -> anyhow::Result<()> {
    println!();
    println!("==> a case's life, as the petitioner sees it");
    let registrar = token(
        signer,
        "demo-registrar",
        &[roles::REGISTRAR],
        Some(&format!("{county}-xfb")),
        county,
    );
    let reader = token(
        signer,
        "demo-supervisor",
        &[roles::SUPERVISOR],
        None,
        county,
    );
    let summary = "承包的两亩耕地被征用修路，土地补偿款至今未发放到户";
    let body = crate::sample_case("visit", village, "land", summary, person);
    let (s, receipt) = call(
        http,
        "POST",
        &format!("{}/v1/cases", u.intake),
        &registrar,
        Some(body.clone()),
    )
    .await?;
    ok(s)?;
    let id = receipt["case_id"].as_str().unwrap_or_default().to_owned();
    let no = receipt["registration_no"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let code = receipt["query_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let public = format!("{}/v1/public/cases/{no}?code={code}", u.intake);
    println!(
        "  registered    {no}: {}",
        receipt["message"].as_str().unwrap_or("?")
    );
    let p = &receipt["acceptance_deadline"];
    println!(
        "                acceptance due {} — policy {}, {} days, {} (GET /v1/deadlines/preview)",
        p["due_at"].as_str().unwrap_or("?"),
        p["policy_id"].as_str().unwrap_or("?"),
        p["days"],
        p["counting"].as_str().unwrap_or("?")
    );

    let routed = until(
        http,
        &format!("{}/v1/cases/{id}/routing", u.routing),
        &reader,
        "the dispatch",
        |v| v["status"] == "dispatched",
    )
    .await?;
    let unit = routed["unit_id"].as_str().unwrap_or_default().to_owned();
    let v = until(
        http,
        &public,
        "",
        "the dispatch in the citizen's view",
        |v| v["status"] == "dispatched",
    )
    .await?;
    println!(
        "  dispatched    to {} — the petitioner sees: {}, handled by {}",
        unit,
        v["status"].as_str().unwrap_or("?"),
        v["handled_by"].as_str().unwrap_or("?")
    );

    let handler = token(
        signer,
        "demo-handler",
        &[roles::HANDLER],
        Some(&unit),
        county,
    );
    let case = format!("{}/v1/cases/{id}", u.routing);
    ok(
        call(http, "POST", &format!("{case}/accept"), &handler, None)
            .await?
            .0,
    )?;
    let v = until(http, &public, "", "the acceptance", |v| {
        v["status"] == "accepted" && v["deadline"]["stage"] == "handling"
    })
    .await?;
    println!(
        "  accepted      the petitioner sees: accepted, handling due {} (policy {})",
        v["deadline"]["due_at"].as_str().unwrap_or("?"),
        v["deadline"]["policy_id"].as_str().unwrap_or("?")
    );

    let units = consult(http, &case, &unit, signer, county).await?;
    if !units.is_empty() {
        println!(
            "  consulted     joint consultation (联合会商) of {}: written opinions and the meeting record",
            units.join(", ")
        );
    }
    let text = "经核实，土地补偿款已于本月足额发放到户。";
    ok(call(
        http,
        "POST",
        &format!("{case}/reply"),
        &handler,
        Some(json!({"outcome": "support", "text": text})),
    )
    .await?
    .0)?;
    let v = until(http, &public, "", "the reply", |v| {
        v["reply"]["text"].is_string()
    })
    .await?;
    println!(
        "  replied       the petitioner reads ({}): {}",
        v["reply"]["outcome"].as_str().unwrap_or("?"),
        v["reply"]["text"].as_str().unwrap_or("?")
    );

    ok(call(http, "POST", &format!("{case}/close"), &handler, None)
        .await?
        .0)?;
    let keeper = token(signer, "demo-scheduler", &[roles::SCHEDULER], None, county);
    let visits = until(
        http,
        &format!("{}/v1/cases/{id}/follow-ups", u.scheduling),
        &keeper,
        "the follow-up booking",
        |v| v["follow_ups"][0].is_object(),
    )
    .await?;
    let visit = visits["follow_ups"][0]["visit_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fu = format!("{}/v1/follow-ups/{visit}", u.scheduling);
    ok(call(
        http,
        "POST",
        &format!("{fu}/assign"),
        &keeper,
        Some(json!({"assignee": "demo-scheduler"})),
    )
    .await?
    .0)?;
    ok(call(
        http,
        "POST",
        &format!("{fu}/complete"),
        &keeper,
        Some(json!({"reached": true, "satisfaction": "satisfied", "rebound_risk": false})),
    )
    .await?
    .0)?;
    let v = until(http, &public, "", "the follow-up", |v| {
        v["follow_up"]["completed_at"].is_string()
    })
    .await?;
    println!(
        "  closed        follow-up visit booked for {}, completed: reached, {}",
        v["follow_up"]["scheduled_at"].as_str().unwrap_or("?"),
        v["follow_up"]["satisfaction"].as_str().unwrap_or("?")
    );
    ok(call(
        http,
        "POST",
        &format!("{}/v1/public/cases/{no}/satisfaction", u.intake),
        "",
        Some(json!({"code": code, "score": 4})),
    )
    .await?
    .0)?;
    let v = until(http, &public, "", "the rating", |v| {
        v["satisfaction"].is_number()
    })
    .await?;
    println!(
        "  rated         by the petitioner: {} of 5",
        v["satisfaction"]
    );

    // The same petitioner comes back with the same matter.
    let (s, again) = call(
        http,
        "POST",
        &format!("{}/v1/cases", u.intake),
        &registrar,
        Some(body),
    )
    .await?;
    ok(s)?;
    let again_view = format!(
        "{}/v1/public/cases/{}?code={}",
        u.intake,
        again["registration_no"].as_str().unwrap_or_default(),
        again["query_code"].as_str().unwrap_or_default()
    );
    let v = until(http, &again_view, "", "the link", |v| {
        v["status"] == "linked"
    })
    .await?;
    println!(
        "  repeat        {} is linked to the earlier case {}",
        again["registration_no"].as_str().unwrap_or("?"),
        v["linked_case"]["registration_no"].as_str().unwrap_or("?")
    );

    // A review (复查) a tier up, with the petitioner's reason and its outcome.
    let reason = "补偿面积少算了半亩";
    ok(call(
        http,
        "POST",
        &format!("{}/v1/public/cases/{no}/review", u.intake),
        "",
        Some(json!({"code": code, "kind": "review", "reason": reason})),
    )
    .await?
    .0)?;
    let up = until(
        http,
        &format!("{}/v1/cases/{id}/routing", u.routing),
        &reader,
        "the review dispatch",
        |v| v["status"] == "dispatched" && v["review_level"] == 1,
    )
    .await?;
    let reviewer = token(
        signer,
        "demo-reviewer",
        &[roles::HANDLER],
        up["unit_id"].as_str(),
        county,
    );
    ok(
        call(http, "POST", &format!("{case}/accept"), &reviewer, None)
            .await?
            .0,
    )?;
    consult(
        http,
        &case,
        up["unit_id"].as_str().unwrap_or_default(),
        signer,
        county,
    )
    .await?;
    ok(call(
        http,
        "POST",
        &format!("{case}/reply"),
        &reviewer,
        Some(json!({"outcome": "explain", "text": "经复查，征地面积以测绘成果为准，原答复事实清楚。"})),
    )
    .await?
    .0)?;
    let v = until(http, &public, "", "the review's outcome", |v| {
        v["reviews"][0]["outcome"].is_string()
    })
    .await?;
    println!(
        "  review        asked \"{}\" → {} at {} → outcome {}",
        v["reviews"][0]["reason"].as_str().unwrap_or("?"),
        up["jurisdiction_code"].as_str().unwrap_or("?"),
        up["unit_id"].as_str().unwrap_or("?"),
        v["reviews"][0]["outcome"].as_str().unwrap_or("?")
    );
    let (_, moves) = call(
        http,
        "GET",
        &format!("{}/v1/cases/{id}/moves", u.supervision),
        &reader,
        None,
    )
    .await?;
    println!(
        "  monitor       its tiers: {}",
        moves["chain"]
            .as_array()
            .map(|m| m
                .iter()
                .map(|x| format!(
                    "{}{}",
                    x["jurisdiction_code"].as_str().unwrap_or("?"),
                    x["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(" → "))
            .unwrap_or_else(|| "?".into())
    );
    println!("                {public}");
    Ok(())
}
