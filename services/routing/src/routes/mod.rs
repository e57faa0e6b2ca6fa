//! routing's HTTP API: reference data (units, rules, divisions) and the workbench.
//! Handlers parse, load, ask the domain, store and put events in the outbox; the
//! domain's refusals become problem+json here, once (the database's errors through
//! `xf_store::problem`).

pub mod admin;
pub mod work;

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use sqlx::PgPool;
use utoipa::OpenApi;
use xf_app::Clock;
use xf_bus::Outbox;
use xf_http::openapi::BearerSecurity;
use xf_http::{FieldError, Problem};

use crate::domain::DomainError;
use crate::store::catalog::Shared;
use crate::store::places::Places;

/// routing's OpenAPI document: every route, its bodies and its errors.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Xinfang routing",
        description = "Units, versioned responsibility rules, the division tree, the dispatch of each case and the handling unit's workbench. Every case read and action applies the shared visibility rule: the accused unit, and anyone neither assigned to a case nor overseeing its place, gets 404."
    ),
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(admin::doc());
    doc.merge(work::doc());
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::serve(cfg, document());
    admin::configure(cfg);
    work::configure(cfg);
}

/// What every handler works with: the pool, the clock, the outbox, the catalog and the
/// jurisdiction tree.
pub struct Env {
    pub pool: web::Data<PgPool>,
    pub clock: web::Data<Clock>,
    pub outbox: web::Data<Outbox>,
    pub shared: web::Data<Shared>,
    pub places: web::Data<Arc<Places>>,
}

fn part<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, Problem> {
    req.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
        Problem::internal(&format!("{} is not configured", std::any::type_name::<T>()))
    })
}

impl FromRequest for Env {
    type Error = Problem;
    type Future = Ready<Result<Env, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            Ok(Env {
                pool: part(req)?,
                clock: part(req)?,
                outbox: part(req)?,
                shared: part(req)?,
                places: part(req)?,
            })
        })())
    }
}

/// The domain's refusals as problem+json: the one place they are mapped.
impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Problem {
        match e {
            // Moves the state machine refuses in the state the case is in now.
            DomainError::Illegal { .. } | DomainError::ExtendedOnce(_) => {
                Problem::illegal_transition(e.to_string())
            }
            DomainError::NoConsultation
            | DomainError::ConsultationFirst(_)
            | DomainError::Ended(_) => Problem::conflict(e.to_string()),
            DomainError::Ambiguous { ref rule, .. } => Problem::conflict(e.to_string())
                .field("jurisdiction_code", format!("ambiguous with rule {rule}")),
            DomainError::Invalid(v) => {
                Problem::validation(v.into_iter().map(|(f, m)| FieldError::new(f, m)).collect())
            }
            DomainError::Forbidden(why) => Problem::forbidden(why),
        }
    }
}
