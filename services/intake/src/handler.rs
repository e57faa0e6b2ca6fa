//! Intake's projection of what other services did to its cases: the status the
//! register and the citizen's view show.

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler};
use xf_events::{Event, Payload};

pub struct Projection;

impl Handler for Projection {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        let (status, unit, detail) = match ev.payload() {
            Some(Payload::CaseDispatched(d)) => (
                "dispatched",
                Some(d.unit_id.clone()),
                serde_json::json!({"unit": d.unit_name, "jurisdiction_code": d.jurisdiction_code}),
            ),
            Some(Payload::CaseAccepted(a)) => {
                ("accepted", Some(a.unit_id.clone()), serde_json::json!({}))
            }
            Some(Payload::CaseNotAccepted(n)) => (
                "not_accepted",
                None,
                serde_json::json!({"reason": n.reason, "referral_channel": n.referral_channel}),
            ),
            Some(Payload::ReplyIssued(_)) => ("replied", None, serde_json::json!({})),
            Some(Payload::CaseClosed(_)) => ("closed", None, serde_json::json!({})),
            Some(Payload::CaseEscalated(e)) => (
                "escalated",
                None,
                serde_json::json!({"to_jurisdiction_code": e.to_jurisdiction_code}),
            ),
            _ => return Ok(()),
        };
        let updated = sqlx::query(
            "UPDATE cases SET status = $2, handling_unit = COALESCE($3, handling_unit), updated_at = $4
             WHERE id = $1",
        )
        .bind(ev.case_id)
        .bind(status)
        .bind(unit)
        .bind(ev.occurred_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            // A case registered by another intake deployment: nothing to project.
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO case_timeline (case_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
        )
        .bind(ev.case_id)
        .bind(ev.occurred_at)
        .bind(status)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
