package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/services/members/domain"
)

type tagTable struct {
	table, column string
	get           func(*domain.Profile) *[]string
}

// tagTables are the tables holding a member's tag lists.
func tagTables() []tagTable {
	return []tagTable{
		{"member_interests", "interest", func(p *domain.Profile) *[]string { return &p.Interests }},
		{"member_skills", "skill", func(p *domain.Profile) *[]string { return &p.Skills }},
		{"member_goals", "goal", func(p *domain.Profile) *[]string { return &p.Goals }},
	}
}

// writeTags replaces the interests, skills and goals of member memberID
// of community with p's, and the terms a search finds them by with those
// of p's name and address.
func (s *Store) writeTags(ctx context.Context, tx *sql.Tx, community, memberID string, p domain.Profile) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_search_terms WHERE community = ? AND member_id = ?"), community, memberID); err != nil {
		return fmt.Errorf("clear search terms of %s: %w", memberID, err)
	}
	for _, t := range tagTables() {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM "+t.table+" WHERE community = ? AND member_id = ?"), community, memberID); err != nil {
			return fmt.Errorf("clear %s of %s: %w", t.table, memberID, err)
		}
	}
	return s.insertTags(ctx, tx, community, memberID, p)
}

// insertTags stores the interests, skills and goals of member memberID of
// community, who has none yet (writeTags cleared them), and the terms a
// search finds them by: one statement a table.
func (s *Store) insertTags(ctx context.Context, tx *sql.Tx, community, memberID string, p domain.Profile) error {
	return s.insertMembersTags(ctx, tx, []domain.Member{{ID: memberID, Community: community, Profile: p}})
}

// loadTags fills the tag lists of members, all of community.
func (s *Store) loadTags(ctx context.Context, q querier, community string, members []domain.Member) error {
	index := map[string]int{}
	args := []any{community}
	for i, m := range members {
		index[m.ID] = i
		args = append(args, m.ID)
	}
	for _, t := range tagTables() {
		rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT member_id, "+t.column+" FROM "+t.table+
			" WHERE community = ? AND member_id IN ("+placeholders(len(members))+") ORDER BY member_id, "+t.column), args...)
		if err != nil {
			return fmt.Errorf("load %s: %w", t.table, err)
		}
		for rows.Next() {
			var id, tag string
			if err := rows.Scan(&id, &tag); err != nil {
				_ = rows.Close()
				return err
			}
			list := t.get(&members[index[id]].Profile)
			*list = append(*list, tag)
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}
