//! routing: decides the competent tier and unit for each case, dispatches it, and
//! keeps the handling path.

pub mod handler;
pub mod routes;
pub mod settings;

use std::sync::Arc;

use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, Settings};

pub const SERVICE: &str = "routing";
pub const PORT: u16 = 8082;
pub const OWN_CONFIG: &str = include_str!("../config/base.toml");
pub const KEYS: xf_app::Keys = xf_app::Keys {
    required: &[],
    optional: &[],
};

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
