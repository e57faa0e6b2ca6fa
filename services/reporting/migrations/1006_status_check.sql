-- The status of a case's facts and the status after each ledger event are among
-- xf_events::status::Status; a test reads these constraints back and compares them
-- with the enum.
ALTER TABLE case_facts ADD CONSTRAINT case_facts_status_check CHECK (status IN (
    'registered', 'dispatched', 'accepted', 'not_accepted', 'replied', 'closed',
    'escalated', 'review_requested', 'linked'));
ALTER TABLE ledger ADD CONSTRAINT ledger_status_after_check CHECK (status_after IN (
    'registered', 'dispatched', 'accepted', 'not_accepted', 'replied', 'closed',
    'escalated', 'review_requested', 'linked'));
