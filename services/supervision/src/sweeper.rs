//! Fires due timers: warnings before due, the breach at due (which escalates the case
//! one tier up). Timers live in Postgres; each fires exactly once — it is locked with
//! `FOR UPDATE SKIP LOCKED`, marked fired and its events written to the outbox in one
//! transaction, so a crash before commit leaves it to fire after restart and two
//! sweepers never fire the same timer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use xf_app::Clock;
use xf_bus::Outbox;
use xf_events::v1::{CaseEscalated, DeadlineBreached, DeadlineWarning, EscalationReason};
use xf_events::{Payload, Tier, tier_of_code};

use crate::policy;

/// Who resumed a pause that reached its planned end (kept as `resumed_by`).
pub const PLANNED_END: &str = "system:planned-end";

#[derive(Clone)]
pub struct Sweeper {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub clock: Clock,
    /// Timers per transaction.
    pub batch: i64,
}

/// What one sweep fired.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fired {
    pub warnings: u64,
    pub breaches: u64,
    pub escalations: u64,
    pub other: u64,
    /// Pauses ended at their planned end (the clocks run again).
    pub pauses_ended: u64,
}

impl Fired {
    pub fn total(&self) -> u64 {
        self.warnings + self.breaches + self.other + self.pauses_ended
    }
    fn add(&mut self, o: Fired) {
        self.warnings += o.warnings;
        self.breaches += o.breaches;
        self.escalations += o.escalations;
        self.other += o.other;
        self.pauses_ended += o.pauses_ended;
    }
}

/// The tier and code one above `code` (the city level above a county).
fn up(code: &str) -> (Tier, String) {
    match code.len() {
        12 => (Tier::Township, code[..9].to_owned()),
        9 => (Tier::County, code[..6].to_owned()),
        _ => (Tier::City, code.get(..4).unwrap_or(code).to_owned()),
    }
}

impl Sweeper {
    /// Fires what is due now, batch after batch, until nothing is left.
    pub async fn sweep(&self) -> Result<Fired, sqlx::Error> {
        let now = self.clock.now();
        let mut all = Fired {
            pauses_ended: self.end_pauses(now).await?,
            ..Fired::default()
        };
        loop {
            let (f, full) = self.batch_at(now).await?;
            all.add(f);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Resumes the clocks whose pause reached its planned end by `now`, batch after
    /// batch: the time excluded is what was planned (at most what the policy still
    /// allows), however late the sweep, and the timers run again from the new due.
    pub async fn end_pauses(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let mut n = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let ended = crate::clocks::pauses_ended(&mut tx, now, self.batch).await?;
            if ended.is_empty() {
                return Ok(n);
            }
            for (case_id, stage, planned_secs) in ended {
                let Some(c) = crate::clocks::live(&mut tx, case_id, &stage).await? else {
                    continue;
                };
                let max_days = crate::clocks::max_pause_days(&mut tx, &c, &stage).await?;
                let cap = planned_secs.min(max_days * 86_400 - c.paused_secs);
                crate::clocks::resume(&mut tx, &self.outbox, c, PLANNED_END, cap, now).await?;
                n += 1;
            }
            tx.commit().await?;
        }
    }

    /// One transaction: up to `batch` timers due at `now`; true when it fired any.
    pub async fn batch_at(&self, now: DateTime<Utc>) -> Result<(Fired, bool), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT t.id, t.kind, t.days_left, t.fire_at, c.id AS clock_id, c.case_id, c.stage,
                    c.jurisdiction_code, c.unit_id, c.due_at
             FROM timers t JOIN clocks c ON c.id = t.clock_id
             WHERE t.fired_at IS NULL AND NOT t.cancelled AND t.fire_at <= $1
               AND c.state IN ('running', 'breached')
             ORDER BY t.fire_at, t.id LIMIT $2
             FOR UPDATE OF t SKIP LOCKED",
        )
        .bind(now)
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        // Another sweeper may hold some due timers (skipped): keep going until a batch
        // finds nothing left.
        let full = !rows.is_empty();
        let mut fired = Fired::default();
        let mut ids = Vec::with_capacity(rows.len());
        let mut breached = Vec::new();
        let mut events = Vec::with_capacity(rows.len() * 2);
        for r in &rows {
            ids.push(r.get::<i64, _>("id"));
            let case_id: Uuid = r.get("case_id");
            let stage: String = r.get("stage");
            let code: String = r.get("jurisdiction_code");
            let unit: Option<String> = r.get("unit_id");
            let due_at: DateTime<Utc> = r.get("due_at");
            let fire_at: DateTime<Utc> = r.get("fire_at");
            let stage_code = policy::stage_code(&stage) as i32;
            let tier = tier_of_code(&code);
            let env =
                |p: Payload| xf_events::envelope(case_id, crate::SERVICE, tier, &code, fire_at, p);
            match r.get::<&str, _>("kind") {
                "warning" => {
                    let days = u32::try_from(r.get::<i32, _>("days_left")).unwrap_or(0);
                    events.push(env(Payload::DeadlineWarning(DeadlineWarning {
                        stage: stage_code,
                        due_at: Some(xf_events::timestamp(due_at)),
                        days_left: days,
                    })));
                    fired.warnings += 1;
                }
                "breach" => {
                    breached.push(r.get::<i64, _>("clock_id"));
                    events.push(env(Payload::DeadlineBreached(DeadlineBreached {
                        stage: stage_code,
                        due_at: Some(xf_events::timestamp(due_at)),
                        unit_id: unit.clone().unwrap_or_default(),
                    })));
                    fired.breaches += 1;
                    if policy::escalates(&stage) {
                        // R19: the tier above takes the case (routing re-dispatches).
                        let (to_tier, to_code) = up(&code);
                        events.push(env(Payload::CaseEscalated(CaseEscalated {
                            reason: EscalationReason::Overdue as i32,
                            from_tier: tier as i32,
                            from_jurisdiction_code: code.clone(),
                            to_tier: to_tier as i32,
                            to_jurisdiction_code: to_code,
                            stage: stage_code,
                            from_unit_id: unit.clone().unwrap_or_default(),
                        })));
                        fired.escalations += 1;
                    }
                }
                _ => fired.other += 1,
            }
        }
        self.outbox.put_many(&mut tx, &events).await?;
        if !ids.is_empty() {
            sqlx::query("UPDATE timers SET fired_at = $2 WHERE id = ANY($1)")
                .bind(&ids)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        if !breached.is_empty() {
            sqlx::query(
                "UPDATE clocks SET state = 'breached', breached_at = COALESCE(breached_at, due_at)
                 WHERE id = ANY($1) AND state = 'running'",
            )
            .bind(&breached)
            .execute(&mut *tx)
            .await?;
        }
        fired.other += crate::oversight::sweep(&mut tx, now, &self.outbox).await?;
        tx.commit().await?;
        Ok((fired, full))
    }

    /// Sweeps every `interval` until `cancel` fires.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.sweep().await {
                Ok(f) if f.total() > 0 => tracing::info!(
                    warnings = f.warnings,
                    breaches = f.breaches,
                    escalations = f.escalations,
                    pauses_ended = f.pauses_ended,
                    "deadline timers fired"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed; retrying"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
