//! Records dispatched cases and books a follow-up visit when one closes.

use chrono::Duration;
use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::FollowUpScheduled;
use xf_events::{Event, Payload};

pub struct Calendar {
    pub outbox: Outbox,
    pub follow_up_days: u32,
}

impl Handler for Calendar {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        match ev.payload() {
            Some(Payload::CaseDispatched(d)) => {
                sqlx::query(
                    "INSERT INTO cases (id, tier, jurisdiction_code, unit_id, status, trace_id, updated_at)
                     VALUES ($1, $2, $3, $4, 'dispatched', $5, $6)
                     ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier,
                         jurisdiction_code = EXCLUDED.jurisdiction_code, unit_id = EXCLUDED.unit_id,
                         status = 'dispatched', updated_at = EXCLUDED.updated_at",
                )
                .bind(ev.case_id)
                .bind(xf_events::tier_name(ev.tier()))
                .bind(&d.jurisdiction_code)
                .bind(&d.unit_id)
                .bind(xf_telemetry::current_trace_id())
                .bind(ev.occurred_at)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            Some(Payload::CaseClosed(_)) => {
                let known = sqlx::query(
                    "UPDATE cases SET status = 'closed', updated_at = $2 WHERE id = $1",
                )
                .bind(ev.case_id)
                .bind(ev.occurred_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if known == 0 {
                    return Ok(());
                }
                let visit = Uuid::now_v7();
                let at = ev.occurred_at + Duration::days(i64::from(self.follow_up_days));
                let booked = sqlx::query(
                    "INSERT INTO follow_ups (id, case_id, scheduled_at, state, created_at)
                     VALUES ($1, $2, $3, 'scheduled', $4) ON CONFLICT (case_id) DO NOTHING",
                )
                .bind(visit)
                .bind(ev.case_id)
                .bind(at)
                .bind(ev.occurred_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if booked == 1 {
                    let env = xf_events::envelope(
                        ev.case_id,
                        crate::SERVICE,
                        ev.tier(),
                        &ev.envelope.jurisdiction_code,
                        ev.occurred_at,
                        Payload::FollowUpScheduled(FollowUpScheduled {
                            visit_id: visit.to_string(),
                            scheduled_at: Some(xf_events::timestamp(at)),
                            leader_id: String::new(),
                        }),
                    );
                    self.outbox.put(tx, &env).await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
