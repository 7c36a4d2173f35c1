-- +goose Up
-- An e-mail is marked sending (when, and which attempt) before it is handed
-- to the mail server; a pending message found with the mark after its lease
-- ran out was left in doubt by a crash (docs/reliability.md).
ALTER TABLE messages ADD COLUMN sending_at TIMESTAMP;
ALTER TABLE messages ADD COLUMN sending_attempt INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE messages DROP COLUMN sending_attempt;
ALTER TABLE messages DROP COLUMN sending_at;
