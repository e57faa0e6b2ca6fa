//! The Kafka side: starts, stops and moves clocks as cases move (event → clock
//! command); oversight records (moves, cards, accountability) and notices see every
//! event too.

use sqlx::PgConnection;
use xf_app::Clock;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{Stage, Tier};
use xf_events::{Event, Payload};

use crate::clocks::{self, Start};
use crate::domain::clock as rules;
use crate::policy;
use crate::store::clocks as store;

pub struct Consumer {
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

impl Handler for Consumer {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        crate::oversight::on_event(tx, ev, &self.outbox, self.clock.now()).await?;
        crate::notices::on_event(tx, ev, self.outbound, self.clock.now()).await?;
        let at = ev.occurred_at;
        let case_id = ev.case_id;
        let code = ev.envelope.jurisdiction_code.as_str();
        match ev.payload() {
            Some(Payload::CaseTransferred(t)) => {
                store::insert_transfer(
                    tx,
                    ev.event_id,
                    case_id,
                    at,
                    &t.from_unit_id,
                    &t.to_unit_id,
                )
                .await?;
                Ok(())
            }
            Some(Payload::CaseDispatched(d)) if store::transferred_at(tx, case_id, at).await? => {
                // A transfer (退单/改派) hands the live clocks to the new unit
                // (`Command::Transfer`): the case keeps its age and its deadlines.
                store::reassign(tx, case_id, &d.unit_id, WORK.map(str::to_owned).to_vec()).await?;
                Ok(())
            }
            Some(Payload::CaseDispatched(d)) => {
                clocks::stop(tx, case_id, Some(&WORK), at).await?;
                if d.tier == Tier::City as i32 {
                    // Handed to the city level: its clocks are kept there.
                    return Ok(());
                }
                let level = i16::try_from(d.review_level).unwrap_or(0);
                let stage = rules::dispatch_stage(level);
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
                if level == 0
                    && store::count_stages(tx, case_id, &["quick_reply", "handling"]).await? == 0
                {
                    clocks::start(tx, &self.outbox, start("quick_reply")).await?;
                }
                Ok(())
            }
            Some(Payload::CaseAccepted(a)) => {
                clocks::stop(tx, case_id, Some(&["acceptance"]), at).await?;
                if store::any_live(tx, case_id, &["review", "rereview"], None).await? {
                    // In review or re-review: its acceptance starts no handling.
                    return Ok(());
                }
                if store::any_live(tx, case_id, &["handling"], Some(0)).await? {
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
                if let Err(why) = rules::extension(c.extended_days, days, max) {
                    // Routing allows one extension of at most 30 days; refuse anything else.
                    tracing::warn!(case_id = %case_id, days, max, %why, "extension refused by policy");
                    return Ok(());
                }
                match clocks::recompute(tx, &self.outbox, &c, days, c.paused_secs, at).await {
                    Ok(_) => Ok(()),
                    Err(clocks::Refused::Db(e)) => Err(e.into()),
                    Err(clocks::Refused::Domain(why)) => {
                        tracing::warn!(case_id = %case_id, %why, "extension refused");
                        Ok(())
                    }
                }
            }
            Some(Payload::ReplyIssued(r)) => {
                let level = store::max_review_level(tx, case_id).await?;
                clocks::stop(tx, case_id, Some(&WORK), at).await?;
                let Some(window) = rules::reply_window(level.unwrap_or(0)) else {
                    return Ok(());
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

/// Records a follow-up visit past due as a breached `follow_up` clock (the running or
/// paused one, `Command::Overdue`, or a new one) and emits `DeadlineBreached` once.
async fn follow_up_breached(
    tx: &mut PgConnection,
    outbox: &Outbox,
    ev: &Event,
    due: chrono::DateTime<chrono::Utc>,
    office: &str,
) -> Result<(), sqlx::Error> {
    let code = ev.envelope.jurisdiction_code.as_str();
    let fresh = match store::breach_follow_up(tx, ev.case_id, due).await? {
        Some(id) => {
            store::cancel_timers(tx, id).await?;
            true
        }
        None => store::insert_breached_follow_up(tx, ev.case_id, code, office, due).await?,
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
