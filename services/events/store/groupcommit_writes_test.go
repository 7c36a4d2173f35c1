package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// The group commit writes a batch's RSVPs, outbox events and audit
// entries with multi-row statements at its end: these tests check that
// what it writes is what each answer alone would have written.
func TestGroupCommitWrites(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("each answer of a batch is audited for its own caller and published in its own trace", func(t *testing.T) {
				testBatchCallers(t, engine)
			})
			t.Run("answers changing the same RSVP in a batch leave its last state, with every event and entry", func(t *testing.T) {
				testBatchRewrites(t, engine)
			})
			t.Run("a check-in code drawn twice in a batch fails it, and every answer is taken again on its own", func(t *testing.T) {
				testBatchCodeClash(t, engine)
			})
			t.Run("a batch of more answers than one statement carries writes each answer's RSVP, events and entry in order", func(t *testing.T) {
				testBigBatch(t, engine)
			})
		})
	}
}

// member is the context of a member answering for themselves, in a trace
// of their own.
func member(t *testing.T, id string, n int) (context.Context, trace.TraceID) {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: id, Community: "demo",
		Roles: []auth.Role{auth.Member}}, auth.ScopeCommunity)
	lo, hi := byte(n), byte(n>>8)
	tid := trace.TraceID{0x4b, lo, hi, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{lo, hi, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(ctx, sc), tid
}

// testBatchCallers answers for three members in one batch, each calling
// for themselves: every RSVP's audit entry names its own member, every
// event carries its own member's trace, and the events are stored in
// answer order.
func testBatchCallers(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 2, "")
	o := occs[0]
	members := []string{"ada", "bob", "cleo"}
	traces := map[string]trace.TraceID{}
	var calls []store.Call
	for i, m := range members {
		ctx, tid := member(t, m, i+1)
		traces[m] = tid
		calls = append(calls, store.Call{Ctx: ctx, Community: "demo", EventID: e.ID, OccurrenceID: o.ID, MemberID: m, Answer: domain.AnswerGoing})
	}
	for i, r := range f.s.AnswerTogether(calls) {
		if r.Err != nil {
			t.Fatalf("answer of %s: %v", members[i], r.Err)
		}
	}
	rows, err := f.db.Query(f.db.Rebind(`SELECT r.member_id, a.actor_kind, a.actor_id FROM audit_log a JOIN rsvps r ON r.id = a.target_id
		WHERE a.action = ? AND a.target_type = 'rsvp' ORDER BY a.id`), domain.ActionRSVPAnswered)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for rows.Next() {
		var m, kind, actor string
		if err := rows.Scan(&m, &kind, &actor); err != nil {
			t.Fatal(err)
		}
		if kind != string(auth.KindUser) || actor != m {
			t.Errorf("the answer of %s is audited for %s %s, want the member", m, kind, actor)
		}
		audited = append(audited, m)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(audited) != 3 || audited[0] != "ada" || audited[1] != "bob" || audited[2] != "cleo" {
		t.Errorf("audited answers %v, want ada, bob, cleo in order", audited)
	}

	var order []string
	for _, e := range outboxEvents(t, f) {
		if e.trace != traces[e.key] {
			t.Errorf("%s of %s is in trace %s, want its caller's %s", e.typ, e.key, e.trace, traces[e.key])
		}
		order = append(order, e.key+" "+e.typ)
	}
	want := []string{"ada " + published.TypeRSVPReceived, "ada " + published.TypeSeatTaken, "bob " + published.TypeRSVPReceived,
		"bob " + published.TypeSeatTaken, "cleo " + published.TypeRSVPReceived, "cleo " + published.TypeWaitlisted}
	if len(order) != len(want) {
		t.Fatalf("outbox holds %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("outbox holds %v, want %v", order, want)
		}
	}
	f.seatsConsistent(t, o, 2)
}

// testBatchRewrites answers, in one batch, for a member who had said not
// going (their RSVP is updated) and for one who changes their mind twice
// (their new RSVP is written once, in its last state): each answer still
// has its events and its audit entry.
func testBatchRewrites(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "")
	o := occs[0]
	zoe := f.answer(t, e, o, "zoe", domain.AnswerNotGoing)
	call := func(m string, a domain.Answer) store.Call {
		return store.Call{Ctx: f.ctx, Community: "demo", EventID: e.ID, OccurrenceID: o.ID, MemberID: m, Answer: a}
	}
	res := f.s.AnswerTogether([]store.Call{
		call("zoe", domain.AnswerGoing),    // updates her RSVP: the seat
		call("ada", domain.AnswerGoing),    // waitlist 1
		call("ada", domain.AnswerNotGoing), // leaves the waitlist
		call("ada", domain.AnswerGoing),    // waitlist 2
		call("bob", domain.AnswerGoing),    // waitlist 3
	})
	want := []struct {
		status   domain.RSVPStatus
		position int
	}{{domain.RSVPGoing, 0}, {domain.RSVPWaitlisted, 1}, {domain.RSVPNotGoing, 0}, {domain.RSVPWaitlisted, 2}, {domain.RSVPWaitlisted, 3}}
	for i, w := range want {
		if got := res[i]; got.Err != nil || got.RSVP.Status != w.status || got.RSVP.Position != w.position {
			t.Errorf("answer %d: %s at %d, %v; want %s at %d", i, got.RSVP.Status, got.RSVP.Position, got.Err, w.status, w.position)
		}
	}
	if res[0].RSVP.ID != zoe.ID || res[0].RSVP.Code == "" {
		t.Errorf("zoe's answer = %+v, want her RSVP %s going with a code", res[0].RSVP, zoe.ID)
	}
	if res[1].RSVP.ID != res[3].RSVP.ID {
		t.Errorf("ada holds RSVPs %s and %s, want one", res[1].RSVP.ID, res[3].RSVP.ID)
	}
	for m, w := range map[string]domain.RSVP{"zoe": res[0].RSVP, "ada": res[3].RSVP, "bob": res[4].RSVP} {
		got := f.rsvp(t, o, m)
		if got.ID != w.ID || got.Status != w.Status || got.Position != w.Position || got.Code != w.Code || !got.AnsweredAt.Equal(w.AnsweredAt) {
			t.Errorf("stored RSVP of %s = %+v, want %+v", m, got, w)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM rsvps WHERE community = 'demo'"); n != 3 {
		t.Errorf("RSVPs stored = %d, want 3", n)
	}
	for typ, n := range map[string]int{published.TypeRSVPReceived: 6, published.TypeSeatTaken: 1, published.TypeWaitlisted: 3} {
		if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", typ); got != n {
			t.Errorf("%s events = %d, want %d (zoe's not going before the batch, then one per answer)", typ, got, n)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE action = ? AND target_id = ?", domain.ActionRSVPAnswered, res[3].RSVP.ID); n != 3 {
		t.Errorf("ada's RSVP has %d audit entries, want 3 (one per answer)", n)
	}
	f.seatsConsistent(t, o, 1)
}

// codes draws check-in codes from a fixed sequence of 8-byte blocks.
type codes struct{ blocks [][]byte }

func (c *codes) Read(p []byte) (int, error) {
	n := copy(p, c.blocks[0])
	c.blocks = c.blocks[1:]
	return n, nil
}

func block(b byte) []byte { return []byte{b, b, b, b, b, b, b, b} }

// testBatchCodeClash gives two answers of a batch the same check-in code:
// the batch's RSVP statement is refused by the unique index, the batch
// rolls back, and each answer is taken on its own with a code checked
// for clashes — both seats held, with codes of their own, each answer
// with its events and its audit entry once.
func testBatchCodeClash(t *testing.T, engine string) {
	f := newStore(t, engine)
	draws := &codes{blocks: [][]byte{block(1), block(1), block(2), block(3), block(4), block(5)}}
	s := store.New(f.db, outbox.New(f.db, propagation.TraceContext{}), published.Factory{}, audit.New(f.db),
		store.Options{Now: f.clock.Now, OfferWindow: 24 * time.Hour, Codes: draws})
	e, occs := f.event(t, 2, "")
	o := occs[0]
	call := func(m string) store.Call {
		return store.Call{Ctx: f.ctx, Community: "demo", EventID: e.ID, OccurrenceID: o.ID, MemberID: m, Answer: domain.AnswerGoing}
	}
	res := s.AnswerTogether([]store.Call{call("ada"), call("bob")})
	for i, r := range res {
		if r.Err != nil || r.RSVP.Status != domain.RSVPGoing || r.RSVP.Code == "" {
			t.Fatalf("answer %d: %+v, %v; want a seat", i, r.RSVP, r.Err)
		}
	}
	if res[0].RSVP.Code == res[1].RSVP.Code {
		t.Errorf("ada and bob share the check-in code %s", res[0].RSVP.Code)
	}
	if len(draws.blocks) != 2 {
		t.Errorf("%d codes left undrawn, want 2 (two in the batch, two taken on their own)", len(draws.blocks))
	}
	for typ, n := range map[string]int{published.TypeRSVPReceived: 2, published.TypeSeatTaken: 2} {
		if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", typ); got != n {
			t.Errorf("%s events = %d, want %d", typ, got, n)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE action = ?", domain.ActionRSVPAnswered); n != 2 {
		t.Errorf("audited answers = %d, want 2", n)
	}
	f.seatsConsistent(t, o, 2)
}

// testBigBatch answers 600 members in one batch (the most a batch takes
// is 512; a test batch is not bounded), for 250 seats: more rows of each
// kind than one statement carries, so every kind is written in several.
// The first 250 hold seats with distinct check-in codes, the others wait
// at 1..350 in answer order; each answer has its RSVPReceived and its
// SeatTaken or Waitlisted event, in answer order and in its caller's
// trace, and its audit entry, for its caller, in answer order.
func testBigBatch(t *testing.T, engine string) {
	const n, seats = 600, 250
	f := newStore(t, engine)
	e, occs := f.event(t, seats, "")
	o := occs[0]
	calls := make([]store.Call, n)
	traces := map[string]trace.TraceID{}
	for i := range calls {
		m := fmt.Sprintf("m%04d", i)
		ctx, tid := member(t, m, i+1)
		traces[m] = tid
		calls[i] = store.Call{Ctx: ctx, Community: "demo", EventID: e.ID, OccurrenceID: o.ID, MemberID: m, Answer: domain.AnswerGoing}
	}
	codes := map[string]bool{}
	for i, r := range f.s.AnswerTogether(calls) {
		switch {
		case r.Err != nil:
			t.Fatalf("answer %d: %v", i, r.Err)
		case r.RSVP.MemberID != calls[i].MemberID:
			t.Fatalf("answer %d returned the RSVP of %s, want %s's", i, r.RSVP.MemberID, calls[i].MemberID)
		case i < seats && (r.RSVP.Status != domain.RSVPGoing || r.RSVP.Code == "" || codes[r.RSVP.Code]):
			t.Fatalf("answer %d: %s with code %q; want a seat with a code of its own", i, r.RSVP.Status, r.RSVP.Code)
		case i >= seats && (r.RSVP.Status != domain.RSVPWaitlisted || r.RSVP.Position != i-seats+1):
			t.Fatalf("answer %d: %s at %d; want waitlisted at %d", i, r.RSVP.Status, r.RSVP.Position, i-seats+1)
		}
		codes[r.RSVP.Code] = true
		if stored := f.rsvp(t, o, calls[i].MemberID); stored.Status != r.RSVP.Status || stored.Position != r.RSVP.Position || stored.Code != r.RSVP.Code {
			t.Fatalf("answer %d stored %+v, returned %+v", i, stored, r.RSVP)
		}
	}
	f.seatsConsistent(t, o, seats)

	rows, err := f.db.Query(f.db.Rebind(`SELECT r.member_id, a.actor_id FROM audit_log a JOIN rsvps r ON r.id = a.target_id
		WHERE a.action = ? AND a.target_type = 'rsvp' ORDER BY a.id`), domain.ActionRSVPAnswered)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var m, actor string
		if err := rows.Scan(&m, &actor); err != nil {
			t.Fatal(err)
		}
		if i >= n || m != calls[i].MemberID || actor != m {
			t.Fatalf("audit entry %d is of %s's answer, by %s; want %d entries, each by its member, in answer order", i, m, actor, n)
		}
		i++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("%d answers audited, want %d", i, n)
	}

	events := outboxEvents(t, f)
	for j, e := range events {
		key, typ := e.key, e.typ
		want := published.TypeRSVPReceived
		if j%2 == 1 {
			want = published.TypeWaitlisted
			if j/2 < seats {
				want = published.TypeSeatTaken
			}
		}
		if j >= 2*n || key != calls[j/2].MemberID || typ != want {
			t.Fatalf("outbox event %d is %s of %s; want %s of %s (two per answer, in answer order)", j, typ, key, want, calls[min(j/2, n-1)].MemberID)
		}
		if e.trace != traces[key] {
			t.Fatalf("%s of %s is in trace %s, want its caller's %s", typ, key, e.trace, traces[key])
		}
	}
	if len(events) != 2*n {
		t.Fatalf("outbox holds %d events, want %d", len(events), 2*n)
	}
}

// outboxEvent is an outbox row: its key, type and the trace it was
// appended in.
type outboxEvent struct {
	key, typ string
	trace    trace.TraceID
}

// outboxEvents reads the outbox in the order it publishes.
func outboxEvents(t *testing.T, f fixture) []outboxEvent {
	t.Helper()
	rows, err := f.db.Query("SELECT event_key, event_type, trace FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var raw string
		if err := rows.Scan(&e.key, &e.typ, &raw); err != nil {
			t.Fatal(err)
		}
		carrier := propagation.MapCarrier{}
		if err := json.Unmarshal([]byte(raw), &carrier); err != nil {
			t.Fatal(err)
		}
		e.trace = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier)).TraceID()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
