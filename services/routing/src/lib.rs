//! routing: decides the competent tier and unit for each case, dispatches it, and
//! keeps the handling path.

pub mod handler;
pub mod routes;
pub mod settings;

use std::sync::Arc;

use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, Settings};

xf_app::service!(name: "routing", port: 8082, required: []);

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Dispatcher>> {
    let tree = Arc::new(s.ext.jurisdiction.load()?);
    let parts = Application::<handler::Dispatcher>::parts(&s)?;
    let handler = Arc::new(handler::Dispatcher {
        tree,
        outbox: parts.outbox.clone(),
    });
    let spec = ServiceSpec::new(SERVICE, Some(handler), routes::configure);
    Application::build(&s, parts, migrator(), spec).await
}
