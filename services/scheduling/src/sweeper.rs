//! Marks follow-up visits past due as overdue, once each: locked with `SKIP LOCKED`,
//! marked and their `FollowUpOverdue` events written to the outbox in one transaction.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use xf_app::Clock;
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::FollowUpOverdue;

use crate::store;

#[derive(Clone)]
pub struct Sweeper {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub clock: Clock,
    pub batch: i64,
}

impl Sweeper {
    /// Marks everything past due now; returns how many.
    pub async fn sweep(&self) -> Result<u64, sqlx::Error> {
        let now = self.clock.now();
        let mut total = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let rows = store::follow_ups::take_overdue(&mut tx, now, self.batch).await?;
            if rows.is_empty() {
                return Ok(total);
            }
            let events: Vec<_> = rows
                .iter()
                .map(|f| {
                    xf_events::envelope(
                        f.case_id,
                        crate::SERVICE,
                        xf_events::tier_of_code(&f.jurisdiction_code),
                        &f.jurisdiction_code,
                        f.due_at,
                        Payload::FollowUpOverdue(FollowUpOverdue {
                            visit_id: f.id.to_string(),
                            due_at: Some(xf_events::timestamp(f.due_at)),
                            office_id: f.office_id.clone().unwrap_or_default(),
                            assignee_id: f.assignee.clone().unwrap_or_default(),
                        }),
                    )
                })
                .collect();
            self.outbox.put_many(&mut tx, &events).await?;
            tx.commit().await?;
            total += rows.len() as u64;
        }
    }

    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.sweep().await {
                Ok(n) if n > 0 => tracing::info!(overdue = n, "follow-up visits overdue"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "follow-up sweep failed; retrying"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
