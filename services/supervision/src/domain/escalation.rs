//! Why a case moves up a tier: the reasons the monitor records and reports.

/// `tier_moves.reason` (NULL for a first or same-tier dispatch) and
/// `escalation_notices.reason` (also `unspecified`) hold exactly these (migration 1105).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoveReason {
    Overdue,
    ReviewRequested,
    SkipLevel,
    CardOverdue,
}

impl MoveReason {
    /// Every reason, in report order.
    pub const ALL: [MoveReason; 4] = [
        MoveReason::Overdue,
        MoveReason::ReviewRequested,
        MoveReason::SkipLevel,
        MoveReason::CardOverdue,
    ];

    /// What an escalation notice records when its event names no reason.
    pub const UNSPECIFIED: &'static str = "unspecified";

    pub const fn as_str(self) -> &'static str {
        match self {
            MoveReason::Overdue => "overdue",
            MoveReason::ReviewRequested => "review_requested",
            MoveReason::SkipLevel => "skip_level",
            MoveReason::CardOverdue => "card_overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for r in MoveReason::ALL {
            assert_eq!(MoveReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(MoveReason::parse(MoveReason::UNSPECIFIED), None);
    }
}
