-- The admin audit trail: every change to what steers the service (categories, rules,
-- units, divisions, policies, offices, Open311 clients) — who, when, what, before,
-- after and why. Append-only: rows are never updated or deleted.
CREATE TABLE IF NOT EXISTS admin_audit (
    id                BIGSERIAL PRIMARY KEY,
    at                TIMESTAMPTZ NOT NULL,
    actor             TEXT NOT NULL,
    actor_unit        TEXT,
    actor_scope       TEXT NOT NULL,
    -- The scope of what was changed ("" for the whole deployment).
    jurisdiction_code TEXT NOT NULL,
    kind              TEXT NOT NULL,
    key               TEXT NOT NULL,
    action            TEXT NOT NULL CHECK (action IN ('create', 'update', 'retire', 'import')),
    before            JSONB,
    after             JSONB,
    reason            TEXT
);
CREATE INDEX IF NOT EXISTS admin_audit_kind ON admin_audit (kind, key, id);
CREATE INDEX IF NOT EXISTS admin_audit_scope ON admin_audit (jurisdiction_code text_pattern_ops, id);
