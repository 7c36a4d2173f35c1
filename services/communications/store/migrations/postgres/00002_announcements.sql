-- +goose Up
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'transactional';
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
ALTER TABLE messages ADD COLUMN announcement_id TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN html_body TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN template TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN vars TEXT NOT NULL DEFAULT '{}';
ALTER TABLE messages ADD COLUMN due_at TIMESTAMPTZ;
CREATE INDEX messages_due ON messages (status, due_at);
CREATE INDEX messages_by_announcement ON messages (announcement_id, status);

CREATE TABLE recipients (
    member_id      TEXT PRIMARY KEY,
    community      TEXT NOT NULL,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    locale         TEXT NOT NULL DEFAULT '',
    time_zone      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    country_code   TEXT NOT NULL DEFAULT '',
    region         TEXT NOT NULL DEFAULT '',
    city           TEXT NOT NULL DEFAULT '',
    level          TEXT NOT NULL DEFAULT '',
    joined_at      TIMESTAMPTZ NOT NULL,
    last_active_at TIMESTAMPTZ
);
CREATE INDEX recipients_by_community ON recipients (community, member_id);

CREATE TABLE recipient_tags (
    member_id TEXT NOT NULL REFERENCES recipients (member_id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    tag       TEXT NOT NULL,
    PRIMARY KEY (member_id, kind, tag)
);
CREATE INDEX recipient_tags_by_tag ON recipient_tags (kind, tag);

CREATE TABLE recipient_consents (
    member_id TEXT NOT NULL REFERENCES recipients (member_id) ON DELETE CASCADE,
    purpose   TEXT NOT NULL,
    PRIMARY KEY (member_id, purpose)
);

CREATE TABLE templates (
    community  TEXT NOT NULL,
    name       TEXT NOT NULL,
    variants   TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community, name)
);

CREATE TABLE announcements (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    template        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    filter          TEXT NOT NULL,
    send_at         TIMESTAMPTZ NOT NULL,
    webhooks        BOOLEAN NOT NULL,
    vars            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    cancelled       BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (community, idempotency_key)
);

CREATE TABLE suppressions (
    community  TEXT NOT NULL,
    email      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (community, email)
);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    url             TEXT NOT NULL,
    format          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_by_community ON webhooks (community);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE suppressions;
DROP TABLE announcements;
DROP TABLE templates;
DROP TABLE recipient_consents;
DROP TABLE recipient_tags;
DROP TABLE recipients;
