-- Joint consultation (联合会商, R11): where a case has assisting units, the lead and
-- every assisting unit give a written opinion and the lead unit records the meeting
-- before it replies — once per handling round (a review is a new round).
CREATE TABLE consultation_opinions (
    case_id      UUID NOT NULL REFERENCES cases (id),
    review_level SMALLINT NOT NULL,
    unit_id      TEXT NOT NULL,
    text         TEXT NOT NULL,
    by_sub       TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, review_level, unit_id)
);
CREATE TABLE consultation_meetings (
    case_id      UUID NOT NULL REFERENCES cases (id),
    review_level SMALLINT NOT NULL,
    held_at      TIMESTAMPTZ NOT NULL,
    participants TEXT[] NOT NULL,
    minutes      TEXT NOT NULL,
    by_sub       TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, review_level)
);
