//! scheduling: reception rules and calendars (monthly, weekly, rotations, lunar 3/6/9,
//! holidays), annual plans, the published schedule (JSON and iCalendar), swaps, duty
//! rosters and logs, appointments (约访) and follow-up visits (回访).

pub mod consumer;
pub mod domain;
pub mod fixture;
pub mod routes;
pub mod store;
pub mod sweeper;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
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
    /// Hours until a follow-up is due where no office covers the case.
    pub default_hours: i32,
    pub sweep_interval_ms: u64,
    pub sweep_batch: u32,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !(1..=720).contains(&self.follow_up.default_hours) {
            p.push((
                "follow_up.default_hours".into(),
                "must be 1 to 720 (30 days)".into(),
            ));
        }
        if !(10..=3_600_000).contains(&self.follow_up.sweep_interval_ms) {
            p.push((
                "follow_up.sweep_interval_ms".into(),
                "must be 10 to 3600000".into(),
            ));
        }
        if !(1..=100_000).contains(&self.follow_up.sweep_batch) {
            p.push(("follow_up.sweep_batch".into(), "must be 1 to 100000".into()));
        }
        p
    }
}

/// Builds the service: migrations applied, port bound, nothing running yet.
pub async fn build(s: Settings) -> anyhow::Result<Application<consumer::Consumer>> {
    let parts = Application::<consumer::Consumer>::parts(&s)?;
    let handler = Arc::new(consumer::Consumer {
        outbox: parts.outbox.clone(),
        default_follow_up_hours: s.ext.follow_up.default_hours,
    });
    let sweeper = sweeper::Sweeper {
        pool: parts.pool.clone(),
        outbox: parts.outbox.clone(),
        clock: parts.clock.clone(),
        batch: i64::from(s.ext.follow_up.sweep_batch),
    };
    let background = sweeper.clone();
    let feeds = web::Data::new(routes::FeedCache::default());
    let interval = Duration::from_millis(s.ext.follow_up.sweep_interval_ms);
    let spec = ServiceSpec::new(
        SERVICE,
        Some(handler),
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::new(sweeper.clone()))
                .app_data(feeds.clone());
            routes::configure(cfg);
        },
    )
    .with_background(move |cancel| background.run(interval, cancel));
    Application::build(&s, parts, migrator(), spec).await
}
