-- What the visibility rule (xf-access) needs of a case: where the matter arose, the
-- accused unit that must never see it (R13), its confidential flag and its assisting
-- units. Filled from CaseRegistered and CaseDispatched.
ALTER TABLE oversight_cases
    ADD COLUMN matter_code      TEXT,
    ADD COLUMN excluded_unit_id TEXT,
    ADD COLUMN confidential     BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN assisting_unit_ids TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX oversight_cases_excluded ON oversight_cases (excluded_unit_id)
    WHERE excluded_unit_id IS NOT NULL;
