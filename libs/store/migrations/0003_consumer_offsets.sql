-- Where each partition's consumption stands: the next offset to apply, written in the
-- transaction of the effects it covers. A restart or a new assignment resumes from here,
-- whatever the broker remembers of the consumer group.
CREATE TABLE IF NOT EXISTS consumer_offsets (
    topic           TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     BIGINT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition)
);
