//! supervision's HTTP API: parse → load → domain → store → outbox, no rules here.
//! - [`clocks`]: a case's clocks, pausing and resuming them, the sweeper.
//! - [`policies`]: deadline policies, presets and the due-date preview.
//! - [`cards`]: supervision cards (督办卡).
//!
//! The oversight registry, ownership and accountability routes and the notices are
//! configured by their modules.

pub mod cards;
pub mod clocks;
pub mod policies;

use actix_web::web;
use utoipa::OpenApi;
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_http::openapi::BearerSecurity;
use xf_http::{FieldError, Problem};

use crate::clocks::Refused;
use crate::domain::DomainError;

/// supervision's OpenAPI document: every route, its bodies and its errors.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Xinfang supervision",
        description = "Deadline policies and clocks, timers and the sweeper, supervision cards (督办卡), leader case ownership (领导包案), the cross-level monitor and accountability. Every case read applies the shared visibility rule: the accused unit, and anyone neither assigned to a case nor overseeing its place, gets 404."
    ),
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    use crate::oversight::{accountability, ownership, registry};
    let mut doc = ApiDoc::openapi();
    for part in [
        clocks::Doc::openapi(),
        policies::Doc::openapi(),
        registry::Doc::openapi(),
        cards::Doc::openapi(),
        ownership::Doc::openapi(),
        accountability::Doc::openapi(),
        crate::notices::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::serve(cfg, document());
    clocks::configure(cfg);
    policies::configure(cfg);
    cards::configure(cfg);
    crate::oversight::configure(cfg);
    crate::notices::configure(cfg);
}

/// A database failure as a problem, by the shared rule (`xf_store::problem`: 503 when
/// it passes with time, 409 on a unique violation, 422 when a stored rule refuses a
/// value, else 500); for `map_err`.
pub(crate) fn db(e: sqlx::Error) -> Problem {
    xf_store::problem(&e)
}

/// The one mapping of the domain's refusals to problem+json.
pub(crate) fn problem(e: DomainError) -> Problem {
    match e {
        DomainError::IllegalTransition(why) => Problem::illegal_transition(why),
        DomainError::NotLive(why) => Problem::conflict(why),
        DomainError::Forbidden(why) => Problem::forbidden(why),
        DomainError::Invalid { field, message } => {
            Problem::validation(vec![FieldError::new(field, message)])
        }
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        problem(e)
    }
}

impl From<Refused> for Problem {
    fn from(e: Refused) -> Self {
        match e {
            Refused::Domain(d) => problem(d),
            Refused::Db(e) => db(e),
        }
    }
}

/// The caller's standing towards a case supervision knows (`xf-access`: the lead or
/// an assisting unit's handlers, overseers over its place), or 404 — also for the
/// accused unit and for a case supervision has not seen.
pub(crate) async fn visible(
    conn: &mut sqlx::PgConnection,
    user: &Authenticated,
    id: Uuid,
) -> Result<xf_access::Standing, Problem> {
    crate::oversight::registry::current(conn, id, false)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?
        .require(&user.0)
}
