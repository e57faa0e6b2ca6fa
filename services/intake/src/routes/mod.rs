mod cases;

use std::sync::Arc;

use actix_web::web;
use xf_jurisdiction::Tree;

pub fn configure(cfg: &mut web::ServiceConfig, tree: Arc<Tree>) {
    cfg.app_data(web::Data::from(tree))
        .route("/v1/cases", web::post().to(cases::register))
        .route("/v1/cases/{id}", web::get().to(cases::get));
}
