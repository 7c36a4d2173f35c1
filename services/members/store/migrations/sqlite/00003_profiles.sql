-- +goose Up
ALTER TABLE members ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN country_code TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN motivation TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN availability_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN source_kind TEXT NOT NULL DEFAULT 'organic';
ALTER TABLE members ADD COLUMN source_campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN source_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN referrer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN level TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN last_active_at TIMESTAMP;
CREATE INDEX members_by_status ON members (community, status);
CREATE INDEX members_by_country ON members (community, country_code);
CREATE INDEX members_by_level ON members (community, level);
CREATE INDEX members_by_activity ON members (community, last_active_at);

CREATE TABLE member_skills (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    skill     TEXT NOT NULL,
    PRIMARY KEY (member_id, skill)
);
CREATE INDEX member_skills_by_skill ON member_skills (skill);

CREATE TABLE member_goals (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    goal      TEXT NOT NULL,
    PRIMARY KEY (member_id, goal)
);
CREATE INDEX member_goals_by_goal ON member_goals (goal);

CREATE TABLE consent_ledger (
    id             TEXT PRIMARY KEY,
    community      TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    granted        BOOLEAN NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    source         TEXT NOT NULL,
    policy_version TEXT NOT NULL
);
CREATE INDEX consent_ledger_by_member ON consent_ledger (member_id, id);

CREATE TABLE consent_current (
    member_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    granted    BOOLEAN NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (member_id, purpose)
);
CREATE INDEX consent_current_by_purpose ON consent_current (purpose, granted, member_id);

CREATE TABLE activities (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    type            TEXT NOT NULL,
    occurred_at     TIMESTAMP NOT NULL,
    source_event_id TEXT NOT NULL,
    UNIQUE (community, source_event_id)
);
CREATE INDEX activities_by_member ON activities (member_id, occurred_at);

CREATE TABLE member_roles (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    tier        TEXT NOT NULL DEFAULT '',
    assigned_at TIMESTAMP NOT NULL,
    assigned_by TEXT NOT NULL,
    PRIMARY KEY (member_id, role)
);
CREATE INDEX member_roles_by_role ON member_roles (role, member_id);

CREATE TABLE segments (
    id         TEXT PRIMARY KEY,
    community  TEXT NOT NULL,
    name       TEXT NOT NULL,
    filter     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (community, name)
);

CREATE TABLE community_settings (
    community  TEXT PRIMARY KEY REFERENCES communities (slug),
    settings   TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE community_settings;
DROP TABLE segments;
DROP TABLE member_roles;
DROP TABLE activities;
DROP TABLE consent_current;
DROP TABLE consent_ledger;
DROP TABLE member_goals;
DROP TABLE member_skills;
