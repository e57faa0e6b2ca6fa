-- One row per deadline clock of a case stage.
CREATE TABLE clocks (
    id                BIGSERIAL PRIMARY KEY,
    case_id           UUID NOT NULL,
    stage             TEXT NOT NULL,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    started_at        TIMESTAMPTZ NOT NULL,
    due_at            TIMESTAMPTZ NOT NULL,
    stopped_at        TIMESTAMPTZ,
    state             TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'breached')),
    period_days       INTEGER NOT NULL,
    policy            TEXT NOT NULL,
    trace_id          TEXT,
    UNIQUE (case_id, stage, started_at)
);
CREATE INDEX clocks_case ON clocks (case_id);
CREATE INDEX clocks_running_due ON clocks (due_at) WHERE state = 'running';
CREATE INDEX clocks_jurisdiction ON clocks (jurisdiction_code text_pattern_ops);
