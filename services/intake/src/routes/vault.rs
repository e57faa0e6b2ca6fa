//! Reading decrypted identity: only with the vault_reader role, inside the reader's
//! jurisdiction, with a stated reason, and always audited.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgPool, Row};
use utoipa::IntoParams;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem};

use crate::domain::register::Petitioner;
use crate::store::audit::{self, Shown};
use crate::vault::Vault;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReasonQuery {
    /// Why the identity is read (recorded in the audit trail), 4 to 200 characters.
    pub reason: String,
}

/// The decrypted petitioners (and sealed accusation content) of a case; audited.
#[utoipa::path(get, path = "/v1/cases/{id}/petitioners", params(("id" = Uuid, Path), ReasonQuery),
    responses((status = 200, description = "Identity of the petitioners"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Not a vault reader"),
        (status = 404, description = "No such case inside the reader's jurisdiction"),
        (status = 422, description = "reason missing or not 4 to 200 characters")),
    security(("bearer" = [])))]
pub async fn petitioners(
    user: Authenticated,
    path: web::Path<Uuid>,
    q: web::Query<ReasonQuery>,
    pool: web::Data<PgPool>,
    vault: web::Data<Vault>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let claims = user.0;
    claims.require_any_role(&[roles::VAULT_READER])?;
    let reason = audit::reason(&q.reason)?;
    let id = path.into_inner();
    let mut tx = pool.begin().await.map_err(|e| xf_store::problem(&e))?;
    let case = sqlx::query(
        "SELECT matter_code, handled_in, accused_unit_id, confidential, sealed_content,
                key_version
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| xf_store::problem(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let code: String = case.get("matter_code");
    let handled_in: Option<String> = case.get("handled_in");
    let accused: Option<String> = case.get("accused_unit_id");
    // Outside the reader's jurisdiction, or the accused unit's token: no such case.
    let visible = !xf_access::is_excluded(&claims, accused.as_deref())
        && xf_access::in_scope(
            &claims,
            &xf_access::Case {
                jurisdiction_code: handled_in.as_deref().unwrap_or_default(),
                ..xf_access::Case::at(&code)
            },
        );
    if !visible {
        return Err(Problem::not_found("case"));
    }
    let rows = sqlx::query("SELECT position, pid, key_version, sealed FROM petitioners WHERE case_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let mut people = Vec::new();
    for r in rows {
        let pos: i32 = r.get("position");
        let mut aad = id.as_bytes().to_vec();
        aad.extend_from_slice(&(pos as u32).to_be_bytes());
        let plain = vault
            .open(&r.get::<Vec<u8>, _>("sealed"), &aad, r.get("key_version"))
            .map_err(|e| Problem::internal(&e))?;
        let p: Petitioner = serde_json::from_slice(&plain).map_err(|e| Problem::internal(&e))?;
        people.push(serde_json::json!({"position": pos, "pid": r.get::<Option<String>, _>("pid"), "identity": p}));
    }
    let content = match case.get::<Option<Vec<u8>>, _>("sealed_content") {
        Some(sealed) => Some(vault.open_content(
            &sealed,
            id,
            case.get::<Option<i32>, _>("key_version").unwrap_or(0),
        )?),
        None => None,
    };
    let shown = if content.is_some() {
        Shown::IdentityAndSealedContent
    } else {
        Shown::Identity
    };
    audit::record(&mut tx, clock.now(), &claims, id, reason, shown)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    tx.commit().await.map_err(|e| xf_store::problem(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "case_id": id,
            "petitioners": people,
            "confidential_content": content,
        })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub case_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// At most 1000 (default 100).
    pub limit: Option<i64>,
}

/// The read audit trail within the caller's jurisdiction: reads of identity and of
/// register entries (never the trail of a case the caller's unit is accused in).
#[utoipa::path(get, path = "/v1/vault/audit", params(AuditQuery),
    responses((status = 200, description = "Audit records, newest first"), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn audit(
    user: Authenticated,
    q: web::Query<AuditQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let claims = user.0;
    claims.require_any_role(&[roles::ADMIN, roles::SUPERVISOR])?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::validation(vec![FieldError::new(
            "limit",
            "must be 1 to 1000",
        )]));
    }
    let rows = sqlx::query(
        "SELECT a.at, a.reader, a.reader_unit, a.reader_scope, a.case_id, c.registration_no, a.reason, a.what
         FROM vault_audit a JOIN cases c ON c.id = a.case_id
         WHERE c.matter_code LIKE $1 || '%'
           AND ($2::uuid IS NULL OR a.case_id = $2)
           AND ($3::timestamptz IS NULL OR a.at >= $3)
           AND ($4::timestamptz IS NULL OR a.at < $4)
           AND ($6::text IS NULL OR c.accused_unit_id IS DISTINCT FROM $6)
         ORDER BY a.at DESC, a.id DESC LIMIT $5",
    )
    .bind(&claims.jurisdiction)
    .bind(q.case_id)
    .bind(q.since)
    .bind(q.until)
    .bind(limit)
    .bind(claims.unit.as_deref().filter(|u| !u.is_empty()))
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?;
    let items: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "at": r.get::<DateTime<Utc>, _>("at"),
                "reader": r.get::<String, _>("reader"),
                "reader_unit": r.get::<Option<String>, _>("reader_unit"),
                "reader_scope": r.get::<String, _>("reader_scope"),
                "case_id": r.get::<Uuid, _>("case_id"),
                "registration_no": r.get::<String, _>("registration_no"),
                "reason": r.get::<String, _>("reason"),
                "what": r.get::<String, _>("what"),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}
