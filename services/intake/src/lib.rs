//! intake: registers letters, visits, phone reports and online petitions, keeps the
//! register and the citizen's view, and emits `CaseRegistered`.

pub mod consumer;
pub mod domain;
pub mod notify;
pub mod open311;
pub mod peers;
pub mod routes;
pub mod settings;
pub mod store;
pub mod vault;

use std::sync::Arc;

use xf_app::{Application, ServiceSpec};

pub use settings::{Ext, Settings};

xf_app::service!(name: "intake", port: 8081, required: ["vault.key_file", "vault.pseudonym_key_file"]);

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<consumer::Projection>> {
    let state = routes::State {
        tree: Arc::new(s.ext.jurisdiction.load()?),
        vault: vault::Vault::from_files(&s.ext.vault.key_file, &s.ext.vault.pseudonym_key_file)?,
        limits: routes::PublicLimits {
            citizen: domain::rate::Budget {
                per_minute: s.ext.citizen.rate_per_minute,
            },
            open311: domain::rate::Budget {
                per_minute: s.ext.open311.rate_per_minute,
            },
        },
        citizen: s.ext.citizen.clone(),
        peers: peers::Peers::new(&s.ext.peers)?,
    };
    let parts = Application::<consumer::Projection>::parts(&s)?;
    let webhook = xf_notify::Worker::new(parts.pool.clone(), parts.clock.clone(), &s.ext.webhook)?;
    let handler = Arc::new(consumer::Projection {
        vault: state.vault.clone(),
        outbound: webhook.is_some(),
        clock: parts.clock.clone(),
    });
    let open311 = open311::Open311::load(&s.ext.open311)?;
    let open311_audit = open311.clone();
    let mut spec = ServiceSpec::new(SERVICE, Some(handler), move |cfg| {
        routes::configure(cfg, state.clone());
        open311::configure(cfg, &open311);
    });
    if let Some(w) = webhook {
        spec = spec.with_background(move |cancel| w.run(cancel));
    }
    let app = Application::build(&s, parts, migrator(), spec).await?;
    open311_audit
        .audit_clients(app.pool(), app.clock().now())
        .await?;
    Ok(app)
}
