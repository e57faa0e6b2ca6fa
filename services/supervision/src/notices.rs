//! Notices for the people who must act: the consumer turns events into inbox entries
//! per unit and per staff user — urgent and collective matters to the leaders and
//! units at once (R5), deadline warnings and breaches to the unit and its supervising
//! office, supervision cards to the undertaking unit, follow-up visits to the leader
//! and office, a petitioner's rating to the handling unit — and queues each for the
//! outbound webhook when one is configured (`libs/notify`). The accused unit of an
//! accusation is never a recipient. Notices carry ids and codes, never text.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::HandleError;
use xf_events::{Event, Payload};
use xf_http::{FieldError, Problem};

use crate::oversight::db;

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum To {
    Unit(String),
    User(String),
}

/// The letters-and-visits office that supervises `unit` working in `code`: the office
/// of that division, or — for that office itself — the office one tier up.
fn supervisor_of(unit: &str, code: &str) -> Option<String> {
    let own = xf_jurisdiction::office_id(code);
    if unit != own {
        return Some(own);
    }
    // Above a county is the city, whose office is not in this system.
    match xf_events::above(code) {
        (xf_events::Tier::City, _) => None,
        (_, up) => Some(xf_jurisdiction::office_id(&up)),
    }
}

fn stage_name(s: i32) -> &'static str {
    crate::policy::STAGES
        .iter()
        .find(|(_, st)| *st as i32 == s)
        .map_or("unspecified", |(n, _)| n)
}

/// The live (or latest) clock of a stage: its unit and jurisdiction.
async fn clock_unit(
    tx: &mut PgConnection,
    case: Uuid,
    stage: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let r: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT unit_id, jurisdiction_code FROM clocks WHERE case_id = $1 AND stage = $2
         ORDER BY started_at DESC, id DESC LIMIT 1",
    )
    .bind(case)
    .bind(stage)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(r.and_then(|(u, c)| u.filter(|u| !u.is_empty()).map(|u| (u, c))))
}

/// The recipients and the notice's kind and detail for an event, if it notifies anyone.
async fn recipients(
    tx: &mut PgConnection,
    ev: &Event,
) -> Result<Option<(&'static str, Vec<To>, serde_json::Value)>, sqlx::Error> {
    let code = ev.envelope.jurisdiction_code.clone();
    Ok(match ev.payload() {
        Some(Payload::UrgentAlertRaised(a)) => {
            let mut to: Vec<To> = a.unit_ids.iter().cloned().map(To::Unit).collect();
            to.extend(a.leader_ids.iter().cloned().map(To::User));
            Some((
                "urgent_alert",
                to,
                serde_json::json!({"reason": a.reason, "jurisdiction_code": code}),
            ))
        }
        Some(Payload::DeadlineWarning(w)) => {
            let stage = stage_name(w.stage);
            let Some((unit, at)) = clock_unit(tx, ev.case_id, stage).await? else {
                return Ok(None);
            };
            let mut to = vec![To::Unit(unit.clone())];
            to.extend(supervisor_of(&unit, &at).map(To::Unit));
            Some((
                "deadline_warning",
                to,
                serde_json::json!({"stage": stage, "days_left": w.days_left,
                    "due_at": xf_events::from_timestamp(w.due_at.as_ref())}),
            ))
        }
        Some(Payload::DeadlineBreached(b)) => {
            let stage = stage_name(b.stage);
            let found = clock_unit(tx, ev.case_id, stage).await?;
            let unit = if b.unit_id.is_empty() {
                found.as_ref().map(|f| f.0.clone())
            } else {
                Some(b.unit_id.clone())
            };
            let Some(unit) = unit else { return Ok(None) };
            let at = found.map_or(code.clone(), |f| f.1);
            let mut to = vec![To::Unit(unit.clone())];
            to.extend(supervisor_of(&unit, &at).map(To::Unit));
            Some((
                "deadline_breached",
                to,
                serde_json::json!({"stage": stage,
                    "due_at": xf_events::from_timestamp(b.due_at.as_ref())}),
            ))
        }
        Some(Payload::SupervisionCardIssued(c)) if !c.unit_id.is_empty() => Some((
            "card_issued",
            vec![To::Unit(c.unit_id.clone())],
            serde_json::json!({"card_id": c.card_id,
                "due_at": xf_events::from_timestamp(c.due_at.as_ref())}),
        )),
        Some(Payload::FollowUpScheduled(f)) => {
            let mut to = Vec::new();
            if !f.leader_id.is_empty() {
                to.push(To::User(f.leader_id.clone()));
            }
            if !f.office_id.is_empty() {
                to.push(To::Unit(f.office_id.clone()));
            }
            Some((
                "follow_up_scheduled",
                to,
                serde_json::json!({"visit_id": f.visit_id,
                    "scheduled_at": xf_events::from_timestamp(f.scheduled_at.as_ref())}),
            ))
        }
        Some(Payload::SatisfactionRecorded(s)) => {
            let unit: Option<Option<String>> =
                sqlx::query_scalar("SELECT unit_id FROM oversight_cases WHERE case_id = $1")
                    .bind(ev.case_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(unit) = unit.flatten() else {
                return Ok(None);
            };
            Some((
                "satisfaction_recorded",
                vec![To::Unit(unit)],
                serde_json::json!({"score": s.score}),
            ))
        }
        _ => None,
    })
}

/// Records the notices an event causes (and their outbound deliveries, due at `now`
/// of this service's clock), once per event and recipient, in the consumer's
/// transaction.
pub async fn on_event(
    tx: &mut PgConnection,
    ev: &Event,
    outbound: bool,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let Some((kind, to, detail)) = recipients(tx, ev).await? else {
        return Ok(());
    };
    let excluded: Option<String> = sqlx::query_scalar::<_, Option<String>>(
        "SELECT excluded_unit_id FROM oversight_cases WHERE case_id = $1",
    )
    .bind(ev.case_id)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    let mut seen = Vec::new();
    for r in to {
        if seen.contains(&r) || matches!(&r, To::Unit(u) if Some(u) == excluded.as_ref()) {
            continue;
        }
        let (rk, who) = match &r {
            To::Unit(u) => ("unit", u.clone()),
            To::User(u) => ("user", u.clone()),
        };
        seen.push(r);
        if who.is_empty() {
            continue;
        }
        let id = Uuid::now_v7();
        let n = sqlx::query(
            "INSERT INTO notices (id, event_id, case_id, recipient_kind, recipient, kind, detail,
                 jurisdiction_code, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (event_id, recipient_kind, recipient) DO NOTHING",
        )
        .bind(id)
        .bind(ev.event_id)
        .bind(ev.case_id)
        .bind(rk)
        .bind(&who)
        .bind(kind)
        .bind(&detail)
        .bind(&ev.envelope.jurisdiction_code)
        .bind(ev.occurred_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 && outbound {
            let body = serde_json::json!({
                "notice_id": id, "kind": kind, "case_id": ev.case_id,
                "recipient": {"kind": rk, "id": who}, "detail": detail,
                "at": ev.occurred_at,
            });
            xf_notify::enqueue(tx, &id.to_string(), &format!("{rk}:{who}"), &body, now).await?;
        }
    }
    Ok(())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/inbox", web::get().to(inbox))
        .route("/v1/inbox/unread-count", web::get().to(unread_count))
        .route("/v1/inbox/{id}/read", web::post().to(mark_read))
        .route("/v1/notifications/deliveries", web::get().to(deliveries))
        .route(
            "/v1/notifications/deliveries/{id}/retry",
            web::post().to(retry),
        );
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(inbox, unread_count, mark_read, deliveries, retry))]
pub struct Doc;

/// The caller's inbox condition: its unit's notices and its own.
const MINE: &str = "((recipient_kind = 'unit' AND recipient = $1) OR (recipient_kind = 'user' AND recipient = $2))";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InboxQuery {
    /// Only unread notices.
    unread: Option<bool>,
    /// At most this many (1–200, default 50), newest first.
    limit: Option<u32>,
}

/// The caller's inbox: notices to its unit (from the token's `unit`) and to itself
/// (`sub`), newest first, with the unread count.
#[utoipa::path(get, path = "/v1/inbox", tag = "notices", params(InboxQuery),
    responses((status = 200, description = "{unread, items: [{id, case_id, kind, recipient_kind, recipient, detail, jurisdiction_code, created_at, read_at, read_by}]}"),
        (status = 401, description = "No valid token"), (status = 422, description = "limit out of range")),
    security(("bearer" = [])))]
async fn inbox(
    user: Authenticated,
    q: web::Query<InboxQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::validation(vec![FieldError::new(
            "limit", "1 to 200",
        )]));
    }
    let unit = user.0.unit.clone().unwrap_or_default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, case_id, kind, recipient_kind, recipient, detail, jurisdiction_code,
                created_at, read_at, read_by
         FROM notices WHERE {MINE} AND ($3 = FALSE OR read_at IS NULL)
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )))
    .bind(&unit)
    .bind(&user.0.sub)
    .bind(q.unread.unwrap_or(false))
    .bind(i64::from(limit))
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.get::<Uuid, _>("id"),
                "case_id": r.get::<Uuid, _>("case_id"),
                "kind": r.get::<String, _>("kind"),
                "recipient_kind": r.get::<String, _>("recipient_kind"),
                "recipient": r.get::<String, _>("recipient"),
                "detail": r.get::<serde_json::Value, _>("detail"),
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "created_at": r.get::<DateTime<Utc>, _>("created_at"),
                "read_at": r.get::<Option<DateTime<Utc>>, _>("read_at"),
                "read_by": r.get::<Option<String>, _>("read_by"),
            })
        })
        .collect();
    let unread = count_unread(pool.get_ref(), &unit, &user.0.sub).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"unread": unread, "items": items})))
}

async fn count_unread(pool: &PgPool, unit: &str, sub: &str) -> Result<i64, Problem> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM notices WHERE {MINE} AND read_at IS NULL"
    )))
    .bind(unit)
    .bind(sub)
    .fetch_one(pool)
    .await
    .map_err(db)
}

/// How many of the caller's notices are unread (for the console's badge).
#[utoipa::path(get, path = "/v1/inbox/unread-count", tag = "notices",
    responses((status = 200, description = "{unread}"), (status = 401, description = "No valid token")),
    security(("bearer" = [])))]
async fn unread_count(
    user: Authenticated,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let unit = user.0.unit.clone().unwrap_or_default();
    let unread = count_unread(pool.get_ref(), &unit, &user.0.sub).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"unread": unread})))
}

/// Marks one of the caller's notices read (again: nothing changes). Another's notice
/// does not exist for the caller (404).
#[utoipa::path(post, path = "/v1/inbox/{id}/read", tag = "notices", params(("id" = Uuid, Path)),
    responses((status = 200, description = "{id, read_at, read_by, unread}"), (status = 401, description = "No valid token"),
        (status = 404, description = "No such notice for this caller")),
    security(("bearer" = [])))]
async fn mark_read(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let unit = user.0.unit.clone().unwrap_or_default();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE notices SET read_at = COALESCE(read_at, $4), read_by = COALESCE(read_by, $2)
         WHERE id = $3 AND {MINE} RETURNING read_at, read_by"
    )))
    .bind(&unit)
    .bind(&user.0.sub)
    .bind(*path)
    .bind(clock.now())
    .fetch_optional(pool.get_ref())
    .await
    .map_err(db)?
    .ok_or_else(|| Problem::not_found("notice"))?;
    let unread = count_unread(pool.get_ref(), &unit, &user.0.sub).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": *path,
        "read_at": row.get::<Option<DateTime<Utc>>, _>("read_at"),
        "read_by": row.get::<Option<String>, _>("read_by"),
        "unread": unread,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    /// pending | delivered | parked
    state: Option<String>,
}

/// Outbound deliveries and their state — a parked one shows its last error
/// (administrators).
#[utoipa::path(get, path = "/v1/notifications/deliveries", tag = "notices", params(DeliveryQuery),
    responses((status = 200, description = "{items: [{id, key, recipient, state, attempts, next_attempt_at, last_status, last_error, delivered_at}]}"),
        (status = 403, description = "Not an administrator"), (status = 422, description = "Unknown state")),
    security(("bearer" = [])))]
async fn deliveries(
    user: Authenticated,
    q: web::Query<DeliveryQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    if let Some(s) = &q.state
        && !["pending", "delivered", "parked"].contains(&s.as_str())
    {
        return Err(Problem::validation(vec![FieldError::new(
            "state",
            "pending, delivered or parked",
        )]));
    }
    let items: Vec<serde_json::Value> = sqlx::query(
        "SELECT id, key, recipient, state, attempts, next_attempt_at, last_status, last_error,
                delivered_at
         FROM deliveries WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT 200",
    )
    .bind(&q.state)
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?
    .iter()
    .map(|r| {
        serde_json::json!({
            "id": r.get::<i64, _>("id"),
            "key": r.get::<String, _>("key"),
            "recipient": r.get::<String, _>("recipient"),
            "state": r.get::<String, _>("state"),
            "attempts": r.get::<i32, _>("attempts"),
            "next_attempt_at": r.get::<DateTime<Utc>, _>("next_attempt_at"),
            "last_status": r.get::<Option<i32>, _>("last_status"),
            "last_error": r.get::<Option<String>, _>("last_error"),
            "delivered_at": r.get::<Option<DateTime<Utc>>, _>("delivered_at"),
        })
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items})))
}

/// Puts a parked delivery back in the queue (administrators); 409 when it is not parked.
#[utoipa::path(post, path = "/v1/notifications/deliveries/{id}/retry", tag = "notices", params(("id" = i64, Path)),
    responses((status = 200, description = "{id, state: pending}"), (status = 403, description = "Not an administrator"),
        (status = 409, description = "Not parked")),
    security(("bearer" = [])))]
async fn retry(
    user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    let Ok(id) = path.parse::<i64>() else {
        return Err(Problem::not_found("delivery"));
    };
    if !xf_notify::retry(pool.get_ref(), id, clock.now())
        .await
        .map_err(db)?
    {
        return Err(Problem::conflict("no parked delivery with this id"));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id, "state": "pending"})))
}
