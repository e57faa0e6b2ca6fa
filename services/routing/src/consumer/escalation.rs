//! Escalations (overdue, card overdue) and review requests: one tier up, or above the
//! county to the city level.

use sqlx::PgConnection;
use xf_bus::HandleError;
use xf_events::v1::{CaseDispatched, CaseEscalated, EscalationReason, ReviewKind, ReviewRequested};
use xf_events::{Event, Payload, Tier};
use xf_jurisdiction::Code;

use super::Dispatcher;
use crate::domain::case::{Command, Effect, apply};
use crate::domain::{CaseState, Extension, Pending, Workbench};
use crate::redispatch::{Redispatch, Stored, With, redispatch};
use crate::store::cases;

/// The city level's unit name.
const CITY_UNIT_NAME: &str = "市级信访工作机构";

impl Dispatcher {
    /// A case supervision escalated (overdue, card overdue): one tier up.
    pub(super) async fn escalated(
        &self,
        tx: &mut PgConnection,
        ev: &Event,
        e: &CaseEscalated,
    ) -> Result<(), HandleError> {
        let reason = EscalationReason::try_from(e.reason).unwrap_or(EscalationReason::Unspecified);
        if reason == EscalationReason::SkipLevel {
            // routing's own skip-level notice: nothing to move.
            return Ok(());
        }
        self.move_up(tx, ev, reason, None).await
    }

    /// The petitioner asked for review (复查) or re-review (复核): the body one tier up.
    pub(super) async fn review(
        &self,
        tx: &mut PgConnection,
        ev: &Event,
        r: &ReviewRequested,
    ) -> Result<(), HandleError> {
        let level = if r.kind == ReviewKind::Rereview as i32 {
            2
        } else {
            1
        };
        self.move_up(tx, ev, EscalationReason::ReviewRequested, Some(level))
            .await
    }

    async fn move_up(
        &self,
        tx: &mut PgConnection,
        ev: &Event,
        reason: EscalationReason,
        review_level: Option<i16>,
    ) -> Result<(), HandleError> {
        let Some(row) = cases::for_escalation(tx, ev.case_id).await? else {
            return Err(HandleError::Permanent(format!(
                "case {} is not known to routing",
                ev.case_id
            )));
        };
        let now = self.clock.now();
        let current = row.jurisdiction_code.clone();
        let up = Code::parse(&current).ok().and_then(|c| c.parent());
        let to_city = up.is_none();
        let cmd = match review_level {
            Some(_) => Command::Review { to_city },
            None => Command::Escalate { to_city },
        };
        let state = CaseState::parse(&row.status).map(|s| {
            Workbench::new(
                s,
                Extension::parse(&row.extension).unwrap_or(Extension::None),
                Pending::None,
            )
        });
        let Some(Ok((_, effects))) = state.map(|s| apply(s, cmd)) else {
            cases::history(
                tx,
                ev.case_id,
                now,
                "ignored",
                serde_json::json!({"reason": reason.as_str_name(), "status": row.status}),
            )
            .await?;
            return Ok(());
        };
        let level = review_level.unwrap_or(row.review_level);
        if effects.contains(&Effect::HandToCity) {
            // Above the county: handed to the city level.
            let city_unit = format!("{current}-city");
            cases::hand_to_city(tx, ev.case_id, &city_unit, CITY_UNIT_NAME, level, now).await?;
            cases::history(
                tx,
                ev.case_id,
                now,
                "handed_to_city",
                serde_json::json!({"reason": reason.as_str_name(), "from_jurisdiction_code": current,
                    "from_unit_id": row.unit_id}),
            )
            .await?;
            // The envelope keeps the county's code (the case stays in its records and
            // statistics); the payload names the city level.
            let env = xf_events::envelope(
                ev.case_id,
                crate::SERVICE,
                Tier::City,
                &current,
                now,
                Payload::CaseDispatched(CaseDispatched {
                    unit_id: city_unit,
                    unit_name: CITY_UNIT_NAME.into(),
                    tier: Tier::City as i32,
                    jurisdiction_code: xf_events::above(&current).1,
                    rule_id: "escalation".into(),
                    reason: reason as i32,
                    review_level: u32::try_from(level).unwrap_or(0),
                    ..Default::default()
                }),
            );
            self.outbox.put(tx, &env).await?;
            return Ok(());
        }
        let Some(up) = up else {
            return Ok(());
        };
        let cat = self.catalog.fresh(tx).await?;
        let place = Code::parse(&row.matter_code)
            .map_err(|e| HandleError::Permanent(format!("matter_code: {e}")))?;
        let tree = self.places.with(&self.pool, &place).await?;
        let mut detail = serde_json::json!({
            "reason": reason.as_str_name(),
            "from_jurisdiction_code": current,
            "from_unit_id": row.unit_id,
            "review_level": level,
        });
        let again = Redispatch {
            case_id: ev.case_id,
            forced: Some(&up),
            reason,
            review_level: level,
            action: "redispatched_up",
            now,
        };
        let stored = Stored {
            category: &row.category,
            matter_code: &row.matter_code,
            office_code: row.office_code.as_deref(),
            collective: row.collective,
            important: row.important,
            confidential: row.confidential,
            excluded_unit_id: row.excluded_unit_id.as_deref(),
        };
        let with = With {
            outbox: &self.outbox,
            catalog: &cat,
            tree: &tree,
        };
        redispatch(tx, &with, &stored, again, &mut detail).await?;
        Ok(())
    }
}
