//! The case event contract: types generated from `proto/xinfang/case/v1`, and the
//! helpers every service uses to build, encode and decode envelopes.

use chrono::{DateTime, Utc};
use prost::Message;
use uuid::Uuid;

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/xinfang.case.v1.rs"));
}

pub mod status;

pub use v1::envelope::Payload;
pub use v1::{Envelope, Tier};

/// The contract version producers write into `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// Content type carried in the `content-type` Kafka header.
pub const CONTENT_TYPE: &str = "application/x-protobuf; proto=xinfang.case.v1.Envelope";

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a protobuf envelope: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("envelope field {field} is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Builds a new envelope with a fresh UUIDv7 event id.
pub fn envelope(
    case_id: Uuid,
    producer: &str,
    tier: Tier,
    jurisdiction_code: &str,
    occurred_at: DateTime<Utc>,
    payload: Payload,
) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7().to_string(),
        case_id: case_id.to_string(),
        occurred_at: Some(timestamp(occurred_at)),
        producer: producer.to_owned(),
        tier: tier as i32,
        jurisdiction_code: jurisdiction_code.to_owned(),
        schema_version: SCHEMA_VERSION,
        sequence: 0,
        payload: Some(payload),
    }
}

/// Converts a chrono time into a protobuf timestamp.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Converts a protobuf timestamp into a chrono time (None when absent or out of range).
pub fn from_timestamp(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// Encodes an envelope to bytes.
pub fn encode(env: &Envelope) -> Vec<u8> {
    env.encode_to_vec()
}

/// A decoded envelope whose identifiers have been checked.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: Uuid,
    pub case_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub envelope: Envelope,
}

impl Event {
    pub fn payload(&self) -> Option<&Payload> {
        self.envelope.payload.as_ref()
    }
    pub fn tier(&self) -> Tier {
        Tier::try_from(self.envelope.tier).unwrap_or(Tier::Unspecified)
    }
    pub fn type_name(&self) -> &'static str {
        type_name(self.payload())
    }
}

/// Decodes and checks an envelope.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let envelope = Envelope::decode(bytes)?;
    let event_id = Uuid::parse_str(&envelope.event_id).map_err(|e| DecodeError::Invalid {
        field: "event_id",
        reason: e.to_string(),
    })?;
    let case_id = Uuid::parse_str(&envelope.case_id).map_err(|e| DecodeError::Invalid {
        field: "case_id",
        reason: e.to_string(),
    })?;
    let occurred_at =
        from_timestamp(envelope.occurred_at.as_ref()).ok_or(DecodeError::Invalid {
            field: "occurred_at",
            reason: "missing or out of range".into(),
        })?;
    Ok(Event {
        event_id,
        case_id,
        occurred_at,
        envelope,
    })
}

/// The payload's message name, as carried in the `xf-event-type` header.
pub fn type_name(payload: Option<&Payload>) -> &'static str {
    match payload {
        None => "Unknown",
        Some(p) => match p {
            Payload::CaseRegistered(_) => "CaseRegistered",
            Payload::CaseDispatched(_) => "CaseDispatched",
            Payload::CaseAccepted(_) => "CaseAccepted",
            Payload::CaseNotAccepted(_) => "CaseNotAccepted",
            Payload::CaseTransferred(_) => "CaseTransferred",
            Payload::DeadlineExtended(_) => "DeadlineExtended",
            Payload::ReplyIssued(_) => "ReplyIssued",
            Payload::CaseClosed(_) => "CaseClosed",
            Payload::ReviewRequested(_) => "ReviewRequested",
            Payload::CaseEscalated(_) => "CaseEscalated",
            Payload::DeadlineWarning(_) => "DeadlineWarning",
            Payload::DeadlineBreached(_) => "DeadlineBreached",
            Payload::SupervisionCardIssued(_) => "SupervisionCardIssued",
            Payload::DuplicateLinked(_) => "DuplicateLinked",
            Payload::FollowUpScheduled(_) => "FollowUpScheduled",
            Payload::FollowUpCompleted(_) => "FollowUpCompleted",
            Payload::SatisfactionRecorded(_) => "SatisfactionRecorded",
            Payload::UrgentAlertRaised(_) => "UrgentAlertRaised",
            Payload::LeaderOwnershipAssigned(_) => "LeaderOwnershipAssigned",
            Payload::DeadlineSet(_) => "DeadlineSet",
            Payload::CollectiveIssueGrouped(_) => "CollectiveIssueGrouped",
            Payload::LeaderOwnershipReleased(_) => "LeaderOwnershipReleased",
            Payload::ReceptionSessionScheduled(_) => "ReceptionSessionScheduled",
            Payload::ReceptionSessionChanged(_) => "ReceptionSessionChanged",
            Payload::ReceptionSessionCancelled(_) => "ReceptionSessionCancelled",
            Payload::AppointmentBooked(_) => "AppointmentBooked",
            Payload::AppointmentMoved(_) => "AppointmentMoved",
            Payload::AppointmentCancelled(_) => "AppointmentCancelled",
            Payload::FollowUpOverdue(_) => "FollowUpOverdue",
            Payload::HotspotDetected(_) => "HotspotDetected",
            Payload::MonthlyReportIssued(_) => "MonthlyReportIssued",
            Payload::ClockPaused(_) => "ClockPaused",
            Payload::ClockResumed(_) => "ClockResumed",
        },
    }
}

/// Tier of a jurisdiction code by its length (6 county, 9 township, 12 village).
pub fn tier_of_code(code: &str) -> Tier {
    match code.len() {
        6 => Tier::County,
        9 => Tier::Township,
        12 => Tier::Village,
        _ => Tier::Unspecified,
    }
}

/// The level one above a jurisdiction code and that level's code: a village's
/// township, a township's county, a county's city (its first four digits). Total: a
/// code of any other length counts as a county's, and a code shorter than four
/// characters is its own city code; it never panics.
pub fn above(code: &str) -> (Tier, String) {
    let head = |n: usize| code.get(..n).unwrap_or(code).to_owned();
    match code.len() {
        12 => (Tier::Township, head(9)),
        9 => (Tier::County, head(6)),
        _ => (Tier::City, head(4)),
    }
}

/// Lower-case tier name used in span attributes and read models.
pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Unspecified => "unspecified",
        Tier::County => "county",
        Tier::Township => "township",
        Tier::Village => "village",
        Tier::City => "city",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::CaseRegistered;

    #[test]
    fn the_level_above_is_total() {
        assert_eq!(above("330122002200"), (Tier::Township, "330122002".into()));
        assert_eq!(above("330122002"), (Tier::County, "330122".into()));
        assert_eq!(above("330122"), (Tier::City, "3301".into()));
        assert_eq!(above("33"), (Tier::City, "33".into()));
        assert_eq!(above(""), (Tier::City, "".into()));
        // A multi-byte character across the cut is never split.
        assert_eq!(above("333é"), (Tier::City, "333é".into()));
        assert_eq!(above("33é1"), (Tier::City, "33é".into()));
    }

    #[test]
    fn round_trip_keeps_ids_and_payload() {
        let case = Uuid::now_v7();
        let at = Utc::now();
        let env = envelope(
            case,
            "intake",
            Tier::Village,
            "330102001001",
            at,
            Payload::CaseRegistered(CaseRegistered {
                registration_no: "330102-2026-000001".into(),
                ..Default::default()
            }),
        );
        let ev = decode(&encode(&env)).expect("decodes");
        assert_eq!(ev.case_id, case);
        assert_eq!(ev.type_name(), "CaseRegistered");
        assert_eq!(ev.tier(), Tier::Village);
        assert_eq!(ev.occurred_at.timestamp_micros(), at.timestamp_micros());
    }

    #[test]
    fn garbage_and_bad_ids_are_rejected() {
        assert!(decode(b"\xff\xff\xff not protobuf").is_err());
        let mut env = envelope(
            Uuid::now_v7(),
            "intake",
            Tier::County,
            "330102",
            Utc::now(),
            Payload::CaseAccepted(Default::default()),
        );
        env.case_id = "not-a-uuid".into();
        match decode(&encode(&env)) {
            Err(DecodeError::Invalid { field, .. }) => assert_eq!(field, "case_id"),
            other => panic!("expected invalid case_id, got {other:?}"),
        }
    }

    #[test]
    fn tiers_follow_code_length() {
        assert_eq!(tier_of_code("330102"), Tier::County);
        assert_eq!(tier_of_code("330102001"), Tier::Township);
        assert_eq!(tier_of_code("330102001001"), Tier::Village);
        assert_eq!(tier_of_code("33"), Tier::Unspecified);
    }
}
