-- +goose Up
-- Double opt-in: whether the member proved their address (or an organiser
-- vouched for it), a public join's request for e-mail consent kept until
-- the address is confirmed, an address change waiting for its
-- confirmation, and when a join with an existing address was last told.
-- Members from before double opt-in keep their addresses as verified.
ALTER TABLE members ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE members ADD COLUMN consent_asked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE members ADD COLUMN pending_email TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN join_repeated_at TIMESTAMP;

-- Every table holding a member's data names the member's community, so
-- every query can be scoped to the caller's community.
ALTER TABLE consent_current ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE member_roles ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE member_interests ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE member_skills ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE member_goals ADD COLUMN community TEXT NOT NULL DEFAULT '';
UPDATE consent_current SET community = coalesce((SELECT m.community FROM members m WHERE m.id = consent_current.member_id), '');
UPDATE member_roles SET community = coalesce((SELECT m.community FROM members m WHERE m.id = member_roles.member_id), '');
UPDATE member_interests SET community = coalesce((SELECT m.community FROM members m WHERE m.id = member_interests.member_id), '');
UPDATE member_skills SET community = coalesce((SELECT m.community FROM members m WHERE m.id = member_skills.member_id), '');
UPDATE member_goals SET community = coalesce((SELECT m.community FROM members m WHERE m.id = member_goals.member_id), '');
CREATE INDEX activities_by_community_member ON activities (community, member_id, occurred_at);
CREATE INDEX consent_ledger_by_community_member ON consent_ledger (community, member_id, id);

-- +goose Down
DROP INDEX consent_ledger_by_community_member;
DROP INDEX activities_by_community_member;
ALTER TABLE member_goals DROP COLUMN community;
ALTER TABLE member_skills DROP COLUMN community;
ALTER TABLE member_interests DROP COLUMN community;
ALTER TABLE member_roles DROP COLUMN community;
ALTER TABLE consent_current DROP COLUMN community;
ALTER TABLE members DROP COLUMN join_repeated_at;
ALTER TABLE members DROP COLUMN pending_email;
ALTER TABLE members DROP COLUMN consent_asked;
ALTER TABLE members DROP COLUMN email_verified;
