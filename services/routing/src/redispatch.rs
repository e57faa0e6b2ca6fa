//! A new decision for a case routing already holds (unlinked, escalated, reviewed):
//! decided by the rules, stored, recorded and announced in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::{HandleError, Outbox};
use xf_events::v1::{CaseDispatched, EscalationReason};
use xf_events::{Payload, tier_of_code};
use xf_jurisdiction::Code;

use crate::domain::case::tier_label;
use crate::domain::catalog::Catalog;
use crate::domain::decide::{Decision, Matter, decide};
use crate::store::{self, cases};

/// What routing stored of a matter, to decide for it again.
pub struct Stored<'a> {
    pub category: &'a str,
    pub matter_code: &'a str,
    pub office_code: Option<&'a str>,
    pub collective: bool,
    pub important: bool,
    pub confidential: bool,
    pub excluded_unit_id: Option<&'a str>,
}

/// A new decision for a case routing already holds.
pub struct Redispatch<'a> {
    pub case_id: Uuid,
    /// The competent jurisdiction, when it is imposed (one tier up).
    pub forced: Option<&'a Code>,
    pub reason: EscalationReason,
    pub review_level: i16,
    /// The history entry: `redispatched_up`, `unlinked`.
    pub action: &'static str,
    pub now: DateTime<Utc>,
}

/// What the decision is taken with.
pub struct With<'a> {
    pub outbox: &'a Outbox,
    pub catalog: &'a Catalog,
    pub tree: &'a xf_jurisdiction::Tree,
}

pub fn dispatched_payload(
    d: &Decision,
    reason: EscalationReason,
    review_level: u32,
) -> CaseDispatched {
    CaseDispatched {
        unit_id: d.unit.id.clone(),
        unit_name: d.unit.name.clone(),
        assisting_unit_ids: d.assisting_unit_ids.clone(),
        tier: tier_of_code(d.competent.as_str()) as i32,
        jurisdiction_code: d.competent.to_string(),
        rule_id: d.rule_id.clone(),
        rule_version: u32::try_from(d.rule_version).unwrap_or(0),
        skip_level: d.skip_level,
        reason: reason as i32,
        leader_id: d.leader_id.clone().unwrap_or_default(),
        review_level,
        ..Default::default()
    }
}

pub fn decision_detail(d: &Decision) -> serde_json::Value {
    serde_json::json!({
        "unit_id": d.unit.id,
        "unit_name": d.unit.name,
        "unit_kind": d.unit.kind.as_str(),
        "jurisdiction_code": d.competent.as_str(),
        "assisting_unit_ids": d.assisting_unit_ids,
        "rule_id": d.rule_id,
        "rule_version": d.rule_version,
        "leader_id": d.leader_id,
        "skip_level": d.skip_level,
        "why": d.why,
    })
}

/// Decides again for a case (from its stored row: category, place, flags), moves it to
/// the new unit, records why and announces the dispatch.
pub async fn redispatch(
    tx: &mut PgConnection,
    with: &With<'_>,
    stored: &Stored<'_>,
    r: Redispatch<'_>,
    detail: &mut serde_json::Value,
) -> Result<Decision, HandleError> {
    let place = Code::parse(stored.matter_code)
        .map_err(|e| HandleError::Permanent(format!("matter_code: {e}")))?;
    let office = stored.office_code.and_then(|c| Code::parse(c).ok());
    let matter = Matter {
        category: stored.category,
        place: &place,
        office: if r.forced.is_none() {
            office.as_ref()
        } else {
            None
        },
        collective: stored.collective,
        important: stored.important,
        superior: false,
        accusation: stored.confidential || stored.excluded_unit_id.is_some(),
        excluded_unit: stored.excluded_unit_id,
    };
    let d = decide(with.catalog, with.tree, &matter, r.now, r.forced)
        .map_err(|e| HandleError::Permanent(e.to_string()))?;
    cases::redispatched(
        tx,
        &cases::Redispatched {
            id: r.case_id,
            tier: tier_label(d.competent.as_str()),
            jurisdiction_code: d.competent.as_str(),
            unit_id: &d.unit.id,
            unit_name: &d.unit.name,
            assisting_unit_ids: &d.assisting_unit_ids,
            leader_id: d.leader_id.as_deref(),
            rule_id: &d.rule_id,
            rule_version: d.rule_version,
            review_level: r.review_level,
            skip_level: d.skip_level,
            at: r.now,
        },
    )
    .await?;
    if let (Some(extra), serde_json::Value::Object(base)) =
        (detail.as_object().cloned(), decision_detail(&d))
    {
        let mut merged = base;
        merged.extend(extra);
        *detail = serde_json::Value::Object(merged);
    }
    cases::history(tx, r.case_id, r.now, r.action, detail.clone()).await?;
    let mut p = dispatched_payload(&d, r.reason, u32::try_from(r.review_level).unwrap_or(0));
    p.important = matter.important || matter.collective;
    store::emit(
        with.outbox,
        tx,
        r.case_id,
        d.competent.as_str(),
        r.now,
        Payload::CaseDispatched(p),
    )
    .await?;
    Ok(d)
}
