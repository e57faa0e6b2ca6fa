-- A case's status is one of xf_events::status::Status; a test reads this constraint
-- back and compares it with the enum.
ALTER TABLE cases ADD CONSTRAINT cases_status_check CHECK (status IN (
    'registered', 'dispatched', 'accepted', 'not_accepted', 'replied', 'closed',
    'escalated', 'review_requested', 'linked'));
