//! Supervision cards (督办卡, R14): an instruction to an undertaking unit with a
//! deadline. Drafted (拟办) → approved by a second supervisor → issued, or issued at
//! once; issued → acknowledged → in_progress → completed (answered); supervisors urge
//! (催办) and transfer it to another unit (转办);
//! a card past its deadline escalates its case one tier up, exactly once.
//! Each action is one transaction: the card, its history and its events.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, Claims, roles};
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::{CaseEscalated, EscalationReason, Stage, SupervisionCardIssued};
use xf_http::{FieldError, Problem, ValidJson};

use super::registry::current;
use super::{OVERSEERS, db, ident, scope_filter, tier_of};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        issue,
        list,
        show,
        acknowledge,
        progress,
        complete,
        urge,
        approve,
        issue_draft,
        transfer
    ),
    components(schemas(Card, IssueBody, ProgressBody, CompleteBody, UrgeBody, TransferBody))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cards", web::post().to(issue))
        .route("/v1/cards", web::get().to(list))
        .route("/v1/cards/{id}", web::get().to(show))
        .route("/v1/cards/{id}/acknowledge", web::post().to(acknowledge))
        .route("/v1/cards/{id}/progress", web::post().to(progress))
        .route("/v1/cards/{id}/complete", web::post().to(complete))
        .route("/v1/cards/{id}/urge", web::post().to(urge))
        .route("/v1/cards/{id}/approve", web::post().to(approve))
        .route("/v1/cards/{id}/issue", web::post().to(issue_draft))
        .route("/v1/cards/{id}/transfer", web::post().to(transfer));
}

const STATES: [&str; 6] = [
    "draft",
    "approved",
    "issued",
    "acknowledged",
    "in_progress",
    "completed",
];

/// The longest deadline a card may set.
const MAX_DAYS_AHEAD: i64 = 366;

const CARD_COLUMNS: &str = "id, case_id, jurisdiction_code, instruction, undertaking_unit_id,
    state, issued_by, issued_at, due_at, acknowledged_at, acknowledged_by, completed_at,
    completed_by, result, overdue_at, updated_at, approved_by, approved_at, transfers,
    (SELECT count(*) FROM card_urges u WHERE u.card_id = cards.id) AS urges,
    (SELECT o.excluded_unit_id FROM oversight_cases o WHERE o.case_id = cards.case_id)
        AS excluded_unit_id";

/// A card as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Card {
    pub id: Uuid,
    pub case_id: Uuid,
    pub jurisdiction_code: String,
    pub instruction: String,
    pub undertaking_unit_id: String,
    pub state: String,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub result: Option<String>,
    pub overdue: bool,
    pub overdue_at: Option<DateTime<Utc>>,
    pub urge_count: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// How often the card was transferred to another unit (转办).
    pub transfers: i32,
    pub updated_at: DateTime<Utc>,
    /// The case's accused unit: never sees the card.
    #[serde(skip)]
    pub excluded_unit_id: Option<String>,
}

impl Card {
    fn from_row(r: &PgRow) -> Card {
        let overdue_at: Option<DateTime<Utc>> = r.get("overdue_at");
        Card {
            id: r.get("id"),
            case_id: r.get("case_id"),
            jurisdiction_code: r.get("jurisdiction_code"),
            instruction: r.get("instruction"),
            undertaking_unit_id: r.get("undertaking_unit_id"),
            state: r.get("state"),
            issued_by: r.get("issued_by"),
            issued_at: r.get("issued_at"),
            due_at: r.get("due_at"),
            acknowledged_at: r.get("acknowledged_at"),
            acknowledged_by: r.get("acknowledged_by"),
            completed_at: r.get("completed_at"),
            completed_by: r.get("completed_by"),
            result: r.get("result"),
            overdue: overdue_at.is_some(),
            overdue_at,
            urge_count: r.get("urges"),
            approved_by: r.get("approved_by"),
            approved_at: r.get("approved_at"),
            transfers: r.get("transfers"),
            updated_at: r.get("updated_at"),
            excluded_unit_id: r.get("excluded_unit_id"),
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Card, Problem> {
    // The urge count is a subquery: lock the card row itself.
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE id = $1{}",
        if lock { " FOR UPDATE OF cards" } else { "" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .map(|r| Card::from_row(&r))
        .ok_or_else(|| Problem::not_found("card"))
}

/// How a user relates to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Staff of the undertaking unit.
    Unit,
    /// Supervisors, leaders, administrators and analysts over the card's jurisdiction.
    Overseer,
}

/// The card as `user` may see it, by the shared rule (`xf-access`): the undertaking
/// unit and overseers over the card's place; the case's accused unit and everyone else
/// get 404.
fn access(user: &Claims, c: &Card) -> Result<Access, Problem> {
    let case = xf_access::Case {
        lead_unit: Some(c.undertaking_unit_id.as_str()),
        excluded_unit: c.excluded_unit_id.as_deref(),
        ..xf_access::Case::at(&c.jurisdiction_code)
    };
    match xf_access::see(user, &case) {
        Ok(xf_access::Standing::Overseer) => Ok(Access::Overseer),
        Ok(_) => Ok(Access::Unit),
        Err(_) => Err(Problem::not_found("card")),
    }
}

async fn history(
    conn: &mut PgConnection,
    card: Uuid,
    at: DateTime<Utc>,
    action: &str,
    by: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO card_history (card_id, at, action, by_sub, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(card)
    .bind(at)
    .bind(action)
    .bind(by)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    case_id: Uuid,
    instruction: String,
    undertaking_unit_id: String,
    due_at: DateTime<Utc>,
    /// Draft it (拟办) for a second supervisor's approval instead of issuing at once.
    #[serde(default)]
    draft: bool,
}

/// Issues a card on a case the registry knows, within the issuer's jurisdiction.
#[utoipa::path(
    post,
    path = "/v1/cards",
    tag = "cards",
    request_body = IssueBody,
    responses(
        (status = 201, description = "The card, issued", body = Card),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn issue(
    user: Authenticated,
    body: ValidJson<IssueBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&[roles::SUPERVISOR, roles::ADMIN])?;
    let b = body.into_inner();
    let now = clock.now();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "instruction", &b.instruction, 2000);
    ident(&mut errs, "undertaking_unit_id", &b.undertaking_unit_id);
    if b.due_at <= now {
        errs.push(FieldError::new("due_at", "must be in the future"));
    } else if b.due_at > now + Duration::days(MAX_DAYS_AHEAD) {
        errs.push(FieldError::new(
            "due_at",
            format!("at most {MAX_DAYS_AHEAD} days ahead"),
        ));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let case = current(&mut tx, b.case_id, true)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?;
    case.require(u)?;
    if case.excluded_unit_id.as_deref() == Some(b.undertaking_unit_id.trim()) {
        // R13: the accused unit never receives the case, nor a card on it.
        return Err(Problem::validation(vec![FieldError::new(
            "undertaking_unit_id",
            "the accused unit may not undertake a card on this case",
        )]));
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO cards (id, case_id, jurisdiction_code, instruction, undertaking_unit_id,
             state, issued_by, issued_at, due_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8, $7)",
    )
    .bind(id)
    .bind(b.case_id)
    .bind(&case.jurisdiction_code)
    .bind(b.instruction.trim())
    .bind(&b.undertaking_unit_id)
    .bind(&u.sub)
    .bind(now)
    .bind(b.due_at)
    .bind(if b.draft { "draft" } else { "issued" })
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    history(
        &mut tx,
        id,
        now,
        if b.draft { "drafted" } else { "issued" },
        &u.sub,
        serde_json::json!({"undertaking_unit_id": b.undertaking_unit_id, "due_at": b.due_at}),
    )
    .await
    .map_err(db)?;
    if b.draft {
        let card = load(&mut tx, id, false).await?;
        tx.commit().await.map_err(db)?;
        return Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/v1/cards/{id}")))
            .json(card));
    }
    let code = case.jurisdiction_code.as_str();
    let env = xf_events::envelope(
        b.case_id,
        crate::SERVICE,
        tier_of(code),
        code,
        now,
        Payload::SupervisionCardIssued(SupervisionCardIssued {
            card_id: id.to_string(),
            unit_id: b.undertaking_unit_id.clone(),
            due_at: Some(xf_events::timestamp(b.due_at)),
        }),
    );
    outbox.put(&mut tx, &env).await.map_err(db)?;
    let card = load(&mut tx, id, false).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/cards/{id}")))
        .json(card))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    jurisdiction: Option<String>,
    state: Option<String>,
    unit_id: Option<String>,
    overdue: Option<bool>,
    case_id: Option<Uuid>,
    limit: Option<u32>,
}

/// Cards over the user's jurisdiction (overseers) or addressed to the user's unit.
#[utoipa::path(
    get,
    path = "/v1/cards",
    tag = "cards",
    params(ListQuery),
    responses(
        (status = 200, description = "{items: [Card]}"),
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
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    let q = q.into_inner();
    let mut errs = Vec::new();
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        errs.push(FieldError::new(
            "state",
            format!("one of {}", STATES.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        errs.push(FieldError::new("limit", "from 1 to 1000"));
    }
    let overseer = u.roles.iter().any(|r| OVERSEERS.contains(&r.as_str()));
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {CARD_COLUMNS} FROM cards WHERE TRUE"));
    if overseer {
        let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
        qb.push(" AND jurisdiction_code LIKE ")
            .push_bind(format!("{scope}%"));
        if let Some(unit) = &q.unit_id {
            qb.push(" AND undertaking_unit_id = ")
                .push_bind(unit.clone());
        }
    } else if let Some(unit) = &u.unit {
        u.require_any_role(&[roles::HANDLER])?;
        qb.push(" AND undertaking_unit_id = ")
            .push_bind(unit.clone());
        if q.jurisdiction.is_some() {
            let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
            qb.push(" AND jurisdiction_code LIKE ")
                .push_bind(format!("{scope}%"));
        }
    } else {
        return Err(Problem::forbidden(
            "cards are listed for a unit (handlers) or an overseeing role",
        ));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    if let Some(unit) = u.unit.as_deref().filter(|x| !x.is_empty()) {
        // The accused unit never sees cards on its case, whatever its role.
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM oversight_cases o
                WHERE o.case_id = cards.case_id AND o.excluded_unit_id = ",
        )
        .push_bind(unit.to_owned())
        .push(")");
    }
    if let Some(s) = &q.state {
        qb.push(" AND state = ").push_bind(s.clone());
    }
    if let Some(o) = q.overdue {
        qb.push(if o {
            " AND overdue_at IS NOT NULL"
        } else {
            " AND overdue_at IS NULL"
        });
    }
    if let Some(c) = q.case_id {
        qb.push(" AND case_id = ").push_bind(c);
    }
    qb.push(" ORDER BY due_at, id LIMIT ")
        .push_bind(i64::from(limit));
    let cards: Vec<Card> = qb
        .build()
        .fetch_all(pool.get_ref())
        .await
        .map_err(db)?
        .iter()
        .map(Card::from_row)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": cards })))
}

/// A card with its progress reports, urges and history.
async fn detail(conn: &mut PgConnection, card: Card) -> Result<serde_json::Value, Problem> {
    let reports: Vec<serde_json::Value> =
        sqlx::query("SELECT at, by_sub, text FROM card_reports WHERE card_id = $1 ORDER BY id")
            .bind(card.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<DateTime<Utc>, _>("at"),
                    "by": r.get::<String, _>("by_sub"),
                    "text": r.get::<String, _>("text"),
                })
            })
            .collect();
    let urges: Vec<serde_json::Value> =
        sqlx::query("SELECT at, by_sub, note FROM card_urges WHERE card_id = $1 ORDER BY id")
            .bind(card.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<DateTime<Utc>, _>("at"),
                    "by": r.get::<String, _>("by_sub"),
                    "note": r.get::<String, _>("note"),
                })
            })
            .collect();
    let history: Vec<serde_json::Value> = sqlx::query(
        "SELECT at, action, by_sub, detail FROM card_history WHERE card_id = $1 ORDER BY id",
    )
    .bind(card.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| {
        serde_json::json!({
            "at": r.get::<DateTime<Utc>, _>("at"),
            "action": r.get::<String, _>("action"),
            "by": r.get::<String, _>("by_sub"),
            "detail": r.get::<serde_json::Value, _>("detail"),
        })
    })
    .collect();
    let mut v = serde_json::to_value(&card).map_err(|e| Problem::internal(&e))?;
    v["reports"] = serde_json::json!(reports);
    v["urges"] = serde_json::json!(urges);
    v["history"] = serde_json::json!(history);
    Ok(v)
}

#[utoipa::path(
    get,
    path = "/v1/cards/{id}",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    responses(
        (status = 200, description = "The card with its reports, urges and history"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
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
    let mut conn = pool.acquire().await.map_err(db)?;
    let card = load(&mut conn, path.into_inner(), false).await?;
    access(&user.0, &card)?;
    Ok(HttpResponse::Ok().json(detail(&mut conn, card).await?))
}

/// Who may take an action.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// The undertaking unit's handlers.
    Unit,
    /// The undertaking unit's handlers or a supervisor over the card.
    UnitOrSupervisor,
    /// A supervisor over the card.
    Supervisor,
}

fn allowed(user: &Claims, a: Access, who: Who) -> bool {
    let unit = a == Access::Unit && user.has_role(roles::HANDLER);
    let supervisor = a == Access::Overseer && user.has_role(roles::SUPERVISOR);
    match who {
        Who::Unit => unit,
        Who::UnitOrSupervisor => unit || supervisor,
        Who::Supervisor => supervisor,
    }
}

/// One allowed step of a card.
#[derive(Default)]
struct Change {
    state: Option<&'static str>,
    action: &'static str,
    detail: serde_json::Value,
    report: Option<String>,
    urge: Option<String>,
    result: Option<String>,
    /// Issue the card (again) to this unit: `SupervisionCardIssued`.
    issue_to: Option<String>,
    approving: bool,
}

fn illegal(card: &Card, action: &str) -> Problem {
    Problem::conflict(format!("cannot {action} a card that is {}", card.state))
}

/// Runs an action: locks the card, checks who may act and whether the step is legal,
/// then writes the card, its history and its reports or urges in one transaction.
async fn act(
    user: Claims,
    id: Uuid,
    pool: &PgPool,
    now: DateTime<Utc>,
    who: Who,
    step: impl FnOnce(&Card) -> Result<Change, Problem>,
) -> Result<HttpResponse, Problem> {
    act_with(user, id, pool, now, who, None, step).await
}

/// [`act`], with an outbox for a step that issues the card.
async fn act_with(
    user: Claims,
    id: Uuid,
    pool: &PgPool,
    now: DateTime<Utc>,
    who: Who,
    outbox: Option<&Outbox>,
    step: impl FnOnce(&Card) -> Result<Change, Problem>,
) -> Result<HttpResponse, Problem> {
    let mut tx = pool.begin().await.map_err(db)?;
    let card = load(&mut tx, id, true).await?;
    let a = access(&user, &card)?;
    if !allowed(&user, a, who) {
        return Err(Problem::forbidden(match who {
            Who::Unit => "only the undertaking unit's handlers act on this card",
            Who::UnitOrSupervisor => {
                "only the undertaking unit's handlers or a supervisor acknowledge this card"
            }
            Who::Supervisor => "only a supervisor over the card may do this",
        }));
    }
    let ch = step(&card)?;
    let state = ch.state.unwrap_or(card.state.as_str());
    let acknowledging = card.state == "issued" && state == "acknowledged";
    let completing = state == "completed" && card.state != "completed";
    sqlx::query(
        "UPDATE cards SET state = $2, updated_at = $3,
             acknowledged_at = CASE WHEN $4 THEN $3 ELSE acknowledged_at END,
             acknowledged_by = CASE WHEN $4 THEN $5 ELSE acknowledged_by END,
             completed_at = CASE WHEN $6 THEN $3 ELSE completed_at END,
             completed_by = CASE WHEN $6 THEN $5 ELSE completed_by END,
             result = COALESCE($7, result)
         WHERE id = $1",
    )
    .bind(card.id)
    .bind(state)
    .bind(now)
    .bind(acknowledging)
    .bind(&user.sub)
    .bind(completing)
    .bind(&ch.result)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if ch.approving {
        sqlx::query("UPDATE cards SET approved_by = $2, approved_at = $3 WHERE id = $1")
            .bind(card.id)
            .bind(&user.sub)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    if let (Some(unit), Some(outbox)) = (&ch.issue_to, outbox) {
        let moved = unit != &card.undertaking_unit_id;
        sqlx::query(
            "UPDATE cards SET undertaking_unit_id = $2, issued_at = $3,
                 transfers = transfers + $4, acknowledged_at = NULL, acknowledged_by = NULL
             WHERE id = $1",
        )
        .bind(card.id)
        .bind(unit)
        .bind(now)
        .bind(i32::from(moved))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let code = card.jurisdiction_code.as_str();
        let env = xf_events::envelope(
            card.case_id,
            crate::SERVICE,
            tier_of(code),
            code,
            now,
            Payload::SupervisionCardIssued(SupervisionCardIssued {
                card_id: card.id.to_string(),
                unit_id: unit.clone(),
                due_at: Some(xf_events::timestamp(card.due_at)),
            }),
        );
        outbox.put(&mut tx, &env).await.map_err(db)?;
    }
    if let Some(t) = &ch.report {
        sqlx::query("INSERT INTO card_reports (card_id, at, by_sub, text) VALUES ($1, $2, $3, $4)")
            .bind(card.id)
            .bind(now)
            .bind(&user.sub)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    if let Some(n) = &ch.urge {
        sqlx::query("INSERT INTO card_urges (card_id, at, by_sub, note) VALUES ($1, $2, $3, $4)")
            .bind(card.id)
            .bind(now)
            .bind(&user.sub)
            .bind(n)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    let mut d = ch.detail;
    if !d.is_object() {
        d = serde_json::json!({});
    }
    d["from_state"] = serde_json::json!(card.state);
    d["to_state"] = serde_json::json!(state);
    history(&mut tx, card.id, now, ch.action, &user.sub, d)
        .await
        .map_err(db)?;
    let after = load(&mut tx, card.id, false).await?;
    let body = detail(&mut tx, after).await?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    post,
    path = "/v1/cards/{id}/acknowledge",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    responses(
        (status = 200, description = "The card, acknowledged"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn acknowledge(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::UnitOrSupervisor,
        |c| {
            if c.state != "issued" {
                return Err(illegal(c, "acknowledge"));
            }
            Ok(Change {
                state: Some("acknowledged"),
                action: "acknowledged",
                ..Change::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ProgressBody {
    text: String,
}

#[utoipa::path(
    post,
    path = "/v1/cards/{id}/progress",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    request_body = ProgressBody,
    responses(
        (status = 200, description = "The card, in progress, with the report"),
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
async fn progress(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<ProgressBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "text", &b.text, 5000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Unit,
        move |c| {
            if !matches!(c.state.as_str(), "acknowledged" | "in_progress") {
                return Err(illegal(c, "report progress on"));
            }
            let len = b.text.chars().count();
            Ok(Change {
                state: Some("in_progress"),
                action: "progress_reported",
                detail: serde_json::json!({"text_length": len}),
                report: Some(b.text.trim().to_owned()),
                ..Change::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    result: String,
}

#[utoipa::path(
    post,
    path = "/v1/cards/{id}/complete",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    request_body = CompleteBody,
    responses(
        (status = 200, description = "The card, completed"),
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
async fn complete(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<CompleteBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "result", &b.result, 5000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let now = clock.now();
    act(user.0, path.into_inner(), &pool, now, Who::Unit, move |c| {
        if !matches!(c.state.as_str(), "acknowledged" | "in_progress") {
            return Err(illegal(c, "complete"));
        }
        Ok(Change {
            state: Some("completed"),
            action: "completed",
            detail: serde_json::json!({"late": now > c.due_at}),
            result: Some(b.result.trim().to_owned()),
            ..Change::default()
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UrgeBody {
    note: String,
}

/// Urges the undertaking unit (催办): recorded with the card.
#[utoipa::path(
    post,
    path = "/v1/cards/{id}/urge",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    request_body = UrgeBody,
    responses(
        (status = 200, description = "The card, with the urge recorded"),
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
async fn urge(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<UrgeBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "note", &b.note, 2000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        move |c| {
            if matches!(c.state.as_str(), "completed" | "draft" | "approved") {
                // An answered card, or one not yet issued, has nobody to urge.
                return Err(illegal(c, "urge"));
            }
            Ok(Change {
                state: None,
                action: "urged",
                detail: serde_json::json!({"urge_number": c.urge_count + 1}),
                urge: Some(b.note.trim().to_owned()),
                ..Change::default()
            })
        },
    )
    .await
}

/// Approves a drafted card (拟办 → approved): a supervisor other than the drafter.
#[utoipa::path(
    post,
    path = "/v1/cards/{id}/approve",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    responses(
        (status = 200, description = "The card, approved"),
        (status = 403, description = "Not a supervisor over the card, or its drafter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn approve(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let sub = user.0.sub.clone();
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        move |c| {
            if c.state != "draft" {
                return Err(illegal(c, "approve"));
            }
            if c.issued_by == sub {
                return Err(Problem::forbidden(
                    "a draft is approved by another supervisor than its drafter",
                ));
            }
            Ok(Change {
                state: Some("approved"),
                action: "approved",
                approving: true,
                ..Change::default()
            })
        },
    )
    .await
}

/// Issues an approved card to its undertaking unit (`SupervisionCardIssued`).
#[utoipa::path(
    post,
    path = "/v1/cards/{id}/issue",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    responses(
        (status = 200, description = "The card, issued"),
        (status = 403, description = "Not a supervisor over the card", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn issue_draft(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    act_with(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        Some(&outbox),
        |c| {
            if c.state != "approved" {
                return Err(illegal(c, "issue"));
            }
            Ok(Change {
                state: Some("issued"),
                action: "issued",
                detail: serde_json::json!({"undertaking_unit_id": c.undertaking_unit_id}),
                issue_to: Some(c.undertaking_unit_id.clone()),
                ..Change::default()
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to_unit_id: String,
    reason: String,
}

/// Transfers an issued card to another undertaking unit (转办); it is issued to that
/// unit afresh (`SupervisionCardIssued`), its deadline kept.
#[utoipa::path(
    post,
    path = "/v1/cards/{id}/transfer",
    tag = "cards",
    params(("id" = Uuid, Path, description = "The card id")),
    request_body = TransferBody,
    responses(
        (status = 200, description = "The card, issued to the new unit"),
        (status = 403, description = "Not a supervisor over the card", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not issued, or already answered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn transfer(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<TransferBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    ident(&mut errs, "to_unit_id", &b.to_unit_id);
    xf_http::require_text(&mut errs, "reason", &b.reason, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let to = b.to_unit_id.trim().to_owned();
    act_with(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        Some(&outbox),
        move |c| {
            if !matches!(c.state.as_str(), "issued" | "acknowledged" | "in_progress") {
                return Err(illegal(c, "transfer"));
            }
            if to == c.undertaking_unit_id {
                return Err(Problem::validation(vec![FieldError::new(
                    "to_unit_id",
                    "the card is already with this unit",
                )]));
            }
            if c.excluded_unit_id.as_deref() == Some(to.as_str()) {
                return Err(Problem::validation(vec![FieldError::new(
                    "to_unit_id",
                    "the accused unit may not undertake a card on this case",
                )]));
            }
            Ok(Change {
                state: Some("issued"),
                action: "transferred",
                detail: serde_json::json!({"from_unit_id": c.undertaking_unit_id,
                    "to_unit_id": to, "reason": b.reason.trim()}),
                issue_to: Some(to),
                ..Change::default()
            })
        },
    )
    .await
}

/// The code and tier one level up from `code` (a county goes to its city).
fn parent_of(code: &str) -> Option<(xf_events::Tier, String)> {
    let c = xf_jurisdiction::Code::parse(code).ok()?;
    match c.parent() {
        Some(p) => Some((tier_of(p.as_str()), p.as_str().to_owned())),
        None => Some((xf_events::Tier::City, code.get(..4)?.to_owned())),
    }
}

/// Marks cards past their deadline overdue and escalates their cases: each card once,
/// even with several sweepers (rows another sweeper holds are skipped, and a row it
/// marked no longer matches). The caller commits.
pub async fn sweep_overdue(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    outbox: &Outbox,
) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.case_id, c.undertaking_unit_id, c.due_at, o.jurisdiction_code
         FROM cards c JOIN oversight_cases o ON o.case_id = c.case_id
         WHERE c.state NOT IN ('completed', 'draft', 'approved') AND c.overdue_at IS NULL
           AND c.due_at <= $1
         ORDER BY c.due_at, c.id
         LIMIT 500
         FOR UPDATE OF c, o SKIP LOCKED",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut fired = 0u64;
    for r in rows {
        let id: Uuid = r.get("id");
        let case_id: Uuid = r.get("case_id");
        let unit: String = r.get("undertaking_unit_id");
        let due: DateTime<Utc> = r.get("due_at");
        let code: String = r.get("jurisdiction_code");
        let marked = sqlx::query(
            "UPDATE cards SET overdue_at = $2, updated_at = $2
             WHERE id = $1 AND overdue_at IS NULL
               AND state NOT IN ('completed', 'draft', 'approved')",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked != 1 {
            continue;
        }
        history(
            tx,
            id,
            now,
            "overdue",
            "system",
            serde_json::json!({"due_at": due, "escalated_from": code}),
        )
        .await?;
        let from_tier = tier_of(&code);
        let (to_tier, to_code) =
            parent_of(&code).unwrap_or((xf_events::Tier::Unspecified, String::new()));
        let env = xf_events::envelope(
            case_id,
            crate::SERVICE,
            from_tier,
            &code,
            now,
            Payload::CaseEscalated(CaseEscalated {
                reason: EscalationReason::CardOverdue as i32,
                from_tier: from_tier as i32,
                from_jurisdiction_code: code.clone(),
                to_tier: to_tier as i32,
                to_jurisdiction_code: to_code,
                stage: Stage::Card as i32,
                from_unit_id: unit,
            }),
        );
        outbox.put(tx, &env).await?;
        fired += 1;
    }
    Ok(fired)
}
