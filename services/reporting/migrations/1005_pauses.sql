-- Paused deadline clocks (ClockPaused / ClockResumed): how many distinct pauses a case
-- had, the seconds they excluded from its deadlines, and whether a clock is paused now.
ALTER TABLE case_facts
    ADD COLUMN pauses      INTEGER NOT NULL DEFAULT 0 CHECK (pauses >= 0),
    ADD COLUMN paused_secs BIGINT  NOT NULL DEFAULT 0 CHECK (paused_secs >= 0),
    ADD COLUMN paused_now  BOOLEAN NOT NULL DEFAULT FALSE;

-- Two more figures at the end of every cube cell: `paused` (cases) and `paused_days`
-- (whole days per case), zero for every cell: before this migration the fold read no
-- pause event. A case whose ledger already held ClockPaused/ClockResumed (a clock
-- paused on a running stack before the upgrade) gets its pause columns at its next
-- event; the cube's two pause figures leave such cases out until the cube is rebuilt
-- (`store::cube::rebuild`).
UPDATE stats_cube SET f = f || ARRAY[0, 0] WHERE cardinality(f) = 24;
UPDATE stats_cube_month SET f = f || ARRAY[0, 0] WHERE cardinality(f) = 24;
