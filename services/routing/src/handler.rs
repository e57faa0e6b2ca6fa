//! routing's event handling: each registered case is checked for repeats, then
//! dispatched by the responsibility rules; escalations and review requests go one tier
//! up to the competent unit there.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_bus::{HandleError, Handler, Outbox};
use xf_events::v1::{
    CaseClosed, CaseDispatched, CaseEscalated, CaseNotAccepted, CaseRegistered,
    CollectiveIssueGrouped, DuplicateLinked, EscalationReason, ReviewKind, ReviewRequested,
    Urgency, UrgentAlertRaised,
};
use xf_events::{Event, Payload, Tier, tier_of_code};
use xf_jurisdiction::Code;
use xf_similarity::{Signature, similarity};

use crate::catalog::Shared;
use crate::decide::{Decision, Matter, decide};
use crate::places::Places;
use crate::settings::RepeatSettings;

pub struct Dispatcher {
    pub places: Arc<Places>,
    pub catalog: Shared,
    pub outbox: Outbox,
    pub clock: Clock,
    pub pool: PgPool,
    pub repeat: RepeatSettings,
}

/// Statuses in which a case is still being handled.
pub const OPEN: [&str; 4] = ["dispatched", "transfer_requested", "accepted", "replied"];

/// Appends one step to a case's routing history.
pub async fn history(
    tx: &mut PgConnection,
    case_id: Uuid,
    at: DateTime<Utc>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO case_history (case_id, at, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(case_id)
        .bind(at)
        .bind(action)
        .bind(detail)
        .execute(tx)
        .await?;
    Ok(())
}

/// Puts one event about a case into the outbox.
pub async fn emit(
    outbox: &Outbox,
    tx: &mut PgConnection,
    case_id: Uuid,
    code: &str,
    at: DateTime<Utc>,
    payload: Payload,
) -> Result<(), sqlx::Error> {
    let env = xf_events::envelope(
        case_id,
        crate::SERVICE,
        tier_of_code(code),
        code,
        at,
        payload,
    );
    outbox.put(tx, &env).await
}

fn tier_label(code: &str) -> &'static str {
    xf_events::tier_name(tier_of_code(code))
}

fn dispatched_payload(d: &Decision, reason: EscalationReason, review_level: u32) -> CaseDispatched {
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

fn decision_detail(d: &Decision) -> serde_json::Value {
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

struct Repeat {
    original: Uuid,
    similarity: f64,
    final_: bool,
    status: String,
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
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE id = $1)")
            .bind(ev.case_id)
            .fetch_one(&mut *tx)
            .await?;
        if exists {
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

        if let Some(pid) = pid
            && !signature.is_empty()
            && let Some(rep) = self
                .find_repeat(tx, ev.case_id, pid, &r.category, &signature, now)
                .await?
        {
            return self
                .link(tx, ev, r, &place, pid, &signature, &rep, now)
                .await;
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
        sqlx::query(
            "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
                 unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
                 excluded_unit_id, assisting_unit_ids, leader_id, important, collective,
                 confidential, skip_level, office_code, rule_id, rule_version, superior_reference,
                 superior_due_at, petitioner_pid, signature, anonymous)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'dispatched', $9, $10, $11, $11, $12, $13,
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
        )
        .bind(ev.case_id)
        .bind(&r.registration_no)
        .bind(&r.category)
        .bind(place.as_str())
        .bind(tier_label(d.competent.as_str()))
        .bind(d.competent.as_str())
        .bind(&d.unit.id)
        .bind(&d.unit.name)
        .bind(xf_telemetry::current_trace_id())
        .bind(ev.occurred_at)
        .bind(now)
        .bind(matter.excluded_unit)
        .bind(&d.assisting_unit_ids)
        .bind(&d.leader_id)
        .bind(important)
        .bind(r.collective)
        .bind(r.confidential)
        .bind(d.skip_level)
        .bind(office.as_ref().map(Code::as_str))
        .bind(&d.rule_id)
        .bind(d.rule_version)
        .bind((!r.superior_reference.is_empty()).then_some(&r.superior_reference))
        .bind(superior_due)
        .bind(pid)
        .bind(signature.to_i32s())
        .bind(r.anonymous)
        .execute(&mut *tx)
        .await?;
        let mut detail = decision_detail(&d);
        detail["superior_reference"] = serde_json::json!(r.superior_reference);
        detail["superior_due_at"] = serde_json::json!(superior_due);
        history(tx, ev.case_id, now, "dispatched", detail).await?;
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
            let office_id = crate::catalog::office_unit_id(code);
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
            history(
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
            self.group(tx, ev.case_id, &place, &r.category, pid, &signature, now)
                .await?;
        }
        Ok(())
    }

    /// The earlier case of the same petitioner and category this one repeats.
    async fn find_repeat(
        &self,
        tx: &mut PgConnection,
        case_id: Uuid,
        pid: &str,
        category: &str,
        signature: &Signature,
        now: DateTime<Utc>,
    ) -> Result<Option<Repeat>, sqlx::Error> {
        let since = now - Duration::days(i64::from(self.repeat.window_days));
        let rows = sqlx::query(
            "SELECT id, status, final, signature, linked_to FROM cases
             WHERE petitioner_pid = $1 AND category = $2 AND id <> $3
               AND (registered_at >= $4 OR status = ANY($5) OR final)
             ORDER BY registered_at DESC LIMIT 100",
        )
        .bind(pid)
        .bind(category)
        .bind(case_id)
        .bind(since)
        .bind(&OPEN[..])
        .fetch_all(&mut *tx)
        .await?;
        let mut best: Option<Repeat> = None;
        for row in rows {
            let sig = Signature::from_i32s(&row.get::<Vec<i32>, _>("signature"));
            let s = similarity(signature, &sig);
            if s < self.repeat.threshold || best.as_ref().is_some_and(|b| b.similarity >= s) {
                continue;
            }
            // Link to the original, not to an earlier repeat.
            let original = row
                .get::<Option<Uuid>, _>("linked_to")
                .unwrap_or_else(|| row.get("id"));
            best = Some(Repeat {
                original,
                similarity: s,
                final_: row.get("final"),
                status: row.get("status"),
            });
        }
        if let Some(b) = &mut best
            && b.status == "linked"
        {
            let (status, final_): (String, bool) =
                sqlx::query_as("SELECT status, final FROM cases WHERE id = $1")
                    .bind(b.original)
                    .fetch_one(&mut *tx)
                    .await?;
            b.status = status;
            b.final_ |= final_;
        }
        Ok(best)
    }

    /// A repeat petition: linked to the original (R7), or not accepted again when the
    /// original's re-review has concluded (Art. 35).
    #[allow(clippy::too_many_arguments)]
    async fn link(
        &self,
        tx: &mut PgConnection,
        ev: &Event,
        r: &CaseRegistered,
        place: &Code,
        pid: &str,
        signature: &Signature,
        rep: &Repeat,
        now: DateTime<Utc>,
    ) -> Result<(), HandleError> {
        let (unit_id, unit_name, code): (Option<String>, Option<String>, String) =
            sqlx::query_as("SELECT unit_id, unit_name, jurisdiction_code FROM cases WHERE id = $1")
                .bind(rep.original)
                .fetch_one(&mut *tx)
                .await?;
        let status = if rep.final_ { "not_accepted" } else { "linked" };
        sqlx::query(
            "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
                 unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
                 petitioner_pid, signature, linked_to, office_code, important, collective,
                 confidential, excluded_unit_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20)",
        )
        .bind(ev.case_id)
        .bind(&r.registration_no)
        .bind(&r.category)
        .bind(place.as_str())
        .bind(tier_label(&code))
        .bind(&code)
        .bind(&unit_id)
        .bind(&unit_name)
        .bind(status)
        .bind(xf_telemetry::current_trace_id())
        .bind(ev.occurred_at)
        .bind(now)
        .bind(pid)
        .bind(signature.to_i32s())
        .bind(rep.original)
        .bind(&r.office_jurisdiction_code)
        .bind(r.urgency == Urgency::Urgent as i32 || r.urgency == Urgency::Important as i32)
        .bind(r.collective)
        .bind(r.confidential)
        .bind((!r.excluded_unit_id.is_empty()).then_some(&r.excluded_unit_id))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "original_case_id": rep.original,
            "similarity": (rep.similarity * 1000.0).round() / 1000.0,
            "original_status": rep.status,
            "unit_id": unit_id,
        });
        if rep.final_ {
            let reason = "复核已终结：同一事实和理由的信访事项不再受理（《信访条例》第三十五条）";
            history(tx, ev.case_id, now, "not_accepted_again", detail).await?;
            let unit = unit_id.clone().unwrap_or_default();
            emit(
                &self.outbox,
                tx,
                ev.case_id,
                &code,
                now,
                Payload::CaseNotAccepted(CaseNotAccepted {
                    unit_id: unit.clone(),
                    reason: reason.into(),
                    referral_channel: String::new(),
                }),
            )
            .await?;
            emit(
                &self.outbox,
                tx,
                ev.case_id,
                &code,
                now,
                Payload::CaseClosed(CaseClosed {
                    unit_id: unit,
                    answered_on_spot: false,
                    not_accepted: true,
                }),
            )
            .await?;
        } else {
            history(tx, ev.case_id, now, "linked", detail).await?;
        }
        emit(
            &self.outbox,
            tx,
            ev.case_id,
            &code,
            now,
            Payload::DuplicateLinked(DuplicateLinked {
                original_case_id: rep.original.to_string(),
                similarity: rep.similarity,
                repeat_petition: true,
                skip_level: Code::parse(&r.office_jurisdiction_code)
                    .is_ok_and(|o| o.as_str() != code && code.starts_with(o.as_str())),
                original_unit_id: unit_id.clone().unwrap_or_default(),
                original_jurisdiction_code: code.clone(),
            }),
        )
        .await?;
        Ok(())
    }

    /// Different petitioners raising the same matter in the same place: a possible
    /// collective issue, grouped for supervision and reporting.
    #[allow(clippy::too_many_arguments)]
    async fn group(
        &self,
        tx: &mut PgConnection,
        case_id: Uuid,
        place: &Code,
        category: &str,
        pid: Option<&str>,
        signature: &Signature,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let since = now - Duration::days(i64::from(self.repeat.group_window_days));
        let rows = sqlx::query(
            "SELECT id, signature, group_id FROM cases
             WHERE matter_code = $1 AND category = $2 AND id <> $3 AND registered_at >= $4
               AND petitioner_pid IS DISTINCT FROM $5 AND linked_to IS NULL
             ORDER BY registered_at DESC LIMIT 200",
        )
        .bind(place.as_str())
        .bind(category)
        .bind(case_id)
        .bind(since)
        .bind(pid)
        .fetch_all(&mut *tx)
        .await?;
        let mut best: Option<(Uuid, Option<Uuid>, f64)> = None;
        for row in rows {
            let sig = Signature::from_i32s(&row.get::<Vec<i32>, _>("signature"));
            let s = similarity(signature, &sig);
            if s >= self.repeat.threshold && best.as_ref().is_none_or(|b| s > b.2) {
                best = Some((row.get("id"), row.get("group_id"), s));
            }
        }
        let Some((other, group, s)) = best else {
            return Ok(());
        };
        let (group_id, first, count): (Uuid, Uuid, i32) = match group {
            Some(g) => {
                sqlx::query_as(
                    "UPDATE issue_groups SET member_count = member_count + 1, updated_at = $2
                     WHERE id = $1 RETURNING id, first_case_id, member_count",
                )
                .bind(g)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
            None => {
                let g = Uuid::now_v7();
                sqlx::query("UPDATE cases SET group_id = $2 WHERE id = $1")
                    .bind(other)
                    .bind(g)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query_as(
                    "INSERT INTO issue_groups (id, jurisdiction_code, category, first_case_id,
                         member_count, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 2, $5, $5) RETURNING id, first_case_id, member_count",
                )
                .bind(g)
                .bind(place.as_str())
                .bind(category)
                .bind(other)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        sqlx::query("UPDATE cases SET group_id = $2 WHERE id = $1")
            .bind(case_id)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        history(
            tx,
            case_id,
            now,
            "grouped",
            serde_json::json!({"group_id": group_id, "member_count": count, "with_case_id": other}),
        )
        .await?;
        emit(
            &self.outbox,
            tx,
            case_id,
            place.as_str(),
            now,
            Payload::CollectiveIssueGrouped(CollectiveIssueGrouped {
                group_id: group_id.to_string(),
                member_count: u32::try_from(count).unwrap_or(0),
                first_case_id: first.to_string(),
                similarity: s,
            }),
        )
        .await
    }

    /// A case supervision escalated (overdue, card overdue): one tier up.
    async fn escalated(
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
    async fn review(
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
        let Some(row) = sqlx::query(
            "SELECT status, category, matter_code, jurisdiction_code, unit_id, collective,
                    important, confidential, excluded_unit_id, review_level, office_code
             FROM cases WHERE id = $1 FOR UPDATE",
        )
        .bind(ev.case_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Err(HandleError::Permanent(format!(
                "case {} is not known to routing",
                ev.case_id
            )));
        };
        let status: String = row.get("status");
        let now = self.clock.now();
        let current: String = row.get("jurisdiction_code");
        let from_unit: Option<String> = row.get("unit_id");
        let allowed = match review_level {
            Some(_) => matches!(status.as_str(), "replied" | "closed"),
            None => OPEN.contains(&status.as_str()),
        };
        if !allowed {
            history(
                tx,
                ev.case_id,
                now,
                "ignored",
                serde_json::json!({"reason": reason.as_str_name(), "status": status}),
            )
            .await?;
            return Ok(());
        }
        let level = review_level.unwrap_or_else(|| row.get("review_level"));
        let Some(up) = Code::parse(&current).ok().and_then(|c| c.parent()) else {
            // Above the county: handed to the city level.
            let city_unit = format!("{current}-city");
            sqlx::query(
                "UPDATE cases SET status = 'city', tier = 'city', unit_id = $2,
                     unit_name = '市级信访工作机构', review_level = $3, pending = NULL,
                     updated_at = $4, dispatched_at = $4
                 WHERE id = $1",
            )
            .bind(ev.case_id)
            .bind(&city_unit)
            .bind(level)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            history(
                tx,
                ev.case_id,
                now,
                "handed_to_city",
                serde_json::json!({"reason": reason.as_str_name(), "from_jurisdiction_code": current,
                    "from_unit_id": from_unit}),
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
                    unit_name: "市级信访工作机构".into(),
                    tier: Tier::City as i32,
                    jurisdiction_code: current[..4].to_owned(),
                    rule_id: "escalation".into(),
                    reason: reason as i32,
                    review_level: u32::try_from(level).unwrap_or(0),
                    ..Default::default()
                }),
            );
            self.outbox.put(tx, &env).await?;
            return Ok(());
        };
        let cat = self.catalog.fresh(tx).await?;
        let place = Code::parse(row.get::<&str, _>("matter_code"))
            .map_err(|e| HandleError::Permanent(format!("matter_code: {e}")))?;
        let tree = self.places.with(&self.pool, &place).await?;
        let mut detail = serde_json::json!({
            "reason": reason.as_str_name(),
            "from_jurisdiction_code": current,
            "from_unit_id": from_unit,
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
            category: row.get("category"),
            matter_code: row.get("matter_code"),
            office_code: row.get("office_code"),
            collective: row.get("collective"),
            important: row.get("important"),
            confidential: row.get("confidential"),
            excluded_unit_id: row.get("excluded_unit_id"),
        };
        redispatch(tx, &self.outbox, &cat, &tree, &stored, again, &mut detail).await?;
        Ok(())
    }
}

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

/// Decides again for a case (from its stored row: category, place, flags), moves it to
/// the new unit, records why and announces the dispatch.
pub async fn redispatch(
    tx: &mut PgConnection,
    outbox: &Outbox,
    cat: &crate::catalog::Catalog,
    tree: &xf_jurisdiction::Tree,
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
    let d = decide(cat, tree, &matter, r.now, r.forced)
        .map_err(|e| HandleError::Permanent(e.to_string()))?;
    sqlx::query(
        "UPDATE cases SET status = 'dispatched', tier = $2, jurisdiction_code = $3,
             unit_id = $4, unit_name = $5, assisting_unit_ids = $6, leader_id = $7,
             rule_id = $8, rule_version = $9, review_level = $10, extension = 'none',
             pending = NULL, reply_outcome = NULL, updated_at = $11, dispatched_at = $11,
             skip_level = skip_level OR $12, linked_to = NULL
         WHERE id = $1",
    )
    .bind(r.case_id)
    .bind(tier_label(d.competent.as_str()))
    .bind(d.competent.as_str())
    .bind(&d.unit.id)
    .bind(&d.unit.name)
    .bind(&d.assisting_unit_ids)
    .bind(&d.leader_id)
    .bind(&d.rule_id)
    .bind(d.rule_version)
    .bind(r.review_level)
    .bind(r.now)
    .bind(d.skip_level)
    .execute(&mut *tx)
    .await?;
    if let (Some(extra), serde_json::Value::Object(base)) =
        (detail.as_object().cloned(), decision_detail(&d))
    {
        let mut merged = base;
        merged.extend(extra);
        *detail = serde_json::Value::Object(merged);
    }
    history(tx, r.case_id, r.now, r.action, detail.clone()).await?;
    let mut p = dispatched_payload(&d, r.reason, u32::try_from(r.review_level).unwrap_or(0));
    p.important = matter.important || matter.collective;
    emit(
        outbox,
        tx,
        r.case_id,
        d.competent.as_str(),
        r.now,
        Payload::CaseDispatched(p),
    )
    .await?;
    Ok(d)
}
