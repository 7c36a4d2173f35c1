package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

func TestGroupCommit(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("one failing answer in a batch fails alone", func(t *testing.T) { testMixedBatch(t, engine) })
			t.Run("a batch opened by a refused answer refuses it and goes on", func(t *testing.T) { testRefusedFirst(t, engine) })
			t.Run("a seat freed in a batch is offered to the waitlist", func(t *testing.T) { testFreedInBatch(t, engine) })
			t.Run("a burst with failing and repeated answers keeps capacity and order", func(t *testing.T) { testMixedBurst(t, engine) })
			t.Run("a member answering many times at once holds one RSVP", func(t *testing.T) { testRepeatedBurst(t, engine) })
			t.Run("two replicas batching apart keep capacity and order", func(t *testing.T) { testTwoReplicas(t, engine) })
		})
	}
}

// testMixedBatch answers one batch in which some answers are refused
// before writing anything (the batch goes on), one fails after writing
// its RSVP (its audit entry cannot be recorded: no caller; the batch is
// rolled back and every answer taken again on its own), one caller gave
// up, and one member answers twice: each gets its own result, and the
// failed ones leave nothing behind.
func testMixedBatch(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 2, "")
	other, _ := f.event(t, 2, "")
	o := occs[0]
	gaveUp, cancel := context.WithCancel(f.ctx)
	cancel()
	call := func(ctx context.Context, eventID, member string) store.Call {
		return store.Call{Ctx: ctx, Community: "demo", EventID: eventID, OccurrenceID: o.ID, MemberID: member, Answer: domain.AnswerGoing}
	}
	res := f.s.AnswerTogether([]store.Call{
		call(f.ctx, e.ID, "ada"),
		call(context.Background(), e.ID, "bob"), // no caller to audit: fails after its writes
		call(f.ctx, other.ID, "cleo"),           // the occurrence is not of this event
		call(f.ctx, e.ID, "dan"),
		call(f.ctx, e.ID, "ada"), // a repeat in the same batch
		call(f.ctx, e.ID, "eve"),
		call(gaveUp, e.ID, "fay"),
		call(f.ctx, "no-such-event", "gus"),
	})
	want := []struct {
		status   domain.RSVPStatus
		position int
		err      error
	}{
		{status: domain.RSVPGoing},
		{err: errAny},
		{err: domain.ErrOccurrenceNotFound},
		{status: domain.RSVPGoing}, // bob's seat was rolled back: dan takes it
		{status: domain.RSVPGoing},
		{status: domain.RSVPWaitlisted, position: 1},
		{err: context.Canceled},
		{err: domain.ErrEventNotFound},
	}
	for i, w := range want {
		got := res[i]
		switch {
		case w.err == errAny && got.Err == nil, w.err != nil && w.err != errAny && !errors.Is(got.Err, w.err):
			t.Errorf("answer %d: error %v, want %v", i, got.Err, w.err)
		case w.err == nil && (got.Err != nil || got.RSVP.Status != w.status || got.RSVP.Position != w.position):
			t.Errorf("answer %d: %s at %d, %v; want %s at %d", i, got.RSVP.Status, got.RSVP.Position, got.Err, w.status, w.position)
		}
	}
	if res[4].RSVP.ID != res[0].RSVP.ID || res[4].RSVP.Code != res[0].RSVP.Code {
		t.Errorf("ada's repeat = %+v, want her first answer %+v", res[4].RSVP, res[0].RSVP)
	}
	for _, m := range []string{"bob", "cleo", "fay", "gus"} {
		if _, err := f.s.RSVP(f.ctx, "demo", o.ID, m); !errors.Is(err, domain.ErrRSVPNotFound) {
			t.Errorf("RSVP of %s after a failed answer: %v, want none", m, err)
		}
	}
	f.seatsConsistent(t, o, 2)
	// Three answers changed something: three RSVPs, each with its events
	// and one audit entry.
	for typ, n := range map[string]int{published.TypeRSVPReceived: 3, published.TypeSeatTaken: 2, published.TypeWaitlisted: 1} {
		if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", typ); got != n {
			t.Errorf("%s events = %d, want %d", typ, got, n)
		}
	}
	if got := f.count(t, "SELECT count(*) FROM rsvps WHERE community = 'demo'"); got != 3 {
		t.Errorf("RSVPs stored = %d, want 3", got)
	}
	if got := f.count(t, `SELECT count(*) FROM audit_log a JOIN rsvps r ON r.id = a.target_id WHERE a.action = ? AND a.target_type = 'rsvp'`,
		domain.ActionRSVPAnswered); got != 3 {
		t.Errorf("audited answers = %d, want 3", got)
	}
}

// testFreedInBatch answers, in one batch, a member who gives up their
// seat while the next on the waitlist answers again: the seat is offered
// to them, and their repeated answer reports the offer.
func testFreedInBatch(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "")
	o := occs[0]
	call := func(member string, a domain.Answer) store.Call {
		return store.Call{Ctx: f.ctx, Community: "demo", EventID: e.ID, OccurrenceID: o.ID, MemberID: member, Answer: a}
	}
	res := f.s.AnswerTogether([]store.Call{
		call("ada", domain.AnswerGoing),
		call("bob", domain.AnswerGoing),
		call("ada", domain.AnswerNotGoing),
		call("bob", domain.AnswerGoing),
		call("cleo", domain.AnswerGoing),
	})
	want := []struct {
		status   domain.RSVPStatus
		position int
	}{{domain.RSVPGoing, 0}, {domain.RSVPWaitlisted, 1}, {domain.RSVPNotGoing, 0}, {domain.RSVPOffered, 1}, {domain.RSVPWaitlisted, 2}}
	for i, w := range want {
		if got := res[i]; got.Err != nil || got.RSVP.Status != w.status || got.RSVP.Position != w.position {
			t.Errorf("answer %d: %s at %d, %v; want %s at %d", i, got.RSVP.Status, got.RSVP.Position, got.Err, w.status, w.position)
		}
	}
	if r := f.rsvp(t, o, "bob"); r.Status != domain.RSVPOffered {
		t.Errorf("bob = %s, want offered", r.Status)
	}
	f.seatsConsistent(t, o, 1)
}

// testTwoReplicas sends a burst through two stores over one database, as
// two replicas of the service do, each grouping its own answers: the
// database still holds capacity and the waitlist order between them.
func testTwoReplicas(t *testing.T, engine string) {
	f := newStore(t, engine)
	other := store.New(f.db, outbox.New(f.db, propagation.TraceContext{}), published.Factory{}, audit.New(f.db),
		store.Options{Now: f.clock.Now, OfferWindow: 24 * time.Hour})
	e, occs := f.event(t, 200, "")
	o := occs[0]
	const n = 600
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := f.s
			if i%2 == 1 {
				s = other
			}
			_, errs[i] = s.Answer(f.ctx, "demo", e.ID, o.ID, fmt.Sprintf("m%04d", i), domain.AnswerGoing, false)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("answer %d: %v", i, err)
		}
	}
	all, err := f.s.Attendees(f.ctx, "demo", o.ID, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	going, waiting := 0, 0
	for _, r := range all {
		switch r.Status {
		case domain.RSVPGoing:
			going++
		case domain.RSVPWaitlisted:
			waiting++
			if r.Position != waiting {
				t.Fatalf("waitlist position %d at place %d; want 1..%d without gaps", r.Position, waiting, n-200)
			}
		}
	}
	if going != 200 || waiting != n-200 {
		t.Errorf("going %d, waitlisted %d; want 200 and %d", going, waiting, n-200)
	}
	f.seatsConsistent(t, o, 200)
}

// testRefusedFirst answers batches (a batch is one occurrence's) whose
// first answer names no such event, or an event the occurrence is not
// of (the batch reads the event and locks the occurrence with its first
// answer): that answer gets the refusal a lone answer gets, and the
// answer after it is taken.
func testRefusedFirst(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 10, "")
	other, _ := f.event(t, 10, "")
	o := occs[0]
	for i, tc := range []struct {
		name, eventID string
		want          error
	}{
		{"no such event", "no-such-event", domain.ErrEventNotFound},
		{"an event the occurrence is not of", other.ID, domain.ErrOccurrenceNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call := func(eventID, member string) store.Call {
				return store.Call{Ctx: f.ctx, Community: "demo", EventID: eventID, OccurrenceID: o.ID, MemberID: member, Answer: domain.AnswerGoing}
			}
			res := f.s.AnswerTogether([]store.Call{call(tc.eventID, fmt.Sprintf("x%d", i)), call(e.ID, fmt.Sprintf("m%d", i))})
			if !errors.Is(res[0].Err, tc.want) {
				t.Errorf("first answer: %+v, %v; want %v", res[0].RSVP, res[0].Err, tc.want)
			}
			if res[1].Err != nil || res[1].RSVP.Status != domain.RSVPGoing {
				t.Errorf("next answer: %s, %v; want a seat", res[1].RSVP.Status, res[1].Err)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM rsvps WHERE member_id LIKE 'x%'"); n != 0 {
		t.Errorf("the refused answers stored %d RSVPs", n)
	}
	f.seatsConsistent(t, o, 2)
}

// errAny stands for "some error" in a table of wanted results.
var errAny = errors.New("any error")

// testMixedBurst sends 1000 answers at once, one in ten from a caller
// who cannot be audited (fails after its writes) and one in ten for an
// event the occurrence is not of (fails before): exactly the capacity
// got a seat, the waitlist runs 1..n in the order answers were taken,
// and every failed answer left nothing.
func testMixedBurst(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 300, "")
	other, _ := f.event(t, 1, "")
	o := occs[0]
	const n = 1000
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, eventID := f.ctx, e.ID
			switch i % 10 {
			case 3:
				ctx = context.Background()
			case 7:
				eventID = other.ID
			}
			_, errs[i] = f.s.Answer(ctx, "demo", eventID, o.ID, fmt.Sprintf("m%04d", i), domain.AnswerGoing, false)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if failing := i%10 == 3 || i%10 == 7; failing != (err != nil) {
			t.Errorf("answer %d: %v (failing: %v)", i, err, failing)
		}
	}
	all, err := f.s.Attendees(f.ctx, "demo", o.ID, 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 800 {
		t.Fatalf("%d RSVPs stored, want 800 (the failed answers stored none)", len(all))
	}
	going, waiting := 0, 0
	var last domain.RSVP
	for _, r := range all {
		switch r.Status {
		case domain.RSVPGoing:
			going++
			last = r
		case domain.RSVPWaitlisted:
			waiting++
			if r.Position != waiting {
				t.Fatalf("waitlist position %d at place %d; want 1..500 without gaps", r.Position, waiting)
			}
			if r.AnsweredAt.Before(last.AnsweredAt) {
				t.Errorf("position %d answered at %s, before %s (the answer before it)", r.Position, r.AnsweredAt, last.AnsweredAt)
			}
			last = r
		default:
			t.Errorf("RSVP of %s is %s", r.MemberID, r.Status)
		}
	}
	if going != 300 || waiting != 500 {
		t.Errorf("going %d, waitlisted %d; want 300 and 500", going, waiting)
	}
	f.seatsConsistent(t, o, 300)
	if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", published.TypeRSVPReceived); got != 800 {
		t.Errorf("RSVPReceived events = %d, want 800", got)
	}
	if got := f.count(t, `SELECT count(*) FROM audit_log WHERE action = ? AND target_type = 'rsvp'`, domain.ActionRSVPAnswered); got != 800 {
		t.Errorf("audited answers = %d, want 800", got)
	}
}

// testRepeatedBurst has one member answer going 50 times at once, next to
// 50 others: the member holds one RSVP, with one event and one audit
// entry, and every one of their calls returned it.
func testRepeatedBurst(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 10, "")
	o := occs[0]
	got := make([]domain.RSVP, 100)
	errs := make([]error, 100)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			member := "ada"
			if i%2 == 1 {
				member = fmt.Sprintf("m%03d", i)
			}
			var rs []domain.RSVP
			if rs, errs[i] = f.s.Answer(f.ctx, "demo", e.ID, o.ID, member, domain.AnswerGoing, false); errs[i] == nil {
				got[i] = rs[0]
			}
		})
	}
	wg.Wait()
	ada := f.rsvp(t, o, "ada")
	for i := 0; i < 100; i += 2 {
		if errs[i] != nil || got[i].ID != ada.ID || got[i].Status != ada.Status || got[i].Position != ada.Position || got[i].Code != ada.Code {
			t.Errorf("ada's answer %d = %+v, %v; want her one RSVP %+v", i, got[i], errs[i], ada)
		}
	}
	if n := f.count(t, "SELECT count(*) FROM rsvps WHERE member_id = 'ada'"); n != 1 {
		t.Errorf("ada holds %d RSVPs, want 1", n)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE target_id = ?", ada.ID); n != 1 {
		t.Errorf("ada's RSVP has %d audit entries, want 1", n)
	}
	if n := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", published.TypeRSVPReceived); n != 51 {
		t.Errorf("RSVPReceived events = %d, want 51 (one per member)", n)
	}
	f.seatsConsistent(t, o, 10)
}
