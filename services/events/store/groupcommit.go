package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// Group commit of RSVPs. Concurrent answers for one occurrence share one
// transaction and one commit: the first caller for an occurrence becomes
// the leader, takes every caller that queued for it meanwhile (up to
// Options.AnswerBatch), answers them one after another in arrival order
// in one transaction — each with its own RSVP, outbox events and audit
// entry (recorded for its own caller), as a lone answer — commits once
// and hands each caller its own result. The first caller that queued
// during the batch leads the next one. The batch reads the event and
// locks and reads the occurrence once, in one query, keeps its seat
// counters in memory and saves them at the end, and reads its members'
// current RSVPs in one query. It writes what its answers changed at the
// end too, each kind with db.InsertRows (the RSVPs, inserted or updated,
// the latest of each; then the outbox events, each in its own caller's
// trace, and the audit entries, in answer order): on SQLite in multi-row
// statements of up to 256 rows; on PostgreSQL each kind's new rows in one
// COPY — so a full batch of 512 is about ten round trips to PostgreSQL,
// not four per answer.
//
// Batches for one occurrence run one after another (each locks the
// occurrence), so under a burst the batch size sets the length of that
// chain: a batch takes everything that queued while the one before it
// ran, up to 512 — the 1,000 RSVPs of a burst go in two or three
// batches, where a bound of 64 made a chain of sixteen, each paying its
// round trips and its commit again while the leader competed for the CPU
// with the burst's handlers (see docs/benchmarks.md, "Events").
//
// A batch that reads RSVPs back (to offer a seat a member gave up to the
// waitlist) writes the RSVPs it holds first.
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
// others (Options.AnswerBatch). 512 answers are 512 RSVP rows of 13
// values, 1,024 outbox rows of 10 and 512 audit rows, each kind split by
// db.InsertRows on SQLite into statements of 256 rows, far below its
// limit on parameters (PostgreSQL copies them); the query for the
// members' current RSVPs carries 514.
const defaultAnswerBatch = 512

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

// passOn gives the lead to the first caller still waiting, or drops the
// queue, and wakes the callers of a finished batch. The next leader is
// woken first: the batch's callers only have their responses to send,
// and the next batch — which every caller still queued waits for — does
// not wait behind them for the CPU (woken last, among 512 callers, it
// started its batch tens of milliseconds after the last one ended).
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
	if next != nil {
		next.wake <- true
	}
	for _, c := range batch {
		if c != self {
			c.wake <- false
		}
	}
}

// answerBatch answers every call of batch, in order, in one transaction.
// A call refused before it wrote anything (see refusedUnwritten) gets its
// error and the batch goes on; any other failure rolls the transaction
// back, and every call is then answered in a transaction of its own, so
// the failing call fails alone.
//
// A batch of one goes the same way: its eight round trips to PostgreSQL
// are two fewer than answerAlone's (which reads the member's RSVP and
// checks the check-in code in queries of their own), and the first
// answer of a burst — a batch of one, which the rest of the burst queues
// behind — waits for the CPU before each of them.
func (s *Store) answerBatch(batch []*answerCall) {
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
		return s.saveBatch(ctx, tx, st)
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
// its counters; the RSVPs of the batch's members, read once when the
// occurrence is locked and kept up to date as the batch changes them and
// offers seats; and what the batch's answers changed and it has yet to
// write: RSVPs (the latest of each, in the order first changed), outbox
// events and audit entries, in answer order.
type batchState struct {
	events     map[string]domain.Event
	occurrence occurrence
	locked     bool
	changed    bool
	current    map[string]domain.RSVP

	rsvps     []heldRSVP
	rsvpIndex map[string]int // RSVP id -> its place in rsvps
	published []outbox.Traced
	audited   []audit.Item
}

// heldRSVP is an RSVP a batch changed and has yet to write.
type heldRSVP struct {
	rsvp domain.RSVP
	// insert is true for an RSVP not in the database yet.
	insert bool
}

// write holds r back to be written with the batch's other RSVPs, in place
// of any earlier version of it the batch holds; insert says r is new.
func (st *batchState) write(r domain.RSVP, insert bool) {
	st.current[r.MemberID] = r
	if i, ok := st.rsvpIndex[r.ID]; ok {
		st.rsvps[i].rsvp = r // still new if it was: it is not written yet
		return
	}
	if st.rsvpIndex == nil {
		st.rsvpIndex = map[string]int{}
	}
	st.rsvpIndex[r.ID] = len(st.rsvps)
	st.rsvps = append(st.rsvps, heldRSVP{rsvp: r, insert: insert})
}

// The statements that write a batch's RSVPs: new ones are inserted, and
// changed ones updated with the same statement made an upsert — only
// within their own community.
const (
	insertRSVPHead = `INSERT INTO rsvps (id, community, event_id, occurrence_id, member_id, status, position, code,
		offer_expires_at, answered_at, checked_in_at, updated_at, series)`
	updateRSVPTail = `ON CONFLICT (id) DO UPDATE SET status = excluded.status, position = excluded.position, code = excluded.code,
		offer_expires_at = excluded.offer_expires_at, answered_at = excluded.answered_at, checked_in_at = excluded.checked_in_at,
		updated_at = excluded.updated_at, series = excluded.series WHERE rsvps.community = excluded.community`
)

// writeRSVPs writes the RSVPs the batch of st holds back (none when st is
// nil): the new ones in as few statements as the engine allows, then the
// changed ones likewise.
func (s *Store) writeRSVPs(ctx context.Context, tx *sql.Tx, st *batchState) error {
	if st == nil || len(st.rsvps) == 0 {
		return nil
	}
	var inserts, updates [][]any
	for _, h := range st.rsvps {
		r := h.rsvp
		row := []any{r.ID, r.Community, r.EventID, r.OccurrenceID, r.MemberID, string(r.Status), r.Position, nullString(r.Code),
			nullTime(r.OfferExpiresAt), stamp(r.AnsweredAt), nullTime(r.CheckedInAt), stamp(r.UpdatedAt), r.Series}
		if h.insert {
			inserts = append(inserts, row)
		} else {
			updates = append(updates, row)
		}
	}
	for _, w := range []struct {
		tail string
		rows [][]any
	}{{"", inserts}, {updateRSVPTail, updates}} {
		n, err := s.db.InsertRows(ctx, tx, insertRSVPHead, w.tail, w.rows)
		if err != nil {
			return fmt.Errorf("save %d rsvps of occurrence %s: %w", len(w.rows), st.occurrence.ID, err)
		}
		if n != int64(len(w.rows)) {
			// An id of another community: refused by the update's WHERE.
			return fmt.Errorf("save %d rsvps of occurrence %s: %d written", len(w.rows), st.occurrence.ID, n)
		}
	}
	st.rsvps, st.rsvpIndex = st.rsvps[:0], nil
	return nil
}

// saveBatch writes what the answers of a batch changed: their RSVPs,
// outbox events and audit entries, each kind in as few statements as the
// engine allows, and the occurrence's counters.
func (s *Store) saveBatch(ctx context.Context, tx *sql.Tx, st *batchState) error {
	if err := s.writeRSVPs(ctx, tx, st); err != nil {
		return err
	}
	if err := s.outbox.AppendTraced(ctx, tx, st.published); err != nil {
		return err
	}
	if err := s.audit.RecordAll(ctx, tx, st.audited...); err != nil {
		return err
	}
	return s.saveCounters(ctx, tx, st.occurrence)
}

// answerInBatch records one answer of a batch in tx, as answerOccurrence
// does, with the event and the occurrence read and locked once for the
// batch.
func (s *Store) answerInBatch(ctx context.Context, tx *sql.Tx, call *answerCall, members []string, st *batchState) (domain.RSVP, error) {
	if !st.locked {
		e, o, err := s.lockWithEvent(ctx, tx, call.community, call.eventID, call.occurrenceID)
		if err != nil {
			return domain.RSVP{}, err
		}
		st.events[call.eventID], st.occurrence, st.locked = e, o, true
		if st.current, err = s.currentRSVPs(ctx, tx, call.community, call.occurrenceID, members); err != nil {
			return domain.RSVP{}, err
		}
	}
	e, ok := st.events[call.eventID]
	if !ok {
		var err error
		if e, err = s.eventCore(ctx, tx, call.community, call.eventID); err != nil {
			return domain.RSVP{}, err
		}
		st.events[call.eventID] = e
	}
	c := &collector{}
	r, changed, err := s.answerLocked(ctx, tx, e, &st.occurrence, call.memberID, call.answer, false, st, c)
	if err != nil || !changed {
		return r, err
	}
	if c.err != nil {
		return domain.RSVP{}, c.err
	}
	st.changed = true
	for _, ev := range c.events {
		st.published = append(st.published, outbox.Traced{Ctx: ctx, Event: ev})
	}
	st.audited = append(st.audited, audit.Item{Ctx: ctx, Community: call.community, Action: domain.ActionRSVPAnswered,
		TargetType: domain.TargetRSVP, TargetID: r.ID})
	return r, nil
}

// lockWithEvent reads event eventID of community and locks and reads its
// occurrence occurrenceID, in one query (on PostgreSQL, the occurrence
// row stays locked until the transaction ends). When the two are not an
// event and one of its occurrences, it reads them one by one, as a lone
// answer does, for the refusal a lone answer gets: no such event, no
// such occurrence, or (from answerLocked) an occurrence of another event.
func (s *Store) lockWithEvent(ctx context.Context, tx *sql.Tx, community, eventID, occurrenceID string) (domain.Event, occurrence, error) {
	query := "SELECT " + qualified(eventColumns, "e") + ", " + qualified(occurrenceColumns, "o") + ` FROM occurrences o
		JOIN events e ON e.community = o.community AND e.id = o.event_id WHERE o.community = ? AND o.id = ? AND o.event_id = ?`
	if s.db.Dialect == db.Postgres {
		query += " FOR UPDATE OF o"
	}
	var o occurrence
	e, err := scanEvent(tx.QueryRowContext(ctx, s.db.Rebind(query), community, occurrenceID, eventID), o.dest()...)
	switch {
	case err == nil:
		o.scanned()
		return e, o, nil
	case !errors.Is(err, sql.ErrNoRows):
		return e, o, fmt.Errorf("read occurrence %s of event %s: %w", occurrenceID, eventID, err)
	}
	if e, err = s.eventCore(ctx, tx, community, eventID); err != nil {
		return e, o, err
	}
	o, err = s.lockOccurrence(ctx, tx, community, occurrenceID)
	return e, o, err
}

// qualified is a list of columns, each qualified with alias.
func qualified(columns, alias string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
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
