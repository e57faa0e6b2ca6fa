-- Offices with a reception calendar, their people, versioned reception rules, annual
-- plans and their sessions, swaps, the duty roster and log, handovers, appointments
-- and follow-up visits. Officials appear by name and post only (R25); petitioners
-- never: appointments and follow-ups hold a case id.

CREATE TABLE offices (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    jurisdiction_code  TEXT NOT NULL CHECK (jurisdiction_code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    kind               TEXT NOT NULL CHECK (kind IN ('county', 'bureau', 'court', 'township', 'village')),
    place              TEXT NOT NULL,
    notice_days        INT NOT NULL CHECK (notice_days BETWEEN 0 AND 30),
    follow_up_hours    INT NOT NULL CHECK (follow_up_hours BETWEEN 1 AND 720),
    duty               JSONB NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX offices_jurisdiction ON offices (jurisdiction_code text_pattern_ops);

CREATE TABLE people (
    office_id  TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    post       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('leader', 'staff')),
    PRIMARY KEY (office_id, id)
);

CREATE TABLE rules (
    office_id       TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    version         INT NOT NULL CHECK (version >= 1),
    effective_from  DATE NOT NULL,
    effective_to    DATE CHECK (effective_to IS NULL OR effective_to > effective_from),
    kind            TEXT NOT NULL CHECK (kind IN ('fixed_day', 'last_day', 'nth_weekday', 'last_weekday',
                                                  'weekly', 'working_days', 'lunar_days', 'goal')),
    holiday_policy  TEXT NOT NULL CHECK (holiday_policy IN ('skip', 'next_working_day', 'previous_working_day')),
    spec            JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (office_id, id, version)
);

CREATE TABLE plans (
    office_id     TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    year          INT NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    state         TEXT NOT NULL CHECK (state IN ('draft', 'published')),
    provisional   BOOLEAN NOT NULL,
    violations    JSONB NOT NULL,
    proposal      JSONB,
    generated_at  TIMESTAMPTZ NOT NULL,
    published_at  TIMESTAMPTZ,
    PRIMARY KEY (office_id, year)
);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    office_id     TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    year          INT NOT NULL,
    rule_id       TEXT NOT NULL,
    rule_version  INT NOT NULL,
    nominal_date  DATE NOT NULL,
    slot          SMALLINT NOT NULL,
    date          DATE NOT NULL,
    starts_at     TIME NOT NULL,
    ends_at       TIME NOT NULL CHECK (ends_at > starts_at),
    post          TEXT NOT NULL,
    leader_id     TEXT NOT NULL,
    place         TEXT NOT NULL,
    form          TEXT NOT NULL CHECK (form IN ('fixed_point', 'appointment', 'cases_to_ground',
                                                'follow_up', 'random', 'on_site')),
    capacity      INT NOT NULL CHECK (capacity >= 1),
    status        TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    published     BOOLEAN NOT NULL,
    sequence      INT NOT NULL DEFAULT 0,
    pinned        BOOLEAN NOT NULL DEFAULT false,
    provisional   BOOLEAN NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (office_id, rule_id, nominal_date, slot)
);
CREATE INDEX sessions_office_date ON sessions (office_id, date, starts_at) WHERE published;
CREATE INDEX sessions_leader_date ON sessions (office_id, leader_id, date);
CREATE INDEX sessions_year ON sessions (office_id, year);

-- Cases a session carries to the ground (带案下访).
CREATE TABLE session_cases (
    session_id  UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    case_id     UUID NOT NULL,
    added_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, case_id)
);

-- Swap and substitute requests (R24), accepted or refused: the history.
CREATE TABLE swaps (
    id                UUID PRIMARY KEY,
    office_id         TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('swap', 'substitute')),
    session_id        UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    other_session_id  UUID REFERENCES sessions (id) ON DELETE CASCADE,
    from_leader       TEXT NOT NULL,
    to_leader         TEXT NOT NULL,
    outcome           TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    refused_rule      TEXT,
    requested_by      TEXT NOT NULL,
    requested_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX swaps_office ON swaps (office_id, requested_at);

CREATE TABLE duty_roster (
    office_id  TEXT NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    date       DATE NOT NULL,
    person_id  TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('leader', 'staff')),
    source     TEXT NOT NULL CHECK (source IN ('generated', 'manual')),
    PRIMARY KEY (office_id, date, person_id)
);

-- The duty log (坐班日志): append-only.
CREATE TABLE duty_log (
    id           BIGSERIAL PRIMARY KEY,
    office_id    TEXT NOT NULL REFERENCES offices (id),
    date         DATE NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('visit', 'call', 'letter', 'superior', 'dispute', 'other')),
    category     TEXT,
    case_id      UUID,
    headcount    INT NOT NULL CHECK (headcount >= 1),
    received_by  TEXT[] NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('answered_on_spot', 'registered', 'referred', 'appointment', 'recorded')),
    recorded_by  TEXT NOT NULL
);
CREATE INDEX duty_log_office_date ON duty_log (office_id, date);

CREATE TABLE handovers (
    id             BIGSERIAL PRIMARY KEY,
    office_id      TEXT NOT NULL REFERENCES offices (id),
    date           DATE NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    from_person    TEXT NOT NULL,
    to_person      TEXT NOT NULL,
    open_case_ids  UUID[] NOT NULL,
    recorded_by    TEXT NOT NULL
);
CREATE INDEX handovers_office_date ON handovers (office_id, date);

CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER duty_log_append_only BEFORE UPDATE OR DELETE ON duty_log
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER handovers_append_only BEFORE UPDATE OR DELETE ON handovers
    FOR EACH ROW EXECUTE FUNCTION append_only();

CREATE TABLE appointments (
    id          UUID PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES sessions (id),
    case_id     UUID NOT NULL REFERENCES cases (id),
    state       TEXT NOT NULL CHECK (state IN ('booked', 'cancelled')),
    moves       INT NOT NULL DEFAULT 0,
    booked_by   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
-- One live appointment per case: a second booking is a double booking.
CREATE UNIQUE INDEX appointments_one_per_case ON appointments (case_id) WHERE state = 'booked';
CREATE INDEX appointments_session ON appointments (session_id) WHERE state = 'booked';

-- Follow-up visits: due within the office's period, assigned, completed with an outcome.
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_state_check;
UPDATE follow_ups SET state = 'due' WHERE state = 'scheduled';
ALTER TABLE follow_ups
    ADD CONSTRAINT follow_ups_state_check
        CHECK (state IN ('due', 'assigned', 'overdue', 'completed', 'cancelled')),
    ADD COLUMN office_id      TEXT,
    ADD COLUMN period_hours   INT NOT NULL DEFAULT 168,
    ADD COLUMN assignee       TEXT,
    ADD COLUMN reached        BOOLEAN,
    ADD COLUMN satisfaction   TEXT CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'not_satisfied')),
    ADD COLUMN rebound_risk   BOOLEAN,
    ADD COLUMN completed_at   TIMESTAMPTZ,
    ADD COLUMN completed_by   TEXT,
    ADD COLUMN overdue_at     TIMESTAMPTZ,
    ADD CONSTRAINT follow_ups_completed_outcome
        CHECK (state <> 'completed' OR (reached IS NOT NULL AND rebound_risk IS NOT NULL AND completed_at IS NOT NULL));
DROP INDEX follow_ups_due;
CREATE INDEX follow_ups_open ON follow_ups (scheduled_at) WHERE state IN ('due', 'assigned');
CREATE INDEX follow_ups_office ON follow_ups (office_id, state);
