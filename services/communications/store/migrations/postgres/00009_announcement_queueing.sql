-- +goose Up
-- CreateAnnouncement keeps the members its segment selected (ids only) and
-- queues their messages in the background, in batches, in member id order:
-- queue_cursor is the last member id queued, members_queued how many of
-- members_total have a message. Done when every one has, or cancelled.
ALTER TABLE announcements ADD COLUMN members_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN members_queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN queue_cursor TEXT NOT NULL DEFAULT '';
CREATE TABLE announcement_recipients (
    community       TEXT NOT NULL,
    announcement_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    PRIMARY KEY (community, announcement_id, member_id)
);

-- +goose Down
DROP TABLE announcement_recipients;
ALTER TABLE announcements DROP COLUMN queue_cursor;
ALTER TABLE announcements DROP COLUMN members_queued;
ALTER TABLE announcements DROP COLUMN members_total;
