package store

import (
	"context"
	"time"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// MemberRSVPs returns a page of memberID's RSVPs in community to
// occurrences starting at or after from, earliest first.
func (s *Store) MemberRSVPs(ctx context.Context, community, memberID string, from time.Time, offset, limit int) ([]domain.RSVP, error) {
	return s.readRSVPs(ctx, s.db, `r.community = ? AND r.member_id = ? AND o.starts_at >= ?
		ORDER BY o.starts_at, r.occurrence_id LIMIT ? OFFSET ?`, community, memberID, from.UTC(), limit, offset)
}

// OpenOffers returns a page of community's seat offers still open and
// expiring before before, soonest first.
func (s *Store) OpenOffers(ctx context.Context, community string, before time.Time, offset, limit int) ([]domain.RSVP, error) {
	return s.readRSVPs(ctx, s.db, `r.status = 'offered' AND r.offer_expires_at < ? AND r.community = ?
		ORDER BY r.offer_expires_at, r.id LIMIT ? OFFSET ?`, before.UTC(), community, limit, offset)
}
