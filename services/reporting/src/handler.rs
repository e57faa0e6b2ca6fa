//! Folds every case event into `case_facts`.

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler};
use xf_events::v1::{Channel, EscalationReason};
use xf_events::{Event, Payload};

pub struct Facts;

fn channel_name(c: i32) -> &'static str {
    match Channel::try_from(c) {
        Ok(Channel::Letter) => "letter",
        Ok(Channel::Visit) => "visit",
        Ok(Channel::Phone) => "phone",
        Ok(Channel::Online) => "online",
        _ => "unspecified",
    }
}

/// The status an event leaves a case in, if it changes it.
fn status_after(p: &Payload) -> Option<&'static str> {
    Some(match p {
        Payload::CaseRegistered(_) => "registered",
        Payload::CaseDispatched(_) => "dispatched",
        Payload::CaseAccepted(_) => "accepted",
        Payload::CaseNotAccepted(_) => "not_accepted",
        Payload::CaseTransferred(_) => "dispatched",
        Payload::ReplyIssued(_) => "replied",
        Payload::CaseClosed(_) => "closed",
        // A skip-level notice (filed above the competent tier) moves nothing.
        Payload::CaseEscalated(e) if e.reason == EscalationReason::SkipLevel as i32 => return None,
        Payload::CaseEscalated(_) => "escalated",
        Payload::DuplicateLinked(_) => "linked",
        Payload::ReviewRequested(_) => "review_requested",
        _ => return None,
    })
}

impl Handler for Facts {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        let Some(p) = ev.payload() else { return Ok(()) };
        let tier = xf_events::tier_name(ev.tier());
        let code = &ev.envelope.jurisdiction_code;
        match p {
            Payload::CaseRegistered(r) => {
                sqlx::query(
                    "INSERT INTO case_facts (case_id, registration_no, category, channel, tier,
                         jurisdiction_code, status, registered_at, updated_at, events, trace_id,
                         excluded_unit_id)
                     VALUES ($1, $2, $3, $4, $5, $6, 'registered', $7, $7, 1, $8, $9)
                     ON CONFLICT (case_id) DO UPDATE SET registration_no = EXCLUDED.registration_no,
                         category = EXCLUDED.category, channel = EXCLUDED.channel,
                         excluded_unit_id = EXCLUDED.excluded_unit_id,
                         registered_at = EXCLUDED.registered_at, events = case_facts.events + 1,
                         trace_id = COALESCE(case_facts.trace_id, EXCLUDED.trace_id)",
                )
                .bind(ev.case_id)
                .bind(&r.registration_no)
                .bind(&r.category)
                .bind(channel_name(r.channel))
                .bind(tier)
                .bind(code)
                .bind(ev.occurred_at)
                .bind(xf_telemetry::current_trace_id())
                .bind((!r.excluded_unit_id.is_empty()).then_some(&r.excluded_unit_id))
                .execute(&mut *tx)
                .await?;
            }
            other => {
                let unit = match other {
                    Payload::CaseDispatched(d) => Some(d.unit_id.clone()),
                    _ => None,
                };
                // Events may arrive before CaseRegistered is folded (another partition
                // order is not promised across services): insert a placeholder row.
                sqlx::query(
                    "INSERT INTO case_facts (case_id, tier, jurisdiction_code, unit_id, status,
                         updated_at, events, trace_id)
                     VALUES ($1, $2, $3, $4, COALESCE($5, 'registered'), $6, 1, $7)
                     ON CONFLICT (case_id) DO UPDATE SET
                         tier = EXCLUDED.tier, jurisdiction_code = EXCLUDED.jurisdiction_code,
                         unit_id = COALESCE(EXCLUDED.unit_id, case_facts.unit_id),
                         status = COALESCE($5, case_facts.status),
                         updated_at = GREATEST(case_facts.updated_at, EXCLUDED.updated_at),
                         events = case_facts.events + 1,
                         trace_id = COALESCE(case_facts.trace_id, EXCLUDED.trace_id)",
                )
                .bind(ev.case_id)
                .bind(tier)
                .bind(code)
                .bind(unit)
                .bind(status_after(other))
                .bind(ev.occurred_at)
                .bind(xf_telemetry::current_trace_id())
                .execute(&mut *tx)
                .await?;
                flags(tx, ev, other).await?;
            }
        }
        Ok(())
    }
}

/// Facts beyond the status: the owning leader, the issue group, overdue, skip-level.
async fn flags(tx: &mut PgConnection, ev: &Event, p: &Payload) -> Result<(), sqlx::Error> {
    let q = match p {
        Payload::LeaderOwnershipAssigned(l) => {
            sqlx::query("UPDATE case_facts SET leader_title = $2 WHERE case_id = $1")
                .bind(ev.case_id)
                .bind(l.leader_title.clone())
        }
        Payload::LeaderOwnershipReleased(_) => {
            sqlx::query("UPDATE case_facts SET leader_title = NULL WHERE case_id = $1")
                .bind(ev.case_id)
        }
        Payload::CollectiveIssueGrouped(g) => {
            sqlx::query("UPDATE case_facts SET group_id = $2::uuid WHERE case_id = $1")
                .bind(ev.case_id)
                .bind(g.group_id.clone())
        }
        Payload::DeadlineBreached(_) => {
            sqlx::query("UPDATE case_facts SET overdue = TRUE WHERE case_id = $1").bind(ev.case_id)
        }
        Payload::CaseEscalated(e) if e.reason == EscalationReason::SkipLevel as i32 => {
            sqlx::query("UPDATE case_facts SET skip_level = TRUE WHERE case_id = $1")
                .bind(ev.case_id)
        }
        _ => return Ok(()),
    };
    q.execute(tx).await?;
    Ok(())
}
