-- +goose Up
CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    community          TEXT NOT NULL,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    kind               TEXT NOT NULL,
    venue_name         TEXT NOT NULL,
    venue_street       TEXT NOT NULL,
    venue_city         TEXT NOT NULL,
    venue_region       TEXT NOT NULL,
    venue_postal_code  TEXT NOT NULL,
    venue_country_code TEXT NOT NULL,
    online_url         TEXT NOT NULL,
    starts_at          TIMESTAMP NOT NULL,
    ends_at            TIMESTAMP NOT NULL,
    time_zone          TEXT NOT NULL,
    capacity           INTEGER NOT NULL,
    partner_id         TEXT NOT NULL,
    visibility         TEXT NOT NULL,
    rrule              TEXT NOT NULL,
    exdates            TEXT NOT NULL,
    status             TEXT NOT NULL,
    sequence           INTEGER NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    published_at       TIMESTAMP,
    cancelled_at       TIMESTAMP,
    cancel_reason      TEXT NOT NULL,
    split_from_id      TEXT NOT NULL,
    last_ends_at       TIMESTAMP NOT NULL
);
CREATE INDEX events_by_community ON events (community, starts_at, id);
CREATE INDEX events_by_status ON events (status, last_ends_at);

CREATE TABLE event_tags (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    PRIMARY KEY (event_id, tag)
);

CREATE TABLE event_people (
    event_id  TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (event_id, role, member_id)
);

CREATE TABLE occurrences (
    id                  TEXT PRIMARY KEY,
    event_id            TEXT NOT NULL REFERENCES events (id),
    community           TEXT NOT NULL,
    recurrence_id       TIMESTAMP NOT NULL,
    starts_at           TIMESTAMP NOT NULL,
    ends_at             TIMESTAMP NOT NULL,
    status              TEXT NOT NULL,
    capacity            INTEGER NOT NULL,
    capacity_overridden BOOLEAN NOT NULL,
    times_overridden    BOOLEAN NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    venue_name          TEXT NOT NULL,
    venue_street        TEXT NOT NULL,
    venue_city          TEXT NOT NULL,
    venue_region        TEXT NOT NULL,
    venue_postal_code   TEXT NOT NULL,
    venue_country_code  TEXT NOT NULL,
    online_url          TEXT NOT NULL,
    sequence            INTEGER NOT NULL,
    seats_taken         INTEGER NOT NULL,
    waitlist_seq        INTEGER NOT NULL,
    attendance_closed   BOOLEAN NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    CHECK (capacity = 0 OR seats_taken <= capacity),
    CHECK (seats_taken >= 0)
);
CREATE INDEX occurrences_by_event ON occurrences (event_id, starts_at);
CREATE INDEX occurrences_by_start ON occurrences (community, starts_at);
CREATE INDEX occurrences_to_close ON occurrences (attendance_closed, ends_at);

CREATE TABLE rsvps (
    id               TEXT PRIMARY KEY,
    community        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    occurrence_id    TEXT NOT NULL REFERENCES occurrences (id),
    member_id        TEXT NOT NULL,
    status           TEXT NOT NULL,
    position         INTEGER NOT NULL,
    code             TEXT,
    offer_expires_at TIMESTAMP,
    answered_at      TIMESTAMP NOT NULL,
    checked_in_at    TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL,
    series           BOOLEAN NOT NULL,
    UNIQUE (occurrence_id, member_id)
);
CREATE UNIQUE INDEX rsvps_by_code ON rsvps (community, code);
CREATE INDEX rsvps_waitlist ON rsvps (occurrence_id, status, position);
CREATE INDEX rsvps_offers ON rsvps (status, offer_expires_at);
CREATE INDEX rsvps_by_member ON rsvps (community, member_id);

CREATE TABLE series_rsvps (
    event_id   TEXT NOT NULL REFERENCES events (id),
    member_id  TEXT NOT NULL,
    community  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, member_id)
);
CREATE INDEX series_rsvps_by_member ON series_rsvps (community, member_id);

CREATE TABLE feedback (
    occurrence_id TEXT NOT NULL REFERENCES occurrences (id),
    member_id     TEXT NOT NULL,
    community     TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment       TEXT NOT NULL,
    given_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (occurrence_id, member_id)
);
CREATE INDEX feedback_by_event ON feedback (event_id, given_at);
CREATE INDEX feedback_by_member ON feedback (community, member_id);

CREATE TABLE feed_tokens (
    token      TEXT PRIMARY KEY,
    community  TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (community, member_id)
);

-- +goose Down
DROP TABLE feed_tokens;
DROP TABLE feedback;
DROP TABLE series_rsvps;
DROP TABLE rsvps;
DROP TABLE occurrences;
DROP TABLE event_people;
DROP TABLE event_tags;
DROP TABLE events;
