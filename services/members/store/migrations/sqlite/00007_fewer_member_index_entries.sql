-- +goose Up
-- Every join writes an entry into each index of members, and its commit
-- writes each index page it touched; these indexes no longer take an
-- entry no query reads.
--
-- members_by_status (community, status) answers nothing another index
-- does not: every query of members names the community and excludes
-- erased members (status <> ?), which members_by_community_status
-- (community, id, status) and the segment indexes (community,
-- country_code | level, id, status) answer covering; a count of everyone
-- reads one of them, and a filter on a status walks the community's
-- entries of one instead of a status range.
DROP INDEX members_by_status;
-- A member has no referral code until they ask for one, and most joined
-- on no one's referral: look-ups are by a code, or by a referrer's id
-- (queries say referrer_id <> '', so the planner knows they may use the
-- index), so only members with a code, or with a referrer, have entries.
DROP INDEX members_by_referral_code;
CREATE UNIQUE INDEX members_by_referral_code ON members (community, referral_code) WHERE referral_code IS NOT NULL;
DROP INDEX members_by_referrer;
CREATE INDEX members_by_referrer ON members (community, referrer_id, joined_at) WHERE referrer_id <> '';

-- +goose Down
DROP INDEX members_by_referrer;
CREATE INDEX members_by_referrer ON members (community, referrer_id, joined_at);
DROP INDEX members_by_referral_code;
CREATE UNIQUE INDEX members_by_referral_code ON members (community, referral_code);
CREATE INDEX members_by_status ON members (community, status);
