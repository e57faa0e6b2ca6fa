use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}/deadlines", web::get().to(deadlines));
}

/// Every clock of a case: start, due, state and policy.
async fn deadlines(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let rows = sqlx::query(
        "SELECT stage, tier, jurisdiction_code, unit_id, started_at, due_at, stopped_at, state,
                period_days, policy, trace_id
         FROM clocks WHERE case_id = $1 ORDER BY started_at, id",
    )
    .bind(id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?;
    let Some(first) = rows.first() else {
        return Err(Problem::not_found("case"));
    };
    let code: String = first.get("jurisdiction_code");
    user.0.require_scope(&code)?;
    let trace_id: Option<String> = first.get("trace_id");
    let clocks: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "stage": r.get::<String, _>("stage"),
                "tier": r.get::<String, _>("tier"),
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "unit_id": r.get::<Option<String>, _>("unit_id"),
                "started_at": r.get::<DateTime<Utc>, _>("started_at"),
                "due_at": r.get::<DateTime<Utc>, _>("due_at"),
                "stopped_at": r.get::<Option<DateTime<Utc>>, _>("stopped_at"),
                "state": r.get::<String, _>("state"),
                "period_days": r.get::<i32, _>("period_days"),
                "policy": r.get::<String, _>("policy"),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "trace_id": trace_id,
        "clocks": clocks,
    })))
}
