//! intake: registers letters, visits, phone reports and online petitions, keeps the
//! register and the citizen's view, and emits `CaseRegistered`.

pub mod handler;
pub mod routes;
pub mod settings;

use std::sync::Arc;

use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, Settings};

xf_app::service!(name: "intake", port: 8081, required: ["vault.key_file", "vault.pseudonym_key_file"]);

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
