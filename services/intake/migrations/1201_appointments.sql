-- Appointments (约访) booked for a case by scheduling, as the petitioner is told of
-- them: time, place and status, from scheduling's events.
CREATE TABLE appointments (
    id          UUID PRIMARY KEY,
    case_id     UUID NOT NULL REFERENCES cases (id),
    session_id  UUID NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    place       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('booked', 'moved', 'cancelled')),
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX appointments_case ON appointments (case_id, updated_at);
