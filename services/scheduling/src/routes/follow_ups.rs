//! Follow-up visits (回访, R28): list, assign, complete with an outcome; the sweep that
//! marks overdue ones.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::{FollowUpCompleted, FollowUpSatisfaction};
use xf_http::{FieldError, Problem, ValidJson};

use super::{STAFF, db, issues, refused, visible_case};
use crate::domain::follow_up::{self, Command, Outcome, Satisfaction, State};
use crate::store::{self, follow_ups::FollowUpRow};

fn json(f: &FollowUpRow) -> serde_json::Value {
    serde_json::json!({
        "visit_id": f.id,
        "case_id": f.case_id,
        "office": f.office_id,
        "due_at": f.due_at,
        // The old name of the due moment, kept for existing clients.
        "scheduled_at": f.due_at,
        "period_hours": f.period_hours,
        "state": f.state,
        "assignee": f.assignee,
        "outcome": f.reached.map(|reached| serde_json::json!({
            "reached": reached, "satisfaction": f.satisfaction, "rebound_risk": f.rebound_risk,
        })),
        "completed_at": f.completed_at,
        "completed_by": f.completed_by,
        "late": f.completed_at.map(|c| c > f.due_at),
        "overdue_at": f.overdue_at,
    })
}

/// What scheduling knows of a case, with its follow-up visits.
#[utoipa::path(get, path = "/v1/cases/{id}/follow-ups", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The case and its follow-up visits"), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn of_case(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let case = visible_case(pool.get_ref(), &user.0, id).await?;
    let visits = store::follow_ups::of_case(pool.get_ref(), id)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "tier": case.tier,
        "jurisdiction_code": case.jurisdiction_code,
        "unit_id": case.unit_id,
        "status": case.status,
        "trace_id": case.trace_id,
        "follow_ups": visits.iter().map(json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub office: Option<String>,
    /// due | assigned | overdue | completed | cancelled
    pub state: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Follow-up visits within the caller's jurisdiction, soonest due first.
#[utoipa::path(get, path = "/v1/follow-ups", params(ListQuery),
    responses((status = 200, description = "items"), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn list(
    user: Authenticated,
    q: web::Query<ListQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(STAFF)?;
    let mut e = Vec::new();
    if let Some(s) = &q.state
        && State::parse(s).is_none()
    {
        e.push(FieldError::new(
            "state",
            "must be due, assigned, overdue, completed or cancelled",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        e.push(FieldError::new("limit", "must be 1 to 1000"));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let rows = store::follow_ups::list(
        pool.get_ref(),
        &user.0.jurisdiction,
        q.office.as_deref(),
        q.state.as_deref(),
        limit,
        user.0.unit.as_deref().filter(|u| !u.is_empty()),
    )
    .await
    .map_err(db)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"items": rows.iter().map(json).collect::<Vec<_>>()})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The staff member's user id (their token's `sub`): only they can complete it.
    pub assignee: String,
}

async fn load(
    tx: &mut sqlx::PgConnection,
    user: &Authenticated,
    id: Uuid,
) -> Result<FollowUpRow, Problem> {
    let f = store::follow_ups::lock(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("follow-up"))?;
    if visible_case(&mut *tx, &user.0, f.case_id).await.is_err() {
        return Err(Problem::not_found("follow-up"));
    }
    Ok(f)
}

fn state_of(f: &FollowUpRow) -> State {
    State::parse(&f.state).unwrap_or(State::Cancelled)
}

/// Assigns a follow-up visit to a staff member.
#[utoipa::path(post, path = "/v1/follow-ups/{id}/assign", request_body = AssignBody, params(("id" = Uuid, Path)),
    responses((status = 200, description = "Assigned"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn assign(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<AssignBody>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[
        roles::SCHEDULER,
        roles::ADMIN,
        roles::LEADER,
        roles::SUPERVISOR,
    ])?;
    let b = body.into_inner();
    let a = b.assignee.trim();
    if a.is_empty() || a.chars().count() > 80 {
        return Err(Problem::validation(vec![FieldError::new(
            "assignee",
            "1 to 80 characters",
        )]));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let f = load(&mut tx, &user, *path).await?;
    let next = follow_up::transition(state_of(&f), &Command::Assign { to: a })
        .map_err(|r| refused(r, "id"))?;
    store::follow_ups::assign(&mut tx, f.id, next.as_str(), a)
        .await
        .map_err(db)?;
    let f = store::follow_ups::get(&mut *tx, f.id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("follow-up"))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(json(&f)))
}

/// Completes a follow-up visit with its outcome (`FollowUpCompleted`). Only the
/// assignee can complete it (403 otherwise), and only once (409).
#[utoipa::path(post, path = "/v1/follow-ups/{id}/complete", request_body = Outcome, params(("id" = Uuid, Path)),
    responses((status = 200, description = "Completed"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn complete(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<Outcome>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let o = body.into_inner();
    o.validate().map_err(issues)?;
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let f = load(&mut tx, &user, *path).await?;
    follow_up::transition(
        state_of(&f),
        &Command::Complete {
            by: &user.0.sub,
            assignee: f.assignee.as_deref(),
        },
    )
    .map_err(|r| refused(r, "id"))?;
    store::follow_ups::complete(&mut tx, f.id, &o, &user.0.sub, now)
        .await
        .map_err(db)?;
    let satisfaction = match o.satisfaction {
        None => FollowUpSatisfaction::Unspecified,
        Some(Satisfaction::Satisfied) => FollowUpSatisfaction::Satisfied,
        Some(Satisfaction::BasicallySatisfied) => FollowUpSatisfaction::BasicallySatisfied,
        Some(Satisfaction::NotSatisfied) => FollowUpSatisfaction::NotSatisfied,
    };
    let ev = xf_events::envelope(
        f.case_id,
        crate::SERVICE,
        xf_events::tier_of_code(&f.jurisdiction_code),
        &f.jurisdiction_code,
        now,
        Payload::FollowUpCompleted(FollowUpCompleted {
            visit_id: f.id.to_string(),
            rebound_risk: o.rebound_risk,
            reached: o.reached,
            satisfaction: satisfaction as i32,
            late: now > f.due_at,
            office_id: f.office_id.clone().unwrap_or_default(),
        }),
    );
    outbox.put(&mut tx, &ev).await.map_err(db)?;
    let f = store::follow_ups::get(&mut *tx, f.id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("follow-up"))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(json(&f)))
}

/// Marks every follow-up visit past due as overdue now (`FollowUpOverdue`, once each);
/// the service also does this every `follow_up.sweep_interval_ms`. Administrators.
#[utoipa::path(post, path = "/v1/admin/sweep",
    responses((status = 200, description = "overdue: how many were marked"), (status = 403)), security(("bearer" = [])))]
pub async fn sweep(
    user: Authenticated,
    sweeper: web::Data<crate::sweeper::Sweeper>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    let n = sweeper.sweep().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"overdue": n})))
}
