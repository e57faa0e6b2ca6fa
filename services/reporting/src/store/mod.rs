//! reporting's SQL: the ledger, the case facts and visits folded from it, and the
//! tables of statistics, reports and hotspots.

pub mod cube;
pub mod hotspots;
pub mod reports;
pub mod stats;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
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

/// One ledger row to append: the event and its sanitized envelope.
pub struct NewEntry<'a> {
    pub event: &'a Event,
    pub clean: Envelope,
    pub status: Option<Status>,
}

/// Appends events to the ledger in one statement (envelopes already sanitized);
/// returns the ids of those it did not hold yet.
pub async fn append_all(
    tx: &mut PgConnection,
    rows: &[NewEntry<'_>],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.event.event_id).collect();
    let cases: Vec<Uuid> = rows.iter().map(|r| r.event.case_id).collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.event.occurred_at).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.event.type_name()).collect();
    let producers: Vec<&str> = rows.iter().map(|r| r.clean.producer.as_str()).collect();
    let tiers: Vec<&str> = rows
        .iter()
        .map(|r| xf_events::tier_name(r.event.tier()))
        .collect();
    let codes: Vec<&str> = rows
        .iter()
        .map(|r| r.clean.jurisdiction_code.as_str())
        .collect();
    let units: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.clean.payload.as_ref().and_then(unit_of))
        .collect();
    let statuses: Vec<Option<&str>> = rows.iter().map(|r| r.status.map(Status::as_str)).collect();
    let envelopes: Vec<Vec<u8>> = rows.iter().map(|r| r.clean.encode_to_vec()).collect();
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO ledger (event_id, case_id, occurred_at, event_type, producer, tier,
             jurisdiction_code, unit_id, status_after, envelope)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
             $6::text[], $7::text[], $8::text[], $9::text[], $10::bytea[])
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(&ids)
    .bind(&cases)
    .bind(&at)
    .bind(&types)
    .bind(&producers)
    .bind(&tiers)
    .bind(&codes)
    .bind(&units)
    .bind(&statuses)
    .bind(&envelopes)
    .fetch_all(&mut *tx)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// Serializes the folding of these cases across consumers: one advisory lock per case,
/// taken in the order of the lock keys, so two batches never wait on each other in a
/// circle.
pub async fn lock_cases(tx: &mut PgConnection, cases: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(k) FROM (
             SELECT DISTINCT hashtextextended(c::text, 14) AS k FROM unnest($1::uuid[]) AS c
             ORDER BY k) AS keys",
    )
    .bind(cases)
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

/// Every ledger entry of these cases, by case.
pub async fn entries_of(
    tx: &mut PgConnection,
    cases: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Entry>>, sqlx::Error> {
    let rows: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT case_id, envelope FROM ledger WHERE case_id = ANY($1)")
            .bind(cases)
            .fetch_all(&mut *tx)
            .await?;
    let mut out: HashMap<Uuid, Vec<Entry>> = HashMap::with_capacity(cases.len());
    for (case, bytes) in rows {
        if let Some(e) = xf_events::decode(&bytes).ok().as_ref().and_then(Entry::of) {
            out.entry(case).or_default().push(e);
        }
    }
    Ok(out)
}

/// A case's new facts to save, with the trace of an event that changed them and
/// whether its path changed.
pub struct Saved<'a> {
    pub case_id: Uuid,
    pub facts: &'a Facts,
    pub trace_id: Option<String>,
    pub path_changed: bool,
}

/// A Postgres array literal of text values (`{"a","b"}`), for a column of arrays
/// passed through `unnest`.
fn text_array(xs: &[String]) -> String {
    let quoted: Vec<String> = xs
        .iter()
        .map(|x| format!("\"{}\"", x.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

fn int_array(xs: &[i32]) -> String {
    let v: Vec<String> = xs.iter().map(i32::to_string).collect();
    format!("{{{}}}", v.join(","))
}

/// Writes cases' facts in one statement, and the paths that changed (replacing what
/// was there) in two more.
pub async fn save_all(tx: &mut PgConnection, cases: &[Saved<'_>]) -> Result<(), sqlx::Error> {
    if cases.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($e:expr) => {
            cases.iter().map($e).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "INSERT INTO case_facts (case_id, registration_no, category, channel, tier,
             jurisdiction_code, unit_id, status, registered_at, updated_at, events, trace_id,
             leader_title, group_id, overdue, skip_level, excluded_unit_id, matter_code,
             office_code, collective, headcount, confidential, dispatched_at, accepted_at,
             not_accepted_at, referred, replied_at, closed_at, reply_outcome,
             acceptance_late, handling_late, breaches, extensions, escalations,
             reviews_asked, reviews_upheld, reviews_reversed, repeat_petition,
             followed_unit_id, satisfaction_score, follow_ups, follow_ups_reached,
             follow_ups_satisfied, follow_ups_overdue, appointments, leader_ids, signature,
             pauses, paused_secs, paused_now)
         SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, COALESCE(c10, now()), c11, c12, c13, c14,
             c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, c30,
             c31, c32, c33, c34, c35, c36, c37, c38, c39, c40, c41, c42, c43, c44, c45,
             c46::text[], c47::int4[], c48, c49, c50
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::int4[],
             $12::text[], $13::text[], $14::uuid[], $15::bool[], $16::bool[], $17::text[],
             $18::text[], $19::text[], $20::bool[], $21::int4[], $22::bool[],
             $23::timestamptz[], $24::timestamptz[], $25::timestamptz[], $26::bool[],
             $27::timestamptz[], $28::timestamptz[], $29::text[], $30::bool[], $31::bool[],
             $32::int4[], $33::int4[], $34::int4[], $35::int4[], $36::int4[], $37::int4[],
             $38::bool[], $39::text[], $40::int4[], $41::int4[], $42::int4[], $43::int4[],
             $44::int4[], $45::int4[], $46::text[], $47::text[], $48::int4[], $49::int8[],
             $50::bool[])
             AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17,
                  c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, c30, c31, c32,
                  c33, c34, c35, c36, c37, c38, c39, c40, c41, c42, c43, c44, c45, c46, c47,
                  c48, c49, c50)
         ORDER BY c1
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
             signature = EXCLUDED.signature, pauses = EXCLUDED.pauses,
             paused_secs = EXCLUDED.paused_secs, paused_now = EXCLUDED.paused_now",
    )
    .bind(col!(|c| c.case_id))
    .bind(col!(|c| c.facts.registration_no.as_deref()))
    .bind(col!(|c| c.facts.category.as_deref()))
    .bind(col!(|c| c.facts.channel))
    .bind(col!(|c| c.facts.tier.as_str()))
    .bind(col!(|c| c.facts.jurisdiction_code.as_str()))
    .bind(col!(|c| c.facts.unit_id.as_deref()))
    .bind(col!(|c| c.facts.status))
    .bind(col!(|c| c.facts.registered_at))
    .bind(col!(|c| c.facts.updated_at))
    .bind(col!(|c| c.facts.events))
    .bind(col!(|c| c.trace_id.as_deref()))
    .bind(col!(|c| c.facts.leader_title.as_deref()))
    .bind(col!(|c| c.facts.group_id))
    .bind(col!(|c| c.facts.overdue))
    .bind(col!(|c| c.facts.skip_level))
    .bind(col!(|c| c.facts.excluded_unit_id.as_deref()))
    .bind(col!(|c| c.facts.matter_code.as_deref()))
    .bind(col!(|c| c.facts.office_code.as_deref()))
    .bind(col!(|c| c.facts.collective))
    .bind(col!(|c| c.facts.headcount))
    .bind(col!(|c| c.facts.confidential))
    .bind(col!(|c| c.facts.dispatched_at))
    .bind(col!(|c| c.facts.accepted_at))
    .bind(col!(|c| c.facts.not_accepted_at))
    .bind(col!(|c| c.facts.referred))
    .bind(col!(|c| c.facts.replied_at))
    .bind(col!(|c| c.facts.closed_at))
    .bind(col!(|c| c.facts.reply_outcome))
    .bind(col!(|c| c.facts.acceptance_late))
    .bind(col!(|c| c.facts.handling_late))
    .bind(col!(|c| c.facts.breaches))
    .bind(col!(|c| c.facts.extensions))
    .bind(col!(|c| c.facts.escalations))
    .bind(col!(|c| c.facts.reviews_asked))
    .bind(col!(|c| c.facts.reviews_upheld))
    .bind(col!(|c| c.facts.reviews_reversed))
    .bind(col!(|c| c.facts.repeat_petition))
    .bind(col!(|c| c.facts.followed_unit_id.as_deref()))
    .bind(col!(|c| c.facts.satisfaction_score))
    .bind(col!(|c| c.facts.follow_ups))
    .bind(col!(|c| c.facts.follow_ups_reached))
    .bind(col!(|c| c.facts.follow_ups_satisfied))
    .bind(col!(|c| c.facts.follow_ups_overdue))
    .bind(col!(|c| c.facts.appointments))
    .bind(col!(|c| text_array(&c.facts.leader_ids)))
    .bind(col!(|c| int_array(&c.facts.signature)))
    .bind(col!(|c| c.facts.pauses))
    .bind(col!(|c| c.facts.paused_secs))
    .bind(col!(|c| c.facts.paused_now))
    .execute(&mut *tx)
    .await?;
    let moved: Vec<&Saved<'_>> = cases.iter().filter(|c| c.path_changed).collect();
    if moved.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = moved.iter().map(|c| c.case_id).collect();
    sqlx::query("DELETE FROM case_visits WHERE case_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let (mut case, mut seq, mut tiers, mut codes, mut units, mut at) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for c in &moved {
        for (i, v) in c.facts.visits.iter().enumerate() {
            case.push(c.case_id);
            seq.push(i32::try_from(i + 1).unwrap_or(i32::MAX));
            tiers.push(v.tier.as_str());
            codes.push(v.jurisdiction_code.as_str());
            units.push(v.unit_id.as_deref());
            at.push(v.entered_at);
        }
    }
    sqlx::query(
        "INSERT INTO case_visits (case_id, seq, tier, jurisdiction_code, unit_id, entered_at)
         SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::text[],
             $6::timestamptz[])",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_what_needs_it() {
        assert_eq!(text_array(&[]), "{}");
        assert_eq!(
            text_array(&["a".into(), "b\"c".into(), "d\\e".into(), "f,g".into()]),
            r#"{"a","b\"c","d\\e","f,g"}"#
        );
        assert_eq!(int_array(&[1, -2, 3]), "{1,-2,3}");
    }
}
