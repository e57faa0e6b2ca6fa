//! reporting: read models folded from every case event; statistics by tier, place,
//! category, unit and period.

pub mod handler;
pub mod routes;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

xf_app::service!(name: "reporting", port: 8085, required: []);
pub type Settings = xf_app::Settings<Ext>;

/// reporting's own sections (none yet).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ext {}

impl xf_app::Validate for Ext {}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Facts>> {
    let parts = Application::<handler::Facts>::parts(&s)?;
    let spec = ServiceSpec::new(SERVICE, Some(Arc::new(handler::Facts)), routes::configure);
    Application::build(&s, parts, migrator(), spec).await
}
