//! reporting: read models folded from every case event — an append-only ledger, each
//! case's facts and its path over the tiers — and what is built on them: statistics,
//! dashboard panels, the monthly report, unit assessment, hotspot warnings and the
//! resolution ledger.

pub mod consumer;
pub mod domain;
pub mod export;
pub mod jobs;
pub mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use serde::{Deserialize, Serialize};
use xf_app::{Application, ServiceSpec};

xf_app::service!(name: "reporting", port: 8085, required: []);
pub type Settings = xf_app::Settings<Ext>;

/// reporting's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub jobs: JobSettings,
}

/// The background jobs (monthly report, hotspot scan, archive).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Milliseconds between runs.
    pub interval_ms: u64,
    /// Closed cases older than this many days are archived.
    pub archive_after_days: i64,
    /// Smallest count an EARS C2 alarm or a scan cluster needs.
    pub hotspot_min_count: i64,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !(10..=86_400_000).contains(&self.jobs.interval_ms) {
            p.push(("jobs.interval_ms".into(), "must be 10 to 86400000".into()));
        }
        if !(1..=36_500).contains(&self.jobs.archive_after_days) {
            p.push((
                "jobs.archive_after_days".into(),
                "must be 1 to 36500".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.jobs.hotspot_min_count) {
            p.push((
                "jobs.hotspot_min_count".into(),
                "must be 1 to 1000000".into(),
            ));
        }
        p
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<consumer::Facts>> {
    let parts = Application::<consumer::Facts>::parts(&s)?;
    let jobs = jobs::Jobs {
        pool: parts.pool.clone(),
        outbox: parts.outbox.clone(),
        clock: parts.clock.clone(),
        archive_after_days: s.ext.jobs.archive_after_days,
        min_count: s.ext.jobs.hotspot_min_count,
    };
    let interval = Duration::from_millis(s.ext.jobs.interval_ms);
    let background = jobs.clone();
    let spec = ServiceSpec::new(
        SERVICE,
        Some(Arc::new(consumer::Facts)),
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::new(jobs.clone()));
            routes::configure(cfg);
        },
    )
    .with_background(move |cancel| background.run(interval, cancel));
    Application::build(&s, parts, migrator(), spec).await
}
