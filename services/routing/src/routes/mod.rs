//! routing's HTTP API: reference data (units, rules, divisions) and the workbench.

pub mod admin;
pub mod work;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    admin::configure(cfg);
    work::configure(cfg);
}
