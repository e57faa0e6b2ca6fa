-- Supervision cards drafted (拟办), approved, issued, transferred (转办), urged (催办)
-- and answered (completed).
ALTER TABLE cards DROP CONSTRAINT cards_state_check;
ALTER TABLE cards ADD CONSTRAINT cards_state_check CHECK (state IN
    ('draft', 'approved', 'issued', 'acknowledged', 'in_progress', 'completed'));
ALTER TABLE cards
    ADD COLUMN approved_by TEXT,
    ADD COLUMN approved_at TIMESTAMPTZ,
    ADD COLUMN transfers   INTEGER NOT NULL DEFAULT 0;
