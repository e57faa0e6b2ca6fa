-- The case register. Personal data (the petitioner vault) lives in its own tables.
CREATE TABLE categories (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    class       TEXT NOT NULL CHECK (class IN ('suggestion', 'accusation', 'claim')),
    active      BOOLEAN NOT NULL DEFAULT true
);

INSERT INTO categories (code, name, class) VALUES
    ('suggestion',       '建议意见',         'suggestion'),
    ('accusation',       '检举控告',         'accusation'),
    ('claim',            '申诉求决',         'claim'),
    ('land',             '土地征收与承包',   'claim'),
    ('labour_wages',     '劳动工资',         'claim'),
    ('social_security',  '社会保障',         'claim'),
    ('environment',      '生态环境',         'claim'),
    ('housing',          '住房城乡建设',     'claim'),
    ('law_enforcement',  '执法行为',         'claim'),
    ('agriculture',      '农村农业',         'claim'),
    ('transport',        '交通运输',         'claim'),
    ('health',           '卫生健康',         'claim'),
    ('education',        '教育',             'claim'),
    ('civil_affairs',    '民政',             'claim'),
    ('discipline',       '党纪政纪',         'accusation');

CREATE TABLE registration_counters (
    office_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_seq    BIGINT NOT NULL,
    PRIMARY KEY (office_code, year)
);

CREATE TABLE cases (
    id               UUID PRIMARY KEY,
    registration_no  TEXT NOT NULL UNIQUE,
    office_code      TEXT NOT NULL,
    channel          TEXT NOT NULL,
    category         TEXT NOT NULL REFERENCES categories (code),
    matter_code      TEXT NOT NULL,
    summary          TEXT NOT NULL,
    status           TEXT NOT NULL,
    handling_unit    TEXT,
    registered_by    TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_matter_code ON cases (matter_code text_pattern_ops);

-- What happened to a case, as the citizen's view and the register show it.
CREATE TABLE case_timeline (
    id         BIGSERIAL PRIMARY KEY,
    case_id    UUID NOT NULL REFERENCES cases (id),
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    detail     JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX case_timeline_case ON case_timeline (case_id, at);
