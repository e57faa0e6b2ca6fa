//! A case's clocks: the deadlines view, pausing and resuming, the sweeper on demand.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_http::{FieldError, Problem, ValidJson};

use super::{db, visible};
use crate::clocks;
use crate::policy::{self, STAGES};
use crate::store::clocks as store;
use crate::sweeper::Sweeper;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(deadlines, pause, resume, sweep_now),
    components(schemas(PauseBody, Problem, xf_http::FieldError))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}/deadlines", web::get().to(deadlines))
        .route("/v1/cases/{id}/clocks/{stage}/pause", web::post().to(pause))
        .route(
            "/v1/cases/{id}/clocks/{stage}/resume",
            web::post().to(resume),
        )
        .route("/v1/admin/sweep", web::post().to(sweep_now));
}

/// Every clock of a case: start, due, paused time, state, and the policy behind it.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/deadlines",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "{case_id, trace_id, first_started_at, age_secs, transfers, pauses: [{stage, reason, note, planned_days, paused_by, paused_at, resumed_by, resumed_at, excluded_secs}], clocks: [{stage, tier, jurisdiction_code, unit_id, started_at, due_at, stopped_at, state, period_days, counting, extended_days, paused_at, paused_secs, breached_at, provisional, policy, policy_version, warnings_sent}]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn deadlines(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    visible(&mut conn, &user, id).await?;
    let clocks = store::of_case(&mut *conn, id).await.map_err(db)?;
    let Some(first) = clocks.first() else {
        return Err(Problem::not_found("case"));
    };
    let (trace_id, first) = (first.trace_id.clone(), first.started_at);
    let pauses = store::pauses_of_case(&mut *conn, id).await.map_err(db)?;
    let transfers = store::transfers_of_case(&mut *conn, id).await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "trace_id": trace_id,
        // The case's age since its first clock started: transfers do not reset it.
        "first_started_at": first,
        "age_secs": (clock.now() - first).num_seconds().max(0),
        "transfers": transfers,
        "clocks": clocks,
        "pauses": pauses,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    /// hearing (听证) | appraisal (鉴定) | awaiting_petitioner (等待信访人补充材料) |
    /// awaiting_authority (等待其他机关意见)
    reason: String,
    /// Free text, kept here with the pause (never on the bus), at most 500 characters.
    #[serde(default)]
    note: Option<String>,
    /// How long the pause is planned for: within what the policy still allows.
    days: Option<i64>,
}

/// Roles with the right to stop a clock: the supervising office.
const PAUSERS: [&str; 2] = [roles::SUPERVISOR, roles::ADMIN];

/// Pauses a live clock (a hearing, an appraisal, …): the time until resume is excluded,
/// up to the policy's maximum; a pause not resumed ends by itself after its planned
/// `days`. Supervisors over the case only; emits `ClockPaused`.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/clocks/{stage}/pause",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id"), ("stage" = String, Path, description = "acceptance, handling, review, …")),
    request_body = PauseBody,
    responses(
        (status = 200, description = "{case_id, stage, state: paused, paused_at, reason, days, max_pause_days, paused_secs_before}"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn pause(
    user: Authenticated,
    path: web::Path<(Uuid, String)>,
    body: ValidJson<PauseBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (id, stage) = path.into_inner();
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let c = live_for(&mut tx, &user, id, &stage).await?;
    let mut errs = Vec::new();
    let reason = policy::PAUSE_REASONS
        .iter()
        .find(|(n, _)| *n == b.reason)
        .map(|(_, r)| *r);
    if reason.is_none() {
        errs.push(FieldError::new(
            "reason",
            format!(
                "one of {}",
                policy::PAUSE_REASONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if b.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errs.push(FieldError::new("note", "at most 500 characters"));
    }
    let max_days = clocks::max_pause_days(&mut tx, &c, &stage)
        .await
        .map_err(db)?;
    let left_secs = crate::domain::clock::pause_left_secs(max_days, c.paused_secs);
    match b.days {
        None => errs.push(FieldError::new("days", "how many days the pause is planned for")),
        Some(d) if d < 1 => errs.push(FieldError::new("days", "at least 1")),
        Some(d) if d * 86_400 > left_secs => errs.push(FieldError::new(
            "days",
            format!(
                "past the maximum: the policy ({}) allows {max_days} days of pauses on this clock, {} left",
                c.policy,
                left_secs / 86_400
            ),
        )),
        Some(_) => {}
    }
    let (Some(reason), Some(days), true) = (reason, b.days, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    let note = b.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let p = clocks::Pause {
        reason: &b.reason,
        reason_code: reason,
        note,
        days,
        by: &user.0.sub,
    };
    clocks::pause(&mut tx, &outbox, &c, &p, now)
        .await
        .map_err(|e| stage_refusal(e, &stage))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id, "stage": stage, "state": "paused", "paused_at": now, "reason": b.reason,
        "days": days, "max_pause_days": max_days, "paused_secs_before": c.paused_secs,
    })))
}

/// Resumes a paused clock: its due moment moves by the time it was paused, at most
/// what the policy's maximum still allows. Emits `ClockResumed`.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/clocks/{stage}/resume",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id"), ("stage" = String, Path)),
    responses(
        (status = 200, description = "{case_id, stage, state: running, due_at, paused_secs, excluded_secs}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn resume(
    user: Authenticated,
    path: web::Path<(Uuid, String)>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (id, stage) = path.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let c = live_for(&mut tx, &user, id, &stage).await?;
    let max_days = clocks::max_pause_days(&mut tx, &c, &stage)
        .await
        .map_err(db)?;
    let left = max_days * 86_400 - c.paused_secs;
    let r = clocks::resume(&mut tx, &outbox, c, &user.0.sub, left, now)
        .await
        .map_err(|e| stage_refusal(e, &stage))?;
    tx.commit().await.map_err(db)?;
    let (due, paused, excluded) = (r.due_at, r.paused_secs, r.excluded_secs);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id, "stage": stage, "state": "running", "due_at": due, "paused_secs": paused,
        "excluded_secs": excluded,
    })))
}

/// The live clock of a stage, for those with the right to stop it: a supervisor (or
/// administrator) over the case. The case's own units may not pause their clocks.
async fn live_for(
    tx: &mut sqlx::PgConnection,
    user: &Authenticated,
    id: Uuid,
    stage: &str,
) -> Result<clocks::Live, Problem> {
    if !STAGES.iter().any(|(n, _)| *n == stage) {
        return Err(Problem::validation(vec![FieldError::new(
            "stage",
            "unknown stage",
        )]));
    }
    // Who cannot see the case learns nothing (404) before any right is checked.
    match visible(tx, user, id).await? {
        xf_access::Standing::Overseer
            if user.0.has_role(roles::SUPERVISOR) || user.0.has_role(roles::ADMIN) => {}
        _ => {
            return Err(Problem::forbidden(format!(
                "pausing and resuming a clock needs the {} role over the case (the supervising office)",
                PAUSERS.join(" or ")
            )));
        }
    }
    clocks::live(tx, id, stage)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::conflict(format!("the case has no running {stage} clock")))
}

/// Fires due timers now (the sweeper also runs on its own interval).
#[utoipa::path(
    post,
    path = "/v1/admin/sweep",
    tag = "clocks",
    responses(
        (status = 200, description = "What fired: warnings, breaches, escalations, overdue cards"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn sweep_now(
    user: Authenticated,
    sweeper: web::Data<Sweeper>,
) -> Result<HttpResponse, Problem> {
    user.0
        .require_any_role(&[roles::ADMIN, roles::SUPERVISOR])?;
    let fired = sweeper.sweep().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(fired))
}

/// A refusal of the clock's state machine, naming the stage (`the handling clock is
/// already paused`).
fn stage_refusal(e: clocks::Refused, stage: &str) -> Problem {
    use crate::domain::DomainError as D;
    match e {
        clocks::Refused::Domain(D::IllegalTransition(why)) => Problem::from(D::IllegalTransition(
            why.replacen("the clock", &format!("the {stage} clock"), 1),
        )),
        other => Problem::from(other),
    }
}
