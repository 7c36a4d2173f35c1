-- +goose Up
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    community   TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL
);
CREATE INDEX audit_log_by_community ON audit_log (community, id);

-- +goose Down
DROP TABLE audit_log;
