//! routing's HTTP API: reference data (units, rules, divisions) and the workbench.

pub mod admin;
pub mod work;

use actix_web::web;
use utoipa::OpenApi;
use xf_http::openapi::BearerSecurity;

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
    doc.merge(admin::Doc::openapi());
    doc.merge(work::Doc::openapi());
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::serve(cfg, document());
    admin::configure(cfg);
    work::configure(cfg);
}
