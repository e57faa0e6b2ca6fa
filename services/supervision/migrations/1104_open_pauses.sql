-- The sweeper looks for pauses that reached their planned end on every pass: only the
-- open ones, so an index of those alone keeps the pass cheap however many pauses ended.
CREATE INDEX clock_pauses_open ON clock_pauses (paused_at) WHERE resumed_at IS NULL;
