-- +goose Up
-- Member search (ListMembers' query): the terms each member is found by,
-- normalised in Go (domain.SearchTerms: the whole display name, each of
-- its words, the e-mail address, lower-cased). A search is a prefix range
-- over term, within the community, so it reads only the matching
-- entries. Terms compare bytewise (COLLATE "C" on PostgreSQL) so the
-- range is exact. Existing members get their terms when the service
-- starts (Store.IndexSearchTerms).
CREATE TABLE member_search_terms (
    community TEXT NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    term      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (member_id, term)
);
CREATE INDEX member_search_terms_by_term ON member_search_terms (term, community, member_id);

-- Segments: each tag, role or consent condition is answered from one
-- covering (value, community, member_id) index giving the member ids,
-- and the members' community, id and status come from one covering
-- index, so a count never reads the members' rows. These indexes lead
-- with the value, not the community: a look-up of one member's rows
-- (community = ? AND member_id = ?) must keep using the primary keys,
-- which SQLite's planner, without statistics, would not do if another
-- index began with community.
DROP INDEX members_by_community;
CREATE INDEX members_by_community_status ON members (community, id, status);
DROP INDEX member_interests_by_interest;
CREATE INDEX member_interests_by_value ON member_interests (interest, community, member_id);
DROP INDEX member_skills_by_skill;
CREATE INDEX member_skills_by_value ON member_skills (skill, community, member_id);
DROP INDEX member_goals_by_goal;
CREATE INDEX member_goals_by_value ON member_goals (goal, community, member_id);
DROP INDEX member_roles_by_role;
CREATE INDEX member_roles_by_value ON member_roles (role, community, member_id);
DROP INDEX consent_current_by_purpose;
CREATE INDEX consent_current_by_value ON consent_current (purpose, granted, community, member_id);
-- A filter on country or level walks these, which now also hold id and
-- status, so it reads no member's row either.
DROP INDEX members_by_country;
CREATE INDEX members_by_country ON members (community, country_code, id, status);
DROP INDEX members_by_level;
CREATE INDEX members_by_level ON members (community, level, id, status);

-- +goose Down
DROP INDEX members_by_level;
CREATE INDEX members_by_level ON members (community, level);
DROP INDEX members_by_country;
CREATE INDEX members_by_country ON members (community, country_code);
DROP INDEX consent_current_by_value;
CREATE INDEX consent_current_by_purpose ON consent_current (purpose, granted, member_id);
DROP INDEX member_roles_by_value;
CREATE INDEX member_roles_by_role ON member_roles (role, member_id);
DROP INDEX member_goals_by_value;
CREATE INDEX member_goals_by_goal ON member_goals (goal);
DROP INDEX member_skills_by_value;
CREATE INDEX member_skills_by_skill ON member_skills (skill);
DROP INDEX member_interests_by_value;
CREATE INDEX member_interests_by_interest ON member_interests (interest);
DROP INDEX members_by_community_status;
CREATE INDEX members_by_community ON members (community, id);
DROP INDEX member_search_terms_by_term;
DROP TABLE member_search_terms;
