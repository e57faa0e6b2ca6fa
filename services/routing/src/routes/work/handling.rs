//! Handling a case: accepting it or not, the written reply, closing.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem, ValidJson};

use super::{Action, CaseView, Particulars, Reply, Who, access, act, consultation, load};
use crate::domain::ReplyOutcome;
use crate::domain::case::{Command, concludes, delivery};
use crate::routes::Env;
use crate::store::cases;
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(accept, not_accept, reply, get_reply, close),
    components(schemas(NotAcceptBody, ReplyBody))
)]
pub struct Doc;

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/accept",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case after the move", body = CaseView),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn accept(
    user: Authenticated,
    path: web::Path<Uuid>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let a = Action {
        id: path.into_inner(),
        user: user.0,
        who: Who::LeadHandler,
    };
    act(
        &env,
        a,
        |_| Command::Accept,
        |c, _| {
            Ok(Particulars {
                detail: serde_json::json!({"unit_id": c.unit()}),
                ..Particulars::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NotAcceptBody {
    reason: String,
    /// For matters outside letters-and-visits: the channel named to the petitioner
    /// (litigation, arbitration, administrative review, …).
    #[serde(default)]
    referral_channel: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/not-accept",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = NotAcceptBody,
    responses(
        (status = 200, description = "The case, not accepted and closed", body = CaseView),
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
pub(super) async fn not_accept(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<NotAcceptBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if let Some(r) = &b.referral_channel {
        xf_http::require_text(&mut errs, "referral_channel", r, 100);
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let a = Action {
        id: path.into_inner(),
        user: user.0,
        who: Who::LeadHandler,
    };
    act(&env, a, |_| Command::NotAccept, move |_, _| {
        Ok(Particulars {
            detail: serde_json::json!({"reason": b.reason, "referral_channel": b.referral_channel}),
            refusal: Some((
                b.reason.clone(),
                b.referral_channel.clone().unwrap_or_default(),
            )),
            ..Particulars::default()
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplyBody {
    /// support (支持), explain (解释) or not_support (不予支持).
    outcome: String,
    text: String,
    /// Whether the reply is delivered to the petitioner (default true). An anonymous
    /// item has nobody to deliver to: its result is recorded with `deliver: false`.
    #[serde(default)]
    deliver: Option<bool>,
}

/// The written reply to the petitioner (信访条例 Art. 32).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/reply",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = ReplyBody,
    responses(
        (status = 200, description = "The case, replied", body = CaseView),
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
pub(super) async fn reply(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ReplyBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    let outcome = ReplyOutcome::parse(&b.outcome);
    if outcome.is_none() {
        errs.push(FieldError::new(
            "outcome",
            "one of support, explain, not_support",
        ));
    }
    xf_http::require_text(&mut errs, "text", &b.text, 10_000);
    let (Some(outcome), true) = (outcome, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    let id = path.into_inner();
    let anonymous = cases::anonymous(env.pool.get_ref(), id)
        .await
        .map_err(|e| problem(&e))?;
    let deliver = b.deliver.unwrap_or(true);
    {
        // R11: a case with assisting units is replied to after the joint consultation.
        let mut conn = env.pool.acquire().await.map_err(|e| problem(&e))?;
        if let Ok(case) = load(&mut conn, id, false).await
            && access(&user.0, &case).is_ok()
        {
            consultation::round(&mut conn, &case)
                .await?
                .round
                .before_reply()?;
        }
    }
    let a = Action {
        id,
        user: user.0,
        who: Who::LeadHandler,
    };
    act(
        &env,
        a,
        |c| Command::Reply {
            rereview: concludes(c.review_level),
        },
        move |c, _| {
            // R3: checked once the caller is known to act on the case.
            let delivered = delivery(anonymous, deliver)?;
            let len = u32::try_from(b.text.chars().count()).unwrap_or(u32::MAX);
            Ok(Particulars {
                detail: serde_json::json!({"outcome": b.outcome, "text_length": len,
                "review_level": c.review_level, "delivered": delivered}),
                reply: Some(Reply {
                    outcome,
                    text: b.text.clone(),
                }),
                ..Particulars::default()
            })
        },
    )
    .await
}

/// The latest written reply, for those who may see the case (intake reads it for the
/// petitioner's view: the text never travels on the bus).
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/reply",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "{case_id, outcome, text, unit_id, replied_at, review_level}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case for this caller, or no reply yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_reply(
    user: Authenticated,
    path: web::Path<Uuid>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = env.pool.acquire().await.map_err(|e| problem(&e))?;
    let case = load(&mut conn, id, false).await?;
    access(&user.0, &case)?;
    let row = cases::reply_of(&mut conn, id)
        .await
        .map_err(|e| problem(&e))?;
    let (Some(outcome), Some(text), Some(at)) = (row.reply_outcome, row.reply_text, row.replied_at)
    else {
        return Err(Problem::not_found("reply"));
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "outcome": outcome,
        "text": text,
        "unit_id": case.unit_id,
        "replied_at": at,
        "review_level": case.review_level,
    })))
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/close",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case, closed", body = CaseView),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn close(
    user: Authenticated,
    path: web::Path<Uuid>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let a = Action {
        id: path.into_inner(),
        user: user.0,
        who: Who::LeadHandler,
    };
    act(
        &env,
        a,
        |_| Command::Close,
        |c, _| {
            Ok(Particulars {
                detail: serde_json::json!({
                    "unit_id": c.unit(),
                    // A superior body's transfer (上级交办) awaits the result.
                    "report_back_to": c.superior_reference,
                    "report_back_due": c.superior_due_at,
                }),
                ..Particulars::default()
            })
        },
    )
    .await
}
