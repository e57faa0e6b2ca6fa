//! The joint consultation (联合会商, R11) of a case with assisting units: each unit's
//! written opinion and the meeting record, for the current handling round.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem, ValidJson};

use super::{Access, access, load};
use crate::domain::consultation::{Round, absent, may_consult};
use crate::routes::Env;
use crate::store::cases::{self, CaseRow};
use crate::store::consultation::{self as store, MeetingRow, OpinionRow};
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(consultation, opinion, meeting),
    components(schemas(OpinionBody, MeetingBody))
)]
pub struct Doc;

/// Where a case's consultation stands for its current round, with what is on record.
pub(super) struct Loaded {
    pub(super) round: Round,
    opinions: Vec<OpinionRow>,
    meeting: Option<MeetingRow>,
}

pub(super) async fn round(conn: &mut PgConnection, c: &CaseRow) -> Result<Loaded, Problem> {
    let opinions = store::opinions(&mut *conn, c.id, c.review_level)
        .await
        .map_err(|e| problem(&e))?;
    let meeting = store::meeting(&mut *conn, c.id, c.review_level)
        .await
        .map_err(|e| problem(&e))?;
    Ok(Loaded {
        round: Round {
            lead: c.unit().to_owned(),
            assisting: c.assisting_unit_ids.clone(),
            opinions_from: opinions.iter().map(|o| o.unit_id.clone()).collect(),
            meeting: meeting.is_some(),
        },
        opinions,
        meeting,
    })
}

fn consult_json(c: &CaseRow, s: &Loaded) -> serde_json::Value {
    serde_json::json!({
        "case_id": c.id,
        "review_level": c.review_level,
        "required": s.round.required(),
        "lead_unit_id": c.unit_id,
        "assisting_unit_ids": c.assisting_unit_ids,
        "opinions": s.opinions,
        "missing_opinions": s.round.missing(),
        "meeting": s.meeting,
        "ready": !s.round.required() || s.round.ready(),
        "units": s.round.units(),
    })
}

/// The joint consultation (联合会商, R11) of a case with assisting units: each unit's
/// written opinion and the meeting record, for the current handling round.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/consultation",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "{case_id, review_level, required, lead_unit_id, assisting_unit_ids, opinions: [{unit_id, text, by, at}], missing_opinions, meeting: {held_at, participants, minutes, by, at}, ready}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn consultation(
    user: Authenticated,
    path: web::Path<Uuid>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let mut conn = env.pool.acquire().await.map_err(|e| problem(&e))?;
    let case = load(&mut conn, *path, false).await?;
    access(&user.0, &case)?;
    let st = round(&mut conn, &case).await?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OpinionBody {
    text: String,
}

/// The caller's unit's written opinion (lead or assisting; given again, it replaces
/// the earlier one), while the case is being handled.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/consultation/opinions",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = OpinionBody,
    responses(
        (status = 200, description = "The consultation after the opinion"),
        (status = 403, description = "Not a handler of the lead or an assisting unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case is not being handled, or has no assisting units", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn opinion(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<OpinionBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let case = load(&mut tx, *path, true).await?;
    let standing = access(&user.0, &case)?;
    if !matches!(standing, Access::Lead | Access::Assisting) || !user.0.has_role(roles::HANDLER) {
        return Err(Problem::forbidden(
            "the lead and assisting units' handlers give the consultation's opinions",
        ));
    }
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "text", &b.text, 5000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    may_consult(&case.assisting_unit_ids, case.workbench())?;
    let unit = user.0.unit.clone().unwrap_or_default();
    let now = env.clock.now();
    store::put_opinion(
        &mut tx,
        &store::Opinion {
            case_id: case.id,
            round: case.review_level,
            unit_id: &unit,
            text: b.text.trim(),
            by: &user.0.sub,
            at: now,
        },
    )
    .await
    .map_err(|e| problem(&e))?;
    cases::history(
        &mut tx,
        case.id,
        now,
        "consultation_opinion",
        serde_json::json!({"unit_id": unit, "by": user.0.sub, "text_length": b.text.chars().count()}),
    )
    .await
    .map_err(|e| problem(&e))?;
    let st = round(&mut tx, &case).await?;
    tx.commit().await.map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MeetingBody {
    held_at: Option<String>,
    /// The units that took part: the lead and every assisting unit.
    participants: Vec<String>,
    minutes: String,
}

/// The consultation meeting's record (会商纪要), by the lead unit.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/consultation/meeting",
    tag = "workbench",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = MeetingBody,
    responses(
        (status = 200, description = "The consultation after the meeting record"),
        (status = 403, description = "Not a handler of the lead unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case is not being handled, or has no assisting units", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
pub(super) async fn meeting(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<MeetingBody>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = env.clock.now();
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let case = load(&mut tx, *path, true).await?;
    if access(&user.0, &case)? != Access::Lead || !user.0.has_role(roles::HANDLER) {
        return Err(Problem::forbidden(
            "the lead unit's handlers record the consultation meeting",
        ));
    }
    let mut errs = Vec::new();
    let held_at = match b.held_at.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) if t.with_timezone(&Utc) <= now => Some(t.with_timezone(&Utc)),
        Some(Ok(_)) => {
            errs.push(FieldError::new(
                "held_at",
                "a meeting held, not planned: not in the future",
            ));
            None
        }
        _ => {
            errs.push(FieldError::new("held_at", "an RFC 3339 moment"));
            None
        }
    };
    let missing = absent(case.unit(), &case.assisting_unit_ids, &b.participants);
    if !missing.is_empty() {
        errs.push(FieldError::new(
            "participants",
            format!(
                "the lead and every assisting unit take part; missing {}",
                missing.join(", ")
            ),
        ));
    }
    xf_http::require_text(&mut errs, "minutes", &b.minutes, 10_000);
    let (Some(held_at), true) = (held_at, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    may_consult(&case.assisting_unit_ids, case.workbench())?;
    let participants: Vec<String> = b.participants.iter().map(|p| p.trim().to_owned()).collect();
    store::put_meeting(
        &mut tx,
        &store::Meeting {
            case_id: case.id,
            round: case.review_level,
            held_at,
            participants: &participants,
            minutes: b.minutes.trim(),
            by: &user.0.sub,
            at: now,
        },
    )
    .await
    .map_err(|e| problem(&e))?;
    cases::history(
        &mut tx,
        case.id,
        now,
        "consultation_meeting",
        serde_json::json!({"held_at": held_at, "participants": participants, "by": user.0.sub}),
    )
    .await
    .map_err(|e| problem(&e))?;
    let st = round(&mut tx, &case).await?;
    tx.commit().await.map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
}
