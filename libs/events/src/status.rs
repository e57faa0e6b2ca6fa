//! The one mapping from case events to the status a case is in. Intake's register and
//! citizen view and reporting's read models both fold events through [`after`], so a
//! case shows the same status everywhere.
//!
//! | event | status after it |
//! | --- | --- |
//! | `CaseRegistered` | `registered` |
//! | `CaseDispatched`, `CaseTransferred` | `dispatched` (waiting for the unit to accept) |
//! | `CaseAccepted` | `accepted` |
//! | `CaseNotAccepted` | `not_accepted` |
//! | `ReplyIssued` | `replied` |
//! | `CaseClosed` | `closed` |
//! | `CaseEscalated` (not a skip-level notice) | `escalated` |
//! | `ReviewRequested` | `review_requested` |
//! | `DuplicateLinked` | `linked` (handled with its original) |
//!
//! Every other event (deadlines, follow-ups, appointments, satisfaction, ownership,
//! skip-level notices) leaves the status as it was.

use crate::Payload;
use crate::v1::EscalationReason;

/// A case's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Registered,
    Dispatched,
    Accepted,
    NotAccepted,
    Replied,
    Closed,
    Escalated,
    ReviewRequested,
    Linked,
}

impl Status {
    /// Every status, in the order of a case's life.
    pub const ALL: [Status; 9] = [
        Status::Registered,
        Status::Dispatched,
        Status::Accepted,
        Status::NotAccepted,
        Status::Replied,
        Status::Closed,
        Status::Escalated,
        Status::ReviewRequested,
        Status::Linked,
    ];

    /// The name stored in read models and shown in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "registered",
            Status::Dispatched => "dispatched",
            Status::Accepted => "accepted",
            Status::NotAccepted => "not_accepted",
            Status::Replied => "replied",
            Status::Closed => "closed",
            Status::Escalated => "escalated",
            Status::ReviewRequested => "review_requested",
            Status::Linked => "linked",
        }
    }

    /// The status of a name, if it is one.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The case needs nothing more from a unit (it may still be reviewed).
    pub fn is_settled(self) -> bool {
        matches!(self, Status::Closed | Status::NotAccepted | Status::Linked)
    }
}

/// The status an event leaves a case in, or `None` when it does not change it.
pub fn after(p: &Payload) -> Option<Status> {
    Some(match p {
        Payload::CaseRegistered(_) => Status::Registered,
        Payload::CaseDispatched(_) | Payload::CaseTransferred(_) => Status::Dispatched,
        Payload::CaseAccepted(_) => Status::Accepted,
        Payload::CaseNotAccepted(_) => Status::NotAccepted,
        Payload::ReplyIssued(_) => Status::Replied,
        Payload::CaseClosed(_) => Status::Closed,
        // A skip-level notice (filed above the competent tier) moves nothing.
        Payload::CaseEscalated(e) if e.reason == EscalationReason::SkipLevel as i32 => {
            return None;
        }
        Payload::CaseEscalated(_) => Status::Escalated,
        Payload::ReviewRequested(_) => Status::ReviewRequested,
        Payload::DuplicateLinked(_) => Status::Linked,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{CaseEscalated, DeadlineBreached, SatisfactionRecorded};

    #[test]
    fn names_round_trip_and_are_distinct() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("open"), None);
    }

    #[test]
    fn skip_level_notices_and_clock_events_move_nothing() {
        let skip = Payload::CaseEscalated(CaseEscalated {
            reason: EscalationReason::SkipLevel as i32,
            ..Default::default()
        });
        assert_eq!(after(&skip), None);
        let up = Payload::CaseEscalated(CaseEscalated {
            reason: EscalationReason::Overdue as i32,
            ..Default::default()
        });
        assert_eq!(after(&up), Some(Status::Escalated));
        assert_eq!(
            after(&Payload::DeadlineBreached(DeadlineBreached::default())),
            None
        );
        assert_eq!(
            after(&Payload::SatisfactionRecorded(SatisfactionRecorded {
                score: 5
            })),
            None
        );
    }
}
