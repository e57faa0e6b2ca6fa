//! Unit assessment (考核): per unit and period its rates, counts, weighted score and rank
//! within its tier; every figure links to the cases behind it.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgPool, Row};
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem};

use crate::domain::assess::{self, Counts};
use crate::domain::query::{self, Raw};
use crate::store::stats::bounds;

#[derive(utoipa::OpenApi)]
#[openapi(paths(assessment, cases))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/assessment", web::get().to(assessment))
        .route("/v1/assessment/cases", web::get().to(cases));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssessQuery {
    /// First day (YYYY-MM-DD; default 1 January of this year).
    from: Option<String>,
    /// Last day, inclusive (default today).
    to: Option<String>,
    /// A code inside the token's (default the token's).
    jurisdiction: Option<String>,
    /// Only units of this tier (village, township, county).
    tier: Option<String>,
}

/// The SQL condition of each linked figure over `case_facts f` (the unit is $4; repeat
/// and skip-level filings are those that followed the unit's handling).
const FIGURE_CASES: [(&str, &str); 10] = [
    ("cases", "f.unit_id = $4"),
    (
        "accepted_on_time",
        "f.unit_id = $4 AND (f.accepted_at IS NOT NULL OR f.not_accepted_at IS NOT NULL) AND NOT f.acceptance_late",
    ),
    (
        "decided",
        "f.unit_id = $4 AND (f.accepted_at IS NOT NULL OR f.not_accepted_at IS NOT NULL)",
    ),
    (
        "concluded_on_time",
        "f.unit_id = $4 AND f.closed_at IS NOT NULL AND NOT f.handling_late",
    ),
    ("closed", "f.unit_id = $4 AND f.closed_at IS NOT NULL"),
    ("overdue", "f.unit_id = $4 AND f.overdue"),
    ("extensions", "f.unit_id = $4 AND f.extensions > 0"),
    (
        "repeat_after",
        "f.followed_unit_id = $4 AND f.repeat_petition",
    ),
    (
        "skip_level_after",
        "f.followed_unit_id = $4 AND f.skip_level",
    ),
    (
        "reviews_reversed",
        "f.unit_id = $4 AND f.reviews_reversed > 0",
    ),
];

struct Period {
    scope: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
}

async fn period(
    user: &xf_auth::Claims,
    from: Option<&str>,
    to: Option<&str>,
    j: Option<&str>,
    pool: &PgPool,
    clock: &Clock,
) -> Result<Period, Problem> {
    let scope = super::scope(user, j, pool).await?;
    let raw = Raw {
        from,
        to,
        ..Raw::default()
    };
    let q = query::parse(&raw, scope, super::today(clock)).map_err(super::invalid)?;
    Ok(Period {
        scope: q.jurisdiction,
        from: q.from,
        to: q.to,
    })
}

/// Every unit that led cases registered in the period, ranked within its tier.
#[utoipa::path(get, path = "/v1/assessment", tag = "assessment", params(AssessQuery),
    responses(
        (status = 200, description = "{from, to, jurisdiction, weights, penalties, units: [{unit_id, tier, rank, score, rates, counts, links: {figure: url}}]}, best first within each tier"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn assessment(
    user: Authenticated,
    q: web::Query<AssessQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let p = period(
        &user.0,
        q.from.as_deref(),
        q.to.as_deref(),
        q.jurisdiction.as_deref(),
        &pool,
        &clock,
    )
    .await?;
    if let Some(t) = &q.tier
        && !["village", "township", "county", "city"].contains(&t.as_str())
    {
        return Err(Problem::validation(vec![FieldError::new(
            "tier",
            "one of village, township, county, city",
        )]));
    }
    let (start, end) = bounds(p.from, p.to);
    let excluded = user.0.unit.as_deref().filter(|u| !u.is_empty());
    let unavailable = |e: sqlx::Error| xf_store::problem(&e);
    let led = sqlx::query(
        "SELECT f.unit_id, f.tier, count(*) AS cases,
             count(*) FILTER (WHERE (f.accepted_at IS NOT NULL OR f.not_accepted_at IS NOT NULL) AND NOT f.acceptance_late) AS accepted_on_time,
             count(*) FILTER (WHERE f.accepted_at IS NOT NULL OR f.not_accepted_at IS NOT NULL) AS decided,
             count(*) FILTER (WHERE f.closed_at IS NOT NULL AND NOT f.handling_late) AS concluded_on_time,
             count(*) FILTER (WHERE f.closed_at IS NOT NULL) AS closed,
             count(*) FILTER (WHERE f.overdue) AS overdue,
             COALESCE(sum(f.extensions), 0)::int8 AS extensions,
             COALESCE(sum(f.reviews_upheld), 0)::int8 AS reviews_upheld,
             COALESCE(sum(f.reviews_reversed), 0)::int8 AS reviews_reversed,
             COALESCE(sum(f.follow_ups), 0)::int8 AS follow_ups,
             COALESCE(sum(f.follow_ups_reached), 0)::int8 AS follow_ups_reached,
             (count(*) FILTER (WHERE f.satisfaction_score >= 4) + COALESCE(sum(f.follow_ups_satisfied), 0))::int8 AS satisfied,
             (count(*) FILTER (WHERE f.satisfaction_score IS NOT NULL) + COALESCE(sum(f.follow_ups_reached), 0))::int8 AS rated
         FROM case_facts f
         WHERE f.matter_code LIKE $1 || '%' AND f.registered_at >= $2 AND f.registered_at < $3
           AND f.unit_id IS NOT NULL AND ($4::text IS NULL OR f.excluded_unit_id IS DISTINCT FROM $4)
         GROUP BY f.unit_id, f.tier",
    )
    .bind(&p.scope)
    .bind(start)
    .bind(end)
    .bind(excluded)
    .fetch_all(pool.get_ref())
    .await
    .map_err(unavailable)?;
    let after = sqlx::query(
        "SELECT f.followed_unit_id AS unit_id,
             count(*) FILTER (WHERE f.repeat_petition) AS repeat_after,
             count(*) FILTER (WHERE f.skip_level) AS skip_level_after
         FROM case_facts f
         WHERE f.matter_code LIKE $1 || '%' AND f.registered_at >= $2 AND f.registered_at < $3
           AND f.followed_unit_id IS NOT NULL AND ($4::text IS NULL OR f.excluded_unit_id IS DISTINCT FROM $4)
         GROUP BY 1",
    )
    .bind(&p.scope)
    .bind(start)
    .bind(end)
    .bind(excluded)
    .fetch_all(pool.get_ref())
    .await
    .map_err(unavailable)?;
    let mut units: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for r in &led {
        let c = Counts {
            cases: r.get("cases"),
            accepted_on_time: r.get("accepted_on_time"),
            decided: r.get("decided"),
            concluded_on_time: r.get("concluded_on_time"),
            closed: r.get("closed"),
            overdue: r.get("overdue"),
            extensions: r.get("extensions"),
            reviews_upheld: r.get("reviews_upheld"),
            reviews_reversed: r.get("reviews_reversed"),
            follow_ups: r.get("follow_ups"),
            follow_ups_reached: r.get("follow_ups_reached"),
            satisfied: r.get("satisfied"),
            rated: r.get("rated"),
            ..Counts::default()
        };
        units.insert((r.get("tier"), r.get("unit_id")), c);
    }
    for r in &after {
        let u: String = r.get("unit_id");
        if let Some((_, c)) = units.iter_mut().find(|((_, id), _)| *id == u) {
            c.repeat_after = r.get("repeat_after");
            c.skip_level_after = r.get("skip_level_after");
        }
    }
    let mut by_tier: BTreeMap<String, Vec<(String, Counts, f64)>> = BTreeMap::new();
    for ((tier, unit), c) in units {
        if q.tier.as_ref().is_some_and(|t| *t != tier) {
            continue;
        }
        let s = assess::score(&c);
        by_tier.entry(tier).or_default().push((unit, c, s));
    }
    let mut out = Vec::new();
    for (tier, mut us) in by_tier {
        us.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        let ranks = assess::ranks(&us.iter().map(|u| u.2).collect::<Vec<_>>());
        for ((unit, c, s), rank) in us.into_iter().zip(ranks) {
            let links: serde_json::Map<String, Value> = FIGURE_CASES
                .iter()
                .map(|(f, _)| {
                    (
                        (*f).to_owned(),
                        json!(format!(
                            "/v1/assessment/cases?unit={unit}&figure={f}&from={}&to={}&jurisdiction={}",
                            p.from, p.to, p.scope
                        )),
                    )
                })
                .collect();
            out.push(json!({
                "unit_id": unit, "tier": tier, "rank": rank, "score": s,
                "rates": assess::rates(&c), "counts": c, "links": links,
            }));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "jurisdiction": p.scope, "from": p.from, "to": p.to,
        "weights": assess::WEIGHTS.iter().map(|(n, w)| json!({"rate": n, "weight": w})).collect::<Vec<_>>(),
        "penalties": assess::PENALTIES.iter().map(|(n, w)| json!({"count": n, "points": w})).collect::<Vec<_>>(),
        "units": out,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    unit: String,
    /// cases, accepted_on_time, decided, concluded_on_time, closed, overdue, extensions, repeat_after, skip_level_after, reviews_reversed.
    figure: String,
    from: Option<String>,
    to: Option<String>,
    jurisdiction: Option<String>,
}

/// The cases behind one figure of a unit's assessment.
#[utoipa::path(get, path = "/v1/assessment/cases", tag = "assessment", params(CasesQuery),
    responses(
        (status = 200, description = "{unit, figure, count, cases: [{case_id, registration_no, category, status, registered_at, closed_at}]}"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn cases(
    user: Authenticated,
    q: web::Query<CasesQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let p = period(
        &user.0,
        q.from.as_deref(),
        q.to.as_deref(),
        q.jurisdiction.as_deref(),
        &pool,
        &clock,
    )
    .await?;
    let Some((_, cond)) = FIGURE_CASES.iter().find(|(f, _)| *f == q.figure) else {
        return Err(Problem::validation(vec![FieldError::new(
            "figure",
            format!("{:?} is not a linked figure", q.figure),
        )]));
    };
    let (start, end) = bounds(p.from, p.to);
    let excluded = user.0.unit.as_deref().filter(|u| !u.is_empty());
    let sql = format!(
        "SELECT f.case_id, f.registration_no, f.category, f.status, f.registered_at, f.closed_at
         FROM case_facts f
         WHERE f.matter_code LIKE $1 || '%' AND f.registered_at >= $2 AND f.registered_at < $3
           AND {cond} AND ($5::text IS NULL OR f.excluded_unit_id IS DISTINCT FROM $5)
         ORDER BY f.registered_at, f.case_id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&p.scope)
        .bind(start)
        .bind(end)
        .bind(&q.unit)
        .bind(excluded)
        .fetch_all(pool.get_ref())
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let cases: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "case_id": r.get::<uuid::Uuid, _>("case_id"),
                "registration_no": r.get::<Option<String>, _>("registration_no"),
                "category": r.get::<Option<String>, _>("category"),
                "status": r.get::<String, _>("status"),
                "registered_at": r.get::<Option<chrono::DateTime<chrono::Utc>>, _>("registered_at"),
                "closed_at": r.get::<Option<chrono::DateTime<chrono::Utc>>, _>("closed_at"),
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"unit": q.unit, "figure": q.figure, "count": cases.len(), "cases": cases})))
}
