use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::Tree;

use crate::register::{self, NewCase, Receipt};
use crate::vault::Vault;

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, Problem> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.is_empty() || v.len() > 200 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::validation(vec![FieldError::new(
            "Idempotency-Key",
            "must be 1 to 200 visible ASCII characters",
        )]));
    }
    Ok(Some(v.to_owned()))
}

/// Registers a letter, visit, call or online petition.
#[utoipa::path(
    post, path = "/v1/cases", request_body = NewCase,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first response")),
    responses(
        (status = 201, description = "Registered; the receipt", body = Receipt),
        (status = 400, description = "Invalid JSON"), (status = 401, description = "No valid token"),
        (status = 403, description = "Outside the registrar's jurisdiction"),
        (status = 409, description = "Idempotency-Key reused with another request"),
        (status = 413, description = "Body too large"), (status = 415, description = "Not JSON"),
        (status = 422, description = "Fields missing or invalid, each named"),
    ),
    security(("bearer" = []))
)]
#[allow(clippy::too_many_arguments)]
pub async fn register(
    req: HttpRequest,
    user: Authenticated,
    body: ValidJson<NewCase>,
    pool: web::Data<PgPool>,
    tree: web::Data<Tree>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
    vault: web::Data<Vault>,
) -> Result<HttpResponse, Problem> {
    let claims = user.0;
    claims.require_any_role(&[roles::REGISTRAR])?;
    let key = idempotency_key(&req)?;
    let input = body.into_inner();
    let request_hash =
        sha2::Sha256::digest(serde_json::to_vec(&input).unwrap_or_default()).to_vec();
    let now = clock.now();
    let checked = register::check(&pool, &tree, now, input).await?;
    claims.require_scope(checked.code.as_str())?;

    let mut tx = pool.begin().await.map_err(|e| Problem::unavailable(&e))?;
    if let Some(key) = &key {
        let fresh = sqlx::query(
            "INSERT INTO idempotency (registrar, key, request_hash) VALUES ($1, $2, $3)
             ON CONFLICT (registrar, key) DO NOTHING",
        )
        .bind(&claims.sub)
        .bind(key)
        .bind(&request_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| Problem::unavailable(&e))?
        .rows_affected()
            == 1;
        if !fresh {
            drop(tx);
            return replay(&pool, &claims.sub, key, &request_hash).await;
        }
    }
    let receipt = register::persist(&mut tx, &vault, &outbox, &claims, now, checked)
        .await
        .map_err(|e| Problem::unavailable(&e))?;
    if let Some(key) = &key {
        sqlx::query(
            "UPDATE idempotency SET status = 201, response = $3 WHERE registrar = $1 AND key = $2",
        )
        .bind(&claims.sub)
        .bind(key)
        .bind(serde_json::to_value(&receipt).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(|e| Problem::unavailable(&e))?;
    }
    tx.commit().await.map_err(|e| Problem::unavailable(&e))?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/cases/{}", receipt.case_id)))
        .json(receipt))
}

async fn replay(
    pool: &PgPool,
    registrar: &str,
    key: &str,
    hash: &[u8],
) -> Result<HttpResponse, Problem> {
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency WHERE registrar = $1 AND key = $2",
    )
    .bind(registrar)
    .bind(key)
    .fetch_optional(pool)
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| {
        Problem::conflict("the first request with this Idempotency-Key is still in progress")
    })?;
    let stored: Vec<u8> = row.get("request_hash");
    if stored != hash {
        return Err(Problem::conflict(
            "this Idempotency-Key was used for another request",
        ));
    }
    let response: Option<serde_json::Value> = row.get("response");
    let Some(response) = response else {
        return Err(Problem::conflict(
            "the first request with this Idempotency-Key is still in progress",
        ));
    };
    let case_id = response["case_id"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/cases/{case_id}")))
        .insert_header(("Idempotent-Replayed", "true"))
        .json(response))
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    at: DateTime<Utc>,
    kind: String,
    detail: serde_json::Value,
}

/// One case from the register with its timeline (scoped by the caller's jurisdiction).
/// Identity is not shown here: see `GET /v1/cases/{id}/petitioners`.
#[utoipa::path(get, path = "/v1/cases/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The case and its timeline"), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let row = sqlx::query(
        "SELECT registration_no, office_code, channel, category, matter_code, summary, status,
                handling_unit, unit_name, received_at, created_at, updated_at, urgency, requests,
                anonymous, collective, headcount, confidential, petitioner_pid, details,
                on_spot_answer, referral_channel, superior_reference, superior_due_at, due_at,
                replied_at, review_state, satisfaction, leader_owner
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let matter: String = row.get("matter_code");
    user.0.require_scope(&matter)?;
    let timeline: Vec<TimelineEntry> = sqlx::query(
        "SELECT at, kind, detail FROM case_timeline WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .into_iter()
    .map(|r| TimelineEntry {
        at: r.get("at"),
        kind: r.get("kind"),
        detail: r.get("detail"),
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "registration_no": row.get::<String, _>("registration_no"),
        "office_code": row.get::<String, _>("office_code"),
        "channel": row.get::<String, _>("channel"),
        "category": row.get::<String, _>("category"),
        "jurisdiction_code": matter,
        "summary": row.get::<String, _>("summary"),
        "status": row.get::<String, _>("status"),
        "handling_unit": row.get::<Option<String>, _>("handling_unit"),
        "unit_name": row.get::<Option<String>, _>("unit_name"),
        "urgency": row.get::<String, _>("urgency"),
        "requests": row.get::<String, _>("requests"),
        "anonymous": row.get::<bool, _>("anonymous"),
        "collective": row.get::<bool, _>("collective"),
        "headcount": row.get::<i32, _>("headcount"),
        "confidential": row.get::<bool, _>("confidential"),
        "petitioner_pid": row.get::<Option<String>, _>("petitioner_pid"),
        "details": row.get::<serde_json::Value, _>("details"),
        "on_the_spot_answer": row.get::<Option<String>, _>("on_spot_answer"),
        "referral_channel": row.get::<Option<String>, _>("referral_channel"),
        "superior_reference": row.get::<Option<String>, _>("superior_reference"),
        "superior_due_at": row.get::<Option<DateTime<Utc>>, _>("superior_due_at"),
        "due_at": row.get::<Option<DateTime<Utc>>, _>("due_at"),
        "replied_at": row.get::<Option<DateTime<Utc>>, _>("replied_at"),
        "review_state": row.get::<String, _>("review_state"),
        "satisfaction": row.get::<Option<i32>, _>("satisfaction"),
        "leader_owner": row.get::<Option<String>, _>("leader_owner"),
        "received_at": row.get::<DateTime<Utc>, _>("received_at"),
        "created_at": row.get::<DateTime<Utc>, _>("created_at"),
        "updated_at": row.get::<DateTime<Utc>, _>("updated_at"),
        "timeline": timeline,
    })))
}
