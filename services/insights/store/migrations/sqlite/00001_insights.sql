-- +goose Up
-- Times are Unix milliseconds (NULL: not known); days count from
-- 1970-01-01 in the community's time zone.
CREATE TABLE insights_communities (
    community  TEXT PRIMARY KEY,
    time_zone  TEXT NOT NULL,
    rebuilt_at BIGINT
);

CREATE TABLE insights_members (
    community            TEXT NOT NULL,
    member_id            TEXT NOT NULL,
    joined_at            BIGINT,
    left_at              BIGINT,
    rejoined_at          BIGINT,
    left_estimated       BOOLEAN NOT NULL DEFAULT FALSE,
    erased_at            BIGINT,
    level                TEXT NOT NULL DEFAULT '',
    level_at             BIGINT,
    country_code         TEXT NOT NULL DEFAULT '',
    interests            TEXT NOT NULL DEFAULT '',
    profile_at           BIGINT,
    profile_complete     BOOLEAN NOT NULL DEFAULT FALSE,
    profile_completed_at BIGINT,
    welcomed_at          BIGINT,
    first_event_at       BIGINT,
    onboarded_at         BIGINT,
    PRIMARY KEY (community, member_id)
);
CREATE INDEX insights_members_by_first_event ON insights_members (community, first_event_at, joined_at);
CREATE INDEX insights_members_by_joined ON insights_members (community, joined_at);

CREATE TABLE insights_merged (
    community    TEXT NOT NULL,
    duplicate_id TEXT NOT NULL,
    primary_id   TEXT NOT NULL,
    PRIMARY KEY (community, duplicate_id)
);

CREATE TABLE insights_activities (
    community   TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    PRIMARY KEY (community, activity_id)

) WITHOUT ROWID; -- the ledger is the largest table: one B-tree fewer to write
-- A member's activity days are read from here: no table of days to keep.
CREATE INDEX insights_activities_by_member ON insights_activities (community, member_id, occurred_at);

CREATE TABLE insights_roles (
    community   TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    role        TEXT NOT NULL,
    tier        TEXT NOT NULL DEFAULT '',
    assigned_at BIGINT,
    revoked_at  BIGINT,
    PRIMARY KEY (community, member_id, role)
);
CREATE INDEX insights_roles_by_role ON insights_roles (community, role);

CREATE TABLE insights_role_changes (
    community TEXT NOT NULL,
    member_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    assigned  BOOLEAN NOT NULL,
    tier      TEXT NOT NULL,
    PRIMARY KEY (community, member_id, role, at, assigned, tier)
);

CREATE TABLE insights_occurrences (
    community     TEXT NOT NULL,
    occurrence_id TEXT NOT NULL,
    event_id      TEXT NOT NULL DEFAULT '',
    starts_at     BIGINT,
    ends_at       BIGINT,
    known         BOOLEAN NOT NULL DEFAULT FALSE,
    cancelled     BOOLEAN NOT NULL DEFAULT FALSE,
    version       BIGINT,
    PRIMARY KEY (community, occurrence_id)
);
CREATE INDEX insights_occurrences_by_event ON insights_occurrences (community, event_id);

CREATE TABLE insights_attendance (
    community     TEXT NOT NULL,
    occurrence_id TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    event_id      TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT '',
    status_at     BIGINT,
    waitlisted    BOOLEAN NOT NULL DEFAULT FALSE,
    checked_in_at BIGINT,
    no_show_at    BIGINT,
    rating        INTEGER NOT NULL DEFAULT 0,
    rated_at      BIGINT,
    PRIMARY KEY (community, occurrence_id, member_id)
);
CREATE INDEX insights_attendance_by_member ON insights_attendance (community, member_id);

CREATE TABLE insights_messages (
    community       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    member_id       TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT '',
    sent_at         BIGINT,
    bounced_at      BIGINT,
    failed_at       BIGINT,
    PRIMARY KEY (community, message_id)
);

CREATE TABLE insights_unsubscribes (
    community   TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    PRIMARY KEY (community, member_id, purpose, occurred_at)
);

CREATE TABLE insights_partners (
    community  TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    added_at   BIGINT,
    PRIMARY KEY (community, partner_id)
);

CREATE TABLE insights_partner_moves (
    community  TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    stage      TEXT NOT NULL,
    PRIMARY KEY (community, partner_id, changed_at, stage)
);

CREATE TABLE insights_agreements (
    community    TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    partner_id   TEXT NOT NULL DEFAULT '',
    start_day    INTEGER NOT NULL DEFAULT 0,
    end_day      INTEGER,
    signed_on    INTEGER,
    ended_on     INTEGER,
    version      BIGINT,
    PRIMARY KEY (community, agreement_id)
);

CREATE TABLE insights_contributions (
    community         TEXT NOT NULL,
    contribution_id   TEXT NOT NULL,
    partner_id        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    day               INTEGER NOT NULL,
    currency          TEXT NOT NULL DEFAULT '',
    amount_minor      BIGINT NOT NULL DEFAULT 0,
    volunteer_minutes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (community, contribution_id)
);

CREATE TABLE insights_buckets (
    community TEXT NOT NULL,
    bucket    TEXT NOT NULL,
    dim       TEXT NOT NULL,
    day       INTEGER NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (community, bucket, dim, day)
);

CREATE TABLE insights_goals (
    community       TEXT NOT NULL,
    name            TEXT NOT NULL,
    metric          TEXT NOT NULL,
    segment         TEXT NOT NULL DEFAULT '{}',
    breakdown_value TEXT NOT NULL DEFAULT '',
    target          DOUBLE PRECISION NOT NULL,
    deadline        INTEGER,
    baseline        INTEGER NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT,
    PRIMARY KEY (community, name)
);

CREATE TABLE insights_reports (
    community  TEXT NOT NULL,
    week_start INTEGER NOT NULL,
    sent_at    BIGINT NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (community, week_start)
);

-- +goose Down
DROP TABLE insights_reports;
DROP TABLE insights_goals;
DROP TABLE insights_buckets;
DROP TABLE insights_contributions;
DROP TABLE insights_agreements;
DROP TABLE insights_partner_moves;
DROP TABLE insights_partners;
DROP TABLE insights_unsubscribes;
DROP TABLE insights_messages;
DROP TABLE insights_attendance;
DROP TABLE insights_occurrences;
DROP TABLE insights_role_changes;
DROP TABLE insights_roles;
DROP TABLE insights_activities;
DROP TABLE insights_merged;
DROP TABLE insights_members;
DROP TABLE insights_communities;
