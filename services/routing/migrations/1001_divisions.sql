-- The jurisdiction tree: one row per county, township and village. Imports validate
-- the tree before writing it (codes, names, parents), so the table has no foreign
-- key and is bulk-loaded with COPY. tier: 1 county, 2 township, 3 village; parent is
-- NULL for a county.
CREATE TABLE divisions (
    code   TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    tier   SMALLINT NOT NULL,
    parent TEXT
);
CREATE INDEX divisions_parent ON divisions (parent);

-- One row: bumped by every import, so services can tell when to reload the tree.
CREATE TABLE divisions_version (
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    version     BIGINT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);
