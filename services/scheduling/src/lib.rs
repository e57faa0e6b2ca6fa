//! scheduling: reception calendars, duty rosters, appointments and follow-up visits.

pub mod handler;
pub mod routes;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

xf_app::service!(name: "scheduling", port: 8084, required: []);
pub type Settings = xf_app::Settings<Ext>;

/// scheduling's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub follow_up: FollowUpSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpSettings {
    pub days_after_closure: u32,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        if !(1..=7).contains(&self.follow_up.days_after_closure) {
            return vec![(
                "follow_up.days_after_closure".into(),
                "must be 1 to 7 (a follow-up visit within a week)".into(),
            )];
        }
        Vec::new()
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<handler::Calendar>> {
    let parts = Application::<handler::Calendar>::parts(&s)?;
    let handler = Arc::new(handler::Calendar {
        outbox: parts.outbox.clone(),
        follow_up_days: s.ext.follow_up.days_after_closure,
    });
    let spec = ServiceSpec::new(SERVICE, Some(handler), routes::configure);
    Application::build(&s, parts, migrator(), spec).await
}
