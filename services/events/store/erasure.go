package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// Erased counts what one erasure of a member removed.
type Erased struct {
	RSVPsWithdrawn   int
	CheckInCodes     int
	FeedbackComments int
	FeedTokens       int
	SeriesRSVPs      int
}

// ForgetMember removes memberID's personal data as EraseMember does, when
// asked directly (by the erasure workflow) rather than by a MemberErased
// event: there is no inbox entry, and a second call finds nothing more to
// remove and counts zeros. Every call is audited, in the same
// transaction.
func (s *Store) ForgetMember(ctx context.Context, community, memberID string) (Erased, error) {
	var out Erased
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = s.eraseMember(ctx, tx, community, memberID); err != nil {
			return err
		}
		return s.record(ctx, tx, community, Entry{domain.ActionMemberForgotten, domain.TargetMember, memberID})
	})
	if err != nil {
		return Erased{}, err
	}
	if out.RSVPsWithdrawn > 0 {
		s.outbox.Notify()
	}
	return out, nil
}

// eraseMember gives up memberID's seats and waitlist places at
// occurrences not yet started (passing seats on), and removes their
// check-in codes, feedback comments, feed token and series RSVPs, in tx.
// The pseudonymous id stays on past RSVPs and ratings, so counts hold.
func (s *Store) eraseMember(ctx context.Context, tx *sql.Tx, community, memberID string) (Erased, error) {
	var out Erased
	c := &collector{}
	active, err := s.readRSVPs(ctx, tx, `r.community = ? AND r.member_id = ? AND r.status IN ('going', 'waitlisted', 'offered')
		AND o.starts_at > ? ORDER BY o.starts_at`, community, memberID, s.clock())
	if err != nil {
		return out, err
	}
	for _, r := range active {
		e, err := s.eventCore(ctx, tx, community, r.EventID)
		if err != nil {
			return out, err
		}
		if _, err := s.cancelOne(ctx, tx, e, r.OccurrenceID, memberID, c); err != nil {
			return out, err
		}
		out.RSVPsWithdrawn++
	}
	for _, step := range []struct {
		query string
		count *int
	}{
		{"UPDATE rsvps SET code = NULL WHERE community = ? AND member_id = ? AND code IS NOT NULL", &out.CheckInCodes},
		{"UPDATE feedback SET comment = '' WHERE community = ? AND member_id = ? AND comment <> ''", &out.FeedbackComments},
		{"DELETE FROM feed_tokens WHERE community = ? AND member_id = ?", &out.FeedTokens},
		{"DELETE FROM series_rsvps WHERE community = ? AND member_id = ?", &out.SeriesRSVPs},
	} {
		res, err := tx.ExecContext(ctx, s.db.Rebind(step.query), community, memberID)
		if err != nil {
			return out, fmt.Errorf("erase member: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return out, fmt.Errorf("erase member: %w", err)
		}
		*step.count = int(n)
	}
	return out, s.flush(ctx, tx, c)
}
