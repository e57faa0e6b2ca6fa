//! Starts and stops clocks as cases move.

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{DeadlineSet, Stage};
use xf_events::{Event, Payload};

use crate::DeadlineSettings;
use crate::deadline::due_calendar;

pub struct Clocks {
    pub settings: DeadlineSettings,
    pub outbox: Outbox,
}

fn stage_code(stage: &str) -> Stage {
    match stage {
        "acceptance" => Stage::Acceptance,
        "handling" => Stage::Handling,
        _ => Stage::Unspecified,
    }
}

async fn start(
    outbox: &Outbox,
    tx: &mut PgConnection,
    ev: &Event,
    stage: &str,
    unit: &str,
    days: u32,
) -> Result<(), HandleError> {
    let due = due_calendar(ev.occurred_at, days);
    let started = sqlx::query(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, unit_id, started_at, due_at,
             state, period_days, policy, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, 'statutory', $9)
         ON CONFLICT (case_id, stage, started_at) DO NOTHING",
    )
    .bind(ev.case_id)
    .bind(stage)
    .bind(xf_events::tier_name(ev.tier()))
    .bind(&ev.envelope.jurisdiction_code)
    .bind(unit)
    .bind(ev.occurred_at)
    .bind(due)
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(xf_telemetry::current_trace_id())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if started == 1 {
        // Tell the other services (intake's citizen view, Open311) when it is due.
        let env = xf_events::envelope(
            ev.case_id,
            crate::SERVICE,
            ev.tier(),
            &ev.envelope.jurisdiction_code,
            ev.occurred_at,
            Payload::DeadlineSet(DeadlineSet {
                stage: stage_code(stage) as i32,
                started_at: Some(xf_events::timestamp(ev.occurred_at)),
                due_at: Some(xf_events::timestamp(due)),
                policy: "statutory".into(),
            }),
        );
        outbox.put(tx, &env).await?;
    }
    Ok(())
}

async fn stop(tx: &mut PgConnection, ev: &Event, stage: Option<&str>) -> Result<(), HandleError> {
    sqlx::query(
        "UPDATE clocks SET state = 'stopped', stopped_at = $2
         WHERE case_id = $1 AND state = 'running' AND ($3::text IS NULL OR stage = $3)",
    )
    .bind(ev.case_id)
    .bind(ev.occurred_at)
    .bind(stage)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Handler for Clocks {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        match ev.payload() {
            Some(Payload::CaseDispatched(d)) => {
                stop(tx, ev, Some("acceptance")).await?;
                start(
                    &self.outbox,
                    tx,
                    ev,
                    "acceptance",
                    &d.unit_id,
                    self.settings.acceptance_days,
                )
                .await
            }
            Some(Payload::CaseAccepted(a)) => {
                stop(tx, ev, Some("acceptance")).await?;
                start(
                    &self.outbox,
                    tx,
                    ev,
                    "handling",
                    &a.unit_id,
                    self.settings.handling_days,
                )
                .await
            }
            Some(Payload::CaseNotAccepted(_)) | Some(Payload::CaseClosed(_)) => {
                stop(tx, ev, None).await
            }
            _ => Ok(()),
        }
    }
}
