-- What the petitioner was told and how (R15, 篇三 六: the outcome, the 3-month
-- progress notice, the follow-up). Only intake holds their contact, so only intake
-- sends these; anonymous items get none.
CREATE TABLE petitioner_notices (
    id        UUID PRIMARY KEY,
    event_id  UUID NOT NULL,
    case_id   UUID NOT NULL REFERENCES cases (id),
    kind      TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    -- webhook: queued for the gateway; none: no phone on file (shown in the view only).
    channel   TEXT NOT NULL CHECK (channel IN ('webhook', 'none')),
    UNIQUE (event_id, kind)
);
CREATE INDEX petitioner_notices_case ON petitioner_notices (case_id, at);

-- Outbound deliveries (the signed webhook to the SMS gateway, libs/notify).
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    body            JSONB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    last_status     INTEGER,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
