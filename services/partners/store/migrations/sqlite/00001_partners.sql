-- +goose Up
-- SQLite keeps dates as ISO 8601 text ("2026-03-31"), which sorts as dates do.
CREATE TABLE communities (
    slug       TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE partners (
    id               TEXT PRIMARY KEY,
    community        TEXT NOT NULL REFERENCES communities (slug),
    name             TEXT NOT NULL,
    -- name_key is the name folded for uniqueness ("ACME" and "acme" clash).
    name_key         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    sector           TEXT NOT NULL DEFAULT '',
    website          TEXT NOT NULL DEFAULT '',
    country_code     TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    influence        INTEGER NOT NULL DEFAULT 0 CHECK (influence BETWEEN 0 AND 5),
    interest         INTEGER NOT NULL DEFAULT 0 CHECK (interest BETWEEN 0 AND 5),
    owner_id         TEXT NOT NULL DEFAULT '',
    next_review_date TEXT,
    added_at         TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (community, name_key)
);
CREATE INDEX partners_by_community ON partners (community, id);
CREATE INDEX partners_by_review ON partners (community, next_review_date);

CREATE TABLE partner_status_history (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    changed_by  TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX partner_status_history_by_partner ON partner_status_history (partner_id, id);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    community     TEXT NOT NULL,
    partner_id    TEXT NOT NULL REFERENCES partners (id),
    name          TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    is_primary    BOOLEAN NOT NULL DEFAULT FALSE,
    email_consent BOOLEAN NOT NULL DEFAULT FALSE,
    erased        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL,
    erased_at     TIMESTAMP
);
CREATE INDEX contacts_by_partner ON contacts (partner_id, id);
-- At most one primary contact per partner.
CREATE UNIQUE INDEX contacts_one_primary ON contacts (partner_id) WHERE is_primary;

CREATE TABLE contact_consents (
    id             TEXT PRIMARY KEY,
    community      TEXT NOT NULL,
    contact_id     TEXT NOT NULL REFERENCES contacts (id),
    granted        BOOLEAN NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    source         TEXT NOT NULL,
    policy_version TEXT NOT NULL
);
CREATE INDEX contact_consents_by_contact ON contact_consents (contact_id, id);

CREATE TABLE agreements (
    id                 TEXT PRIMARY KEY,
    community          TEXT NOT NULL,
    partner_id         TEXT NOT NULL REFERENCES partners (id),
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    start_date         TEXT NOT NULL,
    end_date           TEXT,
    value_currency     TEXT NOT NULL DEFAULT '',
    value_minor        BIGINT NOT NULL DEFAULT 0 CHECK (value_minor >= 0),
    status             TEXT NOT NULL,
    document_url       TEXT NOT NULL DEFAULT '',
    signed_on          TEXT,
    ended_on           TEXT,
    termination_reason TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX agreements_by_community ON agreements (community, id);
CREATE INDEX agreements_by_partner ON agreements (partner_id, id);
CREATE INDEX agreements_by_end ON agreements (community, status, end_date);

CREATE TABLE agreement_renewals (
    id                TEXT PRIMARY KEY,
    agreement_id      TEXT NOT NULL REFERENCES agreements (id),
    previous_end_date TEXT NOT NULL,
    new_end_date      TEXT NOT NULL,
    previous_currency TEXT NOT NULL DEFAULT '',
    previous_minor    BIGINT NOT NULL DEFAULT 0,
    renewed_at        TIMESTAMP NOT NULL,
    renewed_by        TEXT NOT NULL
);
CREATE INDEX agreement_renewals_by_agreement ON agreement_renewals (agreement_id, id);

-- One row per announced AgreementExpiring: the sweep announces each
-- agreement, end date and threshold once, across restarts and replicas.
CREATE TABLE agreement_expiry_notices (
    agreement_id   TEXT NOT NULL REFERENCES agreements (id),
    end_date       TEXT NOT NULL,
    threshold_days INTEGER NOT NULL,
    announced_at   TIMESTAMP NOT NULL,
    event_id       TEXT NOT NULL,
    PRIMARY KEY (agreement_id, end_date, threshold_days)
);

CREATE TABLE contributions (
    id                TEXT PRIMARY KEY,
    community         TEXT NOT NULL,
    partner_id        TEXT NOT NULL REFERENCES partners (id),
    kind              TEXT NOT NULL,
    contributed_on    TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    value_currency    TEXT NOT NULL DEFAULT '',
    value_minor       BIGINT NOT NULL DEFAULT 0 CHECK (value_minor >= 0),
    volunteer_minutes BIGINT NOT NULL DEFAULT 0 CHECK (volunteer_minutes >= 0),
    event_id          TEXT NOT NULL DEFAULT '',
    goal              TEXT NOT NULL DEFAULT '',
    member_id         TEXT NOT NULL DEFAULT '',
    recorded_at       TIMESTAMP NOT NULL,
    recorded_by       TEXT NOT NULL
);
CREATE INDEX contributions_by_community ON contributions (community, id);
CREATE INDEX contributions_by_day ON contributions (community, contributed_on);
CREATE INDEX contributions_by_partner ON contributions (partner_id, id);

CREATE TABLE interactions (
    id          TEXT PRIMARY KEY,
    community   TEXT NOT NULL,
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    kind        TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX interactions_by_partner ON interactions (partner_id, occurred_at, id);

CREATE TABLE interaction_participants (
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    -- 'organiser' or 'contact'
    kind           TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    PRIMARY KEY (interaction_id, kind, participant_id)
);
CREATE INDEX interaction_participants_by_participant ON interaction_participants (participant_id);

-- +goose Down
DROP TABLE interaction_participants;
DROP TABLE interactions;
DROP TABLE contributions;
DROP TABLE agreement_expiry_notices;
DROP TABLE agreement_renewals;
DROP TABLE agreements;
DROP TABLE contact_consents;
DROP TABLE contacts;
DROP TABLE partner_status_history;
DROP TABLE partners;
DROP TABLE communities;
