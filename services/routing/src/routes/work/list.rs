//! Reading cases: a case's routing explained, the worklist, the issue groups.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem};
use xf_jurisdiction::Code;

use super::{CaseView, OVERSEERS, access, load};
use crate::domain::{CaseState, CaseTier};
use crate::routes::Env;
use crate::store::cases::{self, ListFilter, Whose};
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(explain, worklist, issue_groups), components(schemas(CaseView)))]
pub struct Doc;

/// Explains where a case went and why, with its routing history.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/routing",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case, the decision (rule, version, each step) and its whole routing history", body = CaseView),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn explain(
    user: Authenticated,
    path: web::Path<Uuid>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = env.pool.acquire().await.map_err(|e| problem(&e))?;
    let case = load(&mut conn, id, false).await?;
    access(&user.0, &case)?;
    let history = cases::history_of(&mut conn, id)
        .await
        .map_err(|e| problem(&e))?;
    let decision = history
        .iter()
        .rev()
        .find(|h| {
            matches!(
                h.action.as_str(),
                "dispatched" | "redispatched_up" | "transferred"
            )
        })
        .map(|h| h.detail.clone());
    let mut body = serde_json::to_value(&case).map_err(|e| Problem::internal(&e))?;
    body["case_id"] = serde_json::json!(id);
    body["decision"] = decision.unwrap_or(serde_json::Value::Null);
    // Transfers never reset a case's age (R15): counted, with the time since registration.
    body["transfers"] =
        serde_json::json!(history.iter().filter(|h| h.action == "transferred").count());
    body["age_secs"] =
        serde_json::json!((env.clock.now() - case.registered_at).num_seconds().max(0));
    body["history"] = serde_json::json!(history);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    tier: Option<String>,
    /// Only cases under this jurisdiction code (within the user's own).
    jurisdiction: Option<String>,
    /// For unit staff: `lead` (default) or `assisting`.
    role: Option<String>,
    /// For overseers: one unit's cases.
    unit_id: Option<String>,
    skip_level: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = URL_SAFE_NO_PAD.decode(c).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (t, id) = s.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc),
        Uuid::parse_str(id).ok()?,
    ))
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    ))
}

/// A unit's (or an overseer's) cases, newest dispatch first, with keyset paging.
#[utoipa::path(
    get,
    path = "/v1/worklist",
    tag = "workbench",
    params(ListQuery),
    responses(
        (status = 200, description = "{items: [CaseView], next_cursor}, newest dispatch first"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn worklist(
    user: Authenticated,
    q: web::Query<ListQuery>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let u = &user.0;
    let mut errs = Vec::new();
    if let Some(s) = &q.status
        && CaseState::parse(s).is_none()
    {
        let all: Vec<&str> = CaseState::ALL.iter().map(|s| s.as_str()).collect();
        errs.push(FieldError::new(
            "status",
            format!("one of {}", all.join(", ")),
        ));
    }
    if let Some(t) = &q.tier
        && CaseTier::parse(t).is_none()
    {
        let all: Vec<&str> = CaseTier::ALL.iter().map(|t| t.as_str()).collect();
        errs.push(FieldError::new(
            "tier",
            format!("one of {}", all.join(", ")),
        ));
    }
    if let Some(j) = &q.jurisdiction
        && let Err(e) = Code::parse(j)
    {
        errs.push(FieldError::new("jurisdiction", e.to_string()));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errs.push(FieldError::new("limit", "from 1 to 200"));
    }
    let cursor = match &q.cursor {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(v) => Some(v),
            None => {
                errs.push(FieldError::new("cursor", "not a cursor this list returned"));
                None
            }
        },
    };
    let role = q.role.as_deref().unwrap_or("lead");
    if !["lead", "assisting"].contains(&role) {
        errs.push(FieldError::new("role", "lead or assisting"));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let overseer = u.roles.iter().any(|r| OVERSEERS.contains(&r.as_str()));
    let whose = match (&u.unit, overseer) {
        (Some(unit), false) => {
            u.require_any_role(&[roles::HANDLER])?;
            if role == "assisting" {
                Whose::Assisting(unit.clone())
            } else {
                Whose::Lead(unit.clone())
            }
        }
        (_, true) => {
            if u.jurisdiction.is_empty() {
                return Err(Problem::forbidden("your token carries no jurisdiction"));
            }
            Whose::Under {
                jurisdiction: u.jurisdiction.clone(),
                unit: q.unit_id.clone(),
            }
        }
        (None, false) => {
            return Err(Problem::forbidden(
                "the worklist needs a unit (handlers) or an overseeing role",
            ));
        }
    };
    let filter = ListFilter {
        whose,
        not_excluding: u.unit.clone(),
        jurisdiction: q.jurisdiction.clone(),
        status: q.status.clone(),
        category: q.category.clone(),
        tier: q.tier.clone(),
        skip_level: q.skip_level,
        before: cursor,
        limit: i64::from(limit) + 1,
    };
    let mut items = cases::list(env.pool.get_ref(), &filter)
        .await
        .map_err(|e| problem(&e))?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more {
        items
            .last()
            .and_then(|c| c.dispatched_at.map(|at| encode_cursor(at, c.id)))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items, "next_cursor": next })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct GroupQuery {
    jurisdiction: Option<String>,
}

/// Possible collective issues: similar matters from different petitioners in one place.
#[utoipa::path(
    get,
    path = "/v1/issue-groups",
    tag = "workbench",
    params(GroupQuery),
    responses(
        (status = 200, description = "{groups: [{group_id, jurisdiction_code, category, first_case_id, member_count, case_ids, …}]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn issue_groups(
    user: Authenticated,
    q: web::Query<GroupQuery>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&OVERSEERS)?;
    let scope = q
        .jurisdiction
        .clone()
        .unwrap_or_else(|| user.0.jurisdiction.clone());
    user.0.require_scope(&scope)?;
    // The accused unit's token never sees its case, not even in a group.
    let unit = user.0.unit.as_deref().filter(|u| !u.is_empty());
    let groups: Vec<serde_json::Value> = cases::issue_groups(env.pool.get_ref(), &scope, unit)
        .await
        .map_err(|e| problem(&e))?
        .into_iter()
        .map(|g| {
            serde_json::json!({
                "group_id": g.id,
                "jurisdiction_code": g.jurisdiction_code,
                "category": g.category,
                "first_case_id": g.first_case_id,
                "member_count": g.member_count,
                "case_ids": g.case_ids,
                "created_at": g.created_at,
                "updated_at": g.updated_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "groups": groups })))
}
