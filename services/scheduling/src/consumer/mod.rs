//! The Kafka side: registered and dispatched cases are recorded (with what the
//! visibility rule needs); a settled case gets its follow-up
//! visit (回访), due within the period of the office that covers it.

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::FollowUpScheduled;
use xf_events::{Event, Payload};

use crate::domain::follow_up;
use crate::store;

pub struct Consumer {
    pub outbox: Outbox,
    /// The period where no office covers the case (hours).
    pub default_follow_up_hours: i32,
}

impl Handler for Consumer {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        match ev.payload() {
            Some(Payload::CaseRegistered(r)) => {
                let matter = if r.matter_jurisdiction_code.is_empty() {
                    ev.envelope.jurisdiction_code.as_str()
                } else {
                    r.matter_jurisdiction_code.as_str()
                };
                store::register_case(
                    tx,
                    &store::Registered {
                        id: ev.case_id,
                        tier: xf_events::tier_name(ev.tier()),
                        matter_code: matter,
                        excluded_unit: Some(r.excluded_unit_id.as_str()).filter(|u| !u.is_empty()),
                        confidential: r.confidential,
                        at: ev.occurred_at,
                    },
                )
                .await?;
                Ok(())
            }
            Some(Payload::CaseDispatched(d)) => {
                let code = if d.jurisdiction_code.is_empty() {
                    ev.envelope.jurisdiction_code.as_str()
                } else {
                    d.jurisdiction_code.as_str()
                };
                store::upsert_case(
                    tx,
                    ev.case_id,
                    xf_events::tier_name(ev.tier()),
                    code,
                    &d.unit_id,
                    &d.assisting_unit_ids,
                    ev.occurred_at,
                )
                .await?;
                Ok(())
            }
            Some(Payload::CaseClosed(c)) => {
                if !store::close_case(tx, ev.case_id, ev.occurred_at).await? || c.not_accepted {
                    return Ok(());
                }
                let Some(case) = store::case(&mut *tx, ev.case_id).await? else {
                    return Ok(());
                };
                let office = store::offices::office_for_code(tx, &case.jurisdiction_code).await?;
                let hours = office
                    .as_ref()
                    .map_or(self.default_follow_up_hours, |o| o.follow_up_hours);
                let due = follow_up::due_at(ev.occurred_at, hours);
                let office_id = office.as_ref().map(|o| o.id.as_str());
                let Some(visit) = store::follow_ups::insert(
                    tx,
                    ev.case_id,
                    office_id,
                    due,
                    hours,
                    ev.occurred_at,
                )
                .await?
                else {
                    return Ok(());
                };
                let env = xf_events::envelope(
                    ev.case_id,
                    crate::SERVICE,
                    ev.tier(),
                    &ev.envelope.jurisdiction_code,
                    ev.occurred_at,
                    Payload::FollowUpScheduled(FollowUpScheduled {
                        visit_id: visit.to_string(),
                        scheduled_at: Some(xf_events::timestamp(due)),
                        leader_id: String::new(),
                        office_id: office_id.unwrap_or_default().to_owned(),
                        period_hours: u32::try_from(hours).unwrap_or(0),
                    }),
                );
                self.outbox.put(tx, &env).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
