-- +goose Up
-- Recipients are keyed by community and member id, so every look-up of a
-- member names the community it is made in (issue 14, finding 1), and
-- they remember whether their address is confirmed (double opt-in).
-- Recipients known before keep receiving mail: they are taken as
-- confirmed.
CREATE TABLE recipients_v2 (
    community      TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    email          TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    display_name   TEXT NOT NULL,
    locale         TEXT NOT NULL DEFAULT '',
    time_zone      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    country_code   TEXT NOT NULL DEFAULT '',
    region         TEXT NOT NULL DEFAULT '',
    city           TEXT NOT NULL DEFAULT '',
    level          TEXT NOT NULL DEFAULT '',
    joined_at      TIMESTAMP NOT NULL,
    last_active_at TIMESTAMP,
    PRIMARY KEY (community, member_id)
);
INSERT INTO recipients_v2 (community, member_id, email, email_verified, display_name, locale, time_zone, status,
    country_code, region, city, level, joined_at, last_active_at)
SELECT community, member_id, email, TRUE, display_name, locale, time_zone, status,
    country_code, region, city, level, joined_at, last_active_at FROM recipients;

CREATE TABLE recipient_tags_v2 (
    community TEXT NOT NULL,
    member_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    tag       TEXT NOT NULL,
    PRIMARY KEY (community, member_id, kind, tag),
    FOREIGN KEY (community, member_id) REFERENCES recipients_v2 (community, member_id) ON DELETE CASCADE
);
INSERT INTO recipient_tags_v2 (community, member_id, kind, tag)
SELECT r.community, t.member_id, t.kind, t.tag FROM recipient_tags t JOIN recipients r ON r.member_id = t.member_id;

CREATE TABLE recipient_consents_v2 (
    community TEXT NOT NULL,
    member_id TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    PRIMARY KEY (community, member_id, purpose),
    FOREIGN KEY (community, member_id) REFERENCES recipients_v2 (community, member_id) ON DELETE CASCADE
);
INSERT INTO recipient_consents_v2 (community, member_id, purpose)
SELECT r.community, c.member_id, c.purpose FROM recipient_consents c JOIN recipients r ON r.member_id = c.member_id;

DROP TABLE recipient_consents;
DROP TABLE recipient_tags;
DROP TABLE recipients;
ALTER TABLE recipients_v2 RENAME TO recipients;
ALTER TABLE recipient_tags_v2 RENAME TO recipient_tags;
ALTER TABLE recipient_consents_v2 RENAME TO recipient_consents;
CREATE INDEX recipient_tags_by_tag ON recipient_tags (community, kind, tag);

-- +goose Down
CREATE TABLE recipients_v1 (
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
    joined_at      TIMESTAMP NOT NULL,
    last_active_at TIMESTAMP
);
INSERT INTO recipients_v1 (member_id, community, email, display_name, locale, time_zone, status, country_code, region, city, level,
    joined_at, last_active_at)
SELECT member_id, MIN(community), MIN(email), MIN(display_name), MIN(locale), MIN(time_zone), MIN(status), MIN(country_code),
    MIN(region), MIN(city), MIN(level), MIN(joined_at), MIN(last_active_at) FROM recipients GROUP BY member_id;
CREATE TABLE recipient_tags_v1 (
    member_id TEXT NOT NULL REFERENCES recipients_v1 (member_id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    tag       TEXT NOT NULL,
    PRIMARY KEY (member_id, kind, tag)
);
INSERT INTO recipient_tags_v1 (member_id, kind, tag) SELECT DISTINCT member_id, kind, tag FROM recipient_tags;
CREATE TABLE recipient_consents_v1 (
    member_id TEXT NOT NULL REFERENCES recipients_v1 (member_id) ON DELETE CASCADE,
    purpose   TEXT NOT NULL,
    PRIMARY KEY (member_id, purpose)
);
INSERT INTO recipient_consents_v1 (member_id, purpose) SELECT DISTINCT member_id, purpose FROM recipient_consents;
DROP TABLE recipient_consents;
DROP TABLE recipient_tags;
DROP TABLE recipients;
ALTER TABLE recipients_v1 RENAME TO recipients;
ALTER TABLE recipient_tags_v1 RENAME TO recipient_tags;
ALTER TABLE recipient_consents_v1 RENAME TO recipient_consents;
CREATE INDEX recipients_by_community ON recipients (community, member_id);
CREATE INDEX recipient_tags_by_tag ON recipient_tags (kind, tag);
