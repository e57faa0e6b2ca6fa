-- Perfunctory handling (敷衍办理, R17): a replied case whose petitioner comes back on the
-- same matter (a repeat) or goes over the tier (skip-level) while the review window
-- is still open is flagged against the unit that replied.
CREATE TABLE perfunctory_flags (
    id                BIGSERIAL PRIMARY KEY,
    original_case_id  UUID NOT NULL,
    new_case_id       UUID NOT NULL UNIQUE,
    unit_id           TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    replied_at        TIMESTAMPTZ NOT NULL,
    window_until      TIMESTAMPTZ NOT NULL,
    followed_by       TEXT NOT NULL CHECK (followed_by IN ('repeat', 'skip_level')),
    at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX perfunctory_flags_scope ON perfunctory_flags (jurisdiction_code text_pattern_ops, at);
