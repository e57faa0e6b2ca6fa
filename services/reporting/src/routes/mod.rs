use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/stats", web::get().to(stats))
        .route("/v1/cases/{id}", web::get().to(case));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// Narrow to a jurisdiction inside the caller's own (defaults to the caller's).
    jurisdiction: Option<String>,
}

/// Case counts by tier and status within the caller's jurisdiction.
async fn stats(
    user: Authenticated,
    q: web::Query<StatsQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let scope = match &q.jurisdiction {
        Some(j) => {
            if let Err(e) = xf_jurisdiction::Code::parse(j) {
                return Err(Problem::validation(vec![FieldError::new(
                    "jurisdiction",
                    e.to_string(),
                )]));
            }
            user.0.require_scope(j)?;
            j.clone()
        }
        None => user.0.jurisdiction.clone(),
    };
    let rows = sqlx::query(
        "SELECT tier, status, count(*) AS n FROM case_facts
         WHERE jurisdiction_code LIKE $1 || '%' GROUP BY tier, status ORDER BY tier, status",
    )
    .bind(&scope)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?;
    let mut total = 0i64;
    let mut by_tier = serde_json::Map::new();
    let mut by_status = serde_json::Map::new();
    let mut cells = Vec::new();
    for r in &rows {
        let tier: String = r.get("tier");
        let status: String = r.get("status");
        let n: i64 = r.get("n");
        total += n;
        let t = by_tier.entry(tier.clone()).or_insert(serde_json::json!(0));
        *t = serde_json::json!(t.as_i64().unwrap_or(0) + n);
        let s = by_status
            .entry(status.clone())
            .or_insert(serde_json::json!(0));
        *s = serde_json::json!(s.as_i64().unwrap_or(0) + n);
        cells.push(serde_json::json!({"tier": tier, "status": status, "count": n}));
    }
    let (owned, groups, overdue, skip): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE leader_title IS NOT NULL),
                count(DISTINCT group_id),
                count(*) FILTER (WHERE overdue),
                count(*) FILTER (WHERE skip_level)
         FROM case_facts WHERE jurisdiction_code LIKE $1 || '%'",
    )
    .bind(&scope)
    .fetch_one(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction": scope,
        "total": total,
        "leader_owned": owned,
        "possible_collective_issues": groups,
        "overdue": overdue,
        "skip_level": skip,
        "by_tier": by_tier,
        "by_status": by_status,
        "by_tier_and_status": cells,
    })))
}

/// The facts reporting holds for one case, by the shared visibility rule (`xf-access`):
/// overseers over its place and the lead unit's handlers; the accused unit and
/// everyone else get 404.
async fn case(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let r = sqlx::query(
        "SELECT registration_no, category, channel, tier, jurisdiction_code, unit_id, status,
                registered_at, updated_at, events, trace_id, leader_title, group_id, overdue,
                skip_level, excluded_unit_id
         FROM case_facts WHERE case_id = $1",
    )
    .bind(id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let code: String = r.get("jurisdiction_code");
    let unit: Option<String> = r.get("unit_id");
    let excluded: Option<String> = r.get("excluded_unit_id");
    xf_access::require(
        &user.0,
        &xf_access::Case {
            lead_unit: unit.as_deref(),
            excluded_unit: excluded.as_deref(),
            ..xf_access::Case::at(&code)
        },
    )?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "registration_no": r.get::<Option<String>, _>("registration_no"),
        "category": r.get::<Option<String>, _>("category"),
        "channel": r.get::<Option<String>, _>("channel"),
        "tier": r.get::<String, _>("tier"),
        "jurisdiction_code": code,
        "unit_id": unit,
        "status": r.get::<String, _>("status"),
        "registered_at": r.get::<Option<DateTime<Utc>>, _>("registered_at"),
        "updated_at": r.get::<DateTime<Utc>, _>("updated_at"),
        "events": r.get::<i32, _>("events"),
        "trace_id": r.get::<Option<String>, _>("trace_id"),
        "leader_title": r.get::<Option<String>, _>("leader_title"),
        "group_id": r.get::<Option<Uuid>, _>("group_id"),
        "overdue": r.get::<bool, _>("overdue"),
        "skip_level": r.get::<bool, _>("skip_level"),
    })))
}
