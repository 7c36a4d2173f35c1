-- +goose Up
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    community    TEXT NOT NULL REFERENCES communities (slug),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    hash         TEXT NOT NULL,
    roles        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_by_community ON api_keys (community, id);

-- +goose Down
DROP TABLE api_keys;
