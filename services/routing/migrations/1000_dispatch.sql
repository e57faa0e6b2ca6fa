-- Routing's view of each case: where it stands and who handles it.
CREATE TABLE cases (
    id                UUID PRIMARY KEY,
    registration_no   TEXT NOT NULL,
    category          TEXT NOT NULL,
    matter_code       TEXT NOT NULL,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    unit_name         TEXT,
    status            TEXT NOT NULL,
    trace_id          TEXT,
    registered_at     TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_jurisdiction ON cases (jurisdiction_code text_pattern_ops);
CREATE INDEX cases_unit ON cases (unit_id, status);

-- Every routing step of a case, kept for the explanation and the cross-tier trail.
CREATE TABLE case_history (
    id       BIGSERIAL PRIMARY KEY,
    case_id  UUID NOT NULL REFERENCES cases (id),
    at       TIMESTAMPTZ NOT NULL,
    action   TEXT NOT NULL,
    detail   JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX case_history_case ON case_history (case_id, id);
