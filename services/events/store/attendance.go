package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/events/domain"
)

const rsvpColumns = `r.id, r.community, r.event_id, r.occurrence_id, r.member_id, r.status, r.position, r.code, r.offer_expires_at,
	r.answered_at, r.checked_in_at, r.updated_at, r.series, o.starts_at`

const rsvpFrom = " FROM rsvps r JOIN occurrences o ON o.community = r.community AND o.id = r.occurrence_id"

func scanRSVP(row scanner) (domain.RSVP, error) {
	var r domain.RSVP
	var code sql.NullString
	var offer, checkedIn sql.NullTime
	err := row.Scan(&r.ID, &r.Community, &r.EventID, &r.OccurrenceID, &r.MemberID, &r.Status, &r.Position, &code, &offer,
		&r.AnsweredAt, &checkedIn, &r.UpdatedAt, &r.Series, &r.OccurrenceStart)
	if err != nil {
		return r, err
	}
	r.Code, r.OfferExpiresAt, r.CheckedInAt = code.String, fromNull(offer), fromNull(checkedIn)
	r.AnsweredAt, r.UpdatedAt, r.OccurrenceStart = r.AnsweredAt.UTC(), r.UpdatedAt.UTC(), r.OccurrenceStart.UTC()
	return r, nil
}

func (s *Store) readRSVPs(ctx context.Context, q querier, where string, args ...any) ([]domain.RSVP, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT "+rsvpColumns+rsvpFrom+" WHERE "+where), args...)
	if err != nil {
		return nil, fmt.Errorf("read rsvps: %w", err)
	}
	defer rows.Close()
	var out []domain.RSVP
	for rows.Next() {
		r, err := scanRSVP(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) rsvpOf(ctx context.Context, q querier, community, occurrenceID, memberID string) (domain.RSVP, bool, error) {
	rs, err := s.readRSVPs(ctx, q, "r.community = ? AND r.occurrence_id = ? AND r.member_id = ?", community, occurrenceID, memberID)
	if err != nil || len(rs) == 0 {
		return domain.RSVP{}, false, err
	}
	return rs[0], true, nil
}

// lockOccurrence reads an occurrence of community and, on PostgreSQL,
// locks its row until the transaction ends.
func (s *Store) lockOccurrence(ctx context.Context, tx *sql.Tx, community, id string) (occurrence, error) {
	o, err := scanOccurrence(tx.QueryRowContext(ctx, s.db.Rebind(s.forUpdate("SELECT "+occurrenceColumns+" FROM occurrences WHERE community = ? AND id = ?")), community, id))
	if err != nil {
		return o, notFound(err, domain.ErrOccurrenceNotFound)
	}
	return o, nil
}

func (s *Store) saveCounters(ctx context.Context, tx *sql.Tx, o occurrence) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE occurrences SET seats_taken = ?, waitlist_seq = ? WHERE community = ? AND id = ?"),
		o.SeatsTaken, o.waitlistSeq, o.Community, o.ID)
	return wrap("count seats of "+o.ID, err)
}

func (s *Store) saveRSVP(ctx context.Context, tx *sql.Tx, r domain.RSVP, insert bool) error {
	var err error
	if insert {
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO rsvps (id, community, event_id, occurrence_id, member_id, status, position, code,
			offer_expires_at, answered_at, checked_in_at, updated_at, series) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.Community, r.EventID, r.OccurrenceID, r.MemberID, string(r.Status), r.Position, nullString(r.Code),
			nullTime(r.OfferExpiresAt), stamp(r.AnsweredAt), nullTime(r.CheckedInAt), stamp(r.UpdatedAt), r.Series)
	} else {
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE rsvps SET status = ?, position = ?, code = ?, offer_expires_at = ?, answered_at = ?,
			checked_in_at = ?, updated_at = ?, series = ? WHERE community = ? AND id = ?`),
			string(r.Status), r.Position, nullString(r.Code), nullTime(r.OfferExpiresAt), stamp(r.AnsweredAt), nullTime(r.CheckedInAt),
			stamp(r.UpdatedAt), r.Series, r.Community, r.ID)
	}
	return wrap("save rsvp of occurrence "+r.OccurrenceID, err)
}

// newCode draws a check-in code no seat of community holds.
func (s *Store) newCode(ctx context.Context, tx *sql.Tx, community string) (string, error) {
	for range 5 {
		code, err := domain.NewCheckInCode(s.codes)
		if err != nil {
			return "", fmt.Errorf("draw check-in code: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM rsvps WHERE community = ? AND code = ?"), community, code).Scan(&n); err != nil {
			return "", fmt.Errorf("check check-in code: %w", err)
		}
		if n == 0 {
			return code, nil
		}
	}
	return "", errors.New("draw check-in code: no free code in 5 draws")
}

// Answer records memberID's answer for occurrenceID of eventID or, with
// series, for every upcoming occurrence of it (and the ones the series
// gains later), in one transaction, with one audit entry when anything
// changed (the RSVP, or the event for a series). Answers for one
// occurrence that arrive together share a transaction (see
// answerGrouped); each is still atomic with its events and audit entry.
func (s *Store) Answer(ctx context.Context, community, eventID, occurrenceID, memberID string, answer domain.Answer, series bool) ([]domain.RSVP, error) {
	if !series {
		r, err := s.answerGrouped(ctx, community, eventID, occurrenceID, memberID, answer)
		if err != nil {
			return nil, err
		}
		return []domain.RSVP{r}, nil
	}
	var out []domain.RSVP
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = nil
		c := &collector{}
		e, err := s.eventCore(ctx, tx, community, eventID)
		if err != nil {
			return err
		}
		ids, changed, err := s.seriesOccurrences(ctx, tx, e, memberID, answer == domain.AnswerGoing)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, ch, err := s.answerOne(ctx, tx, e, id, memberID, answer, true, c)
			if errors.Is(err, domain.ErrOccurrenceCancelled) || errors.Is(err, domain.ErrOccurrenceEnded) {
				continue
			}
			if err != nil {
				return err
			}
			changed = changed || ch
			out = append(out, r)
		}
		if changed {
			if err := s.record(ctx, tx, community, Entry{domain.ActionRSVPAnswered, domain.TargetEvent, e.ID}); err != nil {
				return err
			}
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	s.outbox.Notify()
	return out, nil
}

// seriesOccurrences records or drops memberID's series RSVP for e and
// returns the upcoming occurrences it applies to, and whether the series
// RSVP changed.
func (s *Store) seriesOccurrences(ctx context.Context, tx *sql.Tx, e domain.Event, memberID string, going bool) ([]string, bool, error) {
	if !e.Recurring() {
		return nil, false, domain.ErrNotRecurring
	}
	if err := domain.CanAnswerEvent(e); err != nil {
		return nil, false, err
	}
	now := s.clock()
	var res sql.Result
	var err error
	if going {
		q := "INSERT INTO series_rsvps (event_id, member_id, community, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id, member_id) DO NOTHING"
		if res, err = tx.ExecContext(ctx, s.db.Rebind(q), e.ID, memberID, e.Community, now); err != nil {
			return nil, false, fmt.Errorf("record series rsvp: %w", err)
		}
	} else if res, err = tx.ExecContext(ctx, s.db.Rebind("DELETE FROM series_rsvps WHERE community = ? AND event_id = ? AND member_id = ?"),
		e.Community, e.ID, memberID); err != nil {
		return nil, false, fmt.Errorf("drop series rsvp: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, fmt.Errorf("series rsvp: %w", err)
	}
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT id FROM occurrences WHERE community = ? AND event_id = ? AND status = 'scheduled' AND starts_at > ? ORDER BY starts_at"),
		e.Community, e.ID, now)
	if err != nil {
		return nil, false, fmt.Errorf("read upcoming occurrences: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, false, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(ids) == 0 {
		return nil, false, domain.ErrOccurrenceEnded
	}
	return ids, n > 0, nil
}

// answerOne records one answer with the occurrence locked: going takes a
// free seat or the next waitlist position; not going gives a held seat to
// the waitlist. Repeating an answer changes nothing (and reports no
// change).
func (s *Store) answerOne(ctx context.Context, tx *sql.Tx, e domain.Event, occurrenceID, memberID string, answer domain.Answer, series bool, c *collector) (domain.RSVP, bool, error) {
	o, err := s.lockOccurrence(ctx, tx, e.Community, occurrenceID)
	if err != nil {
		return domain.RSVP{}, false, err
	}
	r, changed, err := s.answerLocked(ctx, tx, e, &o, memberID, answer, series, nil, c)
	if err != nil || !changed {
		return r, changed, err
	}
	return r, true, s.saveCounters(ctx, tx, o)
}

// answerLocked records one answer for o, which the caller locked in tx
// and whose counters it saves when the answer changed something. Its
// refusals (see refusedUnwritten) come before it writes anything or
// changes o. In a batch (st not nil), the member's current RSVP comes from
// those the batch read at its start (and keeps up to date), the RSVP is
// written with the batch's others when the batch ends or reads RSVPs
// (see batchState), and a check-in code is drawn without looking for a
// clash first: the unique index refuses a clash, which fails the batch,
// and its answers are then taken one by one, where codes are checked.
func (s *Store) answerLocked(ctx context.Context, tx *sql.Tx, e domain.Event, o *occurrence, memberID string, answer domain.Answer, series bool,
	st *batchState, c *collector) (domain.RSVP, bool, error) {
	if o.EventID != e.ID {
		return domain.RSVP{}, false, domain.ErrOccurrenceNotFound
	}
	now := s.clock()
	if err := domain.CanAnswer(e, o.Occurrence, now); err != nil {
		return domain.RSVP{}, false, err
	}
	var cur domain.RSVP
	var found bool
	var err error
	if st != nil {
		cur, found = st.current[memberID]
	} else if cur, found, err = s.rsvpOf(ctx, tx, e.Community, o.ID, memberID); err != nil {
		return cur, false, err
	}
	if found && (answer == domain.AnswerGoing && (cur.Status.HoldsSeat() || cur.Status.Waiting()) ||
		answer == domain.AnswerNotGoing && cur.Status == domain.RSVPNotGoing) {
		return cur, false, nil
	}
	r := domain.RSVP{ID: newID(), Community: e.Community, EventID: e.ID, OccurrenceID: o.ID, MemberID: memberID,
		AnsweredAt: now, UpdatedAt: now, Series: series, OccurrenceStart: o.Start}
	if found {
		r.ID = cur.ID
	}
	switch answer {
	case domain.AnswerGoing:
		if domain.SeatFree(o.Occurrence) {
			if st != nil {
				r.Code, err = domain.NewCheckInCode(s.codes)
			} else {
				r.Code, err = s.newCode(ctx, tx, e.Community)
			}
			if err != nil {
				return r, false, err
			}
			r.Status = domain.RSVPGoing
			o.SeatsTaken++
			c.add(s.events.RSVPReceived(r, answer))
			c.add(s.events.SeatTaken(r, false, now))
		} else {
			o.waitlistSeq++
			r.Status, r.Position = domain.RSVPWaitlisted, o.waitlistSeq
			c.add(s.events.RSVPReceived(r, answer))
			c.add(s.events.Waitlisted(r))
		}
	case domain.AnswerNotGoing:
		r.Status = domain.RSVPNotGoing
		c.add(s.events.RSVPReceived(r, answer))
	default:
		return r, false, fmt.Errorf("unknown answer %q", answer)
	}
	if st != nil {
		st.write(r, !found)
	} else if err := s.saveRSVP(ctx, tx, r, !found); err != nil {
		return r, false, err
	}
	if found && cur.Status.HoldsSeat() {
		o.SeatsTaken--
		if err := s.offerFreedSeats(ctx, tx, e, o, now, st, c); err != nil {
			return r, false, err
		}
	}
	return r, true, nil
}

// offerFreedSeats holds each free seat of o for the next member on its
// waitlist, until the offer window ends (or o starts). In a batch (st not
// nil) it first writes the RSVPs the batch holds back, as it reads the
// waitlist from the database, and keeps the batch's current RSVPs up to
// date with the seats it offers.
func (s *Store) offerFreedSeats(ctx context.Context, tx *sql.Tx, e domain.Event, o *occurrence, now time.Time, st *batchState, c *collector) error {
	if o.Status != domain.OccurrenceScheduled || o.Started(now) || e.Status != domain.StatusPublished {
		return nil
	}
	if err := s.writeRSVPs(ctx, tx, st); err != nil {
		return err
	}
	for domain.SeatFree(o.Occurrence) {
		next, err := s.readRSVPs(ctx, tx, "r.community = ? AND r.occurrence_id = ? AND r.status = 'waitlisted' ORDER BY r.position LIMIT 1", o.Community, o.ID)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			return nil
		}
		r := next[0]
		r.Status, r.OfferExpiresAt, r.UpdatedAt = domain.RSVPOffered, domain.OfferExpiry(now, o.Occurrence, s.window), now
		if err := s.saveRSVP(ctx, tx, r, false); err != nil {
			return err
		}
		if st != nil {
			st.current[r.MemberID] = r
		}
		o.SeatsTaken++
		c.add(s.events.SeatOffered(r, now))
	}
	return nil
}

// Cancel withdraws memberID from occurrenceID of eventID or, with series,
// from every upcoming occurrence and the series; freed seats go to the
// waitlist. The audit entry names the RSVP, or the event for a series.
func (s *Store) Cancel(ctx context.Context, community, eventID, occurrenceID, memberID string, series bool) ([]domain.RSVP, error) {
	var out []domain.RSVP
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		out = nil
		c := &collector{}
		e, err := s.eventCore(ctx, tx, community, eventID)
		if err != nil {
			return err
		}
		ids := []string{occurrenceID}
		if series {
			if !e.Recurring() {
				return domain.ErrNotRecurring
			}
			res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM series_rsvps WHERE community = ? AND event_id = ? AND member_id = ?"), community, eventID, memberID)
			if err != nil {
				return fmt.Errorf("drop series rsvp: %w", err)
			}
			dropped, _ := res.RowsAffected()
			active, err := s.readRSVPs(ctx, tx, `r.community = ? AND r.event_id = ? AND r.member_id = ? AND r.status IN ('going', 'waitlisted', 'offered')
				AND o.starts_at > ? ORDER BY o.starts_at`, community, eventID, memberID, s.clock())
			if err != nil {
				return err
			}
			if dropped == 0 && len(active) == 0 {
				return domain.ErrRSVPNotFound
			}
			ids = ids[:0]
			for _, r := range active {
				ids = append(ids, r.OccurrenceID)
			}
		}
		for _, id := range ids {
			r, err := s.cancelOne(ctx, tx, e, id, memberID, c)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		target := Entry{domain.ActionRSVPCancelled, domain.TargetEvent, e.ID}
		if !series {
			target = Entry{domain.ActionRSVPCancelled, domain.TargetRSVP, out[0].ID}
		}
		if err := s.record(ctx, tx, community, target); err != nil {
			return err
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	s.outbox.Notify()
	return out, nil
}

func (s *Store) cancelOne(ctx context.Context, tx *sql.Tx, e domain.Event, occurrenceID, memberID string, c *collector) (domain.RSVP, error) {
	o, err := s.lockOccurrence(ctx, tx, e.Community, occurrenceID)
	if err != nil {
		return domain.RSVP{}, err
	}
	if o.EventID != e.ID {
		return domain.RSVP{}, domain.ErrOccurrenceNotFound
	}
	now := s.clock()
	if o.Started(now) {
		return domain.RSVP{}, domain.ErrOccurrenceEnded
	}
	r, found, err := s.rsvpOf(ctx, tx, e.Community, occurrenceID, memberID)
	if err != nil {
		return r, err
	}
	if !found || !(r.Status.HoldsSeat() || r.Status.Waiting()) {
		return r, domain.ErrRSVPNotFound
	}
	prev := r.Status
	r.Status, r.Code, r.OfferExpiresAt, r.UpdatedAt = domain.RSVPCancelled, "", time.Time{}, now
	if err := s.saveRSVP(ctx, tx, r, false); err != nil {
		return r, err
	}
	c.add(s.events.RSVPCancelled(r, prev, now))
	if prev.HoldsSeat() {
		o.SeatsTaken--
		if err := s.offerFreedSeats(ctx, tx, e, &o, now, nil, c); err != nil {
			return r, err
		}
	}
	return r, s.saveCounters(ctx, tx, o)
}

// AcceptOffer gives memberID the seat offered to them, if the offer has
// not expired.
func (s *Store) AcceptOffer(ctx context.Context, community, occurrenceID, memberID string) (domain.RSVP, error) {
	var out domain.RSVP
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := &collector{}
		o, err := s.lockOccurrence(ctx, tx, community, occurrenceID)
		if err != nil {
			return err
		}
		e, err := s.eventCore(ctx, tx, community, o.EventID)
		if err != nil {
			return err
		}
		now := s.clock()
		r, found, err := s.rsvpOf(ctx, tx, community, occurrenceID, memberID)
		if err != nil {
			return err
		}
		switch {
		case found && r.Status == domain.RSVPGoing:
			out = r
			return nil
		case !found || r.Status != domain.RSVPOffered:
			return domain.ErrNoOffer
		case !now.Before(r.OfferExpiresAt):
			return domain.ErrOfferExpired
		}
		if err := domain.CanAnswer(e, o.Occurrence, now); err != nil {
			return err
		}
		if r.Code, err = s.newCode(ctx, tx, community); err != nil {
			return err
		}
		r.Status, r.OfferExpiresAt, r.UpdatedAt = domain.RSVPGoing, time.Time{}, now
		if err := s.saveRSVP(ctx, tx, r, false); err != nil {
			return err
		}
		c.add(s.events.SeatTaken(r, true, now))
		out = r
		if err := s.record(ctx, tx, community, Entry{domain.ActionSeatOfferAccepted, domain.TargetRSVP, r.ID}); err != nil {
			return err
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return domain.RSVP{}, err
	}
	s.outbox.Notify()
	return out, nil
}

// ExpireOffers passes every seat offer of community (all communities when
// empty) that expired by now to the next member on the waitlist. It
// returns how many expired and how many seats were offered anew; a second
// run finds nothing more to do.
func (s *Store) ExpireOffers(ctx context.Context, community string) (expired, offered int, err error) {
	for {
		now := s.clock()
		q := "SELECT DISTINCT r.occurrence_id, r.community FROM rsvps r WHERE r.status = 'offered' AND r.offer_expires_at <= ?"
		args := []any{now}
		if community != "" {
			q += " AND r.community = ?"
			args = append(args, community)
		}
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" LIMIT 100"), args...)
		if err != nil {
			return expired, offered, fmt.Errorf("find expired offers: %w", err)
		}
		type due struct{ occurrence, community string }
		var batch []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.occurrence, &d.community); err != nil {
				rows.Close()
				return expired, offered, err
			}
			batch = append(batch, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return expired, offered, err
		}
		if len(batch) == 0 {
			return expired, offered, nil
		}
		for _, d := range batch {
			x, o, err := s.expireAt(ctx, d.community, d.occurrence)
			if err != nil {
				return expired, offered, err
			}
			expired, offered = expired+x, offered+o
		}
	}
}

func (s *Store) expireAt(ctx context.Context, community, occurrenceID string) (expired, offered int, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		expired, offered = 0, 0
		c := &collector{}
		o, err := s.lockOccurrence(ctx, tx, community, occurrenceID)
		if err != nil {
			return err
		}
		e, err := s.eventCore(ctx, tx, community, o.EventID)
		if err != nil {
			return err
		}
		now := s.clock()
		due, err := s.readRSVPs(ctx, tx, "r.community = ? AND r.occurrence_id = ? AND r.status = 'offered' AND r.offer_expires_at <= ? ORDER BY r.position",
			community, occurrenceID, now)
		if err != nil {
			return err
		}
		for _, r := range due {
			r.Status, r.UpdatedAt = domain.RSVPOfferExpired, now
			if err := s.saveRSVP(ctx, tx, r, false); err != nil {
				return err
			}
			o.SeatsTaken--
			expired++
			c.add(s.events.SeatOfferExpired(r, now))
		}
		before := len(c.events)
		if err := s.offerFreedSeats(ctx, tx, e, &o, now, nil, c); err != nil {
			return err
		}
		offered = len(c.events) - before
		if err := s.saveCounters(ctx, tx, o); err != nil {
			return err
		}
		if expired > 0 {
			if err := s.record(ctx, tx, community, Entry{domain.ActionSeatOffersExpired, domain.TargetOccurrence, occurrenceID}); err != nil {
				return err
			}
		}
		return s.flush(ctx, tx, c)
	})
	if err == nil {
		s.outbox.Notify()
	}
	return expired, offered, err
}

// RSVP returns memberID's RSVP to an occurrence of community.
func (s *Store) RSVP(ctx context.Context, community, occurrenceID, memberID string) (domain.RSVP, error) {
	rs, err := s.readRSVPs(ctx, s.db, "r.community = ? AND r.occurrence_id = ? AND r.member_id = ?", community, occurrenceID, memberID)
	if err != nil {
		return domain.RSVP{}, err
	}
	if len(rs) == 0 {
		return domain.RSVP{}, domain.ErrRSVPNotFound
	}
	return rs[0], nil
}

// RSVPByCode returns the RSVP holding a check-in code of community.
func (s *Store) RSVPByCode(ctx context.Context, community, code string) (domain.RSVP, error) {
	rs, err := s.readRSVPs(ctx, s.db, "r.community = ? AND r.code = ?", community, code)
	if err != nil {
		return domain.RSVP{}, err
	}
	if len(rs) == 0 {
		return domain.RSVP{}, domain.ErrCodeNotFound
	}
	return rs[0], nil
}

// Attendees returns a page of an occurrence's RSVPs: seats first (by
// answer), then the waitlist in order, then the rest.
func (s *Store) Attendees(ctx context.Context, community, occurrenceID string, offset, limit int) ([]domain.RSVP, error) {
	return s.readRSVPs(ctx, s.db, `r.community = ? AND r.occurrence_id = ? ORDER BY
		CASE WHEN r.status IN ('going', 'checked_in', 'no_show', 'offered') THEN 0 WHEN r.status = 'waitlisted' THEN 1 ELSE 2 END,
		r.position, r.answered_at, r.id LIMIT ? OFFSET ?`, community, occurrenceID, limit, offset)
}

// HoldsSeat reports whether memberID holds a seat at any occurrence of
// eventID.
func (s *Store) HoldsSeat(ctx context.Context, community, eventID, memberID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT count(*) FROM rsvps WHERE community = ? AND event_id = ? AND member_id = ?
		AND status IN ('going', 'checked_in', 'no_show')`), community, eventID, memberID).Scan(&n)
	return n > 0, wrap("look up seat", err)
}

// CheckIn marks memberID's seat at an occurrence attended. team callers
// may check in after the end and turn a no-show into an attendance.
func (s *Store) CheckIn(ctx context.Context, community, occurrenceID, memberID string, team bool) (domain.RSVP, error) {
	var out domain.RSVP
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		o, err := s.lockOccurrence(ctx, tx, community, occurrenceID)
		if err != nil {
			return err
		}
		e, err := s.eventCore(ctx, tx, community, o.EventID)
		if err != nil {
			return err
		}
		if e.Status == domain.StatusCancelled || e.Status == domain.StatusDraft {
			return domain.ErrEventCancelled
		}
		now := s.clock()
		if err := domain.CheckInOpen(o.Occurrence, now, team); err != nil {
			return err
		}
		r, found, err := s.rsvpOf(ctx, tx, community, occurrenceID, memberID)
		if err != nil {
			return err
		}
		switch {
		case found && r.Status == domain.RSVPCheckedIn:
			out = r
			return nil
		case found && (r.Status == domain.RSVPGoing || team && r.Status == domain.RSVPNoShow):
		default:
			return domain.ErrNoSeat
		}
		r.Status, r.CheckedInAt, r.UpdatedAt = domain.RSVPCheckedIn, now, now
		if err := s.saveRSVP(ctx, tx, r, false); err != nil {
			return err
		}
		c := &collector{}
		c.add(s.events.CheckedIn(r))
		out = r
		if err := s.record(ctx, tx, community, Entry{domain.ActionCheckedIn, domain.TargetRSVP, r.ID}); err != nil {
			return err
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return domain.RSVP{}, err
	}
	s.outbox.Notify()
	return out, nil
}

// MarkNoShows marks every seat of an ended occurrence that was not checked
// in as a no-show and closes its attendance. A second run marks nothing.
func (s *Store) MarkNoShows(ctx context.Context, community, occurrenceID string) (int, error) {
	marked := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		marked = 0
		o, err := s.lockOccurrence(ctx, tx, community, occurrenceID)
		if err != nil {
			return err
		}
		now := s.clock()
		switch {
		case o.Status == domain.OccurrenceCancelled:
			return domain.ErrOccurrenceCancelled
		case !o.Ended(now):
			return domain.ErrOccurrenceNotEnded
		}
		missing, err := s.readRSVPs(ctx, tx, "r.community = ? AND r.occurrence_id = ? AND r.status = 'going' ORDER BY r.answered_at", community, occurrenceID)
		if err != nil {
			return err
		}
		c := &collector{}
		for _, r := range missing {
			r.Status, r.UpdatedAt = domain.RSVPNoShow, now
			if err := s.saveRSVP(ctx, tx, r, false); err != nil {
				return err
			}
			c.add(s.events.NoShow(r, now))
		}
		marked = len(missing)
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE occurrences SET attendance_closed = ? WHERE community = ? AND id = ?"), true, community, occurrenceID); err != nil {
			return fmt.Errorf("close attendance of %s: %w", occurrenceID, err)
		}
		if marked > 0 || !o.AttendanceClosed {
			if err := s.record(ctx, tx, community, Entry{domain.ActionNoShowsMarked, domain.TargetOccurrence, occurrenceID}); err != nil {
				return err
			}
		}
		return s.flush(ctx, tx, c)
	})
	if err != nil {
		return 0, err
	}
	s.outbox.Notify()
	return marked, nil
}

// DueForNoShows lists occurrences of published or completed events that
// ended before cutoff and whose attendance is still open.
func (s *Store) DueForNoShows(ctx context.Context, cutoff time.Time, limit int) ([][2]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT o.community, o.id FROM occurrences o JOIN events e ON e.community = o.community AND e.id = o.event_id
		WHERE o.attendance_closed = ? AND o.status = 'scheduled' AND o.ends_at <= ? AND e.status IN ('published', 'completed')
		ORDER BY o.ends_at LIMIT ?`), false, stamp(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("find occurrences to close: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var pair [2]string
		if err := rows.Scan(&pair[0], &pair[1]); err != nil {
			return nil, err
		}
		out = append(out, pair)
	}
	return out, rows.Err()
}

// SeatCounts returns the stored seat counter of an occurrence of community
// and the number of RSVPs actually holding a seat, for checks.
func (s *Store) SeatCounts(ctx context.Context, community, occurrenceID string) (counter, holding int, err error) {
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT o.seats_taken, (SELECT count(*) FROM rsvps r WHERE r.community = o.community
		AND r.occurrence_id = o.id AND r.status IN ('going', 'offered', 'checked_in', 'no_show')) FROM occurrences o
		WHERE o.community = ? AND o.id = ?`), community, occurrenceID).Scan(&counter, &holding)
	return counter, holding, wrap("count seats", err)
}
