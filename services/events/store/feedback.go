package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// GiveFeedback stores (or replaces) an attendee's rating of an ended
// occurrence and appends FeedbackGiven.
func (s *Store) GiveFeedback(ctx context.Context, fb domain.Feedback) (domain.Feedback, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		o, err := scanOccurrence(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+occurrenceColumns+" FROM occurrences WHERE community = ? AND id = ?"), fb.Community, fb.OccurrenceID))
		if err != nil {
			return notFound(err, domain.ErrOccurrenceNotFound)
		}
		now := s.clock()
		if !o.Ended(now) {
			return domain.ErrOccurrenceNotEnded
		}
		r, found, err := s.rsvpOf(ctx, tx, fb.Community, fb.OccurrenceID, fb.MemberID)
		if err != nil {
			return err
		}
		if !found || r.Status != domain.RSVPCheckedIn {
			return domain.ErrNotAttended
		}
		fb.EventID, fb.GivenAt = o.EventID, now
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO feedback (occurrence_id, member_id, community, event_id, rating, comment, given_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (occurrence_id, member_id) DO UPDATE SET rating = excluded.rating,
			comment = excluded.comment, given_at = excluded.given_at`),
			fb.OccurrenceID, fb.MemberID, fb.Community, fb.EventID, fb.Rating, fb.Comment, now)
		if err != nil {
			return fmt.Errorf("store feedback: %w", err)
		}
		c := &collector{}
		c.add(s.events.FeedbackGiven(fb))
		if err := s.record(ctx, tx, fb.Community, Entry{domain.ActionFeedbackGiven, domain.TargetOccurrence, fb.OccurrenceID}); err != nil {
			return err
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return domain.Feedback{}, err
	}
	s.outbox.Notify()
	return fb, nil
}

// FeedbackSummary aggregates the ratings of an event of community, or of
// one of its occurrences when occurrenceID is set.
func (s *Store) FeedbackSummary(ctx context.Context, community, eventID, occurrenceID string) (domain.FeedbackSummary, error) {
	var sum domain.FeedbackSummary
	q := "SELECT rating, count(*) FROM feedback WHERE community = ? AND event_id = ?"
	args := []any{community, eventID}
	if occurrenceID != "" {
		q += " AND occurrence_id = ?"
		args = append(args, occurrenceID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" GROUP BY rating"), args...)
	if err != nil {
		return sum, fmt.Errorf("summarise feedback: %w", err)
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var rating, n int
		if err := rows.Scan(&rating, &n); err != nil {
			return sum, err
		}
		if rating >= 1 && rating <= 5 {
			sum.Distribution[rating-1] = n
			sum.Count += n
			total += rating * n
		}
	}
	if sum.Count > 0 {
		sum.Average = float64(total) / float64(sum.Count)
	}
	return sum, rows.Err()
}

// ListFeedback returns a page of an event's feedback, newest first.
func (s *Store) ListFeedback(ctx context.Context, community, eventID string, offset, limit int) ([]domain.Feedback, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT community, event_id, occurrence_id, member_id, rating, comment, given_at
		FROM feedback WHERE community = ? AND event_id = ? ORDER BY given_at DESC, occurrence_id, member_id LIMIT ? OFFSET ?`),
		community, eventID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list feedback: %w", err)
	}
	defer rows.Close()
	var out []domain.Feedback
	for rows.Next() {
		var f domain.Feedback
		if err := rows.Scan(&f.Community, &f.EventID, &f.OccurrenceID, &f.MemberID, &f.Rating, &f.Comment, &f.GivenAt); err != nil {
			return nil, err
		}
		f.GivenAt = f.GivenAt.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}
