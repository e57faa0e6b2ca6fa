-- Every state and kind column holds exactly the values of its enum in src/domain
-- (tests/schema.rs proves they agree): clocks.state (ClockState) and cards.state
-- (CardState) are checked since 1001 and 1102; timers.kind (TimerKind) and the
-- reasons a case moved up a tier (MoveReason) from here on.
ALTER TABLE timers
    ADD CONSTRAINT timers_kind_check CHECK (kind IN ('warning', 'breach'));
ALTER TABLE tier_moves
    ADD CONSTRAINT tier_moves_reason_check CHECK (reason IS NULL OR reason IN
        ('overdue', 'review_requested', 'skip_level', 'card_overdue'));
ALTER TABLE escalation_notices
    ADD CONSTRAINT escalation_notices_reason_check CHECK (reason IN
        ('unspecified', 'overdue', 'review_requested', 'skip_level', 'card_overdue'));
