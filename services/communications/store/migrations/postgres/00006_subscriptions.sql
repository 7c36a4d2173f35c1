-- +goose Up
-- Outbound domain webhooks: endpoints organisers subscribe to event types
-- (event_types holds ",type,type," so one LIKE finds the subscribers of a
-- type), and every event on its way to each of them.
CREATE TABLE subscriptions (
    id                    TEXT PRIMARY KEY,
    community             TEXT NOT NULL,
    url                   TEXT NOT NULL,
    event_types           TEXT NOT NULL,
    mode                  TEXT NOT NULL,
    include_personal_data BOOLEAN NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT NOT NULL DEFAULT '',
    previous_expires_at   TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    created_by            TEXT NOT NULL
);
CREATE INDEX subscriptions_by_community ON subscriptions (community, id);

CREATE TABLE subscription_deliveries (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    source          TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    occurred_at     TIMESTAMPTZ NOT NULL,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX subscription_deliveries_due ON subscription_deliveries (status, next_attempt_at);
CREATE INDEX subscription_deliveries_by_subscription ON subscription_deliveries (community, subscription_id, created_at);

-- +goose Down
DROP TABLE subscription_deliveries;
DROP TABLE subscriptions;
