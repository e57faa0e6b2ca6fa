-- Requests that came in through Open311 GeoReport v2: the API client that sent them
-- and the media link. The case id is the request's token (GET tokens/{token}).
CREATE TABLE open311_requests (
    case_id     UUID PRIMARY KEY REFERENCES cases (id),
    client      TEXT NOT NULL,
    media_url   TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
