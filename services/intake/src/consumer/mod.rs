//! Intake's projection of what other services did to its cases: the status, unit,
//! deadlines and reply that the register and the citizen's view show.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use xf_bus::{HandleError, Handler};
use xf_events::status::{self, Status};
use xf_events::v1::{FollowUpSatisfaction, ReplyOutcome, Stage};
use xf_events::{Event, Payload};

pub struct Projection {
    /// Opens the petitioner's contact for their notices.
    pub vault: crate::vault::Vault,
    /// Whether notices are delivered by the webhook.
    pub outbound: bool,
    /// Outbound notices are due at this clock's now.
    pub clock: xf_app::Clock,
}

/// The change an event makes to intake's copy of a case.
struct Change {
    status: Option<&'static str>,
    unit: Option<(String, String)>,
    /// Assisting units and the competent jurisdiction of a dispatch.
    assignment: Option<(Vec<String>, String)>,
    due_at: Option<DateTime<Utc>>,
    /// The stage and policy of `due_at`.
    due_of: Option<(&'static str, String)>,
    replied: bool,
    reply_outcome: Option<&'static str>,
    linked: Option<uuid::Uuid>,
    window_until: Option<DateTime<Utc>>,
    leader: Option<String>,
    timeline: Option<(&'static str, serde_json::Value)>,
}

fn change(ev: &Event) -> Option<Change> {
    let p = ev.payload()?;
    let mut c = Change {
        // The one event → status mapping (xf-events), shared with reporting.
        status: status::after(p).map(Status::as_str),
        unit: None,
        assignment: None,
        due_at: None,
        due_of: None,
        replied: false,
        reply_outcome: None,
        linked: None,
        window_until: None,
        leader: None,
        timeline: None,
    };
    match p {
        Payload::CaseDispatched(d) => {
            c.unit = Some((d.unit_id.clone(), d.unit_name.clone()));
            // Who may read the register entry follows the assignment (xf-access).
            c.assignment = Some((d.assisting_unit_ids.clone(), d.jurisdiction_code.clone()));
            c.timeline = Some((
                "dispatched",
                serde_json::json!({"unit": d.unit_name, "jurisdiction_code": d.jurisdiction_code}),
            ));
        }
        Payload::CaseTransferred(t) => {
            c.timeline = Some((
                "transferred",
                serde_json::json!({"to_unit_id": t.to_unit_id}),
            ));
        }
        Payload::CaseAccepted(_) => {
            c.timeline = Some(("accepted", serde_json::json!({})));
        }
        // Intake's own refusal and on-the-spot closing were written at registration.
        Payload::CaseNotAccepted(_) | Payload::CaseClosed(_)
            if ev.envelope.producer == crate::SERVICE =>
        {
            return None;
        }
        Payload::CaseNotAccepted(n) => {
            c.timeline = Some((
                "not_accepted",
                serde_json::json!({"reason": n.reason, "referral_channel": n.referral_channel}),
            ));
        }
        Payload::ReplyIssued(r) => {
            c.replied = true;
            let outcome = outcome_name(r.outcome);
            c.reply_outcome = Some(outcome);
            c.timeline = Some(("replied", serde_json::json!({"outcome": outcome})));
        }
        Payload::DuplicateLinked(d) => {
            // A repeat of an earlier matter (R7): linked to it, not new work.
            c.linked = uuid::Uuid::parse_str(&d.original_case_id).ok();
            c.timeline = Some(("linked", serde_json::json!({})));
        }
        Payload::CaseClosed(_) => {
            c.timeline = Some(("closed", serde_json::json!({})));
        }
        Payload::CaseEscalated(e) => {
            // A skip-level notice moves nothing (status::after gives None).
            c.status?;
            c.timeline = Some((
                "escalated",
                serde_json::json!({"to_jurisdiction_code": e.to_jurisdiction_code}),
            ));
        }
        // Intake wrote its own timeline entry when the petitioner asked.
        Payload::ReviewRequested(_) => {}
        Payload::DeadlineSet(d) => {
            let due = xf_events::from_timestamp(d.due_at.as_ref());
            match Stage::try_from(d.stage) {
                Ok(s @ (Stage::Acceptance | Stage::Handling | Stage::Review | Stage::Rereview)) => {
                    c.due_at = due;
                    // "<policy id> v<version>": the view names the policy.
                    let id = d.policy.split(" v").next().unwrap_or_default();
                    c.due_of = Some((stage_name(s), id.to_owned()));
                }
                Ok(Stage::ReviewWindow | Stage::RereviewWindow) => c.window_until = due,
                _ => return None,
            }
            c.timeline = Some((
                "deadline",
                serde_json::json!({"stage": d.stage, "due_at": due}),
            ));
        }
        Payload::LeaderOwnershipAssigned(l) => {
            c.leader = Some(l.leader_title.clone());
            c.timeline = Some((
                "leader_owner",
                serde_json::json!({"leader": l.leader_title}),
            ));
        }
        Payload::LeaderOwnershipReleased(_) => {
            // An empty title clears the owner.
            c.leader = Some(String::new());
            c.timeline = Some(("leader_owner_released", serde_json::json!({})));
        }
        _ => return None,
    }
    Some(c)
}

fn outcome_name(o: i32) -> &'static str {
    match ReplyOutcome::try_from(o) {
        Ok(ReplyOutcome::Support) => "support",
        Ok(ReplyOutcome::Explain) => "explain",
        Ok(ReplyOutcome::NotSupport) => "not_support",
        _ => "unspecified",
    }
}

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Acceptance => "acceptance",
        Stage::Handling => "handling",
        Stage::Review => "review",
        Stage::Rereview => "rereview",
        _ => "other",
    }
}

/// Scheduling's follow-up visit (回访): booked, then completed. True when the event
/// was one of them.
async fn follow_up(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    match ev.payload() {
        Some(Payload::FollowUpScheduled(f)) => {
            let (Ok(id), Some(at)) = (
                uuid::Uuid::parse_str(&f.visit_id),
                xf_events::from_timestamp(f.scheduled_at.as_ref()),
            ) else {
                return Ok(true);
            };
            let n = sqlx::query(
                "INSERT INTO follow_ups (visit_id, case_id, scheduled_at, updated_at)
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM cases WHERE id = $2)
                 ON CONFLICT (visit_id) DO UPDATE SET scheduled_at = EXCLUDED.scheduled_at,
                     updated_at = EXCLUDED.updated_at",
            )
            .bind(id)
            .bind(ev.case_id)
            .bind(at)
            .bind(ev.occurred_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                timeline(
                    tx,
                    ev,
                    "follow_up_scheduled",
                    serde_json::json!({"scheduled_at": at}),
                )
                .await?;
            }
            Ok(true)
        }
        Some(Payload::FollowUpCompleted(f)) => {
            let Ok(id) = uuid::Uuid::parse_str(&f.visit_id) else {
                return Ok(true);
            };
            let said = match FollowUpSatisfaction::try_from(f.satisfaction) {
                Ok(FollowUpSatisfaction::Satisfied) => Some("satisfied"),
                Ok(FollowUpSatisfaction::BasicallySatisfied) => Some("basically_satisfied"),
                Ok(FollowUpSatisfaction::NotSatisfied) => Some("not_satisfied"),
                _ => None,
            };
            let n = sqlx::query(
                "UPDATE follow_ups SET completed_at = $2, reached = $3, satisfaction = $4,
                     updated_at = $2
                 WHERE visit_id = $1 AND case_id = $5",
            )
            .bind(id)
            .bind(ev.occurred_at)
            .bind(f.reached)
            .bind(said)
            .bind(ev.case_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                timeline(
                    tx,
                    ev,
                    "follow_up_completed",
                    serde_json::json!({"reached": f.reached, "satisfaction": said}),
                )
                .await?;
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Scheduling's appointment events: the appointment the petitioner is told of (time,
/// place, status), and a timeline entry. True when the event was one of them.
async fn appointment(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    let (id, session, starts, ends, place, status) = match ev.payload() {
        Some(Payload::AppointmentBooked(b)) => (
            &b.appointment_id,
            &b.session_id,
            &b.starts_at,
            &b.ends_at,
            &b.place,
            "booked",
        ),
        Some(Payload::AppointmentMoved(m)) => (
            &m.appointment_id,
            &m.to_session_id,
            &m.starts_at,
            &m.ends_at,
            &m.place,
            "moved",
        ),
        Some(Payload::AppointmentCancelled(c)) => {
            let Ok(id) = uuid::Uuid::parse_str(&c.appointment_id) else {
                return Ok(true);
            };
            let n = sqlx::query(
                "UPDATE appointments SET status = 'cancelled', updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(ev.occurred_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                timeline(
                    tx,
                    ev,
                    "appointment",
                    serde_json::json!({"status": "cancelled"}),
                )
                .await?;
            }
            return Ok(true);
        }
        _ => return Ok(false),
    };
    let (Some(starts), Some(ends), Ok(id), Ok(session)) = (
        xf_events::from_timestamp(starts.as_ref()),
        xf_events::from_timestamp(ends.as_ref()),
        uuid::Uuid::parse_str(id),
        uuid::Uuid::parse_str(session),
    ) else {
        return Ok(true);
    };
    let n = sqlx::query(
        "INSERT INTO appointments (id, case_id, session_id, starts_at, ends_at, place, status, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM cases WHERE id = $2)
         ON CONFLICT (id) DO UPDATE SET session_id = EXCLUDED.session_id, starts_at = EXCLUDED.starts_at,
             ends_at = EXCLUDED.ends_at, place = EXCLUDED.place, status = EXCLUDED.status,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(id)
    .bind(ev.case_id)
    .bind(session)
    .bind(starts)
    .bind(ends)
    .bind(place)
    .bind(status)
    .bind(ev.occurred_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        let detail = serde_json::json!({"status": status, "starts_at": starts, "ends_at": ends, "place": place});
        timeline(tx, ev, "appointment", detail).await?;
    }
    Ok(true)
}

async fn timeline(
    tx: &mut PgConnection,
    ev: &Event,
    kind: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO case_timeline (case_id, at, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(ev.case_id)
        .bind(ev.occurred_at)
        .bind(kind)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Handler for Projection {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        crate::notify::petitioner(tx, ev, &self.vault, self.outbound, self.clock.now()).await?;
        if appointment(tx, ev).await? || follow_up(tx, ev).await? {
            return Ok(());
        }
        let Some(c) = change(ev) else { return Ok(()) };
        let (unit_id, unit_name) = c.unit.unzip();
        let (assisting, handled_in) = c.assignment.unzip();
        let (due_stage, due_policy) = c.due_of.unzip();
        if let Some(outcome) = c.reply_outcome {
            // The reply that answers an open review request is its outcome.
            sqlx::query(
                "UPDATE reviews SET outcome = $2, answered_at = $3
                 WHERE case_id = $1 AND outcome IS NULL",
            )
            .bind(ev.case_id)
            .bind(outcome)
            .bind(ev.occurred_at)
            .execute(&mut *tx)
            .await?;
        }
        let updated = sqlx::query(
            "UPDATE cases SET
                 status = COALESCE($2, status),
                 handling_unit = COALESCE($3, handling_unit),
                 unit_name = COALESCE($4, unit_name),
                 due_at = COALESCE($5, due_at),
                 replied_at = CASE WHEN $6 THEN $9 ELSE replied_at END,
                 review_state = CASE WHEN $6 THEN 'none' ELSE review_state END,
                 review_window_until = CASE WHEN $6 THEN NULL ELSE COALESCE($7, review_window_until) END,
                 leader_owner = CASE WHEN $8 = '' THEN NULL ELSE COALESCE($8, leader_owner) END,
                 assisting_units = COALESCE($10, assisting_units),
                 handled_in = COALESCE(NULLIF($11, ''), handled_in),
                 due_stage = COALESCE($12, due_stage),
                 due_policy = COALESCE($13, due_policy),
                 reply_outcome = COALESCE($14, reply_outcome),
                 reply_text = CASE WHEN $6 THEN NULL ELSE reply_text END,
                 linked_case_id = COALESCE($15, linked_case_id),
                 updated_at = GREATEST(updated_at, $9)
             WHERE id = $1",
        )
        .bind(ev.case_id)
        .bind(c.status)
        .bind(unit_id)
        .bind(unit_name)
        .bind(c.due_at)
        .bind(c.replied)
        .bind(c.window_until)
        .bind(c.leader)
        .bind(ev.occurred_at)
        .bind(assisting)
        .bind(handled_in)
        .bind(due_stage)
        .bind(due_policy)
        .bind(c.reply_outcome)
        .bind(c.linked)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            // A case registered by another intake deployment: nothing to project.
            return Ok(());
        }
        if let Some((kind, detail)) = c.timeline {
            sqlx::query(
                "INSERT INTO case_timeline (case_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
            )
            .bind(ev.case_id)
            .bind(ev.occurred_at)
            .bind(kind)
            .bind(detail)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
