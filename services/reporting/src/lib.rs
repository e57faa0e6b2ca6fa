//! reporting: read models folded from every case event; statistics by tier, place,
//! category, unit and period.

pub mod handler;
pub mod routes;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

pub const SERVICE: &str = "reporting";
pub const PORT: u16 = 8085;
pub const OWN_CONFIG: &str = include_str!("../config/base.toml");
pub const KEYS: xf_app::Keys = xf_app::Keys {
    required: &[],
    optional: &[],
};

pub type Settings = xf_app::Settings<Ext>;

/// reporting's own sections (none yet).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ext {}

impl xf_app::Validate for Ext {}

pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

pub fn binary() -> xf_app::cli::Binary {
    xf_app::cli::Binary {
        name: SERVICE,
        port: PORT,
        own_config: OWN_CONFIG,
        keys: KEYS,
        migrator,
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Facts>> {
    let parts = Application::<handler::Facts>::parts(&s)?;
    let spec = ServiceSpec::new(SERVICE, Some(Arc::new(handler::Facts)), routes::configure);
    Application::build(&s, parts, migrator(), spec).await
}
