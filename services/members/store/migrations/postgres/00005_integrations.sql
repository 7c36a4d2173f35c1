-- +goose Up
-- Activities say more about themselves (properties, as JSON) and which
-- activity source brought them in.
ALTER TABLE activities ADD COLUMN properties TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN source TEXT NOT NULL DEFAULT '';

-- Every member's personal referral code, issued on first use; NULL until
-- then and after erasure.
ALTER TABLE members ADD COLUMN referral_code TEXT;
CREATE UNIQUE INDEX members_by_referral_code ON members (community, referral_code);
CREATE INDEX members_by_referrer ON members (community, referrer_id, joined_at);

-- The tools a community sends activity from, each with its own signed
-- webhook (/ingest/<community>/<name>) and secret.
CREATE TABLE activity_sources (
    community           TEXT NOT NULL REFERENCES communities (slug),
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    secret              TEXT NOT NULL,
    previous_secret     TEXT NOT NULL DEFAULT '',
    previous_expires_at TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    created_by          TEXT NOT NULL,
    last_delivery_at    TIMESTAMPTZ,
    PRIMARY KEY (community, name)
);

-- What each source's webhook received, by the sender's delivery id: a
-- delivery seen before is answered as before and changes nothing.
CREATE TABLE ingest_deliveries (
    community   TEXT NOT NULL,
    source      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    recorded    INTEGER NOT NULL DEFAULT 0,
    unmatched   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (community, source, delivery_id)
);
CREATE INDEX ingest_deliveries_by_time ON ingest_deliveries (community, received_at);

-- Members' names at a provider ("github", or a source's name), matched
-- ignoring case; a handle belongs to one member of a community.
CREATE TABLE member_handles (
    community  TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    handle     TEXT NOT NULL,
    handle_key TEXT NOT NULL,
    linked_at  TIMESTAMPTZ NOT NULL,
    linked_by  TEXT NOT NULL,
    PRIMARY KEY (community, provider, handle_key),
    UNIQUE (community, member_id, provider)
);

-- Activity from outside that matched nobody yet, kept until a member
-- links the handle or confirms the address.
CREATE TABLE pending_activities (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    source          TEXT NOT NULL,
    provider        TEXT NOT NULL DEFAULT '',
    handle          TEXT NOT NULL DEFAULT '',
    handle_key      TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    source_event_id TEXT NOT NULL,
    properties      TEXT NOT NULL DEFAULT '',
    received_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (community, source_event_id)
);
CREATE INDEX pending_activities_by_handle ON pending_activities (community, provider, handle_key);
CREATE INDEX pending_activities_by_email ON pending_activities (community, email);

-- +goose Down
DROP TABLE pending_activities;
DROP TABLE member_handles;
DROP TABLE ingest_deliveries;
DROP TABLE activity_sources;
DROP INDEX members_by_referrer;
DROP INDEX members_by_referral_code;
ALTER TABLE members DROP COLUMN referral_code;
ALTER TABLE activities DROP COLUMN source;
ALTER TABLE activities DROP COLUMN properties;
