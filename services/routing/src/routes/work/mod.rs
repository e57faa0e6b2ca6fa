//! The handling unit's workbench: its worklist and the actions on a case. Each action
//! is one transaction: the domain's state machine decides, the store writes state and
//! history, the outbox takes the events.

mod consultation;
mod extension;
mod handling;
mod list;
mod transfer;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use uuid::Uuid;
use xf_access::Standing;
use xf_auth::{Claims, roles};
use xf_events::Payload;
use xf_events::v1::{
    CaseAccepted, CaseClosed, CaseDispatched, CaseNotAccepted, CaseTransferred, DeadlineExtended,
    ReplyIssued, Stage,
};
use xf_http::Problem;

use super::Env;
use crate::domain::case::{Announce, Command, Effect, apply};
use crate::domain::catalog::office_unit_id;
use crate::domain::{Pending, ReplyOutcome};
use crate::store::cases::{self, CaseRow, Moved, NewUnit};
use crate::store::emit;
use xf_store::problem;

/// A case as the workbench shows it.
pub type CaseView = CaseRow;

/// This module's part of the OpenAPI document.
pub fn doc() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut d = list::Doc::openapi();
    d.merge(handling::Doc::openapi());
    d.merge(transfer::Doc::openapi());
    d.merge(extension::Doc::openapi());
    d.merge(consultation::Doc::openapi());
    d
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/worklist", web::get().to(list::worklist))
        .route("/v1/issue-groups", web::get().to(list::issue_groups))
        .route("/v1/cases/{id}/routing", web::get().to(list::explain))
        .route("/v1/cases/{id}/accept", web::post().to(handling::accept))
        .route(
            "/v1/cases/{id}/not-accept",
            web::post().to(handling::not_accept),
        )
        .route(
            "/v1/cases/{id}/transfer",
            web::post().to(transfer::transfer),
        )
        .route(
            "/v1/cases/{id}/transfer-decision",
            web::post().to(transfer::transfer_decision),
        )
        .route(
            "/v1/cases/{id}/extension",
            web::post().to(extension::extension),
        )
        .route(
            "/v1/cases/{id}/extension-decision",
            web::post().to(extension::extension_decision),
        )
        .route("/v1/cases/{id}/reply", web::post().to(handling::reply))
        .route("/v1/cases/{id}/reply", web::get().to(handling::get_reply))
        .route(
            "/v1/cases/{id}/consultation",
            web::get().to(consultation::consultation),
        )
        .route(
            "/v1/cases/{id}/consultation/opinions",
            web::post().to(consultation::opinion),
        )
        .route(
            "/v1/cases/{id}/consultation/meeting",
            web::post().to(consultation::meeting),
        )
        .route("/v1/cases/{id}/close", web::post().to(handling::close))
        .route("/v1/cases/{id}/unlink", web::post().to(transfer::unlink));
}

/// Roles that see every case in their jurisdiction (the shared rule's).
const OVERSEERS: [&str; 4] = xf_access::OVERSEERS;

/// What a user may do with a case: the standing of the shared rule (`xf-access`).
type Access = Standing;

/// The case as `user` may see it (`xf-access`): the accused unit never learns it exists,
/// nor does anyone neither assigned to it nor overseeing its place (404).
fn access(user: &Claims, c: &CaseRow) -> Result<Access, Problem> {
    xf_access::require(user, &c.access())
}

async fn load(conn: &mut sqlx::PgConnection, id: Uuid, lock: bool) -> Result<CaseRow, Problem> {
    cases::load(conn, id, lock)
        .await
        .map_err(|e| problem(&e))?
        .ok_or_else(|| Problem::not_found("case"))
}

/// Who may take a decision on a case.
enum Who {
    /// The lead unit's handlers.
    LeadHandler,
    /// The dispatching office, or a supervisor over the case.
    DispatchingOffice,
}

/// Decisions on a case (approvals, unlinking) belong to the letters-and-visits office
/// of its jurisdiction or to a supervisor over it; never to the accused unit.
fn office_decides(
    user: &Claims,
    case: &CaseRow,
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

fn may_act(who: &Who, user: &Claims, case: &CaseRow) -> Result<(), Problem> {
    let a = access(user, case);
    match who {
        Who::LeadHandler => {
            if a? != Access::Lead || !user.has_role(roles::HANDLER) {
                return Err(Problem::forbidden(
                    "only the lead unit's handlers act on this case",
                ));
            }
            Ok(())
        }
        Who::DispatchingOffice => office_decides(user, case, a, "this decision"),
    }
}

/// The written reply a move stores.
struct Reply {
    outcome: ReplyOutcome,
    text: String,
}

/// What the route adds to a legal move: the history entry's detail, the pending
/// request's document, the reply, the new unit, the not-acceptance's reason.
#[derive(Default)]
struct Particulars {
    detail: serde_json::Value,
    pending: Option<serde_json::Value>,
    reply: Option<Reply>,
    unit: Option<NewUnit>,
    /// Not accepted: the reason and the channel named to the petitioner.
    refusal: Option<(String, String)>,
}

/// An action on a case and who may take it.
struct Action {
    id: Uuid,
    user: Claims,
    who: Who,
}

/// Runs an action: locks the case, checks who may act, asks the state machine whether
/// `command` (given the case as it stands) is legal, lets `rest` check the action's
/// own rules and complete the move, then writes state, history and events in one
/// transaction.
async fn act(
    env: &Env,
    a: Action,
    command: impl FnOnce(&CaseRow) -> Command,
    rest: impl FnOnce(&CaseRow, DateTime<Utc>) -> Result<Particulars, Problem>,
) -> Result<HttpResponse, Problem> {
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let case = load(&mut tx, a.id, true).await?;
    may_act(&a.who, &a.user, &case)?;
    let now = env.clock.now();
    let (after, effects) = apply(case.workbench(), command(&case))?;
    let mut p = rest(&case, now)?;
    let unit = if effects.contains(&Effect::ChangeUnit) {
        p.unit.take()
    } else {
        None
    };
    let code = unit.as_ref().map_or(case.jurisdiction_code.clone(), |u| {
        u.jurisdiction_code.clone()
    });
    let payloads: Vec<Payload> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Announce(x) => Some(announce(*x, &case, &p, unit.as_ref())),
            _ => None,
        })
        .collect();
    cases::write_move(
        &mut tx,
        &Moved {
            id: case.id,
            status: after.status,
            extension: after.extension,
            pending: if after.pending == Pending::None {
                None
            } else {
                p.pending
            },
            reply_outcome: p.reply.as_ref().map(|r| r.outcome.as_str().to_owned()),
            reply_text: p.reply.as_ref().map(|r| r.text.clone()),
            conclude: effects.contains(&Effect::ConcludeRereview),
            unit,
            at: now,
        },
    )
    .await
    .map_err(|e| problem(&e))?;
    if let Some(action) = effects.iter().find_map(|e| match e {
        Effect::Record(a) => Some(*a),
        _ => None,
    }) {
        let mut detail = p.detail;
        detail["by"] = serde_json::json!(a.user.sub);
        detail["from_status"] = serde_json::json!(case.status);
        cases::history(&mut tx, case.id, now, action, detail)
            .await
            .map_err(|e| problem(&e))?;
    }
    for payload in payloads {
        emit(&env.outbox, &mut tx, case.id, &code, now, payload)
            .await
            .map_err(|e| problem(&e))?;
    }
    let after = load(&mut tx, a.id, false).await?;
    tx.commit().await.map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(after))
}

/// The event an announcement puts on the bus.
fn announce(a: Announce, c: &CaseRow, p: &Particulars, unit: Option<&NewUnit>) -> Payload {
    let lead = c.unit().to_owned();
    match a {
        Announce::Accepted => Payload::CaseAccepted(CaseAccepted { unit_id: lead }),
        Announce::NotAccepted => {
            let (reason, channel) = p.refusal.clone().unwrap_or_default();
            Payload::CaseNotAccepted(CaseNotAccepted {
                unit_id: lead,
                reason,
                referral_channel: channel,
            })
        }
        Announce::Closed { not_accepted } => Payload::CaseClosed(CaseClosed {
            unit_id: lead,
            answered_on_spot: false,
            not_accepted,
        }),
        // The reason stays in the history, off the bus.
        Announce::Transferred => Payload::CaseTransferred(CaseTransferred {
            from_unit_id: lead,
            to_unit_id: unit.map(|u| u.id.clone()).unwrap_or_default(),
        }),
        Announce::Dispatched => {
            let (to, name, code) = unit.map_or_else(Default::default, |u| {
                (u.id.clone(), u.name.clone(), u.jurisdiction_code.clone())
            });
            Payload::CaseDispatched(CaseDispatched {
                unit_id: to,
                unit_name: name,
                assisting_unit_ids: c.assisting_unit_ids.clone(),
                tier: xf_events::tier_of_code(&code) as i32,
                jurisdiction_code: code,
                rule_id: "transfer".into(),
                leader_id: c.leader_id.clone().unwrap_or_default(),
                review_level: u32::try_from(c.review_level).unwrap_or(0),
                superior_reference: c.superior_reference.clone().unwrap_or_default(),
                superior_due_at: c.superior_due_at.map(xf_events::timestamp),
                important: c.important || c.collective,
                ..Default::default()
            })
        }
        // The reason stays in the request's history entry, off the bus.
        Announce::DeadlineExtended { days } => Payload::DeadlineExtended(DeadlineExtended {
            stage: Stage::Handling as i32,
            days,
            new_due_at: None,
        }),
        Announce::ReplyIssued => {
            let (outcome, len) = p.reply.as_ref().map_or((0, 0), |r| {
                (
                    event_outcome(r.outcome) as i32,
                    u32::try_from(r.text.chars().count()).unwrap_or(u32::MAX),
                )
            });
            Payload::ReplyIssued(ReplyIssued {
                unit_id: lead,
                outcome,
                text_length: len,
            })
        }
    }
}

fn event_outcome(o: ReplyOutcome) -> xf_events::v1::ReplyOutcome {
    match o {
        ReplyOutcome::Support => xf_events::v1::ReplyOutcome::Support,
        ReplyOutcome::Explain => xf_events::v1::ReplyOutcome::Explain,
        ReplyOutcome::NotSupport => xf_events::v1::ReplyOutcome::NotSupport,
    }
}
