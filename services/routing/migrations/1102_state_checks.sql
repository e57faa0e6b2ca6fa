-- Every state and kind column holds only the values of its Rust enum (domain::case,
-- domain::catalog); tests/schema.rs proves that the two lists agree.
ALTER TABLE cases
    ADD CONSTRAINT cases_status_check CHECK (status IN (
        'dispatched', 'transfer_requested', 'accepted', 'replied', 'closed',
        'not_accepted', 'linked', 'city')),
    ADD CONSTRAINT cases_extension_check CHECK (extension IN (
        'none', 'requested', 'approved', 'rejected')),
    ADD CONSTRAINT cases_tier_check CHECK (tier IN ('village', 'township', 'county', 'city')),
    ADD CONSTRAINT cases_reply_outcome_check CHECK (reply_outcome IS NULL OR reply_outcome IN (
        'support', 'explain', 'not_support')),
    ADD CONSTRAINT cases_pending_check CHECK (pending IS NULL
        OR pending ->> 'kind' IN ('transfer', 'extension'));

ALTER TABLE units
    ADD CONSTRAINT units_kind_check CHECK (kind IN (
        'department', 'township_office', 'village_committee', 'discipline', 'xfb'));

ALTER TABLE rules
    ADD CONSTRAINT rules_competent_tier_check CHECK (competent_tier IN (
        'place', 'village', 'township', 'county')),
    ADD CONSTRAINT rules_lead_unit_kind_check CHECK (lead_unit_kind IS NULL OR lead_unit_kind IN (
        'department', 'township_office', 'village_committee', 'discipline', 'xfb'));
