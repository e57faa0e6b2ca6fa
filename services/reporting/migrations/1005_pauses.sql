-- Paused deadline clocks (ClockPaused / ClockResumed): how many distinct pauses a case
-- had, the seconds they excluded from its deadlines, and whether a clock is paused now.
ALTER TABLE case_facts
    ADD COLUMN pauses      INTEGER NOT NULL DEFAULT 0 CHECK (pauses >= 0),
    ADD COLUMN paused_secs BIGINT  NOT NULL DEFAULT 0 CHECK (paused_secs >= 0),
    ADD COLUMN paused_now  BOOLEAN NOT NULL DEFAULT FALSE;

-- Two more figures at the end of every cube cell: `paused` (cases) and `paused_days`
-- (whole days per case). No case counted for them before this migration: the fold did
-- not read pause events, so a case whose ledger already holds some is counted at its
-- next event (or by a cube rebuild after its facts are refolded).
UPDATE stats_cube SET f = f || ARRAY[0, 0] WHERE cardinality(f) = 24;
UPDATE stats_cube_month SET f = f || ARRAY[0, 0] WHERE cardinality(f) = 24;
