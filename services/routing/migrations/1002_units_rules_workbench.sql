-- Units that handle cases, the responsibility rules that pick them, and the state a
-- unit's workbench needs. Reference data is versioned: every change writes a new
-- version row; cases remember the rule version that routed them.

CREATE TABLE units (
    id                TEXT PRIMARY KEY,
    version           INT NOT NULL,
    name              TEXT NOT NULL,
    -- department | township_office | village_committee | discipline | xfb
    kind              TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    categories        TEXT[] NOT NULL DEFAULT '{}',
    -- 分管领导 and the top leader (主要领导): official titles/ids, not petitioners.
    leader_in_charge  TEXT,
    top_leader        TEXT,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at        TIMESTAMPTZ NOT NULL,
    updated_by        TEXT NOT NULL
);
CREATE INDEX units_place ON units (jurisdiction_code, kind);

CREATE TABLE unit_versions (
    id          TEXT NOT NULL,
    version     INT NOT NULL,
    doc         JSONB NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    changed_by  TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE rules (
    id                 TEXT NOT NULL,
    version            INT NOT NULL,
    -- NULL: any category / anywhere. jurisdiction_code covers the place by prefix.
    category           TEXT,
    jurisdiction_code  TEXT,
    -- Flags the case must carry: collective, important, superior, accusation.
    flags              TEXT[] NOT NULL DEFAULT '{}',
    -- village | township | county | place (the tier where the matter arose)
    competent_tier     TEXT NOT NULL,
    lead_unit_id       TEXT,
    lead_unit_kind     TEXT,
    assisting_unit_ids TEXT[] NOT NULL DEFAULT '{}',
    note               TEXT NOT NULL DEFAULT '',
    effective_from     TIMESTAMPTZ NOT NULL,
    effective_to       TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    created_by         TEXT NOT NULL,
    PRIMARY KEY (id, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);

-- Bumped on every unit or rule change; dispatchers reload their cached catalog when
-- it moves (all replicas see the same number).
CREATE TABLE catalog_version (
    id      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (TRUE, 1);

ALTER TABLE cases
    ADD COLUMN excluded_unit_id   TEXT,
    ADD COLUMN assisting_unit_ids TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN leader_id          TEXT,
    ADD COLUMN important          BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN collective         BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN confidential       BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN skip_level         BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN office_code        TEXT,
    ADD COLUMN rule_id            TEXT,
    ADD COLUMN rule_version       INT,
    ADD COLUMN superior_reference TEXT,
    ADD COLUMN superior_due_at    TIMESTAMPTZ,
    ADD COLUMN review_level       SMALLINT NOT NULL DEFAULT 0,
    -- The re-review (复核) concluded: the same facts are not accepted again (Art. 35).
    ADD COLUMN final              BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN dispatched_at      TIMESTAMPTZ,
    ADD COLUMN extension          TEXT NOT NULL DEFAULT 'none',
    ADD COLUMN pending            JSONB,
    ADD COLUMN petitioner_pid     TEXT,
    -- Hashed character shingles of the summary (no text is kept).
    ADD COLUMN signature          INT4[] NOT NULL DEFAULT '{}',
    ADD COLUMN linked_to          UUID,
    ADD COLUMN group_id           UUID,
    ADD COLUMN reply_outcome      TEXT,
    ADD COLUMN reply_text         TEXT;

UPDATE cases SET dispatched_at = registered_at WHERE dispatched_at IS NULL;

-- The workbench: a unit's list, newest first, with keyset paging.
DROP INDEX IF EXISTS cases_unit;
CREATE INDEX cases_unit_list ON cases (unit_id, dispatched_at DESC, id DESC);
CREATE INDEX cases_unit_status_list ON cases (unit_id, status, dispatched_at DESC, id DESC);
CREATE INDEX cases_assisting ON cases USING GIN (assisting_unit_ids);
CREATE INDEX cases_list ON cases (dispatched_at DESC, id DESC);
-- Repeat detection: the same petitioner and category; collective grouping: the same
-- place and category.
CREATE INDEX cases_petitioner ON cases (petitioner_pid, category, registered_at DESC)
    WHERE petitioner_pid IS NOT NULL;
CREATE INDEX cases_place ON cases (matter_code, category, registered_at DESC);

CREATE TABLE issue_groups (
    id                UUID PRIMARY KEY,
    jurisdiction_code TEXT NOT NULL,
    category          TEXT NOT NULL,
    first_case_id     UUID NOT NULL,
    member_count      INT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX issue_groups_place ON issue_groups (jurisdiction_code text_pattern_ops);
