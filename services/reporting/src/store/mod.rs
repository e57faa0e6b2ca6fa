//! reporting's SQL: the ledger, the case facts and visits folded from it, and the
//! tables of statistics, reports and hotspots.

pub mod cube;
pub mod hotspots;
pub mod reports;
pub mod stats;

use prost::Message;
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use xf_events::status::Status;
use xf_events::{Envelope, Event, Payload};

use crate::domain::{Entry, Facts};

/// The unit an event names, if any.
pub fn unit_of(p: &Payload) -> Option<&str> {
    let u = match p {
        Payload::CaseDispatched(d) => &d.unit_id,
        Payload::CaseAccepted(a) => &a.unit_id,
        Payload::CaseNotAccepted(n) => &n.unit_id,
        Payload::CaseTransferred(t) => &t.to_unit_id,
        Payload::ReplyIssued(r) => &r.unit_id,
        Payload::CaseClosed(c) => &c.unit_id,
        Payload::DeadlineBreached(b) => &b.unit_id,
        Payload::CaseEscalated(e) => &e.from_unit_id,
        Payload::SupervisionCardIssued(s) => &s.unit_id,
        _ => return None,
    };
    Some(u.as_str()).filter(|u| !u.is_empty())
}

/// Appends an event to the ledger (its envelope already sanitized). False when the
/// ledger already holds it.
pub async fn append(
    tx: &mut PgConnection,
    ev: &Event,
    clean: &Envelope,
    status: Option<Status>,
) -> Result<bool, sqlx::Error> {
    let p = clean.payload.as_ref();
    let n = sqlx::query(
        "INSERT INTO ledger (event_id, case_id, occurred_at, event_type, producer, tier,
             jurisdiction_code, unit_id, status_after, envelope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(ev.event_id)
    .bind(ev.case_id)
    .bind(ev.occurred_at)
    .bind(ev.type_name())
    .bind(&clean.producer)
    .bind(xf_events::tier_name(ev.tier()))
    .bind(&clean.jurisdiction_code)
    .bind(p.and_then(unit_of))
    .bind(status.map(Status::as_str))
    .bind(clean.encode_to_vec())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Serializes the folding of one case across consumers.
pub async fn lock_case(tx: &mut PgConnection, case: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 14))")
        .bind(case)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Decodes ledger rows into entries (rows that no longer decode are skipped).
pub fn entries(rows: &[sqlx::postgres::PgRow]) -> Vec<Entry> {
    rows.iter()
        .filter_map(|r| {
            let bytes: Vec<u8> = r.get("envelope");
            let ev = xf_events::decode(&bytes).ok()?;
            Entry::of(&ev)
        })
        .collect()
}

/// Every ledger entry of a case.
pub async fn case_entries(tx: &mut PgConnection, case: Uuid) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query("SELECT envelope FROM ledger WHERE case_id = $1")
        .bind(case)
        .fetch_all(&mut *tx)
        .await?;
    Ok(entries(&rows))
}

/// Writes a case's facts, and its path when it changed (replacing what was there).
pub async fn save(
    tx: &mut PgConnection,
    case: Uuid,
    f: &Facts,
    path_changed: bool,
    trace_id: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO case_facts (case_id, registration_no, category, channel, tier,
             jurisdiction_code, unit_id, status, registered_at, updated_at, events, trace_id,
             leader_title, group_id, overdue, skip_level, excluded_unit_id, matter_code,
             office_code, collective, headcount, confidential, dispatched_at, accepted_at,
             not_accepted_at, referred, replied_at, closed_at, reply_outcome,
             acceptance_late, handling_late, breaches, extensions, escalations,
             reviews_asked, reviews_upheld, reviews_reversed, repeat_petition,
             followed_unit_id, satisfaction_score, follow_ups, follow_ups_reached,
             follow_ups_satisfied, follow_ups_overdue, appointments, leader_ids, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, now()), $11, $12, $13, $14,
             $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30,
             $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46,
             $47)
         ON CONFLICT (case_id) DO UPDATE SET
             registration_no = EXCLUDED.registration_no, category = EXCLUDED.category,
             channel = EXCLUDED.channel, tier = EXCLUDED.tier,
             jurisdiction_code = EXCLUDED.jurisdiction_code, unit_id = EXCLUDED.unit_id,
             status = EXCLUDED.status, registered_at = EXCLUDED.registered_at,
             updated_at = EXCLUDED.updated_at, events = EXCLUDED.events,
             trace_id = COALESCE(case_facts.trace_id, EXCLUDED.trace_id),
             leader_title = EXCLUDED.leader_title, group_id = EXCLUDED.group_id,
             overdue = EXCLUDED.overdue, skip_level = EXCLUDED.skip_level,
             excluded_unit_id = EXCLUDED.excluded_unit_id, matter_code = EXCLUDED.matter_code,
             office_code = EXCLUDED.office_code, collective = EXCLUDED.collective,
             headcount = EXCLUDED.headcount, confidential = EXCLUDED.confidential,
             dispatched_at = EXCLUDED.dispatched_at, accepted_at = EXCLUDED.accepted_at,
             not_accepted_at = EXCLUDED.not_accepted_at, referred = EXCLUDED.referred,
             replied_at = EXCLUDED.replied_at, closed_at = EXCLUDED.closed_at,
             reply_outcome = EXCLUDED.reply_outcome,
             acceptance_late = EXCLUDED.acceptance_late,
             handling_late = EXCLUDED.handling_late, breaches = EXCLUDED.breaches,
             extensions = EXCLUDED.extensions, escalations = EXCLUDED.escalations,
             reviews_asked = EXCLUDED.reviews_asked, reviews_upheld = EXCLUDED.reviews_upheld,
             reviews_reversed = EXCLUDED.reviews_reversed,
             repeat_petition = EXCLUDED.repeat_petition,
             followed_unit_id = EXCLUDED.followed_unit_id,
             satisfaction_score = EXCLUDED.satisfaction_score,
             follow_ups = EXCLUDED.follow_ups, follow_ups_reached = EXCLUDED.follow_ups_reached,
             follow_ups_satisfied = EXCLUDED.follow_ups_satisfied,
             follow_ups_overdue = EXCLUDED.follow_ups_overdue,
             appointments = EXCLUDED.appointments, leader_ids = EXCLUDED.leader_ids,
             signature = EXCLUDED.signature",
    )
    .bind(case)
    .bind(&f.registration_no)
    .bind(&f.category)
    .bind(f.channel)
    .bind(&f.tier)
    .bind(&f.jurisdiction_code)
    .bind(&f.unit_id)
    .bind(f.status)
    .bind(f.registered_at)
    .bind(f.updated_at)
    .bind(f.events)
    .bind(trace_id)
    .bind(&f.leader_title)
    .bind(f.group_id)
    .bind(f.overdue)
    .bind(f.skip_level)
    .bind(&f.excluded_unit_id)
    .bind(&f.matter_code)
    .bind(&f.office_code)
    .bind(f.collective)
    .bind(f.headcount)
    .bind(f.confidential)
    .bind(f.dispatched_at)
    .bind(f.accepted_at)
    .bind(f.not_accepted_at)
    .bind(f.referred)
    .bind(f.replied_at)
    .bind(f.closed_at)
    .bind(f.reply_outcome)
    .bind(f.acceptance_late)
    .bind(f.handling_late)
    .bind(f.breaches)
    .bind(f.extensions)
    .bind(f.escalations)
    .bind(f.reviews_asked)
    .bind(f.reviews_upheld)
    .bind(f.reviews_reversed)
    .bind(f.repeat_petition)
    .bind(&f.followed_unit_id)
    .bind(f.satisfaction_score)
    .bind(f.follow_ups)
    .bind(f.follow_ups_reached)
    .bind(f.follow_ups_satisfied)
    .bind(f.follow_ups_overdue)
    .bind(f.appointments)
    .bind(&f.leader_ids)
    .bind(&f.signature)
    .execute(&mut *tx)
    .await?;
    if !path_changed {
        return Ok(());
    }
    sqlx::query("DELETE FROM case_visits WHERE case_id = $1")
        .bind(case)
        .execute(&mut *tx)
        .await?;
    let seq: Vec<i32> = (1..=i32::try_from(f.visits.len()).unwrap_or(i32::MAX)).collect();
    let tiers: Vec<&str> = f.visits.iter().map(|v| v.tier.as_str()).collect();
    let codes: Vec<&str> = f
        .visits
        .iter()
        .map(|v| v.jurisdiction_code.as_str())
        .collect();
    let units: Vec<Option<&str>> = f.visits.iter().map(|v| v.unit_id.as_deref()).collect();
    let at: Vec<_> = f.visits.iter().map(|v| v.entered_at).collect();
    sqlx::query(
        "INSERT INTO case_visits (case_id, seq, tier, jurisdiction_code, unit_id, entered_at)
         SELECT $1, * FROM unnest($2::int4[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])",
    )
    .bind(case)
    .bind(seq)
    .bind(tiers)
    .bind(codes)
    .bind(units)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
