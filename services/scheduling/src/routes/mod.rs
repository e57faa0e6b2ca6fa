use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}/follow-ups", web::get().to(follow_ups));
}

/// What scheduling knows of a case, with its follow-up visits.
async fn follow_ups(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let case = sqlx::query(
        "SELECT tier, jurisdiction_code, unit_id, status, trace_id FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let code: String = case.get("jurisdiction_code");
    user.0.require_scope(&code)?;
    let visits: Vec<serde_json::Value> = sqlx::query(
        "SELECT id, scheduled_at, state FROM follow_ups WHERE case_id = $1 ORDER BY scheduled_at",
    )
    .bind(id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .into_iter()
    .map(|r| {
        serde_json::json!({
            "visit_id": r.get::<Uuid, _>("id"),
            "scheduled_at": r.get::<DateTime<Utc>, _>("scheduled_at"),
            "state": r.get::<String, _>("state"),
        })
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "tier": case.get::<String, _>("tier"),
        "jurisdiction_code": code,
        "unit_id": case.get::<Option<String>, _>("unit_id"),
        "status": case.get::<String, _>("status"),
        "trace_id": case.get::<Option<String>, _>("trace_id"),
        "follow_ups": visits,
    })))
}
