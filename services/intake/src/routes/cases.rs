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

use crate::domain::reader::{Entry, reader};
use crate::domain::register::{self, NewCase, Receipt};
use crate::store;
use crate::store::audit::{self, Shown};
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

/// Past the outbox's bound the desk slows down rather than piling up events the broker
/// cannot take: a 429 with `Retry-After`, nothing registered.
pub fn busy(outbox: &Outbox) -> Result<(), Problem> {
    let backlog = outbox.backlog();
    if backlog.saturated() {
        return Err(Problem::busy(
            5,
            format!(
                "{} events wait for the broker (bound {}); nothing was registered, retry shortly",
                backlog.pending(),
                backlog.max_pending()
            ),
        ));
    }
    Ok(())
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
        (status = 429, description = "The event backlog is over its bound (the broker is slow or away): nothing registered; retry after Retry-After seconds"),
    ),
    security(("bearer" = []))
)]
pub async fn register(
    req: HttpRequest,
    user: Authenticated,
    body: ValidJson<NewCase>,
    desk: super::Desk,
) -> Result<HttpResponse, Problem> {
    let super::Desk {
        pool,
        tree,
        clock,
        outbox,
        vault,
        peers,
    } = desk;
    let claims = user.0;
    claims.require_any_role(&[roles::REGISTRAR])?;
    busy(&outbox)?;
    let key = idempotency_key(&req)?;
    let input = body.into_inner();
    let request_hash =
        sha2::Sha256::digest(serde_json::to_vec(&input).unwrap_or_default()).to_vec();
    let now = clock.now();
    let category = store::register::category(&pool, &input.category).await?;
    let checked = register::check(&tree, now, category, input)?;
    claims.require_scope(checked.code.as_str())?;
    let checked = crate::peers::with_deadline(checked, &peers, now).await;

    let mut tx = pool.begin().await.map_err(|e| xf_store::problem(&e))?;
    if let Some(key) = &key {
        let fresh = store::idempotency::claim(&mut tx, &claims.sub, key, &request_hash)
            .await
            .map_err(|e| xf_store::problem(&e))?;
        if !fresh {
            drop(tx);
            return replay(&pool, &claims.sub, key, &request_hash).await;
        }
    }
    let receipt = store::register::persist(&mut tx, &vault, &outbox, &claims, now, checked)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    if let Some(key) = &key {
        let response = serde_json::to_value(&receipt).unwrap_or_default();
        store::idempotency::answered(&mut tx, &claims.sub, key, &response)
            .await
            .map_err(|e| xf_store::problem(&e))?;
    }
    tx.commit().await.map_err(|e| xf_store::problem(&e))?;
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
    let stored = store::idempotency::find(pool, registrar, key)
        .await
        .map_err(|e| xf_store::problem(&e))?
        .ok_or_else(|| {
            Problem::conflict("the first request with this Idempotency-Key is still in progress")
        })?;
    if stored.request_hash != hash {
        return Err(Problem::conflict(
            "this Idempotency-Key was used for another request",
        ));
    }
    let Some(response) = stored.response else {
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

/// Why the register entry is read (recorded in the audit trail).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Why the case is read, 4 to 200 characters (recorded in the audit trail).
    pub reason: String,
}

/// One case from the register with its content and timeline, for reception staff of
/// the registering office, the units it is assigned to and overseers over its place;
/// the accused unit and everyone else get 404. Every read is recorded (who, when, why,
/// what) in the audit trail (`GET /v1/vault/audit`). The sealed content of an
/// accusation is shown to the lead unit handling it alone. Identity is not shown here:
/// see `GET /v1/cases/{id}/petitioners`.
#[utoipa::path(get, path = "/v1/cases/{id}", params(("id" = Uuid, Path), ReadQuery),
    responses((status = 200, description = "The case, its content and timeline"),
        (status = 401, description = "No valid token"),
        (status = 404, description = "No such case for this reader"),
        (status = 422, description = "reason missing or not 4 to 200 characters")),
    security(("bearer" = [])))]
pub async fn get(
    user: Authenticated,
    path: web::Path<Uuid>,
    q: web::Query<ReadQuery>,
    pool: web::Data<PgPool>,
    vault: web::Data<Vault>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let claims = user.0;
    let reason = crate::store::audit::reason(&q.reason)?;
    let id = path.into_inner();
    let mut tx = pool.begin().await.map_err(|e| xf_store::problem(&e))?;
    let row = sqlx::query(
        "SELECT registration_no, office_code, channel, category, matter_code, summary, status,
                handling_unit, unit_name, received_at, created_at, updated_at, urgency, requests,
                anonymous, collective, headcount, confidential, petitioner_pid, details,
                on_spot_answer, referral_channel, superior_reference, superior_due_at, due_at,
                replied_at, review_state, satisfaction, leader_owner, accused_unit_id,
                assisting_units, handled_in, sealed_content, key_version, registered_by
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| xf_store::problem(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let matter: String = row.get("matter_code");
    let office: String = row.get("office_code");
    let lead: Option<String> = row.get("handling_unit");
    let assisting: Vec<String> = row.get("assisting_units");
    let accused: Option<String> = row.get("accused_unit_id");
    let handled_in: Option<String> = row.get("handled_in");
    let confidential: bool = row.get("confidential");
    let entry = Entry {
        office_code: &office,
        case: xf_access::Case {
            matter_code: &matter,
            jurisdiction_code: handled_in.as_deref().unwrap_or_default(),
            lead_unit: lead.as_deref(),
            assisting_units: &assisting,
            excluded_unit: accused.as_deref(),
            confidential,
        },
    };
    let Some(standing) = reader(&claims, &entry) else {
        return Err(Problem::not_found("case"));
    };
    let sealed = match row.get::<Option<Vec<u8>>, _>("sealed_content") {
        Some(s) if standing.reads_sealed_content() => Some(vault.open_content(
            &s,
            id,
            row.get::<Option<i32>, _>("key_version").unwrap_or(0),
        )?),
        _ => None,
    };
    let shown = if sealed.is_some() {
        Shown::CaseAndSealedContent
    } else {
        Shown::Case
    };
    audit::record(&mut tx, clock.now(), &claims, id, reason, shown)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let timeline: Vec<TimelineEntry> = sqlx::query(
        "SELECT at, kind, detail FROM case_timeline WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| xf_store::problem(&e))?
    .into_iter()
    .map(|r| TimelineEntry {
        at: r.get("at"),
        kind: r.get("kind"),
        detail: r.get("detail"),
    })
    .collect();
    tx.commit().await.map_err(|e| xf_store::problem(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "case_id": id,
            "registration_no": row.get::<String, _>("registration_no"),
            "office_code": office,
            "channel": row.get::<String, _>("channel"),
            "category": row.get::<String, _>("category"),
            "jurisdiction_code": matter,
            "summary": row.get::<String, _>("summary"),
            "status": row.get::<String, _>("status"),
            "handling_unit": lead,
            "assisting_units": assisting,
            "unit_name": row.get::<Option<String>, _>("unit_name"),
            "urgency": row.get::<String, _>("urgency"),
            "requests": row.get::<String, _>("requests"),
            "anonymous": row.get::<bool, _>("anonymous"),
            "collective": row.get::<bool, _>("collective"),
            "headcount": row.get::<i32, _>("headcount"),
            "confidential": confidential,
            "confidential_content": sealed,
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
            // 首接首办 (R9): who first received the matter, and where; they answer for it
            // until it is handed on.
            "first_receiver": {
                "user": row.get::<String, _>("registered_by"),
                "office_code": office,
                "at": row.get::<DateTime<Utc>, _>("created_at"),
            },
            "timeline": timeline,
        })))
}
