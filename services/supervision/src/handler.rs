//! Starts, stops and moves clocks as cases move; oversight records (moves, cards,
//! accountability) see every event too.

use sqlx::PgConnection;
use xf_app::Clock;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{Stage, Tier};
use xf_events::{Event, Payload};

use crate::clocks::{self, Start};
use crate::policy;

pub struct Clocks {
    pub outbox: Outbox,
    pub clock: Clock,
    /// Whether notices are also delivered by the webhook.
    pub outbound: bool,
}

/// Stages a unit's work runs under; a new dispatch stops them.
const WORK: [&str; 6] = [
    "acceptance",
    "handling",
    "review",
    "rereview",
    "quick_reply",
    "progress_notice",
];

/// What closing a case stops: the work and the report back to a superior body.
const CLOSING: [&str; 7] = [
    "acceptance",
    "handling",
    "review",
    "rereview",
    "quick_reply",
    "progress_notice",
    "superior_report",
];

impl Handler for Clocks {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        crate::oversight::on_event(tx, ev, &self.outbox, self.clock.now()).await?;
        crate::notices::on_event(tx, ev, self.outbound, self.clock.now()).await?;
        let at = ev.occurred_at;
        let case_id = ev.case_id;
        let code = ev.envelope.jurisdiction_code.as_str();
        match ev.payload() {
            Some(Payload::CaseTransferred(t)) => {
                sqlx::query(
                    "INSERT INTO transfers (event_id, case_id, at, from_unit, to_unit)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(ev.event_id)
                .bind(case_id)
                .bind(at)
                .bind(&t.from_unit_id)
                .bind(&t.to_unit_id)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            Some(Payload::CaseDispatched(d)) if transferred_now(tx, ev).await? => {
                // A transfer (退单/改派) hands the running clocks to the new unit: the
                // case keeps its age and its deadlines.
                sqlx::query(
                    "UPDATE clocks SET unit_id = $2
                     WHERE case_id = $1 AND state IN ('running', 'paused', 'breached')
                       AND stage = ANY($3)",
                )
                .bind(case_id)
                .bind(&d.unit_id)
                .bind(WORK.map(str::to_owned).to_vec())
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            Some(Payload::CaseDispatched(d)) => {
                clocks::stop(tx, case_id, Some(&WORK), at).await?;
                if d.tier == Tier::City as i32 {
                    // Handed to the city level: its clocks are kept there.
                    return Ok(());
                }
                let level = i16::try_from(d.review_level).unwrap_or(0);
                let stage = match level {
                    0 => "acceptance",
                    1 => "review",
                    _ => "rereview",
                };
                let code = if d.jurisdiction_code.is_empty() {
                    code
                } else {
                    d.jurisdiction_code.as_str()
                };
                let start = |stage| Start {
                    case_id,
                    stage,
                    code,
                    unit: &d.unit_id,
                    at,
                    review_level: level,
                };
                clocks::start(tx, &self.outbox, start(stage)).await?;
                if let Some(due) = xf_events::from_timestamp(d.superior_due_at.as_ref()) {
                    // 上级交办: the result is due back to the superior body.
                    clocks::start_fixed(tx, &self.outbox, start("superior_report"), due).await?;
                }
                if level == 0 && first_dispatch(tx, ev).await? {
                    clocks::start(tx, &self.outbox, start("quick_reply")).await?;
                }
                Ok(())
            }
            Some(Payload::CaseAccepted(a)) => {
                clocks::stop(tx, case_id, Some(&["acceptance"]), at).await?;
                if under_review(tx, ev).await? {
                    return Ok(());
                }
                if handling_runs(tx, ev).await? {
                    // Accepted again after a transfer: the handling clock runs on.
                    return Ok(());
                }
                for stage in ["handling", "progress_notice"] {
                    clocks::start(
                        tx,
                        &self.outbox,
                        Start {
                            case_id,
                            stage,
                            code,
                            unit: &a.unit_id,
                            at,
                            review_level: 0,
                        },
                    )
                    .await?;
                }
                Ok(())
            }
            Some(Payload::DeadlineExtended(e)) => {
                let Some(c) = clocks::live(tx, case_id, "handling").await? else {
                    tracing::warn!(case_id = %case_id, "extension without a live handling clock");
                    return Ok(());
                };
                let max = policy::resolve(tx, &c.code, c.started_at, "handling")
                    .await?
                    .and_then(|r| r.spec.max_extension_days)
                    .unwrap_or(30);
                let days = i64::from(e.days);
                if c.extended_days > 0 || days < 1 || days > max {
                    // Routing allows one extension of at most 30 days; refuse anything else.
                    tracing::warn!(case_id = %case_id, days, max, "extension refused by policy");
                    return Ok(());
                }
                clocks::recompute(
                    tx,
                    &self.outbox,
                    case_id,
                    "handling",
                    &c,
                    days,
                    c.paused_secs,
                    at,
                )
                .await?;
                Ok(())
            }
            Some(Payload::ReplyIssued(r)) => {
                let level: Option<i16> =
                    sqlx::query_scalar("SELECT max(review_level) FROM clocks WHERE case_id = $1")
                        .bind(case_id)
                        .fetch_one(&mut *tx)
                        .await?;
                clocks::stop(tx, case_id, Some(&WORK), at).await?;
                let window = match level.unwrap_or(0) {
                    0 => "review_window",
                    1 => "rereview_window",
                    _ => return Ok(()),
                };
                clocks::start(
                    tx,
                    &self.outbox,
                    Start {
                        case_id,
                        stage: window,
                        code,
                        unit: &r.unit_id,
                        at,
                        review_level: level.unwrap_or(0),
                    },
                )
                .await?;
                Ok(())
            }
            Some(Payload::ReviewRequested(_)) => {
                clocks::stop(tx, case_id, Some(&["review_window", "rereview_window"]), at).await?;
                Ok(())
            }
            Some(Payload::CaseNotAccepted(_)) => {
                clocks::stop(tx, case_id, None, at).await?;
                Ok(())
            }
            Some(Payload::CaseClosed(c)) => {
                // Closing also reports the result back to a superior body (上级交办).
                clocks::stop(tx, case_id, Some(&CLOSING), at).await?;
                if !c.not_accepted && !c.answered_on_spot {
                    // The follow-up visit (回访), where a policy times it.
                    clocks::start(
                        tx,
                        &self.outbox,
                        Start {
                            case_id,
                            stage: "follow_up",
                            code,
                            unit: &c.unit_id,
                            at,
                            review_level: 0,
                        },
                    )
                    .await?;
                }
                Ok(())
            }
            Some(Payload::FollowUpCompleted(_)) => {
                clocks::stop(tx, case_id, Some(&["follow_up"]), at).await?;
                Ok(())
            }
            Some(Payload::FollowUpOverdue(o)) => {
                // Scheduling's follow-up visit is past due: a breach like any other.
                let due = xf_events::from_timestamp(o.due_at.as_ref()).unwrap_or(at);
                follow_up_breached(tx, &self.outbox, ev, due, &o.office_id).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Records a follow-up visit past due as a breached `follow_up` clock (the running one,
/// where a policy times it, or a new one) and emits `DeadlineBreached` once.
async fn follow_up_breached(
    tx: &mut PgConnection,
    outbox: &Outbox,
    ev: &Event,
    due: chrono::DateTime<chrono::Utc>,
    office: &str,
) -> Result<(), sqlx::Error> {
    let code = ev.envelope.jurisdiction_code.as_str();
    let running: Option<i64> = sqlx::query_scalar(
        "UPDATE clocks SET state = 'breached', breached_at = COALESCE(breached_at, $2)
         WHERE case_id = $1 AND stage = 'follow_up' AND state IN ('running', 'paused') RETURNING id",
    )
    .bind(ev.case_id)
    .bind(due)
    .fetch_optional(&mut *tx)
    .await?;
    let fresh = match running {
        Some(id) => {
            sqlx::query("UPDATE timers SET cancelled = TRUE WHERE clock_id = $1 AND fired_at IS NULL")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            true
        }
        None => sqlx::query_scalar::<_, i64>(
            "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
                 state, period_days, policy, breached_at, trace_id)
             SELECT $1, 'follow_up', $2, $3, NULLIF($4, ''), $5, $5, 'breached', 0, 'scheduling', $5, $6
             WHERE NOT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = 'follow_up' AND state = 'breached')
             ON CONFLICT (case_id, stage, started_at) DO NOTHING RETURNING id",
        )
        .bind(ev.case_id)
        .bind(xf_events::tier_name(xf_events::tier_of_code(code)))
        .bind(code)
        .bind(office)
        .bind(due)
        .bind(xf_telemetry::current_trace_id())
        .fetch_optional(&mut *tx)
        .await?
        .is_some(),
    };
    if fresh {
        let env = xf_events::envelope(
            ev.case_id,
            crate::SERVICE,
            xf_events::tier_of_code(code),
            code,
            ev.occurred_at,
            Payload::DeadlineBreached(xf_events::v1::DeadlineBreached {
                stage: Stage::FollowUp as i32,
                due_at: Some(xf_events::timestamp(due)),
                unit_id: office.to_owned(),
            }),
        );
        outbox.put(tx, &env).await?;
    }
    Ok(())
}

/// True when this dispatch is the second half of a transfer (the `CaseTransferred`
/// of the same moment came first).
async fn transferred_now(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM transfers WHERE case_id = $1 AND at = $2)")
        .bind(ev.case_id)
        .bind(ev.occurred_at)
        .fetch_one(&mut *tx)
        .await
}

/// True when the case's handling clock is still live (kept through a transfer).
async fn handling_runs(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM clocks WHERE case_id = $1 AND stage = 'handling'
             AND review_level = 0 AND state IN ('running', 'paused', 'breached'))",
    )
    .bind(ev.case_id)
    .fetch_one(&mut *tx)
    .await
}

/// True when no quick-reply clock was ever started for the case.
async fn first_dispatch(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clocks WHERE case_id = $1 AND stage IN ('quick_reply', 'handling')",
    )
    .bind(ev.case_id)
    .fetch_one(tx)
    .await?;
    Ok(n == 0)
}

/// True when the case is in review or re-review (its acceptance starts no handling).
async fn under_review(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clocks WHERE case_id = $1 AND stage IN ('review', 'rereview')
           AND state IN ('running', 'paused', 'breached')",
    )
    .bind(ev.case_id)
    .fetch_one(tx)
    .await?;
    Ok(n > 0)
}
