//! `GET /v1/stats` and the dashboard panels.

use actix_web::{HttpResponse, web};
use chrono::{Datelike, Duration};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::Problem;

use crate::domain::query::{self, Dim, Query, Raw};
use crate::store;

#[derive(utoipa::OpenApi)]
#[openapi(paths(stats, overview, trend, categories, townships, units))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/stats", web::get().to(stats))
        .route("/v1/dashboard/overview", web::get().to(overview))
        .route("/v1/dashboard/trend", web::get().to(trend))
        .route("/v1/dashboard/categories", web::get().to(categories))
        .route("/v1/dashboard/townships", web::get().to(townships))
        .route("/v1/dashboard/units", web::get().to(units));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First day (YYYY-MM-DD, Asia/Shanghai; default 1 January of this year).
    from: Option<String>,
    /// Last day, inclusive (default today). At most 1,830 days after `from`.
    to: Option<String>,
    /// Bucket of the `period` group-by: day (at most 366 days), week, month (default), quarter, year.
    period: Option<String>,
    /// Which date places a case in the period: registered (default) or closed.
    basis: Option<String>,
    /// Any county, township or village code inside the token's (default the token's); everything under it counts.
    jurisdiction: Option<String>,
    /// village, township, county or city: cases that passed through that tier.
    tier: Option<String>,
    category: Option<String>,
    /// letter, visit, phone, online.
    channel: Option<String>,
    /// Cases that passed through this unit.
    unit: Option<String>,
    /// The case's status now (registered, dispatched, accepted, not_accepted, replied, closed, escalated, review_requested, linked).
    status: Option<String>,
    /// Comma-separated, at most 3 of: period, tier, county, township, village, category, channel, unit, status.
    group_by: Option<String>,
}

/// Checks the parameters against the token and the read models.
pub async fn checked(
    user: &xf_auth::Claims,
    q: &StatsQuery,
    pool: &PgPool,
    clock: &Clock,
) -> Result<Query, Problem> {
    let scope = super::scope(user, q.jurisdiction.as_deref(), pool).await?;
    let raw = Raw {
        from: q.from.as_deref(),
        to: q.to.as_deref(),
        period: q.period.as_deref(),
        basis: q.basis.as_deref(),
        tier: q.tier.as_deref(),
        category: q.category.as_deref(),
        channel: q.channel.as_deref(),
        unit: q.unit.as_deref(),
        status: q.status.as_deref(),
        group_by: q.group_by.as_deref(),
    };
    let parsed = query::parse(&raw, scope, super::today(clock)).map_err(super::invalid)?;
    let unavailable = |e: sqlx::Error| xf_store::problem(&e);
    let mut errs = Vec::new();
    if let Some(c) = &parsed.category
        && !store::stats::category_known(pool, c)
            .await
            .map_err(unavailable)?
    {
        errs.push(("category", format!("unknown category {c:?}")));
    }
    if let Some(u) = &parsed.unit
        && !store::stats::unit_known(pool, u)
            .await
            .map_err(unavailable)?
    {
        errs.push(("unit", format!("unknown unit {u:?}")));
    }
    if !errs.is_empty() {
        return Err(super::invalid(errs));
    }
    Ok(parsed)
}

/// The answer of `GET /v1/stats`, serialized straight from the rows (no JSON tree
/// in between).
#[derive(Debug, Serialize)]
pub struct Body {
    jurisdiction: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    period: &'static str,
    basis: &'static str,
    filters: Value,
    group_by: Vec<&'static str>,
    totals: store::stats::Figures,
    rows: Vec<store::stats::Row>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by_tier: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by_status: Option<BTreeMap<String, Value>>,
}

/// The figures of a checked query, as the API answers them.
pub async fn body(pool: &PgPool, user: &xf_auth::Claims, q: &Query) -> Result<Body, Problem> {
    let excluded = user.unit.as_deref().filter(|u| !u.is_empty());
    let a = store::stats::run(pool, q, excluded)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let mut b = Body {
        jurisdiction: q.jurisdiction.clone(),
        from: q.from,
        to: q.to,
        period: q.period.as_str(),
        basis: q.basis.as_str(),
        filters: json!({
            "tier": q.tier, "category": q.category, "channel": q.channel,
            "unit": q.unit, "status": q.status,
        }),
        group_by: q.group_by.iter().map(|d| d.as_str()).collect(),
        total: None,
        by_tier: None,
        by_status: None,
        totals: a.totals,
        rows: a.rows,
    };
    // Without group-bys, a summary too: received by tier (once per tier visited) and
    // by status now.
    if q.group_by.is_empty() {
        b.total = Some(b.totals.counts[0]);
        for dim in [Dim::Tier, Dim::Status] {
            let mut g = q.clone();
            g.group_by = vec![dim];
            let rows = store::stats::run(pool, &g, excluded)
                .await
                .map_err(|e| xf_store::problem(&e))?
                .rows;
            let m: BTreeMap<String, Value> = rows
                .into_iter()
                .filter_map(|r| {
                    Some((
                        r.get(dim.as_str())?.as_str()?.to_owned(),
                        r.get("received")?,
                    ))
                })
                .collect();
            if dim == Dim::Tier {
                b.by_tier = Some(m);
            } else {
                b.by_status = Some(m);
            }
        }
    }
    Ok(b)
}

/// The same as a JSON value (for the panels that rearrange it).
pub async fn answer(pool: &PgPool, user: &xf_auth::Claims, q: &Query) -> Result<Value, Problem> {
    let b = body(pool, user, q).await?;
    serde_json::to_value(&b).map_err(|e| Problem::internal(&e))
}

/// Figures by period, tier, place, category, channel, unit and status.
#[utoipa::path(get, path = "/v1/stats", tag = "statistics", params(StatsQuery),
    responses(
        (status = 200, description = "{jurisdiction, from, to, period, basis, filters, group_by, totals: {figure: n}, rows: [{<group-by>: value, figure: n}]}; without group_by also total, by_tier and by_status (received cases). Totals count each case once; grouped by tier or unit a case counts once per tier (unit) it passed through."),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an overseer, or a jurisdiction outside the token's (errors names jurisdiction)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown code, empty or reversed period, a group-by not allowed, a period over the limit; each field named in errors[]", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn stats(
    user: Authenticated,
    q: web::Query<StatsQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let parsed = checked(&user.0, &q, &pool, &clock).await?;
    Ok(HttpResponse::Ok().json(body(&pool, &user.0, &parsed).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PanelQuery {
    /// A code inside the token's (default the token's).
    jurisdiction: Option<String>,
}

async fn base(
    user: &xf_auth::Claims,
    q: &PanelQuery,
    pool: &PgPool,
    clock: &Clock,
) -> Result<Query, Problem> {
    let scope = super::scope(user, q.jurisdiction.as_deref(), pool).await?;
    query::parse(&Raw::default(), scope, super::today(clock)).map_err(super::invalid)
}

fn month_start(d: chrono::NaiveDate) -> chrono::NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// This month so far against the same days of last month.
#[utoipa::path(get, path = "/v1/dashboard/overview", tag = "dashboard", params(PanelQuery),
    responses((status = 200, description = "{this_month: {figures}, last_month: {figures}} (the same days of last month)"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn overview(
    user: Authenticated,
    q: web::Query<PanelQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let mut a = base(&user.0, &q, &pool, &clock).await?;
    let today = a.to;
    a.from = month_start(today);
    let this = answer(&pool, &user.0, &a).await?;
    let mut b = a.clone();
    b.from = a
        .from
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(a.from);
    b.to = today
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(today);
    let last = answer(&pool, &user.0, &b).await?;
    Ok(HttpResponse::Ok().json(json!({
        "jurisdiction": a.jurisdiction,
        "this_month": this["totals"], "last_month": last["totals"],
    })))
}

/// The last twelve months, by registration month.
#[utoipa::path(get, path = "/v1/dashboard/trend", tag = "dashboard", params(PanelQuery),
    responses((status = 200, description = "{rows: [{period: YYYY-MM, figures}]} for the last twelve months"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn trend(
    user: Authenticated,
    q: web::Query<PanelQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let mut a = base(&user.0, &q, &pool, &clock).await?;
    a.from = month_start(a.to)
        .checked_sub_months(chrono::Months::new(11))
        .unwrap_or(a.to);
    // Whole months, so the month cube answers.
    a.to = month_start(a.to)
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(a.to);
    a.group_by = vec![Dim::Period];
    Ok(HttpResponse::Ok().json(answer(&pool, &user.0, &a).await?))
}

/// This year's categories, most received first.
#[utoipa::path(get, path = "/v1/dashboard/categories", tag = "dashboard", params(PanelQuery),
    responses((status = 200, description = "{rows: [{category, figures}]}, most received first"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn categories(
    user: Authenticated,
    q: web::Query<PanelQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    ranked(&user.0, &q, &pool, &clock, Dim::Category, None, "received").await
}

/// This month by township.
#[utoipa::path(get, path = "/v1/dashboard/townships", tag = "dashboard", params(PanelQuery),
    responses((status = 200, description = "{rows: [{township, figures}]} for this month, most received first"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn townships(
    user: Authenticated,
    q: web::Query<PanelQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    ranked(
        &user.0,
        &q,
        &pool,
        &clock,
        Dim::Township,
        Some(month_start),
        "received",
    )
    .await
}

/// The units with the most overdue cases over the last 90 days.
#[utoipa::path(get, path = "/v1/dashboard/units", tag = "dashboard", params(PanelQuery),
    responses((status = 200, description = "{rows: [{unit, figures}]}, most overdue first, last 90 days"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn units(
    user: Authenticated,
    q: web::Query<PanelQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let last_90_days = |to: chrono::NaiveDate| to - Duration::days(89);
    ranked(
        &user.0,
        &q,
        &pool,
        &clock,
        Dim::Unit,
        Some(last_90_days),
        "overdue",
    )
    .await
}

/// A panel of one dimension's rows, from `since(to)` (else the query's default start),
/// largest `key` first.
async fn ranked(
    user: &xf_auth::Claims,
    q: &PanelQuery,
    pool: &PgPool,
    clock: &Clock,
    dim: Dim,
    since: Option<fn(chrono::NaiveDate) -> chrono::NaiveDate>,
    key: &str,
) -> Result<HttpResponse, Problem> {
    let mut a = base(user, q, pool, clock).await?;
    if let Some(f) = since {
        a.from = f(a.to);
    }
    a.group_by = vec![dim];
    let mut v = answer(pool, user, &a).await?;
    sort_desc(&mut v, key);
    Ok(HttpResponse::Ok().json(v))
}

fn sort_desc(v: &mut Value, key: &str) {
    if let Some(rows) = v["rows"].as_array_mut() {
        rows.sort_by(|a, b| b[key].as_i64().cmp(&a[key].as_i64()));
    }
}
