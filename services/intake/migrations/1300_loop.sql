-- The closed loop as the petitioner is told of it: the stage and policy behind the
-- due date shown, the reply (its text read from routing, which wrote it), the earlier
-- case a repeat was linked to, review requests with their reason and outcome, and the
-- follow-up visit.
ALTER TABLE cases
    ADD COLUMN due_stage      TEXT,
    ADD COLUMN due_policy     TEXT,
    ADD COLUMN reply_outcome  TEXT,
    ADD COLUMN reply_text     TEXT,
    ADD COLUMN linked_case_id UUID;

-- 复查 (level 1) and 复核 (level 2): the petitioner's reason stays here; the outcome is
-- the reply that answered it.
CREATE TABLE reviews (
    case_id      UUID NOT NULL REFERENCES cases (id),
    level        SMALLINT NOT NULL CHECK (level IN (1, 2)),
    kind         TEXT NOT NULL CHECK (kind IN ('review', 'rereview')),
    reason       TEXT,
    requested_at TIMESTAMPTZ NOT NULL,
    outcome      TEXT,
    answered_at  TIMESTAMPTZ,
    PRIMARY KEY (case_id, level)
);

-- The follow-up visit (回访) scheduling booked and completed.
CREATE TABLE follow_ups (
    visit_id     UUID PRIMARY KEY,
    case_id      UUID NOT NULL REFERENCES cases (id),
    scheduled_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    reached      BOOLEAN,
    satisfaction TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX follow_ups_case ON follow_ups (case_id, updated_at);
