//! routing's event handling: each registered case is checked for repeats, then
//! dispatched by the responsibility rules; escalations and review requests go one tier
//! up to the competent unit there.

mod escalation;
mod repeat;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use xf_app::Clock;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{CaseEscalated, CaseRegistered, EscalationReason, Urgency, UrgentAlertRaised};
use xf_events::{Event, Payload, tier_of_code};
use xf_jurisdiction::Code;
use xf_similarity::Signature;

use crate::domain::case::tier_label;
use crate::domain::catalog::office_unit_id;
use crate::domain::decide::{Matter, decide};
use crate::redispatch::{decision_detail, dispatched_payload};
use crate::settings::RepeatSettings;
use crate::store::catalog::Shared;
use crate::store::places::Places;
use crate::store::{cases, emit};

pub struct Dispatcher {
    pub places: Arc<Places>,
    pub catalog: Shared,
    pub outbox: Outbox,
    pub clock: Clock,
    pub pool: PgPool,
    pub repeat: RepeatSettings,
}

impl Handler for Dispatcher {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        match ev.payload() {
            Some(Payload::CaseRegistered(r)) => self.registered(tx, ev, r).await,
            Some(Payload::CaseEscalated(e)) => self.escalated(tx, ev, e).await,
            Some(Payload::ReviewRequested(r)) => self.review(tx, ev, r).await,
            _ => Ok(()),
        }
    }
}

/// A registered case as the repeat and grouping checks read it.
struct Filing<'a> {
    ev: &'a Event,
    r: &'a CaseRegistered,
    place: &'a Code,
    pid: Option<&'a str>,
    signature: &'a Signature,
    now: DateTime<Utc>,
}

impl Dispatcher {
    async fn registered(
        &self,
        tx: &mut PgConnection,
        ev: &Event,
        r: &CaseRegistered,
    ) -> Result<(), HandleError> {
        if r.answered_on_spot || !r.referral_channel.is_empty() {
            // Closed at intake (answered on the spot, or referred elsewhere).
            return Ok(());
        }
        if cases::exists(tx, ev.case_id).await? {
            // Art. 16: a matter already accepted or in handling is not dispatched again.
            return Ok(());
        }
        let place = Code::parse(&r.matter_jurisdiction_code)
            .map_err(|e| HandleError::Permanent(format!("matter_jurisdiction_code: {e}")))?;
        let office = Code::parse(&r.office_jurisdiction_code).ok();
        let now = self.clock.now();
        // intake sends the summary's keyed signature, never the text.
        let signature = Signature::from_vec(r.signature.clone());
        let pid = (!r.petitioner_pid.is_empty()).then_some(r.petitioner_pid.as_str());
        let important =
            r.urgency == Urgency::Urgent as i32 || r.urgency == Urgency::Important as i32;
        let filing = Filing {
            ev,
            r,
            place: &place,
            pid,
            signature: &signature,
            now,
        };

        if pid.is_some()
            && !signature.is_empty()
            && let Some(rep) = self.find_repeat(tx, &filing).await?
        {
            return self.link(tx, &filing, &rep).await;
        }

        let cat = self.catalog.fresh(tx).await?;
        let tree = self.places.with(&self.pool, &place).await?;
        let matter = Matter {
            category: &r.category,
            place: &place,
            office: office.as_ref(),
            collective: r.collective,
            important,
            superior: !r.superior_reference.is_empty(),
            accusation: r.confidential || !r.excluded_unit_id.is_empty(),
            excluded_unit: (!r.excluded_unit_id.is_empty()).then_some(r.excluded_unit_id.as_str()),
        };
        let d = decide(&cat, &tree, &matter, now, None)
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
        let superior_due = xf_events::from_timestamp(r.superior_due_at.as_ref());
        cases::insert_dispatched(
            tx,
            &cases::NewCase {
                id: ev.case_id,
                registration_no: &r.registration_no,
                category: &r.category,
                matter_code: place.as_str(),
                tier: tier_label(d.competent.as_str()),
                jurisdiction_code: d.competent.as_str(),
                unit_id: &d.unit.id,
                unit_name: &d.unit.name,
                trace_id: xf_telemetry::current_trace_id(),
                registered_at: ev.occurred_at,
                at: now,
                excluded_unit_id: matter.excluded_unit,
                assisting_unit_ids: &d.assisting_unit_ids,
                leader_id: d.leader_id.as_deref(),
                important,
                collective: r.collective,
                confidential: r.confidential,
                skip_level: d.skip_level,
                office_code: office.as_ref().map(Code::as_str),
                rule_id: &d.rule_id,
                rule_version: d.rule_version,
                superior_reference: (!r.superior_reference.is_empty())
                    .then_some(r.superior_reference.as_str()),
                superior_due_at: superior_due,
                petitioner_pid: pid,
                signature: signature.to_i32s(),
                anonymous: r.anonymous,
            },
        )
        .await?;
        let mut detail = decision_detail(&d);
        detail["superior_reference"] = serde_json::json!(r.superior_reference);
        detail["superior_due_at"] = serde_json::json!(superior_due);
        cases::history(tx, ev.case_id, now, "dispatched", detail).await?;
        let mut p = dispatched_payload(&d, EscalationReason::Unspecified, 0);
        p.superior_reference = r.superior_reference.clone();
        p.superior_due_at = r.superior_due_at;
        p.important = important || r.collective;
        let code = d.competent.as_str();
        emit(
            &self.outbox,
            tx,
            ev.case_id,
            code,
            now,
            Payload::CaseDispatched(p),
        )
        .await?;
        if d.skip_level {
            // Filed above the competent tier: supervision's cross-level monitor sees it.
            let from = office.as_ref().map(Code::as_str).unwrap_or_default();
            emit(
                &self.outbox,
                tx,
                ev.case_id,
                code,
                now,
                Payload::CaseEscalated(CaseEscalated {
                    reason: EscalationReason::SkipLevel as i32,
                    from_tier: tier_of_code(code) as i32,
                    from_jurisdiction_code: code.to_owned(),
                    to_tier: tier_of_code(from) as i32,
                    to_jurisdiction_code: from.to_owned(),
                    ..Default::default()
                }),
            )
            .await?;
        }
        // Collective, major or urgent matters: tell leaders and units at once (R5).
        if r.collective || important {
            let reason = match (r.collective, important) {
                (true, true) => "collective and urgent",
                (true, false) => "collective",
                _ => "urgent",
            };
            let mut unit_ids = vec![d.unit.id.clone()];
            unit_ids.extend(d.assisting_unit_ids.iter().cloned());
            let office_id = office_unit_id(code);
            if !unit_ids.contains(&office_id) && matter.excluded_unit != Some(office_id.as_str()) {
                unit_ids.push(office_id);
            }
            let leader_ids: Vec<String> =
                [d.unit.top_leader.clone(), d.unit.leader_in_charge.clone()]
                    .into_iter()
                    .flatten()
                    .collect();
            emit(
                &self.outbox,
                tx,
                ev.case_id,
                code,
                now,
                Payload::UrgentAlertRaised(UrgentAlertRaised {
                    unit_ids: unit_ids.clone(),
                    leader_ids: leader_ids.clone(),
                    reason: reason.into(),
                }),
            )
            .await?;
            cases::history(
                tx,
                ev.case_id,
                now,
                "alert",
                serde_json::json!({"reason": reason, "headcount": r.headcount,
                    "unit_ids": unit_ids, "leader_ids": leader_ids}),
            )
            .await?;
        }
        if !signature.is_empty() {
            self.group(tx, &filing).await?;
        }
        Ok(())
    }
}
