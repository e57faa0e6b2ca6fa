//! Leader case ownership (领导包案, R18): a leader owns a hard case until it is settled,
//! with the five duties (五包); one active owner per case, disclosed to the petitioner
//! through `LeaderOwnershipAssigned`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::{LeaderOwnershipAssigned, LeaderOwnershipReleased};
use xf_http::{FieldError, Problem, ValidJson};

use super::registry::current;
use super::{OVERSEERS, db, ident, scope_filter, tier_of};
use crate::domain::DomainError;
use crate::domain::ownership::OwnershipState::{Owned, Unowned};
use crate::domain::ownership::{self as rules, Command, Effect, EndKind};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(assign, release, show, list),
    components(schemas(AssignBody, ReleaseBody, Ownership))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cases/{id}/ownership", web::post().to(assign))
        .route("/v1/cases/{id}/ownership", web::get().to(show))
        .route("/v1/cases/{id}/ownership/release", web::post().to(release))
        .route("/v1/ownerships", web::get().to(list));
}

/// The five duties (五包) and their names.
pub const DUTIES: [(&str, &str); 5] = [
    ("situation", "包掌握情况"),
    ("persuasion", "包思想教育"),
    ("resolution", "包解决问题"),
    ("stability", "包稳控"),
    ("closure", "包息诉罢访"),
];

/// Roles that assign and release ownership.
const ASSIGNERS: [&str; 3] = [roles::LEADER, roles::SUPERVISOR, roles::ADMIN];

const COLUMNS: &str = "id, case_id, jurisdiction_code, leader_id, leader_title, duties,
    assigned_by, assigned_at, ended_at, ended_by, end_kind, end_reason";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ownership {
    pub id: Uuid,
    pub case_id: Uuid,
    pub jurisdiction_code: String,
    pub leader_id: String,
    pub leader_title: String,
    pub duties: Vec<String>,
    pub duty_names: Vec<&'static str>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
    pub active: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
    /// released | replaced
    pub end_kind: Option<String>,
    pub end_reason: Option<String>,
}

impl Ownership {
    fn from_row(r: &PgRow) -> Ownership {
        let duties: Vec<String> = r.get("duties");
        let ended_at: Option<DateTime<Utc>> = r.get("ended_at");
        Ownership {
            id: r.get("id"),
            case_id: r.get("case_id"),
            jurisdiction_code: r.get("jurisdiction_code"),
            leader_id: r.get("leader_id"),
            leader_title: r.get("leader_title"),
            duty_names: duties
                .iter()
                .filter_map(|d| DUTIES.iter().find(|(k, _)| k == d).map(|(_, n)| *n))
                .collect(),
            duties,
            assigned_by: r.get("assigned_by"),
            assigned_at: r.get("assigned_at"),
            active: ended_at.is_none(),
            ended_at,
            ended_by: r.get("ended_by"),
            end_kind: r.get("end_kind"),
            end_reason: r.get("end_reason"),
        }
    }
}

/// The case's ownerships, newest first, and the active one.
async fn of_case(conn: &mut PgConnection, case_id: Uuid) -> Result<serde_json::Value, Problem> {
    let all: Vec<Ownership> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ownerships WHERE case_id = $1 ORDER BY assigned_at DESC, id"
    )))
    .bind(case_id)
    .fetch_all(conn)
    .await
    .map_err(db)?
    .iter()
    .map(Ownership::from_row)
    .collect();
    let active = all.iter().find(|o| o.active).cloned();
    Ok(serde_json::json!({"case_id": case_id, "active": active, "history": all}))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    leader_id: String,
    leader_title: String,
    #[serde(default)]
    duties: Option<Vec<String>>,
}

fn check_duties(errs: &mut Vec<FieldError>, duties: Option<&[String]>) -> Vec<String> {
    let Some(duties) = duties else {
        return DUTIES.iter().map(|(k, _)| (*k).to_owned()).collect();
    };
    if duties.is_empty() {
        errs.push(FieldError::new(
            "duties",
            "name at least one duty, or leave it out for all five",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, d) in duties.iter().enumerate() {
        if !DUTIES.iter().any(|(k, _)| k == d) {
            errs.push(FieldError::new(
                format!("duties[{i}]"),
                format!(
                    "one of {}",
                    DUTIES
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if out.contains(d) {
            errs.push(FieldError::new(format!("duties[{i}]"), "named twice"));
        } else {
            out.push(d.clone());
        }
    }
    // Keep the statutory order.
    DUTIES
        .iter()
        .filter(|(k, _)| out.iter().any(|d| d == k))
        .map(|(k, _)| (*k).to_owned())
        .collect()
}

/// Assigns a leader to a case; an active owner is replaced (kept in the history).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/ownership",
    tag = "ownership",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = AssignBody,
    responses(
        (status = 201, description = "{case_id, active, history}"),
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
async fn assign(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<AssignBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&ASSIGNERS)?;
    let case_id = path.into_inner();
    let b = body.into_inner();
    let mut errs = Vec::new();
    ident(&mut errs, "leader_id", &b.leader_id);
    xf_http::require_text(&mut errs, "leader_title", &b.leader_title, 100);
    let duties = check_duties(&mut errs, b.duties.as_deref());
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let case = current(&mut tx, case_id, true)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?;
    // By the shared rule: an overseer over the case, never the accused unit (404).
    case.require(u)?;
    let active = active_owner(&mut tx, case_id).await.map_err(db)?;
    let state = if active.is_some() { Owned } else { Unowned };
    let same_leader = active.as_ref().is_some_and(|(_, l)| *l == b.leader_id);
    let (_, effects) =
        rules::apply(state, Command::Assign { same_leader }).map_err(|e| match (&active, e) {
            (Some((_, leader)), DomainError::IllegalTransition(_)) => Problem::from(
                DomainError::IllegalTransition(format!("{leader} already owns this case")),
            ),
            (_, e) => Problem::from(e),
        })?;
    for e in &effects {
        if let (Effect::End(kind), Some((id, _))) = (e, &active) {
            end(
                &mut tx,
                *id,
                now,
                &u.sub,
                *kind,
                &format!("replaced by {}", b.leader_id),
            )
            .await
            .map_err(db)?;
        }
    }
    let title = b.leader_title.trim().to_owned();
    sqlx::query(
        "INSERT INTO ownerships (id, case_id, jurisdiction_code, leader_id, leader_title, duties,
             assigned_by, assigned_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(case_id)
    .bind(&case.jurisdiction_code)
    .bind(&b.leader_id)
    .bind(&title)
    .bind(&duties)
    .bind(&u.sub)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let code = case.jurisdiction_code.as_str();
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        tier_of(code),
        code,
        now,
        Payload::LeaderOwnershipAssigned(LeaderOwnershipAssigned {
            leader_id: b.leader_id.clone(),
            leader_title: title,
        }),
    );
    outbox.put(&mut tx, &env).await.map_err(db)?;
    let body = of_case(&mut tx, case_id).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Created().json(body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reason: String,
}

/// Ends the active ownership (the case is settled).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/ownership/release",
    tag = "ownership",
    params(("id" = Uuid, Path, description = "The case id")),
    request_body = ReleaseBody,
    responses(
        (status = 200, description = "{case_id, active: null, history}"),
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
async fn release(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ReleaseBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&ASSIGNERS)?;
    let case_id = path.into_inner();
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let case = current(&mut tx, case_id, true)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?;
    // By the shared rule: an overseer over the case, never the accused unit (404).
    case.require(u)?;
    let active = active_owner(&mut tx, case_id).await.map_err(db)?;
    let state = if active.is_some() { Owned } else { Unowned };
    let (_, effects) = rules::apply(state, Command::Release)?;
    let mut leader = None;
    for e in &effects {
        if let (Effect::End(kind), Some((id, l))) = (e, &active) {
            end(&mut tx, *id, now, &u.sub, *kind, b.reason.trim())
                .await
                .map_err(db)?;
            leader = Some(l.clone());
        }
    }
    let code = case.jurisdiction_code.as_str();
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        tier_of(code),
        code,
        now,
        Payload::LeaderOwnershipReleased(LeaderOwnershipReleased {
            leader_id: leader.unwrap_or_default(),
        }),
    );
    outbox.put(&mut tx, &env).await.map_err(db)?;
    let body = of_case(&mut tx, case_id).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(body))
}

/// The owner and ownership history of one case.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/ownership",
    tag = "ownership",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "{case_id, active, history}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn show(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&OVERSEERS)?;
    let case_id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    let case = current(&mut conn, case_id, false)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?;
    // By the shared rule: an overseer over the case, never the accused unit (404).
    case.require(u)?;
    Ok(HttpResponse::Ok().json(of_case(&mut conn, case_id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    jurisdiction: Option<String>,
    active: Option<bool>,
    leader_id: Option<String>,
    limit: Option<u32>,
}

/// Ownerships under a jurisdiction, for reports (R16): who owns what, since when, and
/// whether the case has closed.
#[utoipa::path(
    get,
    path = "/v1/ownerships",
    tag = "ownership",
    params(ListQuery),
    responses(
        (status = 200, description = "{jurisdiction, items: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list(
    user: Authenticated,
    q: web::Query<ListQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&OVERSEERS)?;
    let q = q.into_inner();
    let mut errs = Vec::new();
    let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
    let limit = q.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        errs.push(FieldError::new("limit", "from 1 to 5000"));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let cols = COLUMNS
        .split(',')
        .map(|c| format!("w.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {cols}, o.jurisdiction_code AS case_jurisdiction_code, o.closed_at
         FROM ownerships w LEFT JOIN oversight_cases o ON o.case_id = w.case_id
         WHERE w.jurisdiction_code LIKE "
    ));
    qb.push_bind(format!("{scope}%"));
    match q.active {
        Some(true) => {
            qb.push(" AND w.ended_at IS NULL");
        }
        Some(false) => {
            qb.push(" AND w.ended_at IS NOT NULL");
        }
        None => {}
    }
    if let Some(l) = &q.leader_id {
        qb.push(" AND w.leader_id = ").push_bind(l.clone());
    }
    if let Some(unit) = u.unit.as_deref().filter(|x| !x.is_empty()) {
        // The accused unit never sees its case, whatever its role.
        qb.push(" AND o.excluded_unit_id IS DISTINCT FROM ")
            .push_bind(unit.to_owned());
    }
    qb.push(" ORDER BY w.assigned_at DESC, w.id LIMIT ")
        .push_bind(i64::from(limit));
    let now = clock.now();
    let items: Vec<serde_json::Value> = qb
        .build()
        .fetch_all(pool.get_ref())
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            let o = Ownership::from_row(r);
            let days = (o.ended_at.unwrap_or(now) - o.assigned_at)
                .num_days()
                .max(0);
            let mut v = serde_json::json!(o);
            v["days_owned"] = serde_json::json!(days);
            v["case_jurisdiction_code"] =
                serde_json::json!(r.get::<Option<String>, _>("case_jurisdiction_code"));
            v["case_closed_at"] = serde_json::json!(r.get::<Option<DateTime<Utc>>, _>("closed_at"));
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"jurisdiction": scope, "items": items})))
}

/// The case's active ownership (id, leader), locked.
async fn active_owner(
    tx: &mut PgConnection,
    case_id: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, leader_id FROM ownerships WHERE case_id = $1 AND ended_at IS NULL FOR UPDATE",
    )
    .bind(case_id)
    .fetch_optional(&mut *tx)
    .await
}

/// Ends an ownership `kind` (released or replaced), with who and why.
async fn end(
    tx: &mut PgConnection,
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
    by: &str,
    kind: EndKind,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ownerships SET ended_at = $2, ended_by = $3, end_kind = $4, end_reason = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(by)
    .bind(kind.as_str())
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
