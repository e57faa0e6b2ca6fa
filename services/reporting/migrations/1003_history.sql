-- History kept by reporting: an append-only ledger of every case event (codes, units,
-- tiers and flags only, never free text), the path of each case over the tiers, and
-- the figures each case contributes to statistics. `case_facts` is refolded from the
-- ledger on every event, so a duplicate or out-of-order delivery changes nothing.
CREATE TABLE ledger (
    event_id          UUID PRIMARY KEY,
    case_id           UUID NOT NULL,
    occurred_at       TIMESTAMPTZ NOT NULL,
    event_type        TEXT NOT NULL,
    producer          TEXT NOT NULL,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    status_after      TEXT,
    -- The envelope with every free-text and pseudonymous field cleared (protobuf).
    envelope          BYTEA NOT NULL,
    ingested_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_case ON ledger (case_id, occurred_at, event_id);
CREATE INDEX ledger_time ON ledger (occurred_at);

-- Every (tier, place, unit) a case passed through, in order (village → township → county).
CREATE TABLE case_visits (
    case_id           UUID NOT NULL,
    seq               INTEGER NOT NULL,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    entered_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_visits_unit ON case_visits (unit_id);
CREATE INDEX case_visits_tier ON case_visits (tier, jurisdiction_code);

ALTER TABLE case_facts
    ADD COLUMN matter_code        TEXT,
    ADD COLUMN office_code        TEXT,
    ADD COLUMN collective         BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN headcount          INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN confidential       BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN dispatched_at      TIMESTAMPTZ,
    ADD COLUMN accepted_at        TIMESTAMPTZ,
    ADD COLUMN not_accepted_at    TIMESTAMPTZ,
    ADD COLUMN referred           BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN replied_at         TIMESTAMPTZ,
    ADD COLUMN closed_at          TIMESTAMPTZ,
    ADD COLUMN reply_outcome      TEXT,
    ADD COLUMN acceptance_late    BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN handling_late      BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN breaches           INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN extensions         INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN escalations        INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN reviews_asked      INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN reviews_upheld     INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN reviews_reversed   INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN repeat_petition    BOOLEAN NOT NULL DEFAULT FALSE,
    -- The unit and place whose handling a repeat or skip-level filing followed (R17).
    ADD COLUMN followed_unit_id   TEXT,
    ADD COLUMN satisfaction_score INTEGER,
    ADD COLUMN follow_ups         INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN follow_ups_reached INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN follow_ups_satisfied INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN follow_ups_overdue INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN appointments       INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN leader_ids         TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN signature          INTEGER[] NOT NULL DEFAULT '{}',
    ADD COLUMN archived_at        TIMESTAMPTZ;
CREATE INDEX case_facts_registered ON case_facts (registered_at);
CREATE INDEX case_facts_closed ON case_facts (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX case_facts_matter ON case_facts (matter_code text_pattern_ops);

-- Monthly reports as generated: stored whole, so last month's report reads the same
-- tomorrow. One per office and month.
CREATE TABLE reports (
    id                UUID PRIMARY KEY,
    month             TEXT NOT NULL,
    office_code       TEXT NOT NULL,
    generated_at      TIMESTAMPTZ NOT NULL,
    body              JSONB NOT NULL,
    UNIQUE (month, office_code)
);

-- The monthly job: one row per month claimed by exactly one replica.
CREATE TABLE report_runs (
    month             TEXT PRIMARY KEY,
    claimed_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ,
    offices           INTEGER NOT NULL DEFAULT 0
);

-- Hotspots found (and announced with HotspotDetected), one per method, place,
-- category and period.
CREATE TABLE hotspots (
    id                UUID PRIMARY KEY,
    method            TEXT NOT NULL,
    category          TEXT NOT NULL DEFAULT '',
    jurisdiction_code TEXT NOT NULL,
    period_start      TIMESTAMPTZ NOT NULL,
    period_end        TIMESTAMPTZ NOT NULL,
    observed          INTEGER NOT NULL,
    expected          DOUBLE PRECISION NOT NULL,
    score             DOUBLE PRECISION NOT NULL,
    registration_nos  TEXT[] NOT NULL DEFAULT '{}',
    detected_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (method, category, jurisdiction_code, period_start)
);
CREATE INDEX hotspots_place ON hotspots (jurisdiction_code text_pattern_ops);
