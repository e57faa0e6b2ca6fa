-- Oversight: the case registry and tier moves (cross-level monitor), supervision cards
-- (督办卡), leader case ownership (领导包案) and accountability records.

-- Every case supervision has seen, and where it is now.
CREATE TABLE oversight_cases (
    case_id           UUID PRIMARY KEY,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT,
    -- Set once the case has been dispatched to a unit.
    dispatched        BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    moved_at          TIMESTAMPTZ NOT NULL,
    -- Set when the case closed after its latest dispatch.
    closed_at         TIMESTAMPTZ
);
CREATE INDEX oversight_cases_jurisdiction ON oversight_cases (jurisdiction_code text_pattern_ops);

-- One row per dispatch of a case: the chain of tiers, jurisdictions and units.
CREATE TABLE tier_moves (
    id                BIGSERIAL PRIMARY KEY,
    event_id          UUID NOT NULL UNIQUE,
    case_id           UUID NOT NULL,
    at                TIMESTAMPTZ NOT NULL,
    tier              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    unit_id           TEXT NOT NULL,
    unit_name         TEXT NOT NULL,
    -- Why the case came here: overdue | review_requested | skip_level | card_overdue;
    -- NULL for a first or same-tier dispatch.
    reason            TEXT,
    skip_level        BOOLEAN NOT NULL,
    review_level      SMALLINT NOT NULL
);
CREATE INDEX tier_moves_case ON tier_moves (case_id, at, id);
CREATE INDEX tier_moves_reason_at ON tier_moves (at) WHERE reason IS NOT NULL;
CREATE INDEX tier_moves_jurisdiction ON tier_moves (jurisdiction_code text_pattern_ops);

-- Escalation notices (CaseEscalated) as they were published.
CREATE TABLE escalation_notices (
    id                     BIGSERIAL PRIMARY KEY,
    event_id               UUID NOT NULL UNIQUE,
    case_id                UUID NOT NULL,
    at                     TIMESTAMPTZ NOT NULL,
    producer               TEXT NOT NULL,
    reason                 TEXT NOT NULL,
    stage                  TEXT NOT NULL,
    from_tier              TEXT NOT NULL,
    from_jurisdiction_code TEXT NOT NULL,
    from_unit_id           TEXT NOT NULL,
    to_tier                TEXT NOT NULL,
    to_jurisdiction_code   TEXT NOT NULL
);
CREATE INDEX escalation_notices_case ON escalation_notices (case_id, at, id);

-- Supervision cards: instruction, undertaking unit, deadline.
CREATE TABLE cards (
    id                  UUID PRIMARY KEY,
    case_id             UUID NOT NULL,
    -- The case's jurisdiction when the card was issued (the card's scope).
    jurisdiction_code   TEXT NOT NULL,
    instruction         TEXT NOT NULL,
    undertaking_unit_id TEXT NOT NULL,
    state               TEXT NOT NULL
        CHECK (state IN ('issued', 'acknowledged', 'in_progress', 'completed')),
    issued_by           TEXT NOT NULL,
    issued_at           TIMESTAMPTZ NOT NULL,
    due_at              TIMESTAMPTZ NOT NULL,
    acknowledged_at     TIMESTAMPTZ,
    acknowledged_by     TEXT,
    completed_at        TIMESTAMPTZ,
    completed_by        TEXT,
    result              TEXT,
    -- Set once, by the sweep, when the deadline passed before completion.
    overdue_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX cards_case ON cards (case_id);
CREATE INDEX cards_jurisdiction ON cards (jurisdiction_code text_pattern_ops);
CREATE INDEX cards_unit ON cards (undertaking_unit_id);
CREATE INDEX cards_due ON cards (due_at) WHERE state <> 'completed' AND overdue_at IS NULL;

-- Progress reports of the undertaking unit.
CREATE TABLE card_reports (
    id      BIGSERIAL PRIMARY KEY,
    card_id UUID NOT NULL REFERENCES cards (id),
    at      TIMESTAMPTZ NOT NULL,
    by_sub  TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX card_reports_card ON card_reports (card_id, id);

-- Urge notices (催办).
CREATE TABLE card_urges (
    id      BIGSERIAL PRIMARY KEY,
    card_id UUID NOT NULL REFERENCES cards (id),
    at      TIMESTAMPTZ NOT NULL,
    by_sub  TEXT NOT NULL,
    note    TEXT NOT NULL
);
CREATE INDEX card_urges_card ON card_urges (card_id, id);

-- Every step of a card.
CREATE TABLE card_history (
    id      BIGSERIAL PRIMARY KEY,
    card_id UUID NOT NULL REFERENCES cards (id),
    at      TIMESTAMPTZ NOT NULL,
    action  TEXT NOT NULL,
    by_sub  TEXT NOT NULL,
    detail  JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX card_history_card ON card_history (card_id, id);

-- Leader case ownership: one active owner per case; ended rows are the history.
CREATE TABLE ownerships (
    id                UUID PRIMARY KEY,
    case_id           UUID NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    leader_id         TEXT NOT NULL,
    leader_title      TEXT NOT NULL,
    duties            TEXT[] NOT NULL,
    assigned_by       TEXT NOT NULL,
    assigned_at       TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ,
    ended_by          TEXT,
    -- released | replaced
    end_kind          TEXT CHECK (end_kind IN ('released', 'replaced')),
    end_reason        TEXT,
    CHECK ((ended_at IS NULL) = (end_kind IS NULL))
);
CREATE UNIQUE INDEX ownerships_one_active ON ownerships (case_id) WHERE ended_at IS NULL;
CREATE INDEX ownerships_jurisdiction ON ownerships (jurisdiction_code text_pattern_ops);
CREATE INDEX ownerships_case ON ownerships (case_id, assigned_at);

-- Missed deadlines followed by a repeat or skip-level petition on the same matter.
CREATE TABLE accountability_records (
    id                BIGSERIAL PRIMARY KEY,
    unit_id           TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    original_case_id  UUID NOT NULL,
    clock_id          BIGINT NOT NULL,
    stage             TEXT NOT NULL,
    due_at            TIMESTAMPTZ NOT NULL,
    stopped_at        TIMESTAMPTZ,
    overdue_secs      BIGINT NOT NULL,
    -- repeat | skip_level
    followed_by       TEXT NOT NULL CHECK (followed_by IN ('repeat', 'skip_level')),
    new_case_id       UUID NOT NULL,
    at                TIMESTAMPTZ NOT NULL,
    UNIQUE (new_case_id, clock_id)
);
CREATE INDEX accountability_at ON accountability_records (at);
CREATE INDEX accountability_jurisdiction ON accountability_records (jurisdiction_code text_pattern_ops);
