-- Deadline policies as data, and durable timers that fire warnings and breaches once.

CREATE TABLE policies (
    id                TEXT NOT NULL,
    version           INT NOT NULL,
    name              TEXT NOT NULL,
    -- The division the policy covers with everything below it; '' covers everywhere.
    jurisdiction_code TEXT NOT NULL DEFAULT '',
    -- {"<stage>": {"days": n, "counting": "calendar_days"|"working_days",
    --              "warn_days": [3, 1], "max_extension_days": 30}, ...}
    stages            JSONB NOT NULL,
    preset            TEXT,
    effective_from    TIMESTAMPTZ NOT NULL,
    effective_to      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    created_by        TEXT NOT NULL,
    PRIMARY KEY (id, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX policies_place ON policies (jurisdiction_code);

-- The statutory set (信访条例, in force since 2005-05-01) covers every jurisdiction
-- that has no policy of its own.
INSERT INTO policies (id, version, name, jurisdiction_code, stages, effective_from, created_at, created_by)
VALUES ('statutory', 1, '信访条例法定时限', '', '{
    "acceptance":      {"days": 15, "counting": "calendar_days", "warn_days": [3, 1]},
    "handling":        {"days": 60, "counting": "calendar_days", "warn_days": [7, 3, 1], "max_extension_days": 30},
    "review_window":   {"days": 30, "counting": "calendar_days", "warn_days": []},
    "review":          {"days": 30, "counting": "calendar_days", "warn_days": [3, 1]},
    "rereview_window": {"days": 30, "counting": "calendar_days", "warn_days": []},
    "rereview":        {"days": 30, "counting": "calendar_days", "warn_days": [3, 1]}
}'::jsonb, '2005-05-01T00:00:00+08:00', now(), 'migration');

ALTER TABLE clocks DROP CONSTRAINT IF EXISTS clocks_state_check;
ALTER TABLE clocks
    ADD CONSTRAINT clocks_state_check CHECK (state IN ('running', 'paused', 'stopped', 'breached')),
    ADD COLUMN counting       TEXT NOT NULL DEFAULT 'calendar_days',
    ADD COLUMN policy_version INT NOT NULL DEFAULT 1,
    ADD COLUMN extended_days  INT NOT NULL DEFAULT 0,
    ADD COLUMN paused_at      TIMESTAMPTZ,
    ADD COLUMN paused_secs    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN breached_at    TIMESTAMPTZ,
    -- The due moment depends on a year whose official holiday notice is not yet known.
    ADD COLUMN provisional    BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN review_level   SMALLINT NOT NULL DEFAULT 0;

CREATE TABLE timers (
    id        BIGSERIAL PRIMARY KEY,
    clock_id  BIGINT NOT NULL REFERENCES clocks (id),
    case_id   UUID NOT NULL,
    -- warning | breach
    kind      TEXT NOT NULL,
    days_left INT NOT NULL DEFAULT 0,
    fire_at   TIMESTAMPTZ NOT NULL,
    fired_at  TIMESTAMPTZ,
    cancelled BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX timers_due ON timers (fire_at) WHERE fired_at IS NULL AND NOT cancelled;
CREATE INDEX timers_clock ON timers (clock_id);
