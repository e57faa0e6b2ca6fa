-- Notices for the people who must act (R5): one inbox per unit and per staff user,
-- filled from the events by the consumer. Ids and codes only — never text.
CREATE TABLE notices (
    id                UUID PRIMARY KEY,
    event_id          UUID NOT NULL,
    case_id           UUID NOT NULL,
    recipient_kind    TEXT NOT NULL CHECK (recipient_kind IN ('unit', 'user')),
    recipient         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    detail            JSONB NOT NULL DEFAULT '{}'::jsonb,
    jurisdiction_code TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    read_at           TIMESTAMPTZ,
    read_by           TEXT,
    UNIQUE (event_id, recipient_kind, recipient)
);
CREATE INDEX notices_inbox ON notices (recipient_kind, recipient, created_at DESC);
CREATE INDEX notices_unread ON notices (recipient_kind, recipient) WHERE read_at IS NULL;

-- Outbound deliveries of the notices (the signed webhook, libs/notify).
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
