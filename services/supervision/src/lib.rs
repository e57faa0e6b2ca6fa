//! supervision: keeps the deadline clock of every case stage, warns, records breaches
//! and escalates up the tiers.

pub mod deadline;
pub mod handler;
pub mod routes;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

xf_app::service!(name: "supervision", port: 8083, required: []);
pub type Settings = xf_app::Settings<Ext>;

/// supervision's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub deadlines: DeadlineSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSettings {
    pub acceptance_days: u32,
    pub handling_days: u32,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !(1..=365).contains(&self.deadlines.acceptance_days) {
            p.push((
                "deadlines.acceptance_days".into(),
                "must be 1 to 365".into(),
            ));
        }
        if !(1..=365).contains(&self.deadlines.handling_days) {
            p.push(("deadlines.handling_days".into(), "must be 1 to 365".into()));
        }
        p
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Clocks>> {
    let parts = Application::<handler::Clocks>::parts(&s)?;
    let handler = Arc::new(handler::Clocks {
        settings: s.ext.deadlines.clone(),
        outbox: parts.outbox.clone(),
    });
    let spec = ServiceSpec::new(SERVICE, Some(handler), routes::configure);
    Application::build(&s, parts, migrator(), spec).await
}
