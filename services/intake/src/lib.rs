//! intake: registers letters, visits, phone reports and online petitions, keeps the
//! register and the citizen's view, and emits `CaseRegistered`.

pub mod handler;
pub mod routes;
pub mod settings;

use std::sync::Arc;

use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, Settings};

pub const SERVICE: &str = "intake";
pub const PORT: u16 = 8081;
pub const OWN_CONFIG: &str = include_str!("../config/base.toml");
pub const KEYS: xf_app::Keys = xf_app::Keys {
    required: &["vault.key_file", "vault.pseudonym_key_file"],
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
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Projection>> {
    let tree = Arc::new(s.ext.jurisdiction.load()?);
    let parts = Application::<handler::Projection>::parts(&s)?;
    let handler = Arc::new(handler::Projection);
    let spec = ServiceSpec::new(SERVICE, Some(handler), move |cfg| {
        routes::configure(cfg, tree.clone())
    });
    Application::build(&s, parts, migrator(), spec).await
}
