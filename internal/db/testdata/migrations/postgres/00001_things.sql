-- +goose Up
CREATE TABLE things (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TIMESTAMPTZ NOT NULL);

-- +goose Down
DROP TABLE things;
