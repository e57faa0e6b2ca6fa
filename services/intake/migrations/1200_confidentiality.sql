-- Confidentiality (R13, R32).
-- Categories the public Open311 list may show (FixMyStreet's non-private categories):
-- matters of the place (roads, environment), never accusations or personal matters.
ALTER TABLE categories ADD COLUMN public BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE categories ADD CONSTRAINT categories_accusations_never_public
    CHECK (NOT (public AND class = 'accusation'));
UPDATE categories SET public = true WHERE code IN ('transport', 'environment');

-- Where a case is handled and by whom, as routing's events tell intake: the lead unit
-- (handling_unit), the assisting units and the competent jurisdiction. Reads of the
-- register are checked against them.
ALTER TABLE cases
    ADD COLUMN assisting_units TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN handled_in      TEXT;

-- Every read of a case's content or identity: who, when, of which case, why, and what.
-- (The table keeps its first name; it now records register reads too.)
ALTER TABLE vault_audit ADD CONSTRAINT vault_audit_what CHECK (what IN (
    'identity', 'identity, confidential content', 'case', 'case, confidential content'));

-- Per-client budgets of the public endpoints, shared by every replica: a GCRA cell per
-- (bucket, client) holding the theoretical arrival time. The client is a keyed hash of
-- its address, never the address itself.
CREATE TABLE rate_limits (
    bucket  TEXT NOT NULL CHECK (bucket IN ('citizen', 'open311')),
    client  BYTEA NOT NULL,
    tat     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bucket, client)
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
