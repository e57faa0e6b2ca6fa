-- Clock control: every pause with who, why (a closed list, and a note kept here), for
-- how long it was planned and what it excluded.
CREATE TABLE clock_pauses (
    id            BIGSERIAL PRIMARY KEY,
    clock_id      BIGINT NOT NULL REFERENCES clocks (id),
    case_id       UUID NOT NULL,
    stage         TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN
                      ('hearing', 'appraisal', 'awaiting_petitioner', 'awaiting_authority')),
    note          TEXT,
    planned_days  INTEGER NOT NULL CHECK (planned_days > 0),
    paused_by     TEXT NOT NULL,
    paused_at     TIMESTAMPTZ NOT NULL,
    resumed_by    TEXT,
    resumed_at    TIMESTAMPTZ,
    excluded_secs BIGINT
);
CREATE INDEX clock_pauses_case ON clock_pauses (case_id, paused_at);

-- Transfers between units (退单/改派): a transfer moves the running clocks to the new
-- unit instead of restarting them, so a case's age and deadlines survive it.
CREATE TABLE transfers (
    id        BIGSERIAL PRIMARY KEY,
    event_id  UUID NOT NULL UNIQUE,
    case_id   UUID NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    from_unit TEXT NOT NULL,
    to_unit   TEXT NOT NULL
);
CREATE INDEX transfers_case ON transfers (case_id, at);

-- Anonymous items (R3): no reply is owed, so no clock runs for telling or answering
-- the petitioner.
ALTER TABLE oversight_cases ADD COLUMN anonymous BOOLEAN NOT NULL DEFAULT FALSE;
