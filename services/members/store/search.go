package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// writeSearchTerms replaces the terms member memberID of community is
// found by with those of displayName and email (none when both are empty,
// as for an erased member).
func (s *Store) writeSearchTerms(ctx context.Context, tx *sql.Tx, community, memberID, displayName, email string) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_search_terms WHERE community = ? AND member_id = ?"), community, memberID); err != nil {
		return fmt.Errorf("clear search terms of %s: %w", memberID, err)
	}
	var args []any
	for _, term := range domain.SearchTerms(displayName, email) {
		args = append(args, community, memberID, term)
	}
	// One statement for all of them: imports write many members.
	if err := s.insertValues(ctx, tx, "member_search_terms", "community, member_id, term", 3, args); err != nil {
		return fmt.Errorf("store search terms of %s: %w", memberID, err)
	}
	return nil
}

// SearchMembers returns up to limit members of community, with ids after
// afterID in id order, that q finds: a term of theirs (a word of the
// display name, the whole name, the address) starts with q's prefix.
// Erased members have no terms and are never found.
func (s *Store) SearchMembers(ctx context.Context, community string, q domain.SearchQuery, afterID string, limit int) ([]domain.Member, error) {
	from, to := q.Range()
	// The page's start sits in the subquery, so the matching terms drive
	// the look-up of their members (in id order) rather than a walk over
	// every member of the community probing for matches.
	members, err := s.queryMembers(ctx, s.db, community, `WHERE community = ? AND id IN
		(SELECT t.member_id FROM member_search_terms t WHERE t.term >= ? AND t.term < ? AND t.community = ? AND t.member_id > ?)
		ORDER BY id LIMIT ?`, community, from, to, community, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("search members of %s: %w", community, err)
	}
	return members, nil
}

// IndexSearchTerms gives every member who has none their search terms
// (members stored before search existed), in batches; it returns how
// many members it indexed. The service runs it when it starts.
func (s *Store) IndexSearchTerms(ctx context.Context) (int, error) {
	const batch = 500
	total, after := 0, ""
	for {
		type pending struct{ community, id, name, email string }
		var todo []pending
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			todo = todo[:0]
			rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT m.community, m.id, m.display_name, m.email FROM members m
				WHERE m.id > ? AND m.status <> ? AND NOT EXISTS (SELECT 1 FROM member_search_terms t WHERE t.member_id = m.id)
				ORDER BY m.id LIMIT ?`), after, domain.StatusErased.String(), batch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var p pending
				if err := rows.Scan(&p.community, &p.id, &p.name, &p.email); err != nil {
					_ = rows.Close()
					return err
				}
				todo = append(todo, p)
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			for _, p := range todo {
				if err := s.writeSearchTerms(ctx, tx, p.community, p.id, p.name, p.email); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("index search terms: %w", err)
		}
		total += len(todo)
		if len(todo) < batch {
			return total, nil
		}
		after = todo[len(todo)-1].id
	}
}
