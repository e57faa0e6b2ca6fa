//! Deadline policies: versions with effective dates, the rule in force per stage,
//! the shipped presets and the public due-date preview.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem, ValidJson};

use super::db;
use crate::clocks;
use crate::policy::{self, STAGES};
use crate::store::policies as store;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        put_policy,
        get_policy,
        list_policies,
        effective,
        list_presets,
        preview
    ),
    components(schemas(PolicyBody, Problem, xf_http::FieldError))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/policies", web::get().to(list_policies))
        .route("/v1/policies/effective", web::get().to(effective))
        .route("/v1/policies/{id}", web::get().to(get_policy))
        .route("/v1/policies/{id}", web::put().to(put_policy))
        .route("/v1/policy-presets", web::get().to(list_presets))
        .route("/v1/deadlines/preview", web::get().to(preview));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    name: String,
    #[serde(default)]
    jurisdiction_code: String,
    #[serde(default)]
    stages: Option<BTreeMap<String, serde_json::Value>>,
    /// Start from a shipped preset (`GET /v1/policy-presets`) instead of `stages`.
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    effective_from: Option<DateTime<Utc>>,
    #[serde(default)]
    effective_to: Option<DateTime<Utc>>,
}

/// Creates a policy, or its next version (which ends the previous one where it starts).
#[utoipa::path(
    put,
    path = "/v1/policies/{id}",
    tag = "policies",
    params(("id" = String, Path, description = "Policy id"), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body = PolicyBody,
    responses(
        (status = 200, description = "Version n+1 of the policy"), (status = 201, description = "The policy, first version"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn put_policy(
    user: Authenticated,
    path: web::Path<String>,
    reason: xf_app::audit::Reason,
    body: ValidJson<PolicyBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let b = body.into_inner();
    let now = clock.now();
    let mut errs = Vec::new();
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push(FieldError::new(
            "id",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        errs.push(FieldError::new("name", "1 to 100 characters"));
    }
    if !b.jurisdiction_code.is_empty()
        && let Err(e) = xf_jurisdiction::Code::parse(&b.jurisdiction_code)
    {
        errs.push(FieldError::new("jurisdiction_code", e.to_string()));
    }
    let stages = match (&b.stages, &b.preset) {
        (Some(s), None) => s.clone(),
        (None, Some(p)) => match policy::presets().into_iter().find(|x| x.id == p) {
            Some(x) => serde_json::from_value(x.stages).unwrap_or_default(),
            None => {
                errs.push(FieldError::new("preset", format!("unknown preset {p}")));
                BTreeMap::new()
            }
        },
        _ => {
            errs.push(FieldError::new(
                "stages",
                "give stages or a preset, not both",
            ));
            BTreeMap::new()
        }
    };
    let (specs, stage_errs) = if stages.is_empty() && !errs.is_empty() {
        (BTreeMap::new(), Vec::new())
    } else {
        policy::check_stages(&stages)
    };
    errs.extend(stage_errs);
    let from = b.effective_from.unwrap_or(now);
    if let Some(to) = b.effective_to
        && to <= from
    {
        errs.push(FieldError::new(
            "effective_to",
            "must be after effective_from",
        ));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    user.0.require_any_role(&[roles::ADMIN])?;
    if b.jurisdiction_code.is_empty() || !user.0.covers(&b.jurisdiction_code) {
        return Err(Problem::forbidden(
            "a policy covers a jurisdiction within yours (the statutory set covers the rest)",
        ));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    store::lock(&mut tx).await.map_err(db)?;
    let latest = store::latest(&mut tx, &id).await.map_err(db)?;
    if let Some(l) = &latest {
        let (v, code, start) = (l.version, &l.jurisdiction_code, l.effective_from);
        if *code != b.jurisdiction_code {
            return Err(Problem::validation(vec![FieldError::new(
                "jurisdiction_code",
                format!("policy {id} covers {code}; create another policy for another place"),
            )]));
        }
        if from <= start {
            return Err(Problem::validation(vec![FieldError::new(
                "effective_from",
                format!("must be after the start of version {v} ({start})"),
            )]));
        }
    }
    // Another policy for the same place in an overlapping period would make the
    // applicable rule ambiguous.
    let clash = store::clash(&mut tx, &b.jurisdiction_code, &id, from, b.effective_to)
        .await
        .map_err(db)?;
    if let Some((other, v)) = clash {
        return Err(Problem::conflict(format!(
            "policy {other} version {v} already covers {} in an overlapping period",
            b.jurisdiction_code
        ))
        .field(
            "effective_from",
            "overlaps another policy of the same place",
        ));
    }
    let before = match &latest {
        Some(l) => Some(serde_json::to_value(l).map_err(|e| Problem::internal(&e))?),
        None => None,
    };
    let version = latest.as_ref().map_or(1, |l| l.version + 1);
    if latest.is_some() {
        store::end_version(&mut tx, &id, version - 1, from)
            .await
            .map_err(db)?;
    }
    let stages_json = serde_json::to_value(&specs).map_err(|e| Problem::internal(&e))?;
    let row = store::PolicyRow {
        id: id.clone(),
        version,
        name: b.name.trim().to_owned(),
        jurisdiction_code: b.jurisdiction_code.clone(),
        stages: stages_json.clone(),
        preset: b.preset.clone(),
        effective_from: from,
        effective_to: b.effective_to,
    };
    store::insert(&mut tx, &row, now, &user.0.sub)
        .await
        .map_err(db)?;
    let body = serde_json::json!({
        "id": id, "version": version, "name": b.name.trim(), "jurisdiction_code": b.jurisdiction_code,
        "stages": stages_json, "preset": b.preset, "effective_from": from, "effective_to": b.effective_to,
    });
    let change = xf_app::audit::Change {
        kind: "policy",
        key: &id,
        jurisdiction_code: &b.jurisdiction_code,
        action: xf_app::audit::Action::upsert(&before),
        before,
        after: Some(body.clone()),
    };
    xf_app::audit::record(&mut tx, &user.0, &reason, now, &change)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(if version == 1 {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(
    get,
    path = "/v1/policies/{id}",
    tag = "policies",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "{id, versions: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn get_policy(
    _user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let versions = store::versions(pool.get_ref(), &id).await.map_err(db)?;
    if versions.is_empty() {
        return Err(Problem::not_found("policy"));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": id, "versions": versions })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PolicyQuery {
    jurisdiction: Option<String>,
    at: Option<DateTime<Utc>>,
}

/// Policies in force at `at` (default now) that cover `jurisdiction` (or all).
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    params(PolicyQuery),
    responses(
        (status = 200, description = "{at, policies: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_policies(
    _user: Authenticated,
    q: web::Query<PolicyQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let at = q.at.unwrap_or_else(|| clock.now());
    let list = store::in_force(pool.get_ref(), at, q.jurisdiction.as_deref())
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "at": at, "policies": list })))
}

/// Per stage, the rule that applies at a jurisdiction and which policy it comes from.
#[utoipa::path(
    get,
    path = "/v1/policies/effective",
    tag = "policies",
    params(PolicyQuery),
    responses(
        (status = 200, description = "{jurisdiction_code, at, stages: {stage: {rule, policy, version}}}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn effective(
    _user: Authenticated,
    q: web::Query<PolicyQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let code = q.jurisdiction.clone().unwrap_or_default();
    if let Err(e) = xf_jurisdiction::Code::parse(&code) {
        return Err(Problem::validation(vec![FieldError::new(
            "jurisdiction",
            e.to_string(),
        )]));
    }
    let at = q.at.unwrap_or_else(|| clock.now());
    let mut conn = pool.acquire().await.map_err(db)?;
    let mut stages = serde_json::Map::new();
    for (name, _) in STAGES {
        if let Some(r) = policy::resolve(&mut conn, &code, at, name)
            .await
            .map_err(db)?
        {
            stages.insert(
                name.to_owned(),
                serde_json::json!({"rule": r.spec, "policy": r.policy_id, "version": r.version}),
            );
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction_code": code, "at": at, "stages": stages,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// The division the matter belongs to (6, 9 or 12 digits).
    jurisdiction: Option<String>,
    /// acceptance, handling, review_window, review, …
    stage: Option<String>,
    /// RFC 3339; the period counts from the day after.
    start: Option<String>,
}

/// When a stage started at `start` in `jurisdiction` would be due, by the policy in
/// force then. Public: it reveals only policy.
#[utoipa::path(
    get,
    path = "/v1/deadlines/preview",
    tag = "policies",
    params(PreviewQuery),
    responses(
        (status = 200, description = "{due_at, policy_id, policy_version, days, counting, provisional, stage, jurisdiction_code, start}"),
        (status = 404, description = "No policy times this stage there", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    )
)]
async fn preview(
    q: web::Query<PreviewQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let mut errs = Vec::new();
    let code = q.jurisdiction.unwrap_or_default();
    if let Err(e) = xf_jurisdiction::Code::parse(&code) {
        errs.push(FieldError::new("jurisdiction", e.to_string()));
    }
    let stage = q.stage.unwrap_or_default();
    if !STAGES.iter().any(|(n, _)| *n == stage) || stage == "superior_report" {
        errs.push(FieldError::new(
            "stage",
            format!(
                "one of {}",
                STAGES
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| *n != "superior_report")
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let start = match q.start.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        _ => {
            errs.push(FieldError::new(
                "start",
                "an RFC 3339 moment, e.g. 2026-03-02T09:00:00+08:00",
            ));
            None
        }
    };
    let (Some(start), true) = (start, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    let mut conn = pool.acquire().await.map_err(db)?;
    let Some(r) = policy::resolve(&mut conn, &code, start, &stage)
        .await
        .map_err(db)?
    else {
        return Err(Problem::not_found("policy for this stage"));
    };
    let (due_at, provisional) = clocks::due_of(start, r.spec.days, r.spec.counting, 0);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "due_at": due_at,
        "policy_id": r.policy_id,
        "policy_version": r.version,
        "days": r.spec.days,
        "counting": r.spec.counting,
        "provisional": provisional,
        "stage": stage,
        "jurisdiction_code": code,
        "start": start,
    })))
}

#[utoipa::path(
    get,
    path = "/v1/policy-presets",
    tag = "policies",
    responses(
        (status = 200, description = "{presets: [...]}: the shipped local rule sets"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_presets(_user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "presets": policy::presets() }))
}
