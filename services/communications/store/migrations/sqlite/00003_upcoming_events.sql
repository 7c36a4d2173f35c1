-- +goose Up
-- Upcoming occurrences of published events, kept from events.v1 for digests.
CREATE TABLE upcoming_events (
    event_id      TEXT NOT NULL,
    occurrence_id TEXT NOT NULL,
    community     TEXT NOT NULL,
    title         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    public        BOOLEAN NOT NULL,
    tags          TEXT NOT NULL DEFAULT '',
    time_zone     TEXT NOT NULL DEFAULT '',
    starts_at     TIMESTAMP NOT NULL,
    ends_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, occurrence_id)
);
CREATE INDEX upcoming_events_by_time ON upcoming_events (community, starts_at);

-- +goose Down
DROP TABLE upcoming_events;
