-- What the visibility rule needs of a case: where the matter arose, the accused unit
-- that must never see it or its visits (R13), its confidential flag and its assisting
-- units. Filled from CaseRegistered and CaseDispatched.
ALTER TABLE cases
    ADD COLUMN matter_code        TEXT,
    ADD COLUMN excluded_unit_id   TEXT,
    ADD COLUMN confidential       BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN assisting_unit_ids TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX cases_excluded ON cases (excluded_unit_id) WHERE excluded_unit_id IS NOT NULL;
