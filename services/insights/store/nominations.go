package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

const nominationColumns = "nomination_id, member_id, nominated_at, outcome, decided_at"

func scanNomination(r rowScanner) (domain.Nomination, error) {
	var n domain.Nomination
	var nominated, decided sql.NullInt64
	err := r.Scan(&n.ID, &n.MemberID, &nominated, &n.Outcome, &decided)
	n.NominatedAt, n.DecidedAt = fromMS(nominated), fromMS(decided)
	return n, err
}

func nominationValues(community string, n domain.Nomination) []any {
	return []any{community, n.ID, n.MemberID, n.NominatedAt.UnixMilli(), n.Outcome, ms(n.DecidedAt)}
}

// PutNomination records n as the journeys API tells it now, replacing
// what it told before, and applies the difference to the counts: read
// again, a nomination counts once, and its outcome once it has one.
func (s *Store) PutNomination(ctx context.Context, tx *sql.Tx, community string, n domain.Nomination) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	if n.ID == "" || n.NominatedAt.IsZero() {
		return errors.New("a nomination lacks its id or time")
	}
	old, err := scanNomination(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+nominationColumns+" FROM insights_nominations WHERE community = ? AND nomination_id = ?"),
		community, n.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		old = domain.Nomination{ID: n.ID}
	case err != nil:
		return fmt.Errorf("load nomination %s: %w", n.ID, err)
	case old == n:
		return nil
	}
	if err := s.apply(ctx, tx, community, domain.Diff(old.Contributions(loc), n.Contributions(loc))); err != nil {
		return err
	}
	return s.saveNomination(ctx, tx, community, n)
}

func (s *Store) saveNomination(ctx context.Context, tx *sql.Tx, community string, n domain.Nomination) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_nominations (community, `+nominationColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (community, nomination_id) DO UPDATE SET member_id = excluded.member_id, nominated_at = excluded.nominated_at,
		outcome = excluded.outcome, decided_at = excluded.decided_at`), nominationValues(community, n)...)
	if err != nil {
		return fmt.Errorf("save nomination %s: %w", n.ID, err)
	}
	return nil
}

// SaveNominations records ns as the journeys API tells them now, without
// touching the buckets: for a rebuild, whose Recompute follows.
func (s *Store) SaveNominations(ctx context.Context, tx *sql.Tx, community string, ns []domain.Nomination) error {
	for _, n := range ns {
		if n.ID == "" || n.NominatedAt.IsZero() {
			return errors.New("a nomination lacks its id or time")
		}
		if err := s.saveNomination(ctx, tx, community, n); err != nil {
			return err
		}
	}
	return nil
}
