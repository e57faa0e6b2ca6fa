//! The handling unit's workbench: its worklist and the actions on a case, guarded by
//! a state machine. Each action is one transaction: state change, history and events.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;
use xf_access::Standing;
use xf_app::Clock;
use xf_auth::{Authenticated, Claims, roles};
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::{
    CaseAccepted, CaseClosed, CaseDispatched, CaseNotAccepted, CaseTransferred, DeadlineExtended,
    EscalationReason, ReplyIssued, ReplyOutcome, Stage,
};
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::Code;

use crate::catalog::{Shared, office_unit_id};
use crate::handler::{Redispatch, Stored, emit, history, redispatch};
use crate::places::Places;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        explain,
        worklist,
        issue_groups,
        accept,
        not_accept,
        transfer,
        transfer_decision,
        extension,
        extension_decision,
        reply,
        get_reply,
        close,
        unlink,
        consultation,
        opinion,
        meeting
    ),
    components(schemas(
        CaseView,
        NotAcceptBody,
        TransferBody,
        DecisionBody,
        ExtensionBody,
        ReplyBody,
        UnlinkBody,
        OpinionBody,
        MeetingBody
    ))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/worklist", web::get().to(worklist))
        .route("/v1/issue-groups", web::get().to(issue_groups))
        .route("/v1/cases/{id}/routing", web::get().to(explain))
        .route("/v1/cases/{id}/accept", web::post().to(accept))
        .route("/v1/cases/{id}/not-accept", web::post().to(not_accept))
        .route("/v1/cases/{id}/transfer", web::post().to(transfer))
        .route(
            "/v1/cases/{id}/transfer-decision",
            web::post().to(transfer_decision),
        )
        .route("/v1/cases/{id}/extension", web::post().to(extension))
        .route(
            "/v1/cases/{id}/extension-decision",
            web::post().to(extension_decision),
        )
        .route("/v1/cases/{id}/reply", web::post().to(reply))
        .route("/v1/cases/{id}/reply", web::get().to(get_reply))
        .route("/v1/cases/{id}/consultation", web::get().to(consultation))
        .route(
            "/v1/cases/{id}/consultation/opinions",
            web::post().to(opinion),
        )
        .route(
            "/v1/cases/{id}/consultation/meeting",
            web::post().to(meeting),
        )
        .route("/v1/cases/{id}/close", web::post().to(close))
        .route("/v1/cases/{id}/unlink", web::post().to(unlink));
}

fn db(e: sqlx::Error) -> Problem {
    if xf_store::is_transient(&e) {
        Problem::unavailable(&e)
    } else {
        Problem::internal(&e)
    }
}

/// Roles that see every case in their jurisdiction (the shared rule's).
const OVERSEERS: [&str; 4] = xf_access::OVERSEERS;

/// The columns every read of a case takes.
const CASE_COLUMNS: &str = "id, registration_no, category, matter_code, tier, jurisdiction_code,
    unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
    excluded_unit_id, assisting_unit_ids, leader_id, important, collective, confidential,
    skip_level, office_code, rule_id, rule_version, superior_reference, superior_due_at,
    review_level, final, extension, pending, linked_to, group_id, reply_outcome";

/// A case as the workbench shows it (no personal data: routing holds none).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub id: Uuid,
    pub registration_no: String,
    pub category: String,
    pub matter_code: String,
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub unit_name: Option<String>,
    pub status: String,
    pub trace_id: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub excluded_unit_id: Option<String>,
    pub assisting_unit_ids: Vec<String>,
    pub leader_id: Option<String>,
    pub important: bool,
    pub collective: bool,
    pub confidential: bool,
    pub skip_level: bool,
    pub office_code: Option<String>,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub superior_reference: Option<String>,
    pub superior_due_at: Option<DateTime<Utc>>,
    pub review_level: i16,
    #[serde(rename = "rereview_concluded")]
    pub final_: bool,
    pub extension: String,
    pub pending: Option<serde_json::Value>,
    pub linked_to: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub reply_outcome: Option<String>,
}

impl CaseView {
    fn from_row(r: &PgRow) -> CaseView {
        CaseView {
            id: r.get("id"),
            registration_no: r.get("registration_no"),
            category: r.get("category"),
            matter_code: r.get("matter_code"),
            tier: r.get("tier"),
            jurisdiction_code: r.get("jurisdiction_code"),
            unit_id: r.get("unit_id"),
            unit_name: r.get("unit_name"),
            status: r.get("status"),
            trace_id: r.get("trace_id"),
            registered_at: r.get("registered_at"),
            updated_at: r.get("updated_at"),
            dispatched_at: r.get("dispatched_at"),
            excluded_unit_id: r.get("excluded_unit_id"),
            assisting_unit_ids: r.get("assisting_unit_ids"),
            leader_id: r.get("leader_id"),
            important: r.get("important"),
            collective: r.get("collective"),
            confidential: r.get("confidential"),
            skip_level: r.get("skip_level"),
            office_code: r.get("office_code"),
            rule_id: r.get("rule_id"),
            rule_version: r.get("rule_version"),
            superior_reference: r.get("superior_reference"),
            superior_due_at: r.get("superior_due_at"),
            review_level: r.get("review_level"),
            final_: r.get("final"),
            extension: r.get("extension"),
            pending: r.get("pending"),
            linked_to: r.get("linked_to"),
            group_id: r.get("group_id"),
            reply_outcome: r.get("reply_outcome"),
        }
    }

    fn unit(&self) -> &str {
        self.unit_id.as_deref().unwrap_or_default()
    }
}

/// What a user may do with a case: the standing of the shared rule (`xf-access`).
type Access = Standing;

/// The case as `user` may see it (`xf-access`): the accused unit never learns it exists,
/// nor does anyone neither assigned to it nor overseeing its place (404).
fn access(user: &Claims, c: &CaseView) -> Result<Access, Problem> {
    xf_access::require(
        user,
        &xf_access::Case {
            matter_code: &c.matter_code,
            jurisdiction_code: &c.jurisdiction_code,
            lead_unit: c.unit_id.as_deref(),
            assisting_units: &c.assisting_unit_ids,
            excluded_unit: c.excluded_unit_id.as_deref(),
            confidential: c.confidential,
        },
    )
}

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<CaseView, Problem> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .map(|r| CaseView::from_row(&r))
        .ok_or_else(|| Problem::not_found("case"))
}

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
async fn explain(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    let case = load(&mut conn, id, false).await?;
    access(&user.0, &case)?;
    let history: Vec<serde_json::Value> =
        sqlx::query("SELECT at, action, detail FROM case_history WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<DateTime<Utc>, _>("at"),
                    "action": r.get::<String, _>("action"),
                    "detail": r.get::<serde_json::Value, _>("detail"),
                })
            })
            .collect();
    let decision = history
        .iter()
        .rev()
        .find(|h| {
            matches!(
                h["action"].as_str(),
                Some("dispatched" | "redispatched_up" | "transferred")
            )
        })
        .map(|h| h["detail"].clone());
    let mut body = serde_json::to_value(&case).map_err(|e| Problem::internal(&e))?;
    body["case_id"] = serde_json::json!(id);
    body["decision"] = decision.unwrap_or(serde_json::Value::Null);
    // Transfers never reset a case's age (R15): counted, with the time since registration.
    body["transfers"] = serde_json::json!(
        history
            .iter()
            .filter(|h| h["action"] == "transferred")
            .count()
    );
    body["age_secs"] = serde_json::json!((clock.now() - case.registered_at).num_seconds().max(0));
    body["history"] = serde_json::json!(history);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
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

const STATUSES: [&str; 8] = [
    "dispatched",
    "transfer_requested",
    "accepted",
    "replied",
    "closed",
    "not_accepted",
    "linked",
    "city",
];

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
async fn worklist(
    user: Authenticated,
    q: web::Query<ListQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let u = &user.0;
    let mut errs = Vec::new();
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        errs.push(FieldError::new(
            "status",
            format!("one of {}", STATUSES.join(", ")),
        ));
    }
    if let Some(t) = &q.tier
        && !["village", "township", "county", "city"].contains(&t.as_str())
    {
        errs.push(FieldError::new(
            "tier",
            "one of village, township, county, city",
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
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {CASE_COLUMNS} FROM cases WHERE TRUE"));
    match (&u.unit, overseer) {
        (Some(unit), false) => {
            u.require_any_role(&[roles::HANDLER])?;
            if role == "assisting" {
                qb.push(" AND assisting_unit_ids @> ARRAY[")
                    .push_bind(unit.clone())
                    .push("]::text[]");
            } else {
                qb.push(" AND unit_id = ").push_bind(unit.clone());
            }
        }
        (_, true) => {
            if u.jurisdiction.is_empty() {
                return Err(Problem::forbidden("your token carries no jurisdiction"));
            }
            qb.push(" AND jurisdiction_code LIKE ")
                .push_bind(format!("{}%", u.jurisdiction));
            if let Some(unit) = &q.unit_id {
                qb.push(" AND unit_id = ").push_bind(unit.clone());
            }
        }
        (None, false) => {
            return Err(Problem::forbidden(
                "the worklist needs a unit (handlers) or an overseeing role",
            ));
        }
    }
    if let Some(unit) = &u.unit {
        // The accused unit never sees the accusation, whatever its role.
        qb.push(" AND excluded_unit_id IS DISTINCT FROM ")
            .push_bind(unit.clone());
    }
    if let Some(j) = &q.jurisdiction {
        qb.push(" AND jurisdiction_code LIKE ")
            .push_bind(format!("{j}%"));
    }
    if let Some(s) = &q.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    if let Some(c) = &q.category {
        qb.push(" AND category = ").push_bind(c.clone());
    }
    if let Some(t) = &q.tier {
        qb.push(" AND tier = ").push_bind(t.clone());
    }
    if let Some(s) = q.skip_level {
        qb.push(" AND skip_level = ").push_bind(s);
    }
    if let Some((at, id)) = cursor {
        qb.push(" AND (dispatched_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" ORDER BY dispatched_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = qb.build().fetch_all(pool.get_ref()).await.map_err(db)?;
    let mut items: Vec<CaseView> = rows.iter().map(CaseView::from_row).collect();
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
struct GroupQuery {
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
async fn issue_groups(
    user: Authenticated,
    q: web::Query<GroupQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&OVERSEERS)?;
    let scope = q
        .jurisdiction
        .clone()
        .unwrap_or_else(|| user.0.jurisdiction.clone());
    user.0.require_scope(&scope)?;
    let groups: Vec<serde_json::Value> = sqlx::query(
        "SELECT g.id, g.jurisdiction_code, g.category, g.first_case_id, g.member_count,
                g.created_at, g.updated_at,
                array_agg(c.id ORDER BY c.registered_at) AS case_ids
         FROM issue_groups g JOIN cases c ON c.group_id = g.id
         WHERE g.jurisdiction_code LIKE $1
           AND ($2::text IS NULL OR c.excluded_unit_id IS DISTINCT FROM $2)
         GROUP BY g.id ORDER BY g.updated_at DESC LIMIT 200",
    )
    .bind(format!("{scope}%"))
    // The accused unit's token never sees its case, not even in a group.
    .bind(user.0.unit.as_deref().filter(|u| !u.is_empty()))
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?
    .into_iter()
    .map(|r| {
        serde_json::json!({
            "group_id": r.get::<Uuid, _>("id"),
            "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
            "category": r.get::<String, _>("category"),
            "first_case_id": r.get::<Uuid, _>("first_case_id"),
            "member_count": r.get::<i32, _>("member_count"),
            "case_ids": r.get::<Vec<Uuid>, _>("case_ids"),
            "created_at": r.get::<DateTime<Utc>, _>("created_at"),
            "updated_at": r.get::<DateTime<Utc>, _>("updated_at"),
        })
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "groups": groups })))
}

/// What an action needs besides its body.
struct Ctx {
    user: Claims,
    id: Uuid,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
}

/// One allowed move: the case after it, its history entry and events.
struct Move {
    status: String,
    history: (&'static str, serde_json::Value),
    events: Vec<Payload>,
}

/// Runs an action: locks the case, checks who may act and whether the move is legal,
/// then writes state, history and events in one transaction.
async fn act(
    cx: Ctx,
    who: Who,
    step: impl FnOnce(&CaseView, DateTime<Utc>) -> Result<(Move, Update), Problem>,
) -> Result<HttpResponse, Problem> {
    let mut tx = cx.pool.begin().await.map_err(db)?;
    let case = load(&mut tx, cx.id, true).await?;
    let a = access(&cx.user, &case);
    match who {
        Who::LeadHandler => {
            if a? != Access::Lead || !cx.user.has_role(roles::HANDLER) {
                return Err(Problem::forbidden(
                    "only the lead unit's handlers act on this case",
                ));
            }
        }
        Who::DispatchingOffice => office_decides(&cx.user, &case, a, "this decision")?,
    }
    let now = cx.clock.now();
    let (mv, upd) = step(&case, now)?;
    sqlx::query(
        "UPDATE cases SET status = $2, updated_at = $3, extension = $4, pending = $5,
             reply_outcome = COALESCE($6, reply_outcome), reply_text = COALESCE($7, reply_text),
             final = final OR $8, unit_id = COALESCE($9, unit_id),
             unit_name = COALESCE($10, unit_name), jurisdiction_code = COALESCE($11, jurisdiction_code),
             tier = COALESCE($12, tier), dispatched_at = COALESCE($13, dispatched_at)
         WHERE id = $1",
    )
    .bind(case.id)
    .bind(&mv.status)
    .bind(now)
    .bind(upd.extension.unwrap_or(case.extension.clone()))
    .bind(upd.pending)
    .bind(upd.reply_outcome)
    .bind(upd.reply_text)
    .bind(upd.final_)
    .bind(upd.unit.as_ref().map(|u| u.0.clone()))
    .bind(upd.unit.as_ref().map(|u| u.1.clone()))
    .bind(upd.unit.as_ref().map(|u| u.2.clone()))
    .bind(
        upd.unit
            .as_ref()
            .map(|u| xf_events::tier_name(xf_events::tier_of_code(&u.2))),
    )
    .bind(upd.unit.as_ref().map(|_| now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let mut detail = mv.history.1;
    detail["by"] = serde_json::json!(cx.user.sub);
    detail["from_status"] = serde_json::json!(case.status);
    history(&mut tx, case.id, now, mv.history.0, detail)
        .await
        .map_err(db)?;
    let code = upd
        .unit
        .as_ref()
        .map_or(case.jurisdiction_code.clone(), |u| u.2.clone());
    for p in mv.events {
        emit(&cx.outbox, &mut tx, case.id, &code, now, p)
            .await
            .map_err(db)?;
    }
    let after = load(&mut tx, cx.id, false).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(after))
}

enum Who {
    LeadHandler,
    DispatchingOffice,
}

/// Decisions on a case (approvals, unlinking) belong to the letters-and-visits office
/// of its jurisdiction or to a supervisor over it; never to the accused unit.
fn office_decides(
    user: &Claims,
    case: &CaseView,
    access: Result<Access, Problem>,
    what: &str,
) -> Result<(), Problem> {
    let office = office_unit_id(&case.jurisdiction_code);
    let is_office = user.unit.as_deref() == Some(office.as_str());
    let supervises = matches!(access, Ok(Access::Overseer))
        && (user.has_role(roles::SUPERVISOR) || user.has_role(roles::ADMIN));
    match access {
        Err(p) if !is_office || case.excluded_unit_id.as_deref() == Some(office.as_str()) => Err(p),
        _ if is_office || supervises => Ok(()),
        _ => Err(Problem::forbidden(format!(
            "{what} belongs to the dispatching office ({office}) or a supervisor over {}",
            case.jurisdiction_code
        ))),
    }
}

/// Column changes besides the status.
#[derive(Default)]
struct Update {
    extension: Option<String>,
    pending: Option<serde_json::Value>,
    reply_outcome: Option<String>,
    reply_text: Option<String>,
    final_: bool,
    /// New lead unit: id, name, jurisdiction code.
    unit: Option<(String, String, String)>,
}

fn illegal(case: &CaseView, action: &str) -> Problem {
    Problem::conflict(format!(
        "cannot {action} a case that is {}{}",
        case.status,
        match case.extension.as_str() {
            "none" => String::new(),
            e => format!(" (extension {e})"),
        }
    ))
}

macro_rules! ctx {
    ($user:expr, $path:expr, $pool:expr, $clock:expr, $outbox:expr) => {
        Ctx {
            user: $user.0,
            id: $path.into_inner(),
            pool: $pool,
            clock: $clock,
            outbox: $outbox,
        }
    };
}

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
async fn accept(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::LeadHandler,
        |c, _| {
            if c.status != "dispatched" {
                return Err(illegal(c, "accept"));
            }
            Ok((
                Move {
                    status: "accepted".into(),
                    history: ("accepted", serde_json::json!({"unit_id": c.unit()})),
                    events: vec![Payload::CaseAccepted(CaseAccepted {
                        unit_id: c.unit().to_owned(),
                    })],
                },
                Update::default(),
            ))
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NotAcceptBody {
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
async fn not_accept(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<NotAcceptBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
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
    act(ctx!(user, path, pool, clock, outbox), Who::LeadHandler, move |c, _| {
        if c.status != "dispatched" {
            return Err(illegal(c, "not accept"));
        }
        let referral = b.referral_channel.clone().unwrap_or_default();
        Ok((
            Move {
                status: "not_accepted".into(),
                history: (
                    "not_accepted",
                    serde_json::json!({"reason": b.reason, "referral_channel": b.referral_channel}),
                ),
                events: vec![
                    Payload::CaseNotAccepted(CaseNotAccepted {
                        unit_id: c.unit().to_owned(),
                        reason: b.reason.clone(),
                        referral_channel: referral,
                    }),
                    Payload::CaseClosed(CaseClosed {
                        unit_id: c.unit().to_owned(),
                        answered_on_spot: false,
                        not_accepted: true,
                    }),
                ],
            },
            Update::default(),
        ))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
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
#[allow(clippy::too_many_arguments)]
async fn transfer(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<TransferBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
    shared: web::Data<Shared>,
    places: web::Data<Arc<Places>>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    let cat = shared.get();
    let tree = places.get();
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
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let Some(target) = target else {
        return Err(Problem::validation(Vec::new()));
    };
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::LeadHandler,
        move |c, now| {
            if !matches!(c.status.as_str(), "dispatched" | "accepted") {
                return Err(illegal(c, "ask to transfer"));
            }
            if c.unit() == target.id {
                return Err(Problem::validation(vec![FieldError::new(
                    "to_unit_id",
                    "the case is already with this unit",
                )]));
            }
            if c.excluded_unit_id.as_deref() == Some(target.id.as_str()) {
                return Err(Problem::validation(vec![FieldError::new(
                    "to_unit_id",
                    "this unit may not receive the case",
                )]));
            }
            let pending = serde_json::json!({
                "kind": "transfer",
                "to_unit_id": target.id,
                "to_unit_name": target.name,
                "to_jurisdiction_code": target.jurisdiction_code,
                "reason": b.reason,
                "from_status": c.status,
                "requested_at": now,
            });
            Ok((
                Move {
                    status: "transfer_requested".into(),
                    history: ("transfer_requested", pending.clone()),
                    events: Vec::new(),
                },
                Update {
                    pending: Some(pending),
                    ..Update::default()
                },
            ))
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    approve: bool,
    #[serde(default)]
    note: String,
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
async fn transfer_decision(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<DecisionBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    if b.note.chars().count() > 500 {
        return Err(Problem::validation(vec![FieldError::new(
            "note",
            "at most 500 characters",
        )]));
    }
    // A transfer back to a unit the case already left (passing it to and fro) is the
    // supervising office's decision, not the dispatching office's alone.
    let back: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM case_history h JOIN cases c ON c.id = h.case_id
             WHERE h.case_id = $1 AND h.action = 'transferred'
               AND h.detail ->> 'from_unit_id' = c.pending ->> 'to_unit_id')",
    )
    .bind(*path)
    .fetch_one(pool.get_ref())
    .await
    .map_err(db)?;
    let supervises = user.0.has_role(roles::SUPERVISOR) || user.0.has_role(roles::ADMIN);
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::DispatchingOffice,
        move |c, _| {
            let p = c.pending.clone().unwrap_or_default();
            if c.status != "transfer_requested" || p["kind"] != "transfer" {
                return Err(illegal(c, "decide a transfer for"));
            }
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            if back && b.approve && !supervises {
                return Err(Problem::forbidden(format!(
                    "{} already handed this case on: sending it back needs a supervisor's approval",
                    s("to_unit_id")
                )));
            }
            if !b.approve {
                return Ok((
                    Move {
                        status: s("from_status"),
                        history: (
                            "transfer_rejected",
                            serde_json::json!({"to_unit_id": s("to_unit_id"), "note": b.note}),
                        ),
                        events: Vec::new(),
                    },
                    Update::default(),
                ));
            }
            let (to, name, code) = (
                s("to_unit_id"),
                s("to_unit_name"),
                s("to_jurisdiction_code"),
            );
            Ok((
                Move {
                    status: "dispatched".into(),
                    history: (
                        "transferred",
                        serde_json::json!({"from_unit_id": c.unit(), "unit_id": to,
                            "unit_name": name, "jurisdiction_code": code,
                            "reason": s("reason"), "note": b.note}),
                    ),
                    events: vec![
                        // The reason stays in the history above, off the bus.
                        Payload::CaseTransferred(CaseTransferred {
                            from_unit_id: c.unit().to_owned(),
                            to_unit_id: to.clone(),
                        }),
                        Payload::CaseDispatched(CaseDispatched {
                            unit_id: to.clone(),
                            unit_name: name.clone(),
                            assisting_unit_ids: c.assisting_unit_ids.clone(),
                            tier: xf_events::tier_of_code(&code) as i32,
                            jurisdiction_code: code.clone(),
                            rule_id: "transfer".into(),
                            leader_id: c.leader_id.clone().unwrap_or_default(),
                            review_level: u32::try_from(c.review_level).unwrap_or(0),
                            superior_reference: c.superior_reference.clone().unwrap_or_default(),
                            superior_due_at: c.superior_due_at.map(xf_events::timestamp),
                            important: c.important || c.collective,
                            ..Default::default()
                        }),
                    ],
                },
                Update {
                    extension: Some("none".into()),
                    unit: Some((to, name, code)),
                    ..Update::default()
                },
            ))
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtensionBody {
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
async fn extension(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ExtensionBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    if !(1..=30).contains(&b.days) {
        errs.push(FieldError::new("days", "from 1 to 30 (信访条例 Art. 33)"));
    }
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    act(ctx!(user, path, pool, clock, outbox), Who::LeadHandler, move |c, now| {
        if c.status != "accepted" {
            return Err(illegal(c, "ask for an extension of"));
        }
        if c.extension != "none" {
            return Err(Problem::conflict(format!(
                "the handling period may be extended once; this case's extension is {}",
                c.extension
            )));
        }
        let pending = serde_json::json!({"kind": "extension", "days": b.days, "reason": b.reason,
            "requested_at": now});
        Ok((
            Move {
                status: c.status.clone(),
                history: ("extension_requested", pending.clone()),
                events: Vec::new(),
            },
            Update {
                extension: Some("requested".into()),
                pending: Some(pending),
                ..Update::default()
            },
        ))
    })
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
async fn extension_decision(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<DecisionBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::DispatchingOffice,
        move |c, _| {
            let p = c.pending.clone().unwrap_or_default();
            if c.extension != "requested" || p["kind"] != "extension" {
                return Err(illegal(c, "decide an extension for"));
            }
            let days = u32::try_from(p["days"].as_i64().unwrap_or(0)).unwrap_or(0);
            let (ext, action, events) = if b.approve {
                (
                    "approved",
                    "extension_approved",
                    // The reason stays in the request's history entry, off the bus.
                    vec![Payload::DeadlineExtended(DeadlineExtended {
                        stage: Stage::Handling as i32,
                        days,
                        new_due_at: None,
                    })],
                )
            } else {
                ("rejected", "extension_rejected", Vec::new())
            };
            Ok((
                Move {
                    status: c.status.clone(),
                    history: (action, serde_json::json!({"days": days, "note": b.note})),
                    events,
                },
                Update {
                    extension: Some(ext.into()),
                    ..Update::default()
                },
            ))
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
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
async fn reply(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ReplyBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    let outcome = match b.outcome.as_str() {
        "support" => Some(ReplyOutcome::Support),
        "explain" => Some(ReplyOutcome::Explain),
        "not_support" => Some(ReplyOutcome::NotSupport),
        _ => {
            errs.push(FieldError::new(
                "outcome",
                "one of support, explain, not_support",
            ));
            None
        }
    };
    xf_http::require_text(&mut errs, "text", &b.text, 10_000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let outcome = outcome.unwrap_or(ReplyOutcome::Unspecified);
    let anonymous: bool =
        sqlx::query_scalar("SELECT COALESCE((SELECT anonymous FROM cases WHERE id = $1), FALSE)")
            .bind(*path)
            .fetch_one(pool.get_ref())
            .await
            .map_err(db)?;
    let deliver = b.deliver.unwrap_or(true);
    {
        // R11: a case with assisting units is replied to after the joint consultation.
        let mut conn = pool.acquire().await.map_err(db)?;
        if let Ok(case) = load(&mut conn, *path, false).await
            && access(&user.0, &case).is_ok()
        {
            let state = consult_state(&mut conn, &case).await?;
            if state.required && !state.ready() {
                return Err(Problem::conflict(format!(
                    "the joint consultation (联合会商) comes first: {}",
                    state.missing_text()
                )));
            }
        }
    }
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::LeadHandler,
        move |c, _| {
            if c.status != "accepted" {
                return Err(illegal(c, "reply to"));
            }
            if anonymous && deliver {
                // R3: checked once the caller is known to act on the case.
                return Err(Problem::validation(vec![FieldError::new(
                    "deliver",
                    "an anonymous item has nobody to deliver a reply to; record the result with deliver: false",
                )]));
            }
            let len = u32::try_from(b.text.chars().count()).unwrap_or(u32::MAX);
            Ok((
                Move {
                    status: "replied".into(),
                    history: (
                        "replied",
                        serde_json::json!({"outcome": b.outcome, "text_length": len,
                        "review_level": c.review_level, "delivered": deliver && !anonymous}),
                    ),
                    events: vec![Payload::ReplyIssued(ReplyIssued {
                        unit_id: c.unit().to_owned(),
                        outcome: outcome as i32,
                        text_length: len,
                    })],
                },
                Update {
                    reply_outcome: Some(b.outcome.clone()),
                    reply_text: Some(b.text.clone()),
                    // A re-review's reply ends the matter (Art. 35).
                    final_: c.review_level >= 2,
                    ..Update::default()
                },
            ))
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
async fn get_reply(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    let case = load(&mut conn, id, false).await?;
    access(&user.0, &case)?;
    let row = sqlx::query(
        "SELECT c.reply_outcome, c.reply_text,
                (SELECT h.at FROM case_history h WHERE h.case_id = c.id AND h.action = 'replied'
                 ORDER BY h.id DESC LIMIT 1) AS replied_at
         FROM cases c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let (Some(outcome), Some(text), Some(at)) = (
        row.get::<Option<String>, _>("reply_outcome"),
        row.get::<Option<String>, _>("reply_text"),
        row.get::<Option<DateTime<Utc>>, _>("replied_at"),
    ) else {
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

/// Where a case's joint consultation stands for its current handling round.
struct Consult {
    required: bool,
    units: Vec<String>,
    opinions: Vec<serde_json::Value>,
    missing: Vec<String>,
    meeting: Option<serde_json::Value>,
}

impl Consult {
    fn ready(&self) -> bool {
        self.missing.is_empty() && self.meeting.is_some()
    }
    fn missing_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "written opinions missing from {}",
                self.missing.join(", ")
            ));
        }
        if self.meeting.is_none() {
            parts.push("no meeting record".to_owned());
        }
        parts.join("; ")
    }
}

async fn consult_state(conn: &mut PgConnection, c: &CaseView) -> Result<Consult, Problem> {
    let mut units = vec![c.unit().to_owned()];
    units.extend(c.assisting_unit_ids.iter().cloned());
    let opinions: Vec<serde_json::Value> = sqlx::query(
        "SELECT unit_id, text, by_sub, at FROM consultation_opinions
         WHERE case_id = $1 AND review_level = $2 ORDER BY at",
    )
    .bind(c.id)
    .bind(c.review_level)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| {
        serde_json::json!({
            "unit_id": r.get::<String, _>("unit_id"),
            "text": r.get::<String, _>("text"),
            "by": r.get::<String, _>("by_sub"),
            "at": r.get::<DateTime<Utc>, _>("at"),
        })
    })
    .collect();
    let missing = units
        .iter()
        .filter(|u| !opinions.iter().any(|o| o["unit_id"] == u.as_str()))
        .cloned()
        .collect();
    let meeting = sqlx::query(
        "SELECT held_at, participants, minutes, by_sub, at FROM consultation_meetings
         WHERE case_id = $1 AND review_level = $2",
    )
    .bind(c.id)
    .bind(c.review_level)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .map(|r| {
        serde_json::json!({
            "held_at": r.get::<DateTime<Utc>, _>("held_at"),
            "participants": r.get::<Vec<String>, _>("participants"),
            "minutes": r.get::<String, _>("minutes"),
            "by": r.get::<String, _>("by_sub"),
            "at": r.get::<DateTime<Utc>, _>("at"),
        })
    });
    Ok(Consult {
        required: !c.assisting_unit_ids.is_empty(),
        units,
        opinions,
        missing,
        meeting,
    })
}

fn consult_json(c: &CaseView, s: &Consult) -> serde_json::Value {
    serde_json::json!({
        "case_id": c.id,
        "review_level": c.review_level,
        "required": s.required,
        "lead_unit_id": c.unit_id,
        "assisting_unit_ids": c.assisting_unit_ids,
        "opinions": s.opinions,
        "missing_opinions": s.missing,
        "meeting": s.meeting,
        "ready": !s.required || s.ready(),
        "units": s.units,
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
async fn consultation(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let case = load(&mut conn, *path, false).await?;
    access(&user.0, &case)?;
    let st = consult_state(&mut conn, &case).await?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OpinionBody {
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
async fn opinion(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<OpinionBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut tx = pool.begin().await.map_err(db)?;
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
    if case.assisting_unit_ids.is_empty() {
        return Err(Problem::conflict(
            "the case has no assisting units: no joint consultation",
        ));
    }
    if case.status != "accepted" {
        return Err(illegal(&case, "consult on"));
    }
    let unit = user.0.unit.clone().unwrap_or_default();
    let now = clock.now();
    sqlx::query(
        "INSERT INTO consultation_opinions (case_id, review_level, unit_id, text, by_sub, at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (case_id, review_level, unit_id) DO UPDATE SET text = EXCLUDED.text,
             by_sub = EXCLUDED.by_sub, at = EXCLUDED.at",
    )
    .bind(case.id)
    .bind(case.review_level)
    .bind(&unit)
    .bind(b.text.trim())
    .bind(&user.0.sub)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    history(
        &mut tx,
        case.id,
        now,
        "consultation_opinion",
        serde_json::json!({"unit_id": unit, "by": user.0.sub, "text_length": b.text.chars().count()}),
    )
    .await
    .map_err(db)?;
    let st = consult_state(&mut tx, &case).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MeetingBody {
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
async fn meeting(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<MeetingBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
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
    let mut needed = vec![case.unit().to_owned()];
    needed.extend(case.assisting_unit_ids.iter().cloned());
    let absent: Vec<&String> = needed
        .iter()
        .filter(|u| !b.participants.iter().any(|p| p.trim() == u.as_str()))
        .collect();
    if !absent.is_empty() {
        errs.push(FieldError::new(
            "participants",
            format!(
                "the lead and every assisting unit take part; missing {}",
                absent
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    xf_http::require_text(&mut errs, "minutes", &b.minutes, 10_000);
    let (Some(held_at), true) = (held_at, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    if case.assisting_unit_ids.is_empty() {
        return Err(Problem::conflict(
            "the case has no assisting units: no joint consultation",
        ));
    }
    if case.status != "accepted" {
        return Err(illegal(&case, "consult on"));
    }
    let participants: Vec<String> = b.participants.iter().map(|p| p.trim().to_owned()).collect();
    sqlx::query(
        "INSERT INTO consultation_meetings (case_id, review_level, held_at, participants, minutes, by_sub, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (case_id, review_level) DO UPDATE SET held_at = EXCLUDED.held_at,
             participants = EXCLUDED.participants, minutes = EXCLUDED.minutes,
             by_sub = EXCLUDED.by_sub, at = EXCLUDED.at",
    )
    .bind(case.id)
    .bind(case.review_level)
    .bind(held_at)
    .bind(&participants)
    .bind(b.minutes.trim())
    .bind(&user.0.sub)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    history(
        &mut tx,
        case.id,
        now,
        "consultation_meeting",
        serde_json::json!({"held_at": held_at, "participants": participants, "by": user.0.sub}),
    )
    .await
    .map_err(db)?;
    let st = consult_state(&mut tx, &case).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(consult_json(&case, &st)))
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
async fn close(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    act(
        ctx!(user, path, pool, clock, outbox),
        Who::LeadHandler,
        |c, _| {
            if c.status != "replied" {
                return Err(illegal(c, "close"));
            }
            Ok((
                Move {
                    status: "closed".into(),
                    history: (
                        "closed",
                        serde_json::json!({
                            "unit_id": c.unit(),
                            // A superior body's transfer (上级交办) awaits the result.
                            "report_back_to": c.superior_reference,
                            "report_back_due": c.superior_due_at,
                        }),
                    ),
                    events: vec![Payload::CaseClosed(CaseClosed {
                        unit_id: c.unit().to_owned(),
                        answered_on_spot: false,
                        not_accepted: false,
                    })],
                },
                Update::default(),
            ))
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UnlinkBody {
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
#[allow(clippy::too_many_arguments)]
async fn unlink(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<UnlinkBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
    shared: web::Data<Shared>,
    places: web::Data<Arc<Places>>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let id = path.into_inner();
    let u = user.0;
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let case = load(&mut tx, id, true).await?;
    office_decides(&u, &case, access(&u, &case), "unlinking")?;
    if case.status != "linked" {
        return Err(illegal(&case, "unlink"));
    }
    let place = Code::parse(&case.matter_code)
        .map_err(|e| Problem::validation(vec![FieldError::new("matter_code", e.to_string())]))?;
    let cat = shared.fresh(&mut tx).await.map_err(db)?;
    let tree = places.with(&pool, &place).await.map_err(db)?;
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
    redispatch(&mut tx, &outbox, &cat, &tree, &stored, again, &mut detail)
        .await
        .map_err(|e| match e {
            xf_bus::HandleError::Transient(m) => Problem::unavailable(&m),
            xf_bus::HandleError::Permanent(m) => Problem::conflict(m),
        })?;
    let after = load(&mut tx, id, false).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(after))
}
