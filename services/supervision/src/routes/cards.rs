//! Supervision cards (督办卡, R14): an instruction to an undertaking unit with a
//! deadline. Drafted (拟办) → approved by a second supervisor → issued, or issued at
//! once; issued → acknowledged → in_progress → completed (answered); supervisors urge
//! (催办) and transfer it to another unit (转办);
//! a card past its deadline escalates its case one tier up, exactly once.
//! Each action is one transaction: the card, its history and its events.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, Claims, roles};
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::SupervisionCardIssued;
use xf_http::{FieldError, Problem, ValidJson};

use super::db;
use crate::domain::card::{self as rules, CardState, Command, Effect};
use crate::oversight::registry::current;
use crate::oversight::{OVERSEERS, ident, scope_filter, tier_of};
use crate::store::cards as store;

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

/// The longest deadline a card may set.
const MAX_DAYS_AHEAD: i64 = 366;

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

impl From<store::CardRow> for Card {
    fn from(r: store::CardRow) -> Card {
        Card {
            id: r.id,
            case_id: r.case_id,
            jurisdiction_code: r.jurisdiction_code,
            instruction: r.instruction,
            undertaking_unit_id: r.undertaking_unit_id,
            state: r.state,
            issued_by: r.issued_by,
            issued_at: r.issued_at,
            due_at: r.due_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
            completed_at: r.completed_at,
            completed_by: r.completed_by,
            result: r.result,
            overdue: r.overdue_at.is_some(),
            overdue_at: r.overdue_at,
            urge_count: r.urges,
            approved_by: r.approved_by,
            approved_at: r.approved_at,
            transfers: r.transfers,
            updated_at: r.updated_at,
            excluded_unit_id: r.excluded_unit_id,
        }
    }
}

impl Card {
    /// Its state; the CHECK constraint keeps anything else out of the table.
    fn state(&self) -> CardState {
        CardState::parse(&self.state).unwrap_or(CardState::Completed)
    }
}

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Card, Problem> {
    store::get(conn, id, lock)
        .await
        .map_err(db)?
        .map(Card::from)
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
    store::insert(
        &mut tx,
        &store::NewCard {
            id,
            case_id: b.case_id,
            jurisdiction_code: &case.jurisdiction_code,
            instruction: b.instruction.trim(),
            undertaking_unit_id: &b.undertaking_unit_id,
            state: CardState::initial(b.draft),
            issued_by: &u.sub,
            at: now,
            due_at: b.due_at,
        },
    )
    .await
    .map_err(db)?;
    store::history(
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
    let state = q.state.as_deref().map(CardState::parse);
    if let Some(None) = state {
        let names: Vec<&str> = CardState::ALL.iter().map(|s| s.as_str()).collect();
        errs.push(FieldError::new(
            "state",
            format!("one of {}", names.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        errs.push(FieldError::new("limit", "from 1 to 1000"));
    }
    let overseer = u.roles.iter().any(|r| OVERSEERS.contains(&r.as_str()));
    let mut f = store::Filter {
        state: state.flatten(),
        overdue: q.overdue,
        case_id: q.case_id,
        limit: i64::from(limit),
        ..store::Filter::default()
    };
    if overseer {
        f.scope = Some(scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?);
        f.unit = q.unit_id.clone();
    } else if let Some(unit) = &u.unit {
        u.require_any_role(&[roles::HANDLER])?;
        f.unit = Some(unit.clone());
        if q.jurisdiction.is_some() {
            f.scope = Some(scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?);
        }
    } else {
        return Err(Problem::forbidden(
            "cards are listed for a unit (handlers) or an overseeing role",
        ));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    // The accused unit never sees cards on its case, whatever its role.
    f.hidden_from = u.unit.clone().filter(|x| !x.is_empty());
    let cards: Vec<Card> = store::list(pool.get_ref(), &f)
        .await
        .map_err(db)?
        .into_iter()
        .map(Card::from)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": cards })))
}

/// A card with its progress reports, urges and history.
async fn detail(conn: &mut PgConnection, card: Card) -> Result<serde_json::Value, Problem> {
    let reports = store::reports(conn, card.id).await.map_err(db)?;
    let urges = store::urges(conn, card.id).await.map_err(db)?;
    let history = store::history_of(conn, card.id).await.map_err(db)?;
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

/// One step of a card: the command for its state machine and what the step records.
struct Change {
    cmd: Command,
    action: &'static str,
    detail: serde_json::Value,
    /// The progress report, the urge's note or the result.
    text: Option<String>,
    /// The unit it is issued to (a transfer); else its own.
    issue_to: Option<String>,
}

impl Change {
    fn new(cmd: Command, action: &'static str) -> Self {
        Change {
            cmd,
            action,
            detail: serde_json::json!({}),
            text: None,
            issue_to: None,
        }
    }
}

/// Runs an action: locks the card, checks who may act, asks the state machine
/// (`domain::card::apply`) whether the step is legal and what it does, then writes the
/// card, its history, its reports or urges and its events in one transaction.
async fn act(
    user: Claims,
    id: Uuid,
    pool: &PgPool,
    now: DateTime<Utc>,
    who: Who,
    outbox: &Outbox,
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
    let (state, effects) = rules::apply(card.state(), ch.cmd)?;
    let completing = effects.contains(&Effect::RecordCompleted);
    store::step(
        &mut tx,
        &store::Step {
            id: card.id,
            state,
            at: now,
            by: &user.sub,
            acknowledging: effects.contains(&Effect::RecordAcknowledged),
            completing,
            result: ch.text.as_deref().filter(|_| completing),
        },
    )
    .await
    .map_err(db)?;
    if effects.contains(&Effect::RecordApproval) {
        store::approve(&mut tx, card.id, &user.sub, now)
            .await
            .map_err(db)?;
    }
    if effects.contains(&Effect::IssueToUnit) {
        let unit = ch.issue_to.as_deref().unwrap_or(&card.undertaking_unit_id);
        let moved = unit != card.undertaking_unit_id;
        store::issue_to(&mut tx, card.id, unit, now, moved)
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
                unit_id: unit.to_owned(),
                due_at: Some(xf_events::timestamp(card.due_at)),
            }),
        );
        outbox.put(&mut tx, &env).await.map_err(db)?;
    }
    if let (true, Some(t)) = (effects.contains(&Effect::KeepReport), &ch.text) {
        store::add_report(&mut tx, card.id, now, &user.sub, t)
            .await
            .map_err(db)?;
    }
    if let (true, Some(n)) = (effects.contains(&Effect::KeepUrge), &ch.text) {
        store::add_urge(&mut tx, card.id, now, &user.sub, n)
            .await
            .map_err(db)?;
    }
    let mut d = ch.detail;
    if !d.is_object() {
        d = serde_json::json!({});
    }
    d["from_state"] = serde_json::json!(card.state);
    d["to_state"] = serde_json::json!(state.as_str());
    store::history(&mut tx, card.id, now, ch.action, &user.sub, d)
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
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::UnitOrSupervisor,
        &outbox,
        |_| Ok(Change::new(Command::Acknowledge, "acknowledged")),
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
    outbox: web::Data<Outbox>,
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
        &outbox,
        move |_| {
            let len = b.text.chars().count();
            Ok(Change {
                detail: serde_json::json!({"text_length": len}),
                text: Some(b.text.trim().to_owned()),
                ..Change::new(Command::Progress, "progress_reported")
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
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let mut errs = Vec::new();
    xf_http::require_text(&mut errs, "result", &b.result, 5000);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let now = clock.now();
    act(
        user.0,
        path.into_inner(),
        &pool,
        now,
        Who::Unit,
        &outbox,
        move |c| {
            Ok(Change {
                detail: serde_json::json!({"late": now > c.due_at}),
                text: Some(b.result.trim().to_owned()),
                ..Change::new(Command::Complete, "completed")
            })
        },
    )
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
    outbox: web::Data<Outbox>,
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
        &outbox,
        // An answered card, or one not yet issued, has nobody to urge (the state
        // machine refuses).
        move |c| {
            Ok(Change {
                detail: serde_json::json!({"urge_number": c.urge_count + 1}),
                text: Some(b.note.trim().to_owned()),
                ..Change::new(Command::Urge, "urged")
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
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let sub = user.0.sub.clone();
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        &outbox,
        move |c| {
            let by_drafter = c.issued_by == sub;
            Ok(Change::new(Command::Approve { by_drafter }, "approved"))
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
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        &outbox,
        |c| {
            Ok(Change {
                detail: serde_json::json!({"undertaking_unit_id": c.undertaking_unit_id}),
                ..Change::new(Command::Issue, "issued")
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
    act(
        user.0,
        path.into_inner(),
        &pool,
        clock.now(),
        Who::Supervisor,
        &outbox,
        move |c| {
            let cmd = Command::Transfer {
                same_unit: to == c.undertaking_unit_id,
                to_accused: c.excluded_unit_id.as_deref() == Some(to.as_str()),
            };
            Ok(Change {
                detail: serde_json::json!({"from_unit_id": c.undertaking_unit_id,
                    "to_unit_id": to, "reason": b.reason.trim()}),
                issue_to: Some(to),
                ..Change::new(cmd, "transferred")
            })
        },
    )
    .await
}
