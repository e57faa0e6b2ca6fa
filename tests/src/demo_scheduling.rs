//! The demo's scheduling part: the county's reception rule sets, next month's published
//! calendar of a township and a village, a swap refused for short notice and one
//! accepted, an appointment the citizen's view shows, a follow-up visit completed.

use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::{Value, json};
use xf_auth::{Signer, roles};
use xf_jurisdiction::{Tier, Tree};

/// The services' base URLs.
pub struct Urls {
    pub intake: String,
    pub routing: String,
    pub scheduling: String,
}

/// A registered case: id, registration number, query code.
pub struct Case {
    pub id: String,
    pub no: String,
    pub code: String,
}

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut rb = match method {
        "PUT" => http.put(url),
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

fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(8)).date_naive()
}

fn next_month(d: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d);
    let last = xf_calendar::month::last_day(y, m).unwrap_or(first);
    (first, last)
}

/// Runs the scheduling part of the demo against the running stack.
pub async fn run(
    http: &reqwest::Client,
    u: &Urls,
    signer: &Signer,
    county: &str,
    cases: &[Case],
) -> anyhow::Result<()> {
    let keeper = signer.sign(&xf_auth::claims(
        "demo-scheduler",
        &[roles::SCHEDULER, roles::LEADER],
        None,
        county,
        3600,
    ))?;
    let tree = Tree::fixture()?;
    let offices = xf_scheduling::fixture::offices(&tree)?;
    let mut created = 0;
    for o in &offices {
        let url = format!("{}/v1/offices/{}", u.scheduling, o.id);
        if call(http, "GET", &url, "", None).await?.0 == 200 {
            continue;
        }
        let (s, v) = call(
            http,
            "PUT",
            &url,
            &keeper,
            Some(serde_json::to_value(&o.body)?),
        )
        .await?;
        anyhow::ensure!(s == 201 || s == 200, "office {}: {s} {v}", o.id);
        for (id, r) in &o.rules {
            let (s, v) = call(
                http,
                "PUT",
                &format!("{url}/reception-rules/{id}"),
                &keeper,
                Some(serde_json::to_value(r)?),
            )
            .await?;
            anyhow::ensure!(s == 201, "rule {} {id}: {s} {v}", o.id);
        }
        created += 1;
    }
    println!();
    println!(
        "==> scheduling has the reception rule sets of {} offices ({} new): the county's 信访局, court and bureau, {} townships, {} villages",
        offices.len(),
        created,
        tree.of_tier(Tier::Township).len(),
        tree.of_tier(Tier::Village).len()
    );
    let town = tree
        .of_tier(Tier::Township)
        .first()
        .map(|d| (format!("{}-xf", d.code), d.name.clone()));
    let village = tree
        .of_tier(Tier::Village)
        .first()
        .map(|d| (format!("{}-cwh", d.code), d.name.clone()));
    let (Some((town, town_name)), Some((village, village_name))) = (town, village) else {
        anyhow::bail!("the fixture has no township or village");
    };
    let t0 = today();
    let (from, to) = next_month(t0);
    let mut years = vec![t0.year(), from.year()];
    years.dedup();
    for office in [&town, &village] {
        for y in &years {
            let base = format!("{}/v1/offices/{office}/plans/{y}", u.scheduling);
            let (s, g) = call(http, "POST", &format!("{base}/generate"), &keeper, None).await?;
            anyhow::ensure!(s == 200, "plan {office} {y}: {s} {g}");
            if g["state"] == "draft" {
                let (s, p) = call(
                    http,
                    "POST",
                    &format!("{base}/publish"),
                    &keeper,
                    Some(json!({})),
                )
                .await?;
                anyhow::ensure!(s == 200, "publish {office} {y}: {s} {p}");
            }
        }
    }
    let sessions = |office: &str, a: NaiveDate, b: NaiveDate| {
        format!(
            "{}/v1/offices/{office}/reception-sessions?from={a}&to={b}",
            u.scheduling
        )
    };
    for (office, name) in [(&town, &town_name), (&village, &village_name)] {
        let (_, v) = call(http, "GET", &sessions(office, from, to), "", None).await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        println!();
        println!(
            "  {name} — published reception calendar {from} … {to} ({} sessions)",
            items.len()
        );
        let mut office_hours = 0;
        for s in &items {
            if s["rule_id"] == "office-hours" {
                office_hours += 1;
                continue;
            }
            println!(
                "    {} {}–{}  {:<10} {:<14} {}  {}{}",
                s["date"].as_str().unwrap_or(""),
                s["start"].as_str().unwrap_or(""),
                s["end"].as_str().unwrap_or(""),
                s["post"].as_str().unwrap_or(""),
                s["leader"].as_str().unwrap_or(""),
                s["place"].as_str().unwrap_or(""),
                s["form_label"].as_str().unwrap_or(""),
                if s["provisional"] == true {
                    "  (暂定: 节假日安排未公布)"
                } else {
                    ""
                },
            );
        }
        if office_hours > 0 {
            println!(
                "    + {office_hours} office-hour sessions (周一至周五 9:00–12:00, 14:00–17:00, make-up working days included), village cadres in turn"
            );
        }
        println!(
            "    subscribe: {}/v1/offices/{office}/reception-calendar.ics",
            u.scheduling
        );
    }

    // R24: a swap inside the notice period is refused; one with notice is accepted.
    let (_, soon) = call(
        http,
        "GET",
        &sessions(&village, t0, t0 + Days::new(1)),
        "",
        None,
    )
    .await?;
    let (_, later) = call(http, "GET", &sessions(&village, from, to), "", None).await?;
    let later: Vec<Value> = later["items"].as_array().cloned().unwrap_or_default();
    let mornings: Vec<&Value> = later
        .iter()
        .filter(|s| {
            s["rule_id"] == "office-hours" && s["start"] == "09:00" && s["status"] == "scheduled"
        })
        .collect();
    let now_local = (Utc::now() + chrono::Duration::hours(8))
        .format("%H:%M")
        .to_string();
    let near = soon["items"].as_array().and_then(|l| {
        l.iter().find(|s| {
            s["status"] == "scheduled"
                && (s["date"].as_str() != Some(&t0.to_string())
                    || s["start"].as_str().is_some_and(|x| x > now_local.as_str()))
        })
    });
    let swaps = format!("{}/v1/offices/{village}/swaps", u.scheduling);
    println!();
    match (near, mornings.first()) {
        (Some(n), Some(m)) => {
            let (s, v) = call(
                http,
                "POST",
                &swaps,
                &keeper,
                Some(json!({
                "session_id": n["id"], "kind": "swap", "with_session_id": m["id"]})),
            )
            .await?;
            println!(
                "  swap refused  {} {} ({}) with {}: {} {}",
                n["date"].as_str().unwrap_or(""),
                n["start"].as_str().unwrap_or(""),
                n["leader"].as_str().unwrap_or(""),
                m["date"].as_str().unwrap_or(""),
                s,
                v["detail"].as_str().unwrap_or("")
            );
        }
        _ => println!(
            "  swap refused  — no session of {village_name} lies within the 2-day notice period right now"
        ),
    }
    let pair = mornings.iter().enumerate().find_map(|(i, a)| {
        mornings[i + 1..]
            .iter()
            .find(|b| b["leader_id"] != a["leader_id"] && b["date"] != a["date"])
            .map(|b| (*a, *b))
    });
    if let Some((a, b)) = pair {
        let (s, v) = call(
            http,
            "POST",
            &swaps,
            &keeper,
            Some(json!({
            "session_id": a["id"], "kind": "swap", "with_session_id": b["id"]})),
        )
        .await?;
        let changed = v["sessions"].as_array().cloned().unwrap_or_default();
        println!(
            "  swap accepted {} ↔ {} ({} ↔ {}): {s}; {}",
            a["date"].as_str().unwrap_or(""),
            b["date"].as_str().unwrap_or(""),
            a["leader"].as_str().unwrap_or(""),
            b["leader"].as_str().unwrap_or(""),
            changed
                .iter()
                .map(|x| format!(
                    "{} now {} (SEQUENCE {})",
                    x["date"].as_str().unwrap_or(""),
                    x["leader"].as_str().unwrap_or(""),
                    x["sequence"]
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // An appointment (约访) for a registered case, shown in the citizen's view.
    let (_, tl) = call(http, "GET", &sessions(&town, from, to), "", None).await?;
    let slot = tl["items"].as_array().and_then(|l| {
        l.iter()
            .find(|s| s["places_left"].as_i64() > Some(0))
            .cloned()
    });
    if let (Some(slot), Some(case)) = (slot, cases.get(1)) {
        let (s, a) = call(
            http,
            "POST",
            &format!(
                "{}/v1/sessions/{}/appointments",
                u.scheduling,
                slot["id"].as_str().unwrap_or("")
            ),
            &keeper,
            Some(json!({"case_id": case.id})),
        )
        .await?;
        println!();
        if s == 201 {
            println!(
                "  appointment   {} booked for {} {}–{} at {} ({})",
                case.no,
                a["date"].as_str().unwrap_or(""),
                a["start"].as_str().unwrap_or(""),
                a["end"].as_str().unwrap_or(""),
                a["place"].as_str().unwrap_or(""),
                a["leader"].as_str().unwrap_or("")
            );
        } else {
            println!(
                "  appointment   {}: {s} {}",
                case.no,
                a["detail"].as_str().unwrap_or("")
            );
        }
        let url = format!(
            "{}/v1/public/cases/{}?code={}",
            u.intake, case.no, case.code
        );
        let started = Instant::now();
        let mut shown = Value::Null;
        while started.elapsed() < Duration::from_secs(20) {
            let (_, v) = call(http, "GET", &url, "", None).await?;
            if v["appointment"].is_object() {
                shown = v["appointment"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        println!(
            "  citizen view  appointment {} at {} ({})",
            shown["starts_at"].as_str().unwrap_or("?"),
            shown["place"].as_str().unwrap_or("?"),
            shown["status"].as_str().unwrap_or("?")
        );
    }

    // A settled case gets its follow-up visit (回访), which is completed.
    for case in cases.iter().skip(2) {
        let (_, r) = call(
            http,
            "GET",
            &format!("{}/v1/cases/{}/routing", u.routing, case.id),
            &keeper_reader(signer, county)?,
            None,
        )
        .await?;
        let Some(unit) = r["unit_id"]
            .as_str()
            .filter(|_| r["status"] == "dispatched")
        else {
            continue;
        };
        let handler = signer.sign(&xf_auth::claims(
            "demo-handler",
            &[roles::HANDLER],
            Some(unit),
            county,
            3600,
        ))?;
        let base = format!("{}/v1/cases/{}", u.routing, case.id);
        call(http, "POST", &format!("{base}/accept"), &handler, None).await?;
        call(
            http,
            "POST",
            &format!("{base}/reply"),
            &handler,
            Some(json!({"outcome": "support", "text": "经核实，问题已解决。"})),
        )
        .await?;
        let (s, _) = call(http, "POST", &format!("{base}/close"), &handler, None).await?;
        if s != 200 {
            continue;
        }
        let started = Instant::now();
        let mut visit = Value::Null;
        while started.elapsed() < Duration::from_secs(30) {
            let (_, v) = call(
                http,
                "GET",
                &format!("{}/v1/cases/{}/follow-ups", u.scheduling, case.id),
                &keeper,
                None,
            )
            .await?;
            if v["follow_ups"][0].is_object() {
                visit = v["follow_ups"][0].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let Some(id) = visit["visit_id"].as_str() else {
            println!(
                "  follow-up     {} closed, but no follow-up visit appeared",
                case.no
            );
            break;
        };
        let fu = format!("{}/v1/follow-ups/{id}", u.scheduling);
        call(
            http,
            "POST",
            &format!("{fu}/assign"),
            &keeper,
            Some(json!({"assignee": "demo-scheduler"})),
        )
        .await?;
        let (s, done) = call(
            http,
            "POST",
            &format!("{fu}/complete"),
            &keeper,
            Some(json!({"reached": true, "satisfaction": "satisfied", "rebound_risk": false})),
        )
        .await?;
        println!(
            "  follow-up     {} closed → visit due {} ({} h, {}) → {} {}: reached, satisfied, no rebound risk",
            case.no,
            visit["due_at"].as_str().unwrap_or("?"),
            visit["period_hours"],
            visit["office"].as_str().unwrap_or("county default"),
            s,
            done["state"].as_str().unwrap_or("?")
        );
        break;
    }
    Ok(())
}

fn keeper_reader(signer: &Signer, county: &str) -> anyhow::Result<String> {
    Ok(signer.sign(&xf_auth::claims(
        "demo-supervisor",
        &[roles::SUPERVISOR],
        None,
        county,
        3600,
    ))?)
}
