//! The unit's workbench: queues with counts, traffic-light clocks, and the case page
//! with its history and only the actions its state allows now.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use xf_auth::roles;

use crate::State;
use crate::api::{ApiError, Svc};
use crate::page::{Page, csrf_refused, field_map, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/work", web::get().to(workbench))
        .route("/cases/{id}", web::get().to(case_page))
        .route("/cases/{id}/act/{action}", web::post().to(act));
}

/// The queues: key, the worklist statuses it lists (empty: derived from clocks).
const QUEUES: [(&str, &[&str]); 6] = [
    ("new", &["dispatched"]),
    ("mine", &["accepted"]),
    ("awaiting", &["replied", "transfer_requested"]),
    ("warned", &[]),
    ("overdue", &[]),
    ("closed", &["closed", "not_accepted"]),
];

#[derive(Deserialize)]
struct QueueQuery {
    queue: Option<String>,
}

async fn list(state: &State, token: Option<&str>, status: &str) -> Result<Vec<Value>, ApiError> {
    let v = state
        .api
        .get(
            Svc::Routing,
            "/v1/worklist",
            token,
            &[("status", status), ("limit", "200")],
        )
        .await?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}

/// The light of a case from its clocks: (red|amber|green|none, days left, due).
pub fn light(clocks: &Value, now: DateTime<Utc>) -> (String, Option<i64>, Option<String>) {
    let open: Vec<&Value> = clocks["clocks"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["state"] != "stopped").collect())
        .unwrap_or_default();
    let Some(c) = open
        .iter()
        .min_by_key(|c| c["due_at"].as_str().unwrap_or("9").to_owned())
    else {
        return ("none".into(), None, None);
    };
    let due = c["due_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let left = due.map(|d| {
        let secs = (d - now).num_seconds();
        if secs >= 0 {
            (secs + 86_399) / 86_400
        } else {
            -((-secs) / 86_400) - 1
        }
    });
    let overdue = c["state"] == "breached" || due.is_some_and(|d| d < now);
    let warned = c["warnings_sent"].as_i64().unwrap_or(0) > 0;
    let colour = if overdue {
        "red"
    } else if warned {
        "amber"
    } else {
        "green"
    };
    (colour.into(), left, c["due_at"].as_str().map(str::to_owned))
}

async fn with_lights(state: &State, token: Option<&str>, items: Vec<Value>) -> Vec<Value> {
    let now = Utc::now();
    let calls = items.into_iter().map(|mut it| async move {
        let id = it["id"].as_str().unwrap_or_default().to_owned();
        let clocks = state
            .api
            .get(
                Svc::Supervision,
                &format!("/v1/cases/{id}/deadlines"),
                token,
                &[],
            )
            .await
            .unwrap_or_default();
        let (colour, left, due) = light(&clocks, now);
        it["light"] = json!(colour);
        it["days_left"] = json!(left);
        it["due_at"] = json!(due);
        it
    });
    futures::future::join_all(calls).await
}

async fn workbench(
    req: HttpRequest,
    state: web::Data<State>,
    q: web::Query<QueueQuery>,
) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let queue = q.queue.clone().unwrap_or_else(|| "new".into());
    let queue = if QUEUES.iter().any(|(k, _)| *k == queue) {
        queue
    } else {
        "new".into()
    };
    let token = p.token();
    // Every status once: the counts, and the open cases' clocks for warned/overdue.
    let mut by_status: Map<String, Value> = Map::new();
    for st in [
        "dispatched",
        "accepted",
        "replied",
        "transfer_requested",
        "closed",
        "not_accepted",
    ] {
        match list(&state, token, st).await {
            Ok(items) => {
                by_status.insert(st.into(), Value::Array(items));
            }
            Err(e) => return p.fail(&e),
        }
    }
    let get = |st: &str| {
        by_status
            .get(st)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut open = get("dispatched");
    open.extend(get("accepted"));
    open.extend(get("transfer_requested"));
    let open = with_lights(&state, token, open).await;
    let mut counts = Map::new();
    let mut shown = Vec::new();
    for (k, statuses) in QUEUES {
        let items: Vec<Value> = match k {
            "warned" => open
                .iter()
                .filter(|c| c["light"] == "amber")
                .cloned()
                .collect(),
            "overdue" => open
                .iter()
                .filter(|c| c["light"] == "red")
                .cloned()
                .collect(),
            _ => {
                let mut v = Vec::new();
                for st in statuses {
                    for it in get(st) {
                        let id = it["id"].clone();
                        v.push(open.iter().find(|o| o["id"] == id).cloned().unwrap_or(it));
                    }
                }
                v
            }
        };
        counts.insert(k.into(), json!(items.len()));
        if k == queue {
            shown = items;
        }
    }
    let queues: Vec<Value> = QUEUES
        .iter()
        .map(|(k, _)| json!({"key": k, "count": counts[*k]}))
        .collect();
    p.render(
        "work.html",
        &state.ui.cat.t("work.title"),
        json!({"queue": queue, "queues": queues, "items": shown}),
    )
}

/// The actions the state machine allows this user now.
fn allowed(case: &Value, unit: Option<&str>, handler: bool) -> Vec<&'static str> {
    let lead = handler && unit.is_some() && case["unit_id"].as_str() == unit;
    if !lead {
        return Vec::new();
    }
    match case["status"].as_str().unwrap_or("") {
        "dispatched" => vec!["accept", "not_accept", "transfer"],
        "accepted" => {
            let mut v = vec!["reply", "transfer"];
            if case["extension"] == "none" {
                v.push("extend");
            }
            v
        }
        "replied" => vec!["close"],
        _ => Vec::new(),
    }
}

struct Shown {
    status: StatusCode,
    message: Option<String>,
    done: Option<String>,
    errors: Value,
    form: Value,
    open: Option<String>,
}

async fn render_case(p: &Page<'_>, id: &str, shown: Shown) -> HttpResponse {
    let state = p.state;
    let token = p.token();
    let routing = match state
        .api
        .get(Svc::Routing, &format!("/v1/cases/{id}/routing"), token, &[])
        .await
    {
        Ok(v) => v,
        Err(e) => return p.fail(&e),
    };
    let reason = state.ui.cat.t("case.read_reason");
    let (deadlines_path, case_path, reply_path) = (
        format!("/v1/cases/{id}/deadlines"),
        format!("/v1/cases/{id}"),
        format!("/v1/cases/{id}/reply"),
    );
    let why = [("reason", reason.as_str())];
    let (clocks, content, reply) = tokio::join!(
        state.api.get(Svc::Supervision, &deadlines_path, token, &[]),
        state.api.get(Svc::Intake, &case_path, token, &why),
        state.api.get(Svc::Routing, &reply_path, token, &[]),
    );
    let mut banners = Vec::new();
    for r in [&clocks, &content] {
        if let Err(ApiError::Unavailable(svc)) = r {
            banners.push(format!(
                "{}（{}）",
                state.ui.cat.t("error.unavailable"),
                state.ui.cat.t(&format!("svc.{}", svc.name()))
            ));
        }
    }
    let clocks = clocks.unwrap_or_default();
    let (colour, left, due) = light(&clocks, Utc::now());
    let user = p.user.as_ref();
    let actions = allowed(
        &routing,
        user.and_then(|u| u.claims.unit.as_deref()),
        p.has(roles::HANDLER),
    );
    let units = if actions.contains(&"transfer") {
        state
            .api
            .get(Svc::Routing, "/v1/units", token, &[])
            .await
            .ok()
            .and_then(|v| {
                v.as_array()
                    .cloned()
                    .or_else(|| v["items"].as_array().cloned())
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u["id"] != routing["unit_id"])
            .collect()
    } else {
        Vec::new()
    };
    p.render_status(
        shown.status,
        "case.html",
        &format!(
            "{} {}",
            state.ui.cat.t("case.title"),
            routing["registration_no"].as_str().unwrap_or("")
        ),
        json!({
            "case": routing,
            "clocks": clocks["clocks"],
            "colour": colour, "days_left": left, "due_at": due,
            "content": content.ok(),
            "reply": reply.ok(),
            "actions": actions,
            "units": units,
            "message": shown.message,
            "done": shown.done,
            "errors": shown.errors,
            "form": shown.form,
            "open": shown.open,
            "banners": banners,
        }),
    )
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn case_page(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let id = path.into_inner();
    if uuid::Uuid::parse_str(&id).is_err() {
        return p.fail(&ApiError::NotFound);
    }
    let done = q
        .done
        .clone()
        .filter(|d| ACTIONS.iter().any(|(a, _)| a == d));
    render_case(
        &p,
        &id,
        Shown {
            status: StatusCode::OK,
            message: None,
            done,
            errors: json!({}),
            form: json!({}),
            open: None,
        },
    )
    .await
}

/// Action → routing's path.
const ACTIONS: [(&str, &str); 6] = [
    ("accept", "accept"),
    ("not_accept", "not-accept"),
    ("transfer", "transfer"),
    ("extend", "extension"),
    ("reply", "reply"),
    ("close", "close"),
];

fn body_for(action: &str, f: &Map<String, Value>) -> Option<Value> {
    let s = |k: &str| {
        f.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    match action {
        "not_accept" => {
            let mut b = json!({"reason": s("reason")});
            if !s("referral_channel").is_empty() {
                b["referral_channel"] = json!(s("referral_channel"));
            }
            Some(b)
        }
        "transfer" => Some(json!({"to_unit_id": s("to_unit_id"), "reason": s("reason")})),
        "extend" => {
            Some(json!({"days": s("days").parse::<i64>().unwrap_or(0), "reason": s("reason")}))
        }
        "reply" => Some(json!({"outcome": s("outcome"), "text": s("text")})),
        _ => None,
    }
}

async fn act(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let mut p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(mut r) => {
            // Back to the case page after signing in, not to this form's address.
            let to = format!(
                "/signin?next={}&expired=1",
                percent_encoding::utf8_percent_encode(
                    &format!("/cases/{id}"),
                    percent_encoding::NON_ALPHANUMERIC
                )
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&to) {
                r.headers_mut().insert(actix_web::http::header::LOCATION, v);
            }
            return r;
        }
    };
    p.here = format!("/cases/{id}");
    let Some((_, api_path)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
        return p.fail(&ApiError::NotFound);
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return p.fail(&ApiError::NotFound);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut f = Map::new();
    for (k, v) in pairs {
        f.insert(k, Value::String(v));
    }
    if !p.csrf_ok(f.get("csrf").and_then(Value::as_str).unwrap_or("")) {
        return csrf_refused(&p);
    }
    f.remove("csrf");
    let b = body_for(&action, &f);
    let r = state
        .api
        .post(
            Svc::Routing,
            &format!("/v1/cases/{id}/{api_path}"),
            p.token(),
            b.as_ref(),
        )
        .await;
    let shown = |status, message: Option<String>, errors: Value| Shown {
        status,
        message,
        done: None,
        errors,
        form: Value::Object(f.clone()),
        open: Some(action.clone()),
    };
    match r {
        Ok(_) => redirect(&format!("/cases/{id}?done={action}")),
        Err(ApiError::Conflict(detail)) => {
            let msg = format!(
                "{}{}",
                state.ui.cat.t("case.conflict"),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!("（{detail}）")
                }
            );
            render_case(&p, &id, shown(StatusCode::CONFLICT, Some(msg), json!({}))).await
        }
        Err(ApiError::Invalid(fields, detail)) => {
            let fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(k, m)| (if k.is_empty() { "form".into() } else { k }, m))
                .collect();
            let msg = if fields.is_empty() {
                Some(detail)
            } else {
                None
            };
            render_case(
                &p,
                &id,
                shown(StatusCode::UNPROCESSABLE_ENTITY, msg, field_map(&fields)),
            )
            .await
        }
        Err(ApiError::Forbidden(_)) => {
            let msg = state.ui.cat.t("case.forbidden");
            render_case(&p, &id, shown(StatusCode::FORBIDDEN, Some(msg), json!({}))).await
        }
        Err(e) => p.fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lights_follow_the_clock_and_actions_the_state() {
        let now = Utc::now();
        let due = |d: i64| (now + chrono::Duration::days(d)).to_rfc3339();
        let c = json!({"clocks": [{"state": "running", "due_at": due(3), "warnings_sent": 0}]});
        assert_eq!(light(&c, now).0, "green");
        assert_eq!(light(&c, now).1, Some(3));
        let c = json!({"clocks": [{"state": "running", "due_at": due(1), "warnings_sent": 1}]});
        assert_eq!(light(&c, now).0, "amber");
        let c = json!({"clocks": [{"state": "breached", "due_at": due(-2), "warnings_sent": 1}]});
        assert_eq!(light(&c, now).0, "red");
        assert_eq!(light(&json!({}), now).0, "none");
        let case = json!({"status": "dispatched", "unit_id": "u1", "extension": "none"});
        assert_eq!(
            allowed(&case, Some("u1"), true),
            ["accept", "not_accept", "transfer"]
        );
        assert!(allowed(&case, Some("u2"), true).is_empty());
        let case = json!({"status": "accepted", "unit_id": "u1", "extension": "requested"});
        assert_eq!(allowed(&case, Some("u1"), true), ["reply", "transfer"]);
        let case = json!({"status": "closed", "unit_id": "u1"});
        assert!(allowed(&case, Some("u1"), true).is_empty());
    }
}
