//! routing: decides the competent tier and unit for each case by the responsibility
//! rules, dispatches it, keeps the handling path (the unit's workbench), links repeat
//! petitions and re-dispatches escalations and review requests one tier up.

pub mod consumer;
pub mod domain;
pub mod import;
pub mod redispatch;
pub mod routes;
pub mod settings;
pub mod store;

/// The reference data and its shared snapshot (the types live in `domain::catalog`,
/// the SQL in `store::catalog`).
pub mod catalog {
    pub use crate::domain::catalog::*;
    pub use crate::store::catalog::{Shared, bump, load};
}
pub use domain::decide;

use std::sync::Arc;

use actix_web::web;
use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, RepeatSettings, Settings};

xf_app::service!(name: "routing", port: 8082, required: []);

/// Builds the service: migrations applied, tree and catalog loaded, port bound,
/// nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<consumer::Dispatcher>> {
    let parts = Application::<consumer::Dispatcher>::parts(&s)?;
    xf_store::migrate(&parts.pool, &s.database.schema, migrator()).await?;
    let places = Arc::new(store::places::Places::open(&parts.pool, &s.ext.jurisdiction).await?);
    let shared = store::catalog::Shared::default();
    shared.reload(&parts.pool).await?;
    let handler = Arc::new(consumer::Dispatcher {
        places: places.clone(),
        catalog: shared.clone(),
        outbox: parts.outbox.clone(),
        clock: parts.clock.clone(),
        pool: parts.pool.clone(),
        repeat: s.ext.repeat.clone(),
    });
    let spec = ServiceSpec::new(
        SERVICE,
        Some(handler),
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::new(places.clone()))
                .app_data(web::Data::new(shared.clone()));
            routes::configure(cfg);
        },
    );
    Application::build(&s, parts, migrator(), spec).await
}
