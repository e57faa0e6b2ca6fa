//! One case's facts and its history, by the shared visibility rule (`xf-access`):
//! overseers over its place and the lead unit's handlers; the accused unit and
//! everyone else get 404.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::Problem;

#[derive(utoipa::OpenApi)]
#[openapi(paths(case, history))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}", web::get().to(case))
        .route("/v1/cases/{id}/history", web::get().to(history));
}

async fn visible(
    user: &xf_auth::Claims,
    id: Uuid,
    pool: &PgPool,
) -> Result<sqlx::postgres::PgRow, Problem> {
    let r = sqlx::query(
        "SELECT registration_no, category, channel, tier, jurisdiction_code, matter_code, unit_id,
                status, registered_at, updated_at, closed_at, archived_at, events, trace_id,
                leader_title, group_id, overdue, skip_level, excluded_unit_id, escalations,
                pauses, paused_secs, paused_now
         FROM case_facts WHERE case_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(|e| xf_store::problem(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let matter: Option<String> = r.get("matter_code");
    let code: String = r.get("jurisdiction_code");
    let unit: Option<String> = r.get("unit_id");
    let excluded: Option<String> = r.get("excluded_unit_id");
    xf_access::require(
        user,
        &xf_access::Case {
            jurisdiction_code: &code,
            lead_unit: unit.as_deref(),
            excluded_unit: excluded.as_deref(),
            ..xf_access::Case::at(matter.as_deref().unwrap_or(&code))
        },
    )?;
    Ok(r)
}

async fn path(id: Uuid, pool: &PgPool) -> Result<Vec<serde_json::Value>, Problem> {
    let rows = sqlx::query(
        "SELECT tier, jurisdiction_code, unit_id, entered_at FROM case_visits
         WHERE case_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(|e| xf_store::problem(&e))?;
    Ok(rows
        .iter()
        .map(|v| {
            json!({"tier": v.get::<String, _>("tier"), "jurisdiction_code": v.get::<String, _>("jurisdiction_code"),
                   "unit_id": v.get::<Option<String>, _>("unit_id"), "entered_at": v.get::<DateTime<Utc>, _>("entered_at")})
        })
        .collect())
}

/// The facts reporting holds for one case, with its path over the tiers.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The case's facts and path [{tier, jurisdiction_code, unit_id, entered_at}]"),
        (status = 404, description = "Unknown, or not visible to the caller", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn case(
    user: Authenticated,
    id: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    let r = visible(&user.0, id, &pool).await?;
    Ok(HttpResponse::Ok().json(json!({
        "case_id": id,
        "registration_no": r.get::<Option<String>, _>("registration_no"),
        "category": r.get::<Option<String>, _>("category"),
        "channel": r.get::<Option<String>, _>("channel"),
        "tier": r.get::<String, _>("tier"),
        "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
        "matter_code": r.get::<Option<String>, _>("matter_code"),
        "unit_id": r.get::<Option<String>, _>("unit_id"),
        "status": r.get::<String, _>("status"),
        "registered_at": r.get::<Option<DateTime<Utc>>, _>("registered_at"),
        "updated_at": r.get::<DateTime<Utc>, _>("updated_at"),
        "closed_at": r.get::<Option<DateTime<Utc>>, _>("closed_at"),
        "archived_at": r.get::<Option<DateTime<Utc>>, _>("archived_at"),
        "events": r.get::<i32, _>("events"),
        "escalations": r.get::<i32, _>("escalations"),
        "pauses": r.get::<i32, _>("pauses"),
        "paused_secs": r.get::<i64, _>("paused_secs"),
        "paused_days": crate::domain::report::paused_days(r.get::<i64, _>("paused_secs")),
        "paused_now": r.get::<bool, _>("paused_now"),
        "trace_id": r.get::<Option<String>, _>("trace_id"),
        "leader_title": r.get::<Option<String>, _>("leader_title"),
        "group_id": r.get::<Option<Uuid>, _>("group_id"),
        "overdue": r.get::<bool, _>("overdue"),
        "skip_level": r.get::<bool, _>("skip_level"),
        "path": path(id, &pool).await?,
    })))
}

/// Every event of the case as the ledger keeps it, in the order they happened.
#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "cases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "{case_id, path, events: [{event_id, occurred_at, event_type, producer, tier, jurisdiction_code, unit_id, status_after}]}"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn history(
    user: Authenticated,
    id: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    visible(&user.0, id, &pool).await?;
    let rows = sqlx::query(
        "SELECT event_id, occurred_at, event_type, producer, tier, jurisdiction_code, unit_id, status_after
         FROM ledger WHERE case_id = $1 ORDER BY occurred_at, event_id",
    )
    .bind(id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?;
    let events: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "event_id": r.get::<Uuid, _>("event_id"),
                "occurred_at": r.get::<DateTime<Utc>, _>("occurred_at"),
                "event_type": r.get::<String, _>("event_type"),
                "producer": r.get::<String, _>("producer"),
                "tier": r.get::<String, _>("tier"),
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "unit_id": r.get::<Option<String>, _>("unit_id"),
                "status_after": r.get::<Option<String>, _>("status_after"),
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"case_id": id, "path": path(id, &pool).await?, "events": events})))
}
