-- +goose Up
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    to_email        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_reason  TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 1,
    lease_until     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    UNIQUE (community, idempotency_key)
);
CREATE INDEX messages_by_member ON messages (community, member_id);

-- +goose Down
DROP TABLE messages;
