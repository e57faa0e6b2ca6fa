-- One row per case, folded from every event: the base of all statistics.
CREATE TABLE case_facts (
    case_id           UUID PRIMARY KEY,
    registration_no   TEXT,
    category          TEXT,
    channel           TEXT,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    status            TEXT NOT NULL,
    registered_at     TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ NOT NULL,
    events            INTEGER NOT NULL DEFAULT 0,
    trace_id          TEXT
);
CREATE INDEX case_facts_jurisdiction ON case_facts (jurisdiction_code text_pattern_ops);
CREATE INDEX case_facts_tier_status ON case_facts (tier, status);
