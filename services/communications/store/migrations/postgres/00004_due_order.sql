-- +goose Up
-- The dispatcher reads pending messages by due time and id; an index in
-- that order lets it stop after one batch instead of sorting the queue.
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (status, due_at, id);

-- +goose Down
DROP INDEX messages_due;
CREATE INDEX messages_due ON messages (status, due_at);
