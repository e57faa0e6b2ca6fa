-- Outbox: events written in the same transaction as the state change they describe;
-- the relay publishes them and marks them published only after the broker acknowledged.
CREATE TABLE IF NOT EXISTS outbox (
    id            BIGSERIAL PRIMARY KEY,
    event_id      UUID NOT NULL UNIQUE,
    topic         TEXT NOT NULL,
    key           TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    traceparent   TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_pending_key ON outbox (key, id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Inbox: one row per consumed event, written in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS inbox (
    event_id      UUID PRIMARY KEY,
    event_type    TEXT NOT NULL,
    topic         TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset  BIGINT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Dead letters this service sent to the dead-letter topic (no payload: it may not decode).
CREATE TABLE IF NOT EXISTS dead_letters (
    id            BIGSERIAL PRIMARY KEY,
    event_id      UUID,
    topic         TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset  BIGINT NOT NULL,
    error         TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
