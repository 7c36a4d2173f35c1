-- +goose Up
-- The team's attention list: agreements about to end and partners due for
-- review. One item per cause (an agreement and its end date, a partner and
-- its review date); the sweep raises, notifies, escalates and resolves them.
CREATE TABLE attention_items (
    id              TEXT PRIMARY KEY,
    community       TEXT NOT NULL REFERENCES communities (slug),
    kind            TEXT NOT NULL,
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    agreement_id    TEXT NOT NULL DEFAULT '',
    due_date        DATE NOT NULL,
    owner_id        TEXT NOT NULL DEFAULT '',
    cause_key       TEXT NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    notified_at     TIMESTAMPTZ,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT NOT NULL DEFAULT '',
    escalated_at    TIMESTAMPTZ,
    resolved_at     TIMESTAMPTZ,
    resolution      TEXT NOT NULL DEFAULT '',
    UNIQUE (community, cause_key)
);
CREATE INDEX attention_items_open ON attention_items (community, resolved_at, id);
CREATE INDEX attention_items_by_owner ON attention_items (community, owner_id, id);

-- +goose Down
DROP TABLE attention_items;
