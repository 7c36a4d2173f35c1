-- +goose Up
-- The ambassador programme's nominations, read from the journeys API:
-- keyed by the id it gives them, so reading them again counts nothing
-- twice. outcome is empty while pending.
CREATE TABLE insights_nominations (
    community     TEXT NOT NULL,
    nomination_id TEXT NOT NULL,
    member_id     TEXT NOT NULL DEFAULT '',
    nominated_at  BIGINT NOT NULL,
    outcome       TEXT NOT NULL DEFAULT '',
    decided_at    BIGINT,
    PRIMARY KEY (community, nomination_id)
);

-- +goose Down
DROP TABLE insights_nominations;
