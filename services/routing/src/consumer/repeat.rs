//! Repeat petitions (重信重访, R7) and possible collective issues (并单).

use chrono::Duration;
use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::HandleError;
use xf_events::Payload;
use xf_events::v1::{
    CaseClosed, CaseNotAccepted, CollectiveIssueGrouped, DuplicateLinked, Urgency,
};
use xf_jurisdiction::Code;
use xf_similarity::{Signature, similarity};

use super::{Dispatcher, Filing};
use crate::domain::CaseState;
use crate::domain::case::tier_label;
use crate::store::{cases, emit};

/// The earlier case a new one repeats.
pub(super) struct Repeat {
    original: Uuid,
    similarity: f64,
    final_: bool,
    status: String,
}

impl Dispatcher {
    /// The earlier case of the same petitioner and category this one repeats.
    pub(super) async fn find_repeat(
        &self,
        tx: &mut PgConnection,
        f: &Filing<'_>,
    ) -> Result<Option<Repeat>, sqlx::Error> {
        let since = f.now - Duration::days(i64::from(self.repeat.window_days));
        let rows = cases::repeat_candidates(
            tx,
            f.ev.case_id,
            f.pid.unwrap_or_default(),
            &f.r.category,
            since,
        )
        .await?;
        let mut best: Option<Repeat> = None;
        for row in rows {
            let sig = Signature::from_i32s(&row.signature);
            let s = similarity(f.signature, &sig);
            if s < self.repeat.threshold || best.as_ref().is_some_and(|b| b.similarity >= s) {
                continue;
            }
            // Link to the original, not to an earlier repeat.
            best = Some(Repeat {
                original: row.linked_to.unwrap_or(row.id),
                similarity: s,
                final_: row.final_,
                status: row.status,
            });
        }
        if let Some(b) = &mut best
            && b.status == CaseState::Linked.as_str()
        {
            let (status, final_) = cases::status_and_final(tx, b.original).await?;
            b.status = status;
            b.final_ |= final_;
        }
        Ok(best)
    }

    /// A repeat petition: linked to the original (R7), or not accepted again when the
    /// original's re-review has concluded (Art. 35).
    pub(super) async fn link(
        &self,
        tx: &mut PgConnection,
        f: &Filing<'_>,
        rep: &Repeat,
    ) -> Result<(), HandleError> {
        let (ev, r, now) = (f.ev, f.r, f.now);
        let origin = cases::handling(tx, rep.original).await?;
        let code = origin.jurisdiction_code.clone();
        let unit_id = origin.unit_id.clone();
        let status = if rep.final_ {
            CaseState::NotAccepted
        } else {
            CaseState::Linked
        };
        cases::insert_repeat(
            tx,
            &cases::RepeatCase {
                id: ev.case_id,
                registration_no: &r.registration_no,
                category: &r.category,
                matter_code: f.place.as_str(),
                tier: tier_label(&code),
                jurisdiction_code: &code,
                unit_id: origin.unit_id.as_deref(),
                unit_name: origin.unit_name.as_deref(),
                status,
                trace_id: xf_telemetry::current_trace_id(),
                registered_at: ev.occurred_at,
                at: now,
                petitioner_pid: f.pid.unwrap_or_default(),
                signature: f.signature.to_i32s(),
                linked_to: rep.original,
                office_code: &r.office_jurisdiction_code,
                important: r.urgency == Urgency::Urgent as i32
                    || r.urgency == Urgency::Important as i32,
                collective: r.collective,
                confidential: r.confidential,
                excluded_unit_id: (!r.excluded_unit_id.is_empty())
                    .then_some(r.excluded_unit_id.as_str()),
            },
        )
        .await?;
        let detail = serde_json::json!({
            "original_case_id": rep.original,
            "similarity": (rep.similarity * 1000.0).round() / 1000.0,
            "original_status": rep.status,
            "unit_id": unit_id,
        });
        if rep.final_ {
            let reason = "复核已终结：同一事实和理由的信访事项不再受理（《信访条例》第三十五条）";
            cases::history(tx, ev.case_id, now, "not_accepted_again", detail).await?;
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
            cases::history(tx, ev.case_id, now, "linked", detail).await?;
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
    pub(super) async fn group(
        &self,
        tx: &mut PgConnection,
        f: &Filing<'_>,
    ) -> Result<(), sqlx::Error> {
        let (case_id, place, category, now) = (f.ev.case_id, f.place, &f.r.category, f.now);
        let since = now - Duration::days(i64::from(self.repeat.group_window_days));
        let rows =
            cases::group_candidates(tx, case_id, place.as_str(), category, f.pid, since).await?;
        let mut best: Option<(Uuid, Option<Uuid>, f64)> = None;
        for row in rows {
            let sig = Signature::from_i32s(&row.signature);
            let s = similarity(f.signature, &sig);
            if s >= self.repeat.threshold && best.as_ref().is_none_or(|b| s > b.2) {
                best = Some((row.id, row.group_id, s));
            }
        }
        let Some((other, group, s)) = best else {
            return Ok(());
        };
        let head = match group {
            Some(g) => cases::join_group(tx, g, now).await?,
            None => cases::new_group(tx, place.as_str(), category, other, now).await?,
        };
        cases::set_group(tx, case_id, head.id).await?;
        cases::history(
            tx,
            case_id,
            now,
            "grouped",
            serde_json::json!({"group_id": head.id, "member_count": head.member_count, "with_case_id": other}),
        )
        .await?;
        emit(
            &self.outbox,
            tx,
            case_id,
            place.as_str(),
            now,
            Payload::CollectiveIssueGrouped(CollectiveIssueGrouped {
                group_id: head.id.to_string(),
                member_count: u32::try_from(head.member_count).unwrap_or(0),
                first_case_id: head.first_case_id.to_string(),
                similarity: s,
            }),
        )
        .await
    }
}
