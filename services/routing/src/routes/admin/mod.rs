//! Reference data: units, responsibility rules and the jurisdiction tree. Every change
//! is versioned and bumps the catalog version so that all replicas reload.

mod divisions;
mod rules;
mod units;

use actix_web::web;
use xf_auth::{Authenticated, roles};
use xf_http::Problem;

/// This module's part of the OpenAPI document.
pub fn doc() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut d = units::Doc::openapi();
    d.merge(rules::Doc::openapi());
    d.merge(divisions::Doc::openapi());
    d
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/units", web::get().to(units::list_units))
        .route("/v1/units/{id}", web::get().to(units::get_unit))
        .route("/v1/units/{id}", web::put().to(units::put_unit))
        .route("/v1/rules", web::get().to(rules::list_rules))
        .route("/v1/rules/{id}", web::get().to(rules::get_rule))
        .route("/v1/rules/{id}", web::put().to(rules::put_rule))
        .route("/v1/rules/{id}", web::delete().to(rules::retire_rule))
        .route(
            "/v1/divisions/{code}",
            web::get().to(divisions::get_division),
        )
        .service(
            web::resource("/v1/admin/divisions")
                .app_data(web::PayloadConfig::new(IMPORT_LIMIT))
                .route(web::post().to(divisions::import_divisions)),
        );
}

/// Largest CSV body the import endpoint takes (a province's villages fit; the
/// national file goes through `xf-routing import-divisions`).
const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

pub(super) fn admin_for(user: &Authenticated, code: &str) -> Result<(), Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    if !user.0.covers(code) {
        return Err(Problem::forbidden(format!(
            "{code} lies outside your jurisdiction {}",
            user.0.jurisdiction
        )));
    }
    Ok(())
}
