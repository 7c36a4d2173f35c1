-- +goose Up
-- ListAnnouncements pages a community's announcements newest first by id
-- (UUIDv7, so by creation).
CREATE INDEX announcements_by_community ON announcements (community, id);

-- +goose Down
DROP INDEX announcements_by_community;
