package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// Group commit of joins. Joins that arrive while a batch commits share
// the next transaction and its one commit: a caller that finds a batch
// slot free leads; when it is done, the oldest waiting join leads the
// next batch, which takes every join that queued meanwhile (up to the
// store's join batch, WithJoinBatch) and stores them in arrival order in
// one transaction — each with its own member row, tags, consent, audit
// entry (for its own caller) and outbox events, as a lone join; the rows
// of all of them are written a table at a time (joinMany) — commits once
// and hands each caller its own result. So no caller commits for others
// longer than its own batch takes.
//
// One batch runs at a time, on either engine (joinLeaders).
//
// A join refused before it writes anything (an unknown community or
// referrer, or an address the community has — the member insert does
// nothing on a conflict, so no statement fails) gets its refusal and the
// batch goes on. Any other failure of a join, or of the commit, rolls the
// whole transaction back and every join of the batch is then stored in a
// transaction of its own, in the same order: one caller's failure never
// fails another's, and nothing is ever half-written. (Savepoints around
// each join would do the same without the second pass, but SQLite writes
// every page a savepoint touches to a statement journal.)
//
// The batches live in one process; uniqueness of addresses across
// batches and processes comes from the database's unique index.

// joinLeaders is how many join batches run at once: one, on either
// engine. SQLite has one writer anyway. PostgreSQL would take batches side
// by side, but a batch costs about the same statements whatever its size
// (each table, the audit entries and the outbox rows in one multi-row
// statement), so batches that run one at a time — and are larger for it —
// cost less a join: with 8 callers on two shared, busy cores the store's
// benchmark (BenchmarkCreateMember) stored a PostgreSQL join in 0.8–1.4 ms
// with one batch at a time, 1.0–2.1 ms with two and 1.3–1.4 ms with four,
// where four batches at a time mostly held one join each.
const joinLeaders = 1

// defaultJoinBatch bounds the joins one transaction carries, so that the
// first caller of a batch does not wait for an unbounded number of
// others.
const defaultJoinBatch = 64

// WithJoinBatch sets the most joins that share a transaction (group
// commit); 0 or less means 64, and 1 gives every join a transaction of
// its own.
func (s *Store) WithJoinBatch(n int) *Store {
	if n <= 0 {
		n = defaultJoinBatch
	}
	s.joinBatch = n
	return s
}

// joinCall is one caller's join.
type joinCall struct {
	ctx     context.Context
	m       domain.Member
	consent *domain.ConsentRecord
	audit   JoinAuditor
	events  []kafka.Event

	err error
	// settled is set once err is the join's final outcome.
	settled bool
	// batch is the batch this caller leads, itself first; set before it
	// is woken to lead.
	batch []*joinCall
	// wake receives false when the result is in, or true when the caller
	// is to lead its batch.
	wake chan bool
}

// joinQueue holds the joins waiting for a batch, and counts the batches
// running. Joins wait only while every batch slot is taken.
type joinQueue struct {
	mu      sync.Mutex
	waiting []*joinCall
	running int
}

// createGrouped stores c's join, in a transaction shared with the joins
// that arrive meanwhile.
func (s *Store) createGrouped(c *joinCall) error {
	if s.joinBatch == 1 {
		return s.createAlone(c.ctx, c)
	}
	q := &s.joins
	q.mu.Lock()
	lead := q.running < joinLeaders
	if lead {
		// A free slot means nobody waits: c leads a batch of its own.
		q.running++
		c.batch = []*joinCall{c}
	} else {
		q.waiting = append(q.waiting, c)
	}
	q.mu.Unlock()
	if !lead && !<-c.wake {
		return c.err
	}
	s.leadJoins(c)
	return c.err
}

// leadJoins runs self's batch, wakes every other caller of it with its
// result and passes the lead on to the oldest caller that queued
// meanwhile, with its batch.
func (s *Store) leadJoins(self *joinCall) {
	batch := self.batch
	defer func() {
		// Even if the batch panicked, nobody is left waiting.
		if p := recover(); p != nil {
			for _, c := range batch {
				if !c.settled {
					c.err = fmt.Errorf("join of member %s: batch failed: %v", c.m.ID, p)
				}
			}
			s.passJoinLead(batch, self)
			panic(p)
		}
		s.passJoinLead(batch, self)
	}()
	s.commitJoins(batch)
}

// passJoinLead wakes the callers of a finished batch and hands its slot to
// the oldest caller still waiting, with the next batch, or frees it.
func (s *Store) passJoinLead(batch []*joinCall, self *joinCall) {
	q := &s.joins
	q.mu.Lock()
	var next *joinCall
	if len(q.waiting) > 0 {
		n := min(len(q.waiting), s.joinBatch)
		next = q.waiting[0]
		next.batch = slices.Clone(q.waiting[:n])
		q.waiting = slices.Clone(q.waiting[n:])
	} else {
		q.running--
	}
	q.mu.Unlock()
	for _, c := range batch {
		if c != self {
			c.wake <- false
		}
	}
	if next != nil {
		next.wake <- true
	}
}

// commitJoins stores every join of batch, in order, in one transaction.
// A join refused before it wrote anything (see joinMany) gets its error
// and the batch goes on; any other failure rolls the transaction back,
// and every join is then stored in a transaction of its own, so the
// failing join fails alone.
func (s *Store) commitJoins(batch []*joinCall) {
	if len(batch) == 1 {
		c := batch[0]
		c.err, c.settled = s.createAlone(c.ctx, c), true
		return
	}
	// The transaction belongs to no caller alone: a leader that gives up
	// does not take the others' joins with it.
	ctx := context.WithoutCancel(batch[0].ctx)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var live []*joinCall
		for _, c := range batch {
			if c.err = c.ctx.Err(); c.err == nil {
				live = append(live, c)
			}
		}
		return s.joinMany(ctx, tx, live)
	})
	if err != nil {
		for _, c := range batch {
			if c.err = c.ctx.Err(); c.err == nil {
				c.err = s.createAlone(c.ctx, c)
			}
			c.settled = true
		}
		return
	}
	for _, c := range batch {
		c.settled = true
	}
	s.outbox.Notify()
}

// createAlone stores one join in a transaction of its own.
func (s *Store) createAlone(ctx context.Context, c *joinCall) error {
	c.err = nil
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.joinMany(ctx, tx, []*joinCall{c}); err != nil {
			return err
		}
		return c.err // a refusal: nothing was written
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

// joinMany stores the joins of calls in tx as joins one after another, in
// this order, would be: each member with its tags, its first consent
// record (when given), its audit entry for its own caller and its events.
// The rows of all the joins are written a table at a time (joinrows.go).
// A join's refusal (an unknown community or referrer, or an address taken
// — by the community, or by a join ahead in calls) lands in its err
// before anything of it is written; any other failure is returned, and the transaction must
// be rolled back.
func (s *Store) joinMany(ctx context.Context, tx *sql.Tx, calls []*joinCall) error {
	// Refusals first: an unknown community or referrer, or an address a
	// join ahead in the batch takes.
	known := map[string]bool{}
	ahead := map[string]bool{}
	var todo []*joinCall
	for _, c := range calls {
		m := c.m
		ok, checked := known[m.Community]
		if !checked {
			var err error
			if ok, err = s.communityExists(ctx, tx, m.Community); err != nil {
				return err
			}
			known[m.Community] = ok
		}
		address := m.Community + "\x00" + m.Email
		switch {
		case !ok:
			c.err = domain.ErrUnknownCommunity
		case ahead[address]:
			c.err = domain.ErrEmailTaken
		default:
			if err := s.checkReferrer(ctx, tx, m); errors.Is(err, domain.ErrUnknownReferrer) {
				c.err = err
				continue
			} else if err != nil {
				return err
			}
			ahead[address] = true
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	members := make([]domain.Member, len(todo))
	consent := make([]bool, len(todo))
	for i, c := range todo {
		members[i] = c.m
		// A first consent to announcements is in the row from the start.
		consent[i] = c.m.EmailConsent || c.consent != nil && c.consent.Purpose == domain.PurposeAnnouncements && c.consent.Granted
	}
	inserted, err := s.insertMembers(ctx, tx, members, consent)
	if err != nil {
		return err
	}
	// An address the community has already: that join is refused.
	stored := todo[:0]
	for _, c := range todo {
		if inserted[c.m.ID] {
			stored = append(stored, c)
		} else {
			c.err = domain.ErrEmailTaken
		}
	}
	members, recs := members[:0], make([]*domain.ConsentRecord, 0, len(stored))
	for _, c := range stored {
		members, recs = append(members, c.m), append(recs, c.consent)
	}
	if err := s.insertMembersTags(ctx, tx, members); err != nil {
		return err
	}
	if err := s.insertFirstConsents(ctx, tx, members, recs); err != nil {
		return err
	}
	if err := recordJoins(ctx, tx, stored); err != nil {
		return err
	}
	// Every event of the batch in one statement (or a few), each with the
	// trace of its own join.
	var evs []outbox.Traced
	for _, c := range stored {
		cctx := context.WithoutCancel(c.ctx)
		for _, e := range c.events {
			evs = append(evs, outbox.Traced{Ctx: cctx, Event: e})
		}
	}
	if err := s.outbox.AppendTraced(ctx, tx, evs); err != nil {
		return err
	}
	return s.afterJoinsVerified(ctx, tx, members)
}

// recordJoins audits each of calls, stored, for its own caller: a run of
// joins with the same auditor (all of a batch of the team's joins, or of
// public ones) in one RecordAll.
func recordJoins(ctx context.Context, tx *sql.Tx, calls []*joinCall) error {
	for len(calls) > 0 {
		n := 1
		for n < len(calls) && sameAuditor(calls[n].audit, calls[0].audit) {
			n++
		}
		items := make([]audit.Item, n)
		for i, c := range calls[:n] {
			items[i] = audit.Item{Ctx: context.WithoutCancel(c.ctx), Community: c.m.Community, Action: "member.joined", TargetType: "member", TargetID: c.m.ID}
		}
		if err := calls[0].audit.RecordAll(ctx, tx, items...); err != nil {
			return err
		}
		calls = calls[n:]
	}
	return nil
}

// sameAuditor reports whether a and b are the same auditor.
func sameAuditor(a, b JoinAuditor) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// afterJoinsVerified does for each of members just stored whose address
// is verified what afterVerified does, reading once per community for
// which of their addresses activity is kept.
func (s *Store) afterJoinsVerified(ctx context.Context, tx *sql.Tx, members []domain.Member) error {
	emails := map[string][]string{}
	for _, m := range members {
		if m.EmailVerified && m.Email != "" {
			emails[m.Community] = append(emails[m.Community], m.Email)
		}
	}
	kept := map[string]map[string]bool{}
	for community, list := range emails {
		var err error
		if kept[community], err = s.withPendingActivity(ctx, tx, community, list); err != nil {
			return err
		}
	}
	for _, m := range members {
		if !m.EmailVerified {
			continue
		}
		if err := s.creditReferral(ctx, tx, m, m.JoinedAt); err != nil {
			return err
		}
		if kept[m.Community][m.Email] {
			if err := s.claimPendingByEmail(ctx, tx, m.Community, m.ID, m.Email); err != nil {
				return err
			}
		}
	}
	return nil
}
