//! Dispatch: each registered case goes to the letters-and-visits office of the
//! jurisdiction where the matter arose (responsibility rules refine this).

use std::sync::Arc;

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{CaseDispatched, Urgency, UrgentAlertRaised};
use xf_events::{Event, Payload, tier_of_code};
use xf_jurisdiction::{Code, Tree};

pub struct Dispatcher {
    pub tree: Arc<Tree>,
    pub outbox: Outbox,
}

/// The unit id of the letters-and-visits office of a jurisdiction.
pub fn office_unit(code: &str) -> String {
    format!("{code}-xfb")
}

impl Handler for Dispatcher {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        let Some(Payload::CaseRegistered(r)) = ev.payload() else {
            return Ok(());
        };
        if r.answered_on_spot || !r.referral_channel.is_empty() {
            // Closed at intake (answered on the spot, or referred elsewhere).
            return Ok(());
        }
        let code = Code::parse(&r.matter_jurisdiction_code)
            .map_err(|e| HandleError::Permanent(format!("matter_jurisdiction_code: {e}")))?;
        let division = self.tree.get(&code).ok_or_else(|| {
            HandleError::Permanent(format!("jurisdiction {code} is not in the tree"))
        })?;
        let tier = tier_of_code(code.as_str());
        let unit_id = office_unit(code.as_str());
        let unit_name = format!("{}信访办", division.name);
        let trace_id = xf_telemetry::current_trace_id();
        let inserted = sqlx::query(
            "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
                 unit_id, unit_name, status, trace_id, registered_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $4, $6, $7, 'dispatched', $8, $9, $9)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(ev.case_id)
        .bind(&r.registration_no)
        .bind(&r.category)
        .bind(code.as_str())
        .bind(xf_events::tier_name(tier))
        .bind(&unit_id)
        .bind(&unit_name)
        .bind(&trace_id)
        .bind(ev.occurred_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Already dispatched (Art. 16: a matter in handling is not dispatched again).
            return Ok(());
        }
        sqlx::query("INSERT INTO case_history (case_id, at, action, detail) VALUES ($1, $2, 'dispatched', $3)")
            .bind(ev.case_id)
            .bind(ev.occurred_at)
            .bind(serde_json::json!({
                "unit_id": unit_id,
                "unit_name": unit_name,
                "jurisdiction_code": code.as_str(),
                "rule": "default: the letters-and-visits office where the matter arose",
            }))
            .execute(&mut *tx)
            .await?;
        let env = xf_events::envelope(
            ev.case_id,
            crate::SERVICE,
            tier,
            code.as_str(),
            ev.occurred_at,
            Payload::CaseDispatched(CaseDispatched {
                unit_id,
                unit_name,
                tier: tier as i32,
                jurisdiction_code: code.to_string(),
                rule_id: "default".into(),
                rule_version: 1,
                ..Default::default()
            }),
        );
        self.outbox.put(tx, &env).await?;
        // Collective, major or urgent matters: tell leaders and units at once (R5).
        let urgent = r.urgency == Urgency::Urgent as i32 || r.urgency == Urgency::Important as i32;
        if r.collective || urgent {
            let reason = match (r.collective, urgent) {
                (true, true) => "collective and urgent",
                (true, false) => "collective",
                _ => "urgent",
            };
            let alert = xf_events::envelope(
                ev.case_id,
                crate::SERVICE,
                tier,
                code.as_str(),
                ev.occurred_at,
                Payload::UrgentAlertRaised(UrgentAlertRaised {
                    unit_ids: vec![office_unit(code.as_str())],
                    leader_ids: Vec::new(),
                    reason: reason.into(),
                }),
            );
            self.outbox.put(tx, &alert).await?;
            sqlx::query("INSERT INTO case_history (case_id, at, action, detail) VALUES ($1, $2, 'alert', $3)")
                .bind(ev.case_id)
                .bind(ev.occurred_at)
                .bind(serde_json::json!({"reason": reason, "headcount": r.headcount}))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}
