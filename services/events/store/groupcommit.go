package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// Group commit of RSVPs. Concurrent answers for one occurrence share one
// transaction and one commit: the first caller for an occurrence becomes
// the leader, takes every caller that queued for it meanwhile (up to
// Options.AnswerBatch), answers them one after another in arrival order
// in one transaction — each with its own RSVP, outbox events and audit
// entry (recorded for its own caller), as a lone answer — commits once
// and hands each caller its own result. The first caller that queued
// during the batch leads the next one. The batch locks and reads the
// occurrence once, keeps its seat counters in memory and saves them at
// the end, and reads its members' current RSVPs in one query.
//
// A call refused before writing anything (no such occurrence, or one that
// takes no answers) gets its refusal and the batch goes on. Any other
// failure of a call, or of the commit, rolls the whole transaction back
// and every call of the batch is answered again in a transaction of its
// own, in the same order: one caller's failure never fails another's.
// (Savepoints around each call would do the same without the second
// pass, but SQLite writes every page a savepoint touches to a statement
// journal: they cost more than the commit they share.)
//
// The batcher lives in one process. Capacity and waitlist order across
// processes still come from the database: every answer locks the
// occurrence row (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one
// writer), as a single answer does.

// defaultAnswerBatch bounds the answers one transaction carries, so that
// the first caller of a batch does not wait for an unbounded number of
// others (Options.AnswerBatch).
const defaultAnswerBatch = 64

// answerCall is one caller's answer for one occurrence.
type answerCall struct {
	ctx                                        context.Context
	community, eventID, occurrenceID, memberID string
	answer                                     domain.Answer

	rsvp domain.RSVP
	err  error
	// wake receives false when the result is in, or true when the caller
	// is to lead the next batch of its occurrence.
	wake chan bool
}

// answerQueue holds the callers waiting for one occurrence. While a
// leader runs a batch, leading is true; the queue is dropped when the
// last batch is done and nobody waits.
type answerQueue struct {
	waiting []*answerCall
	leading bool
}

// batcher keeps the queues of answers per occurrence of this process.
type batcher struct {
	mu     sync.Mutex
	queues map[string]*answerQueue
}

// answerGrouped records one answer for one occurrence, in a transaction
// shared with the answers for the same occurrence that arrive meanwhile.
func (s *Store) answerGrouped(ctx context.Context, community, eventID, occurrenceID, memberID string, answer domain.Answer) (domain.RSVP, error) {
	call := &answerCall{ctx: ctx, community: community, eventID: eventID, occurrenceID: occurrenceID, memberID: memberID,
		answer: answer, wake: make(chan bool, 1)}
	if s.maxBatch == 1 {
		return s.answerAlone(ctx, call)
	}
	key := community + "\x00" + occurrenceID
	b := &s.batcher
	b.mu.Lock()
	if b.queues == nil {
		b.queues = map[string]*answerQueue{}
	}
	q := b.queues[key]
	if q == nil {
		q = &answerQueue{}
		b.queues[key] = q
	}
	q.waiting = append(q.waiting, call)
	lead := !q.leading
	q.leading = true
	b.mu.Unlock()
	if !lead && !<-call.wake {
		return call.rsvp, call.err
	}
	s.leadBatch(key, q, call)
	return call.rsvp, call.err
}

// leadBatch runs the next batch of q, led by self (the first waiting),
// wakes every other caller of it with its result and passes the lead on
// to the first caller that queued meanwhile.
func (s *Store) leadBatch(key string, q *answerQueue, self *answerCall) {
	b := &s.batcher
	b.mu.Lock()
	n := min(len(q.waiting), s.maxBatch)
	batch := make([]*answerCall, n)
	copy(batch, q.waiting)
	q.waiting = append(q.waiting[:0:0], q.waiting[n:]...)
	b.mu.Unlock()
	defer func() {
		// Even if the batch panicked, nobody is left waiting.
		if p := recover(); p != nil {
			for _, c := range batch {
				if c.err == nil && c.rsvp.ID == "" {
					c.err = fmt.Errorf("answer of occurrence %s: batch failed: %v", c.occurrenceID, p)
				}
			}
			s.passOn(key, q, batch, self)
			panic(p)
		}
		s.passOn(key, q, batch, self)
	}()
	s.answerBatch(batch)
}

// passOn wakes the callers of a finished batch and gives the lead to the
// first caller still waiting, or drops the queue.
func (s *Store) passOn(key string, q *answerQueue, batch []*answerCall, self *answerCall) {
	b := &s.batcher
	b.mu.Lock()
	var next *answerCall
	if len(q.waiting) > 0 {
		next = q.waiting[0]
	} else {
		q.leading = false
		delete(b.queues, key)
	}
	b.mu.Unlock()
	for _, c := range batch {
		if c != self {
			c.wake <- false
		}
	}
	if next != nil {
		next.wake <- true
	}
}

// answerBatch answers every call of batch, in order, in one transaction.
// A call refused before it wrote anything (see refusedUnwritten) gets its
// error and the batch goes on; any other failure rolls the transaction
// back, and every call is then answered in a transaction of its own, so
// the failing call fails alone.
func (s *Store) answerBatch(batch []*answerCall) {
	if len(batch) == 1 {
		c := batch[0]
		c.rsvp, c.err = s.answerAlone(c.ctx, c)
		return
	}
	// The transaction belongs to no caller alone: a leader that gives up
	// does not take the others' answers with it.
	ctx := context.WithoutCancel(batch[0].ctx)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		st := &batchState{events: map[string]domain.Event{}}
		members := make([]string, len(batch))
		for i, c := range batch {
			members[i] = c.memberID
		}
		for _, c := range batch {
			c.rsvp, c.err = domain.RSVP{}, nil
			if err := c.ctx.Err(); err != nil {
				c.err = err
				continue
			}
			// Each answer is audited for its own caller.
			r, err := s.answerInBatch(context.WithoutCancel(c.ctx), tx, c, members, st)
			switch {
			case err == nil:
				c.rsvp = r
			case refusedUnwritten(err):
				c.err = err
			default:
				return err
			}
		}
		if !st.changed {
			return nil
		}
		return s.saveCounters(ctx, tx, st.occurrence)
	})
	if err != nil {
		for _, c := range batch {
			if c.rsvp, c.err = (domain.RSVP{}), c.ctx.Err(); c.err == nil {
				c.rsvp, c.err = s.answerAlone(c.ctx, c)
			}
		}
		return
	}
	s.outbox.Notify()
}

// refusedUnwritten reports whether err is a refusal answerOccurrence makes
// before it writes anything (no such event or occurrence, or one that
// takes no answers): the rest of a batch may go on in the same
// transaction. None of them comes from the database, so a PostgreSQL
// transaction is not aborted by them.
func refusedUnwritten(err error) bool {
	for _, r := range []error{domain.ErrEventNotFound, domain.ErrOccurrenceNotFound, domain.ErrNotPublished,
		domain.ErrEventCancelled, domain.ErrOccurrenceCancelled, domain.ErrOccurrenceEnded} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// batchState is what the answers of one batch share: the events read;
// the occurrence, locked once and counted in memory until the batch saves
// its counters; and the RSVPs of the batch's members, read once when the
// occurrence is locked and kept as the batch changes them (nil when they
// must be read one by one).
type batchState struct {
	events     map[string]domain.Event
	occurrence occurrence
	locked     bool
	changed    bool
	current    map[string]domain.RSVP
}

// answerInBatch records one answer of a batch in tx, as answerOccurrence
// does, with the event and the occurrence read and locked once for the
// batch.
func (s *Store) answerInBatch(ctx context.Context, tx *sql.Tx, call *answerCall, members []string, st *batchState) (domain.RSVP, error) {
	e, ok := st.events[call.eventID]
	if !ok {
		var err error
		if e, err = s.eventCore(ctx, tx, call.community, call.eventID); err != nil {
			return domain.RSVP{}, err
		}
		st.events[call.eventID] = e
	}
	if !st.locked {
		o, err := s.lockOccurrence(ctx, tx, call.community, call.occurrenceID)
		if err != nil {
			return domain.RSVP{}, err
		}
		st.occurrence, st.locked = o, true
		if st.current, err = s.currentRSVPs(ctx, tx, call.community, call.occurrenceID, members); err != nil {
			return domain.RSVP{}, err
		}
	}
	c := &collector{}
	r, changed, err := s.answerLocked(ctx, tx, e, &st.occurrence, call.memberID, call.answer, false, st, c)
	if err != nil || !changed {
		return r, err
	}
	st.changed = true
	if err := s.record(ctx, tx, call.community, Entry{domain.ActionRSVPAnswered, domain.TargetRSVP, r.ID}); err != nil {
		return domain.RSVP{}, err
	}
	return r, s.flush(ctx, tx, c)
}

// currentRSVPs reads the RSVPs members hold for an occurrence of
// community, by member.
func (s *Store) currentRSVPs(ctx context.Context, tx *sql.Tx, community, occurrenceID string, members []string) (map[string]domain.RSVP, error) {
	args := []any{community, occurrenceID}
	marks := make([]string, len(members))
	for i, m := range members {
		args, marks[i] = append(args, m), "?"
	}
	rs, err := s.readRSVPs(ctx, tx, "r.community = ? AND r.occurrence_id = ? AND r.member_id IN ("+strings.Join(marks, ", ")+")", args...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]domain.RSVP, len(members))
	for _, r := range rs {
		out[r.MemberID] = r
	}
	return out, nil
}

// answerAlone answers one call in a transaction of its own.
func (s *Store) answerAlone(ctx context.Context, c *answerCall) (domain.RSVP, error) {
	var out domain.RSVP
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.answerOccurrence(ctx, tx, c)
		return err
	})
	if err != nil {
		return domain.RSVP{}, err
	}
	s.outbox.Notify()
	return out, nil
}

// answerOccurrence records one answer for one occurrence in tx, with its
// events and, when it changed anything, its audit entry for the caller
// in ctx.
func (s *Store) answerOccurrence(ctx context.Context, tx *sql.Tx, call *answerCall) (domain.RSVP, error) {
	c := &collector{}
	e, err := s.eventCore(ctx, tx, call.community, call.eventID)
	if err != nil {
		return domain.RSVP{}, err
	}
	r, changed, err := s.answerOne(ctx, tx, e, call.occurrenceID, call.memberID, call.answer, false, c)
	if err != nil {
		return domain.RSVP{}, err
	}
	if changed {
		if err := s.record(ctx, tx, call.community, Entry{domain.ActionRSVPAnswered, domain.TargetRSVP, r.ID}); err != nil {
			return domain.RSVP{}, err
		}
	}
	return r, s.flush(ctx, tx, c)
}
