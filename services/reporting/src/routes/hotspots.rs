//! Hotspots and early warning: the list, an on-demand scan, and the sensitive-period
//! comparison.

use actix_web::{HttpResponse, web};
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgPool, Row};
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem};

use crate::domain::query::{self, Raw};
use crate::jobs::{self, Jobs};
use crate::store;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, scan, sensitive))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/hotspots", web::get().to(list))
        .route("/v1/hotspots/scan", web::post().to(scan))
        .route("/v1/hotspots/sensitive", web::get().to(sensitive));
}

const METHODS: [&str; 3] = ["ears_c2", "space_time_scan", "similar_cases"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First day (default 30 days ago).
    from: Option<String>,
    /// Last day, inclusive (default today).
    to: Option<String>,
    jurisdiction: Option<String>,
    /// ears_c2, space_time_scan or similar_cases.
    method: Option<String>,
}

/// Hotspots found under the jurisdiction whose period overlaps the days asked.
#[utoipa::path(get, path = "/v1/hotspots", tag = "hotspots", params(ListQuery),
    responses(
        (status = 200, description = "{items: [{id, method, category, jurisdiction_code, period_start, period_end, observed, expected, score, registration_nos, detected_at}]}"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list(
    user: Authenticated,
    q: web::Query<ListQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let scope = super::scope(&user.0, q.jurisdiction.as_deref(), &pool).await?;
    let today = super::today(&clock);
    let default_from = (today - Duration::days(30)).to_string();
    let raw = Raw {
        from: Some(q.from.as_deref().unwrap_or(&default_from)),
        to: q.to.as_deref(),
        ..Raw::default()
    };
    let p = query::parse(&raw, scope, today).map_err(super::invalid)?;
    if let Some(m) = &q.method
        && !METHODS.contains(&m.as_str())
    {
        return Err(Problem::validation(vec![FieldError::new(
            "method",
            "one of ears_c2, space_time_scan, similar_cases",
        )]));
    }
    let (start, end) = store::stats::bounds(p.from, p.to);
    let items = store::hotspots::list(&pool, &p.jurisdiction, start, end, q.method.as_deref())
        .await
        .map_err(|e| xf_store::problem(&e))?;
    Ok(HttpResponse::Ok()
        .json(json!({"jurisdiction": p.jurisdiction, "from": p.from, "to": p.to, "items": items})))
}

/// Runs the three tests now over the token's jurisdiction (the background job runs
/// them over everything); answers the new hotspots, each also announced as
/// `HotspotDetected`. 422 naming `jurisdiction` when no case arose there.
#[utoipa::path(post, path = "/v1/hotspots/scan", tag = "hotspots",
    responses(
        (status = 200, description = "{new: n, items: [hotspot]} (only hotspots not found before)"),
        (status = 403, description = "Needs supervisor, analyst or admin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn scan(user: Authenticated, jobs: web::Data<Jobs>) -> Result<HttpResponse, Problem> {
    user.0
        .require_any_role(&["supervisor", "analyst", "admin"])?;
    let scope = super::acting_scope(&user.0, &jobs.pool).await?;
    let fresh = jobs::hotspots::scan_in(&jobs, jobs.clock.now(), &scope)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let items: Vec<_> = fresh
        .iter()
        .map(|h| {
            json!({"id": h.id, "method": h.method, "category": h.category, "jurisdiction_code": h.jurisdiction_code,
                   "period_start": h.period_start, "period_end": h.period_end, "observed": h.observed,
                   "expected": h.expected, "score": h.score, "registration_nos": h.registration_nos})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"new": items.len(), "items": items})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SensitiveQuery {
    /// First day of the sensitive period.
    from: String,
    /// Last day, inclusive (at most 92 days after from).
    to: String,
    jurisdiction: Option<String>,
}

/// A sensitive period (e.g. a national meeting) against the same number of days just
/// before it and the same dates a year before, per township and category. A row is
/// flagged when the count is at least 5 and at least twice both comparisons.
#[utoipa::path(get, path = "/v1/hotspots/sensitive", tag = "hotspots", params(SensitiveQuery),
    responses(
        (status = 200, description = "{rows: [{township, category, count, before, last_year, flagged}]}, flagged first"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn sensitive(
    user: Authenticated,
    q: web::Query<SensitiveQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    jobs: web::Data<Jobs>,
) -> Result<HttpResponse, Problem> {
    let scope = super::scope(&user.0, q.jurisdiction.as_deref(), &pool).await?;
    let raw = Raw {
        from: Some(&q.from),
        to: Some(&q.to),
        ..Raw::default()
    };
    let p = query::parse(&raw, scope, super::today(&clock)).map_err(super::invalid)?;
    let days = (p.to - p.from).num_days() + 1;
    if days > 92 {
        return Err(Problem::validation(vec![FieldError::new(
            "to",
            "a sensitive period is at most 92 days",
        )]));
    }
    let (s, e) = store::stats::bounds(p.from, p.to);
    let (bs, be) = (s - Duration::days(days), s);
    let (ys, ye) = (s - Duration::days(364), e - Duration::days(364));
    let excluded = user.0.unit.as_deref().filter(|u| !u.is_empty());
    let rows = sqlx::query(
        "SELECT left(matter_code, 9) AS township, COALESCE(category, '') AS category,
             count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3) AS n,
             count(*) FILTER (WHERE registered_at >= $4 AND registered_at < $5) AS before,
             count(*) FILTER (WHERE registered_at >= $6 AND registered_at < $7) AS last_year
         FROM case_facts
         WHERE matter_code LIKE $1 || '%' AND length(matter_code) >= 9
           AND ((registered_at >= $4 AND registered_at < $3) OR (registered_at >= $6 AND registered_at < $7))
           AND ($8::text IS NULL OR excluded_unit_id IS DISTINCT FROM $8)
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(&p.jurisdiction)
    .bind(s)
    .bind(e)
    .bind(bs)
    .bind(be)
    .bind(ys)
    .bind(ye)
    .bind(excluded)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?;
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            let (n, b, y): (i64, i64, i64) = (r.get("n"), r.get("before"), r.get("last_year"));
            let flagged = n >= jobs.min_count && n >= 2 * b.max(1) && n >= 2 * y.max(1);
            json!({"township": r.get::<String, _>("township"), "category": r.get::<String, _>("category"),
                   "count": n, "before": b, "last_year": y, "flagged": flagged})
        })
        .collect();
    out.sort_by_key(|v| !v["flagged"].as_bool().unwrap_or(false));
    Ok(HttpResponse::Ok()
        .json(json!({"jurisdiction": p.jurisdiction, "from": p.from, "to": p.to, "rows": out})))
}
