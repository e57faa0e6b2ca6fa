-- The accused unit of an accusation (CaseRegistered.excluded_unit_id): it never reads
-- the case's facts (R13).
ALTER TABLE case_facts ADD COLUMN excluded_unit_id TEXT;
