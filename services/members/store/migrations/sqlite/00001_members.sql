-- +goose Up
CREATE TABLE communities (
    slug       TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    community     TEXT NOT NULL REFERENCES communities (slug),
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    email_consent BOOLEAN NOT NULL,
    status        TEXT NOT NULL,
    joined_at     TIMESTAMP NOT NULL,
    UNIQUE (community, email)
);
CREATE INDEX members_by_community ON members (community, id);

CREATE TABLE member_interests (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    interest  TEXT NOT NULL,
    PRIMARY KEY (member_id, interest)
);
CREATE INDEX member_interests_by_interest ON member_interests (interest);

-- +goose Down
DROP TABLE member_interests;
DROP TABLE members;
DROP TABLE communities;
