-- What supervision and routing add to a case's facts: its owning leader (领导包案),
-- the possible collective issue it belongs to, a missed deadline, a skip-level filing.
ALTER TABLE case_facts
    ADD COLUMN leader_title TEXT,
    ADD COLUMN group_id     UUID,
    ADD COLUMN overdue      BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN skip_level   BOOLEAN NOT NULL DEFAULT FALSE;
