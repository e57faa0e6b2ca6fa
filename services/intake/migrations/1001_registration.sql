-- Full registration: flags, channel details, the citizen's query code, review and
-- satisfaction state. Identity lives only in `petitioners`, sealed.
ALTER TABLE cases
    ADD COLUMN urgency            TEXT NOT NULL DEFAULT 'normal'
        CHECK (urgency IN ('normal', 'important', 'urgent')),
    ADD COLUMN requests           TEXT NOT NULL DEFAULT '',
    ADD COLUMN anonymous          BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN collective         BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN headcount          INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN confidential       BOOLEAN NOT NULL DEFAULT false,
    -- Sealed summary and requests of a confidential accusation (summary is blanked).
    ADD COLUMN sealed_content     BYTEA,
    ADD COLUMN key_version        INTEGER,
    ADD COLUMN petitioner_pid     TEXT,
    ADD COLUMN accused_unit_id    TEXT,
    ADD COLUMN details            JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN on_spot_answer     TEXT,
    ADD COLUMN referral_channel   TEXT,
    ADD COLUMN superior_reference TEXT,
    ADD COLUMN superior_due_at    TIMESTAMPTZ,
    ADD COLUMN query_code_hash    BYTEA,
    ADD COLUMN unit_name          TEXT,
    ADD COLUMN due_at             TIMESTAMPTZ,
    ADD COLUMN replied_at         TIMESTAMPTZ,
    ADD COLUMN review_window_until TIMESTAMPTZ,
    ADD COLUMN review_state       TEXT NOT NULL DEFAULT 'none'
        CHECK (review_state IN ('none', 'review_requested', 'rereview_requested')),
    ADD COLUMN reviews_requested  INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN satisfaction       INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
    ADD COLUMN leader_owner       TEXT;

CREATE INDEX cases_pid ON cases (petitioner_pid) WHERE petitioner_pid IS NOT NULL;
CREATE INDEX cases_office_created ON cases (office_code, created_at);

-- The vault: one row per named petitioner or representative, identity sealed.
CREATE TABLE petitioners (
    case_id      UUID NOT NULL REFERENCES cases (id),
    position     INTEGER NOT NULL,
    pid          TEXT,
    key_version  INTEGER NOT NULL,
    sealed       BYTEA NOT NULL,
    PRIMARY KEY (case_id, position)
);

-- Who read decrypted identity, when, of which case, and why.
CREATE TABLE vault_audit (
    id            BIGSERIAL PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL,
    reader        TEXT NOT NULL,
    reader_unit   TEXT,
    reader_scope  TEXT NOT NULL,
    case_id       UUID NOT NULL,
    reason        TEXT NOT NULL,
    what          TEXT NOT NULL
);
CREATE INDEX vault_audit_case ON vault_audit (case_id, at);
CREATE INDEX vault_audit_at ON vault_audit (at);

-- Idempotent registration: the first response to a key is returned to retries.
CREATE TABLE idempotency (
    registrar     TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    status        INTEGER,
    response      JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (registrar, key)
);
