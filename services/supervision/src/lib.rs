//! supervision: keeps the deadline clock of every case stage by policies kept as data,
//! warns before due, records breaches and escalates up the tiers; supervision cards,
//! leader case ownership, the cross-level monitor and accountability.

pub mod clocks;
pub mod domain;
/// Deadline arithmetic and the holiday calendar, shared with scheduling.
pub use xf_calendar as deadline;
pub mod consumer;
pub mod notices;
pub mod oversight;
pub mod policy;
pub mod routes;
pub mod store;
pub mod sweeper;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

xf_app::service!(name: "supervision", port: 8083, required: []);
pub type Settings = xf_app::Settings<Ext>;

/// supervision's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub sweeper: SweeperSettings,
    /// Outbound notices (the signed webhook); off while `url` is empty.
    #[serde(default)]
    pub webhook: xf_notify::WebhookSettings,
}

/// The timer sweeper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweeperSettings {
    /// Milliseconds between sweeps.
    pub interval_ms: u64,
    /// Timers fired per transaction.
    pub batch: u32,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !(10..=3_600_000).contains(&self.sweeper.interval_ms) {
            p.push(("sweeper.interval_ms".into(), "must be 10 to 3600000".into()));
        }
        if !(1..=100_000).contains(&self.sweeper.batch) {
            p.push(("sweeper.batch".into(), "must be 1 to 100000".into()));
        }
        p.extend(self.webhook.problems("webhook"));
        p
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<consumer::Consumer>> {
    let parts = Application::<consumer::Consumer>::parts(&s)?;
    let webhook = xf_notify::Worker::new(parts.pool.clone(), parts.clock.clone(), &s.ext.webhook)?;
    let handler = Arc::new(consumer::Consumer {
        outbox: parts.outbox.clone(),
        clock: parts.clock.clone(),
        outbound: webhook.is_some(),
    });
    let sweeper = sweeper::Sweeper {
        pool: parts.pool.clone(),
        outbox: parts.outbox.clone(),
        clock: parts.clock.clone(),
        batch: i64::from(s.ext.sweeper.batch),
    };
    let interval = Duration::from_millis(s.ext.sweeper.interval_ms);
    let background = sweeper.clone();
    let spec = ServiceSpec::new(
        SERVICE,
        Some(handler),
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::new(sweeper.clone()));
            routes::configure(cfg);
        },
    )
    .with_background(move |cancel| async move {
        let deliveries = async {
            if let Some(w) = webhook {
                w.run(cancel.clone()).await;
            }
        };
        tokio::join!(background.run(interval, cancel.clone()), deliveries);
    });
    Application::build(&s, parts, migrator(), spec).await
}
