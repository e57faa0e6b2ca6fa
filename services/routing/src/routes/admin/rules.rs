//! Responsibility rules: versioned, never ambiguous, retired at a moment.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use xf_app::audit::{self, Reason};
use xf_auth::Authenticated;
use xf_http::{Problem, ValidJson};

use super::admin_for;
use crate::domain::catalog::Rule;
use crate::domain::rules::{self, Draft};
use crate::routes::Env;
use crate::store::catalog as store;
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(put_rule, retire_rule, list_rules, get_rule),
    components(schemas(RuleInput))
)]
pub struct Doc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub jurisdiction_code: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub competent_tier: String,
    #[serde(default)]
    pub lead_unit_id: Option<String>,
    #[serde(default)]
    pub lead_unit_kind: Option<String>,
    #[serde(default)]
    pub assisting_unit_ids: Vec<String>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub effective_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub effective_to: Option<DateTime<Utc>>,
}

#[utoipa::path(
    put,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "Rule id"), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body = RuleInput,
    responses(
        (status = 200, description = "Version n+1 of the rule"), (status = 201, description = "The rule, first version"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn put_rule(
    user: Authenticated,
    path: web::Path<String>,
    reason: Reason,
    body: ValidJson<RuleInput>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let r = body.into_inner();
    let now = env.clock.now();
    let cat = env
        .shared
        .reload(&env.pool)
        .await
        .map_err(|e| problem(&e))?;
    let tree = env.places.get();
    let draft = Draft {
        id: id.clone(),
        category: r.category,
        jurisdiction_code: r.jurisdiction_code,
        flags: r.flags,
        competent_tier: r.competent_tier,
        lead_unit_id: r.lead_unit_id,
        lead_unit_kind: r.lead_unit_kind,
        assisting_unit_ids: r.assisting_unit_ids,
        note: r.note,
        effective_from: r.effective_from,
        effective_to: r.effective_to,
    };
    let checked = rules::check(&draft, &cat, &tree, now)?;
    let scope = checked.jurisdiction_code.clone().unwrap_or_default();
    admin_for(
        &user,
        if scope.is_empty() {
            // A rule for anywhere needs an administrator of the whole tree's root
            // county, or wider.
            user.0.jurisdiction.as_str()
        } else {
            scope.as_str()
        },
    )?;
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    // One writer at a time, so that two rules saved together cannot be ambiguous.
    store::lock_rules(&mut tx).await.map_err(|e| problem(&e))?;
    let latest = store::latest_rule(&mut tx, &id)
        .await
        .map_err(|e| problem(&e))?;
    let candidate = rules::follows(checked, latest.as_ref())?;
    let from = candidate.effective_from;
    let others = store::other_rules(&mut tx, &id)
        .await
        .map_err(|e| problem(&e))?;
    rules::unambiguous(&candidate, &others)?;
    if let Some(l) = &latest
        && rules::ends_previous(l, from)
    {
        store::end_rule(&mut tx, &id, l.version, from)
            .await
            .map_err(|e| problem(&e))?;
    }
    store::insert_rule(&mut tx, &candidate, now, &user.0.sub)
        .await
        .map_err(|e| problem(&e))?;
    let before = latest.as_ref().and_then(|l| serde_json::to_value(l).ok());
    let change = audit::Change {
        kind: "rule",
        key: &id,
        jurisdiction_code: candidate.jurisdiction_code.as_deref().unwrap_or(""),
        action: audit::Action::upsert(&before),
        before,
        after: serde_json::to_value(&candidate).ok(),
    };
    audit::record(&mut tx, &user.0, &reason, now, &change)
        .await
        .map_err(|e| problem(&e))?;
    store::bump(&mut tx).await.map_err(|e| problem(&e))?;
    tx.commit().await.map_err(|e| problem(&e))?;
    env.shared
        .reload(&env.pool)
        .await
        .map_err(|e| problem(&e))?;
    let status = if latest.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    let mut status = status;
    Ok(status.json(candidate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RetireQuery {
    at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    delete,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path), RetireQuery, ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    responses(
        (status = 200, description = "{id, version, effective_to}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn retire_rule(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<RetireQuery>,
    reason: Reason,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let at = q.at.unwrap_or_else(|| env.clock.now());
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let store::RuleEnd {
        version,
        jurisdiction_code: code,
        effective_from: from,
        effective_to: to,
    } = store::rule_for_retiring(&mut tx, &id)
        .await
        .map_err(|e| problem(&e))?
        .ok_or_else(|| Problem::not_found("rule"))?;
    admin_for(
        &user,
        code.as_deref().unwrap_or(user.0.jurisdiction.as_str()),
    )?;
    rules::retire(&id, version, from, to, at)?;
    store::end_rule(&mut tx, &id, version, at)
        .await
        .map_err(|e| problem(&e))?;
    let change = audit::Change {
        kind: "rule",
        key: &id,
        jurisdiction_code: code.as_deref().unwrap_or(""),
        action: audit::Action::Retire,
        before: Some(serde_json::json!({"id": id, "version": version, "effective_to": to})),
        after: Some(serde_json::json!({"id": id, "version": version, "effective_to": at})),
    };
    audit::record(&mut tx, &user.0, &reason, env.clock.now(), &change)
        .await
        .map_err(|e| problem(&e))?;
    store::bump(&mut tx).await.map_err(|e| problem(&e))?;
    tx.commit().await.map_err(|e| problem(&e))?;
    env.shared
        .reload(&env.pool)
        .await
        .map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"id": id, "version": version, "effective_to": at})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RulesQuery {
    /// Rules in force at this moment (default: now); `all=true` lists every version.
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    all: bool,
}

#[utoipa::path(
    get,
    path = "/v1/rules",
    tag = "rules",
    params(RulesQuery),
    responses(
        (status = 200, description = "{at, rules: [...]}: the rules in force at `at`, or every version"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_rules(
    _user: Authenticated,
    q: web::Query<RulesQuery>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let cat = env.shared.get();
    let at = q.at.unwrap_or_else(|| env.clock.now());
    let rules: Vec<&Rule> = cat
        .rules
        .iter()
        .filter(|r| q.all || r.in_force(at))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "at": at, "rules": rules })))
}

#[utoipa::path(
    get,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "{id, versions: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_rule(
    _user: Authenticated,
    path: web::Path<String>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let cat = env.shared.get();
    let mut versions: Vec<&Rule> = cat.rules.iter().filter(|r| r.id == id).collect();
    if versions.is_empty() {
        return Err(Problem::not_found("rule"));
    }
    versions.sort_by_key(|r| r.version);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": id, "versions": versions })))
}
