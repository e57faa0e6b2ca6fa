//! Fires due timers: warnings before due, the breach at due (which escalates the case
//! one tier up). Timers live in Postgres; each fires exactly once — it is locked with
//! `FOR UPDATE SKIP LOCKED`, marked fired and its events written to the outbox in one
//! transaction, so a crash before commit leaves it to fire after restart and two
//! sweepers never fire the same timer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use xf_app::Clock;
use xf_bus::Outbox;
use xf_events::v1::{CaseEscalated, DeadlineBreached, DeadlineWarning, EscalationReason};
use xf_events::{Payload, Tier, tier_of_code};

use crate::clocks::{self, Refused};
use crate::domain::clock::{self as rules, ClockState, Command, Effect, TimerKind};
use crate::policy;
use crate::store::clocks as store;

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
            let ended = store::pauses_ended(&mut tx, now, self.batch).await?;
            if ended.is_empty() {
                return Ok(n);
            }
            for p in ended {
                let Some(c) = clocks::live(&mut tx, p.case_id, &p.stage).await? else {
                    continue;
                };
                let max_days = clocks::max_pause_days(&mut tx, &c, &p.stage).await?;
                let cap = p.planned_secs.min(max_days * 86_400 - c.paused_secs);
                match clocks::resume(&mut tx, &self.outbox, c, PLANNED_END, cap, now).await {
                    Ok(_) => n += 1,
                    Err(Refused::Db(e)) => return Err(e),
                    Err(Refused::Domain(why)) => {
                        tracing::warn!(case_id = %p.case_id, stage = %p.stage, %why, "planned end not applied");
                    }
                }
            }
            tx.commit().await?;
        }
    }

    /// One transaction: up to `batch` timers due at `now`; true when it fired any.
    pub async fn batch_at(&self, now: DateTime<Utc>) -> Result<(Fired, bool), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows = store::due_timers(&mut tx, now, self.batch).await?;
        // Another sweeper may hold some due timers (skipped): keep going until a batch
        // finds nothing left.
        let full = !rows.is_empty();
        let mut fired = Fired::default();
        let mut ids = Vec::with_capacity(rows.len());
        let mut breached = Vec::new();
        let mut events = Vec::with_capacity(rows.len() * 2);
        for r in &rows {
            ids.push(r.id);
            let (case_id, stage, code) = (r.case_id, &r.stage, &r.jurisdiction_code);
            let (unit, due_at, fire_at) = (&r.unit_id, r.due_at, r.fire_at);
            let stage_code = policy::stage_code(stage) as i32;
            let tier = tier_of_code(code);
            let env =
                |p: Payload| xf_events::envelope(case_id, crate::SERVICE, tier, code, fire_at, p);
            match TimerKind::parse(&r.kind) {
                Some(TimerKind::Warning) => {
                    let days = u32::try_from(r.days_left).unwrap_or(0);
                    events.push(env(Payload::DeadlineWarning(DeadlineWarning {
                        stage: stage_code,
                        due_at: Some(xf_events::timestamp(due_at)),
                        days_left: days,
                    })));
                    fired.warnings += 1;
                }
                Some(TimerKind::Breach) => {
                    // The query selects only clocks that accept `Breach`; a running one
                    // turns breached, a breached one stays so.
                    let state = ClockState::parse(&r.state).unwrap_or(ClockState::Stopped);
                    let Ok((to, effects)) = rules::apply(state, Command::Breach) else {
                        fired.other += 1;
                        continue;
                    };
                    if to != state {
                        breached.push(r.clock_id);
                    }
                    if !effects.contains(&Effect::EmitBreached) {
                        continue;
                    }
                    events.push(env(Payload::DeadlineBreached(DeadlineBreached {
                        stage: stage_code,
                        due_at: Some(xf_events::timestamp(due_at)),
                        unit_id: unit.clone().unwrap_or_default(),
                    })));
                    fired.breaches += 1;
                    if policy::escalates(stage) {
                        // R19: the tier above takes the case (routing re-dispatches).
                        let (to_tier, to_code) = xf_events::above(code);
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
                None => fired.other += 1,
            }
        }
        self.outbox.put_many(&mut tx, &events).await?;
        if !ids.is_empty() {
            store::mark_fired(&mut tx, &ids, now).await?;
        }
        if !breached.is_empty() {
            store::mark_breached(&mut tx, &breached).await?;
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

/// The code and tier one level up from `code` (a county goes to its city).
fn parent_of(code: &str) -> Option<(Tier, String)> {
    xf_jurisdiction::Code::parse(code).ok()?;
    Some(xf_events::above(code))
}

/// Marks cards past their deadline overdue and escalates their cases
/// (`domain::card::Command::MarkOverdue`): each card once, even with several sweepers
/// (rows another sweeper holds are skipped, and a row it marked no longer matches).
/// The caller commits.
pub async fn cards_overdue(
    tx: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
    outbox: &Outbox,
) -> Result<u64, sqlx::Error> {
    use crate::store::cards;
    let mut fired = 0u64;
    for r in cards::overdue(tx, now).await? {
        if !cards::mark_overdue(tx, r.id, now).await? {
            continue;
        }
        let code = r.jurisdiction_code;
        cards::history(
            tx,
            r.id,
            now,
            "overdue",
            "system",
            serde_json::json!({"due_at": r.due_at, "escalated_from": code}),
        )
        .await?;
        // `MarkOverdue` on an open card (the only states the store selects, checked
        // by its tests): escalate its case.
        let from_tier = crate::oversight::tier_of(&code);
        let (to_tier, to_code) = parent_of(&code).unwrap_or((Tier::Unspecified, String::new()));
        let env = xf_events::envelope(
            r.case_id,
            crate::SERVICE,
            from_tier,
            &code,
            now,
            Payload::CaseEscalated(CaseEscalated {
                reason: EscalationReason::CardOverdue as i32,
                from_tier: from_tier as i32,
                from_jurisdiction_code: code.clone(),
                to_tier: to_tier as i32,
                to_jurisdiction_code: to_code,
                stage: xf_events::v1::Stage::Card as i32,
                from_unit_id: r.undertaking_unit_id,
            }),
        );
        outbox.put(tx, &env).await?;
        fired += 1;
    }
    Ok(fired)
}
