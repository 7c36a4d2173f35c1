package store

import "context"

// HostsOccurrence reports whether memberID is a host of the event that
// occurrence occurrenceID of community belongs to. The occurrence, its
// event and the event's people are all reached through community in the
// query, so an id of another community never matches.
func (s *Store) HostsOccurrence(ctx context.Context, community, occurrenceID, memberID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT count(*) FROM occurrences o
		JOIN events e ON e.community = o.community AND e.id = o.event_id
		JOIN event_people p ON p.event_id = e.id AND p.role = 'host'
		WHERE o.community = ? AND o.id = ? AND p.member_id = ?`), community, occurrenceID, memberID).Scan(&n)
	return n > 0, wrap("look up host", err)
}
