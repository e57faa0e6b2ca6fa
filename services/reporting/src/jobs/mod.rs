//! reporting's background work: the monthly report on the first working day of each
//! month (exactly once across replicas), the hotspot scan and the archive sweep.

pub mod hotspots;
pub mod monthly;

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use xf_app::Clock;
use xf_bus::Outbox;

/// What the jobs share.
#[derive(Clone)]
pub struct Jobs {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub clock: Clock,
    /// Closed cases older than this many days are marked archived.
    pub archive_after_days: i64,
    /// Smallest count an EARS alarm needs.
    pub min_count: i64,
}

impl Jobs {
    /// Every `interval`: the monthly report if due, the hotspot scan, the archive sweep.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        loop {
            if let Err(e) = monthly::run_due(&self).await {
                tracing::warn!(error = %e, "monthly report run failed");
            }
            if let Err(e) = hotspots::scan(&self, self.clock.now()).await {
                tracing::warn!(error = %e, "hotspot scan failed");
            }
            if let Err(e) = self.archive().await {
                tracing::warn!(error = %e, "archive sweep failed");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Marks closed cases older than the archive age as archived; their ledger stays.
    pub async fn archive(&self) -> Result<u64, sqlx::Error> {
        self.archive_in("").await
    }

    /// [`Jobs::archive`] for the cases that arose under `scope`.
    pub async fn archive_in(&self, scope: &str) -> Result<u64, sqlx::Error> {
        let before = self.clock.now() - chrono::Duration::days(self.archive_after_days);
        Ok(sqlx::query(
            "UPDATE case_facts SET archived_at = $2
             WHERE archived_at IS NULL AND status = 'closed' AND closed_at < $1
               AND matter_code LIKE $3 || '%'",
        )
        .bind(before)
        .bind(self.clock.now())
        .bind(scope)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
