use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}/routing", web::get().to(explain));
}

/// Explains where a case went and why, with its routing history.
async fn explain(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let row = sqlx::query(
        "SELECT registration_no, category, tier, jurisdiction_code, unit_id, unit_name, status,
                trace_id, updated_at
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let code: String = row.get("jurisdiction_code");
    user.0.require_scope(&code)?;
    let history: Vec<serde_json::Value> =
        sqlx::query("SELECT at, action, detail FROM case_history WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(pool.get_ref())
            .await
            .map_err(|e| Problem::unavailable(&e))?
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<DateTime<Utc>, _>("at"),
                    "action": r.get::<String, _>("action"),
                    "detail": r.get::<serde_json::Value, _>("detail"),
                })
            })
            .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "registration_no": row.get::<String, _>("registration_no"),
        "category": row.get::<String, _>("category"),
        "tier": row.get::<String, _>("tier"),
        "jurisdiction_code": code,
        "unit_id": row.get::<Option<String>, _>("unit_id"),
        "unit_name": row.get::<Option<String>, _>("unit_name"),
        "status": row.get::<String, _>("status"),
        "trace_id": row.get::<Option<String>, _>("trace_id"),
        "updated_at": row.get::<DateTime<Utc>, _>("updated_at"),
        "history": history,
    })))
}
