//! The one extension of the handling period: asked for by the lead unit, decided by
//! the dispatching office.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem, ValidJson};

use super::transfer::DecisionBody;
use super::{Action, CaseView, Particulars, Who, act};
use crate::domain::Pending;
use crate::domain::case::Command;
use crate::routes::Env;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(extension, extension_decision),
    components(schemas(ExtensionBody))
)]
pub struct Doc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtensionBody {
    days: i64,
    reason: String,
}

/// Asks for the one extension of the handling period (at most 30 days).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/extension",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = ExtensionBody,
    responses(
        (status = 200, description = "The case, extension requested", body = CaseView),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn extension(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ExtensionBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    let days = u32::try_from(b.days).ok().filter(|d| (1..=30).contains(d));
    if days.is_none() {
        errs.push(FieldError::new("days", "from 1 to 30 (信访条例 Art. 33)"));
    }
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    let (Some(days), true) = (days, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    let a = Action {
        id: path.into_inner(),
        user: user.0,
        who: Who::LeadHandler,
    };
    act(
        &env,
        a,
        move |_| Command::RequestExtension { days },
        move |_, now| {
            let pending = serde_json::json!({"kind": "extension", "days": b.days,
                "reason": b.reason, "requested_at": now});
            Ok(Particulars {
                detail: pending.clone(),
                pending: Some(pending),
                ..Particulars::default()
            })
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/extension-decision",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The case, extension approved or rejected", body = CaseView),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn extension_decision(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<DecisionBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let a = Action {
        id: path.into_inner(),
        user: user.0,
        who: Who::DispatchingOffice,
    };
    let approve = b.approve;
    act(
        &env,
        a,
        move |_| Command::DecideExtension { approve },
        move |c, _| {
            let days = match c.workbench().pending {
                Pending::Extension { days } => days,
                _ => 0,
            };
            Ok(Particulars {
                detail: serde_json::json!({"days": days, "note": b.note}),
                ..Particulars::default()
            })
        },
    )
    .await
}
