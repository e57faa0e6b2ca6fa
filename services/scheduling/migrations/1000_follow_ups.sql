-- Cases scheduling knows of, to book reception and follow-up visits where they arise.
CREATE TABLE cases (
    id                UUID PRIMARY KEY,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    status            TEXT NOT NULL,
    trace_id          TEXT,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_jurisdiction ON cases (jurisdiction_code text_pattern_ops);

-- Follow-up visits (回访) after closure.
CREATE TABLE follow_ups (
    id            UUID PRIMARY KEY,
    case_id       UUID NOT NULL REFERENCES cases (id),
    scheduled_at  TIMESTAMPTZ NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('scheduled', 'completed', 'cancelled')),
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (case_id)
);
CREATE INDEX follow_ups_due ON follow_ups (scheduled_at) WHERE state = 'scheduled';
