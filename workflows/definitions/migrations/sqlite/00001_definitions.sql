-- +goose Up
-- Every saved version of a community's onboarding journey definition and
-- ambassador programme. Versions are never changed but for published_at,
-- which a publication sets: the current version is the one published last.
CREATE TABLE journey_definitions (
    community     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    document      TEXT NOT NULL,
    digest        TEXT NOT NULL,
    source        TEXT NOT NULL,
    saved_at      TIMESTAMP NOT NULL,
    saved_by_kind TEXT NOT NULL,
    saved_by      TEXT NOT NULL,
    published_at  TIMESTAMP,
    PRIMARY KEY (community, kind, version)
);
CREATE INDEX journey_definitions_published ON journey_definitions (community, kind, published_at);

-- +goose Down
DROP TABLE journey_definitions;
