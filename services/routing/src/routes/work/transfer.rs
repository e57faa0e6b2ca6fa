//! Handing a case on: the lead unit's transfer request, the dispatching office's
//! decision, and unlinking a case wrongly linked as a repeat.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;
use xf_auth::{Authenticated, roles};
use xf_events::v1::EscalationReason;
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::Code;

use super::{Action, CaseView, Particulars, Who, access, act, load, office_decides};
use crate::domain::case::{Command, apply, send_back, tier_label, transfer_target};
use crate::redispatch::{Redispatch, Stored, With, redispatch};
use crate::routes::Env;
use crate::store::cases::{self, NewUnit};
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(transfer, transfer_decision, unlink),
    components(schemas(TransferBody, DecisionBody, UnlinkBody))
)]
pub struct Doc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferBody {
    to_unit_id: String,
    reason: String,
}

/// Asks the dispatching office to hand the case to another unit (退单/改派).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/transfer",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = TransferBody,
    responses(
        (status = 200, description = "The case, transfer requested", body = CaseView),
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
pub(super) async fn transfer(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<TransferBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    let cat = env.shared.get();
    let tree = env.places.get();
    let target = cat.unit(&b.to_unit_id, |code| {
        Code::parse(code)
            .ok()
            .and_then(|c| tree.get(&c).map(|d| d.name.clone()))
    });
    match &target {
        None => errs.push(FieldError::new(
            "to_unit_id",
            format!("unknown unit {}", b.to_unit_id),
        )),
        Some(t) if !t.active => errs.push(FieldError::new(
            "to_unit_id",
            format!("unit {} is inactive", b.to_unit_id),
        )),
        Some(_) => {}
    }
    let (Some(target), true) = (target, errs.is_empty()) else {
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
        |_| Command::RequestTransfer,
        move |c, now| {
            transfer_target(c.unit(), c.excluded_unit_id.as_deref(), &target.id)?;
            let pending = serde_json::json!({
                "kind": "transfer",
                "to_unit_id": target.id,
                "to_unit_name": target.name,
                "to_jurisdiction_code": target.jurisdiction_code,
                "reason": b.reason,
                "from_status": c.status,
                "requested_at": now,
            });
            Ok(Particulars {
                detail: pending.clone(),
                pending: Some(pending),
                ..Particulars::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    pub(super) approve: bool,
    #[serde(default)]
    pub(super) note: String,
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/transfer-decision",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The case with its new unit, or back where it was", body = CaseView),
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
pub(super) async fn transfer_decision(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<DecisionBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    if b.note.chars().count() > 500 {
        return Err(Problem::validation(vec![FieldError::new(
            "note",
            "at most 500 characters",
        )]));
    }
    let id = path.into_inner();
    let back = cases::transfer_goes_back(env.pool.get_ref(), id)
        .await
        .map_err(|e| problem(&e))?;
    let supervises = user.0.has_role(roles::SUPERVISOR) || user.0.has_role(roles::ADMIN);
    let a = Action {
        id,
        user: user.0,
        who: Who::DispatchingOffice,
    };
    let approve = b.approve;
    act(
        &env,
        a,
        move |_| Command::DecideTransfer { approve },
        move |c, _| {
            let to = c.pending_str("to_unit_id");
            send_back(back, approve, supervises, &to)?;
            if !approve {
                return Ok(Particulars {
                    detail: serde_json::json!({"to_unit_id": to, "note": b.note}),
                    ..Particulars::default()
                });
            }
            let (name, code) = (
                c.pending_str("to_unit_name"),
                c.pending_str("to_jurisdiction_code"),
            );
            Ok(Particulars {
                detail: serde_json::json!({"from_unit_id": c.unit(), "unit_id": to,
                    "unit_name": name, "jurisdiction_code": code,
                    "reason": c.pending_str("reason"), "note": b.note}),
                unit: Some(NewUnit {
                    tier: tier_label(&code),
                    id: to,
                    name,
                    jurisdiction_code: code,
                }),
                ..Particulars::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UnlinkBody {
    reason: String,
}

/// The dispatching office (or a supervisor) finds that a case linked as a repeat is a
/// different matter: it is unlinked and dispatched by the rules in force now.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/unlink",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = UnlinkBody,
    responses(
        (status = 200, description = "The case, unlinked and dispatched", body = CaseView),
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
pub(super) async fn unlink(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<UnlinkBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let id = path.into_inner();
    let u = user.0;
    let now = env.clock.now();
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let case = load(&mut tx, id, true).await?;
    office_decides(&u, &case, access(&u, &case), "unlinking")?;
    apply(case.workbench(), Command::Unlink)?;
    let place = Code::parse(&case.matter_code)
        .map_err(|e| Problem::validation(vec![FieldError::new("matter_code", e.to_string())]))?;
    let cat = env.shared.fresh(&mut tx).await.map_err(|e| problem(&e))?;
    let tree = env
        .places
        .with(&env.pool, &place)
        .await
        .map_err(|e| problem(&e))?;
    let mut detail = serde_json::json!({
        "by": u.sub, "reason": b.reason, "was_linked_to": case.linked_to,
    });
    let again = Redispatch {
        case_id: id,
        forced: None,
        reason: EscalationReason::Unspecified,
        review_level: 0,
        action: "unlinked",
        now,
    };
    let stored = Stored {
        category: &case.category,
        matter_code: &case.matter_code,
        office_code: case.office_code.as_deref(),
        collective: case.collective,
        important: case.important,
        confidential: case.confidential,
        excluded_unit_id: case.excluded_unit_id.as_deref(),
    };
    let with = With {
        outbox: &env.outbox,
        catalog: &cat,
        tree: &tree,
    };
    redispatch(&mut tx, &with, &stored, again, &mut detail)
        .await
        .map_err(|e| match e {
            xf_bus::HandleError::Transient(m) => Problem::unavailable(&m),
            xf_bus::HandleError::Permanent(m) => Problem::conflict(m),
        })?;
    let after = load(&mut tx, id, false).await?;
    tx.commit().await.map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(after))
}
