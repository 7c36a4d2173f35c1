package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond) // every reading is later, as real time is
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	s     *store.Store
	db    *db.DB
	clock *clock
	ctx   context.Context
}

var start = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newStore(t testing.TB, engine string) fixture {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations())
	c := &clock{now: start}
	s := store.New(d, outbox.New(d, propagation.TraceContext{}), published.Factory{}, audit.New(d), store.Options{Now: c.Now, OfferWindow: 24 * time.Hour})
	// Every change is audited for the caller: here an organiser of demo.
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "organiser-1", Community: "demo",
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	return fixture{s: s, db: d, clock: c, ctx: ctx}
}

func (f fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(f.db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// event stores a published event starting in a week: single, or with
// rrule, hosted by hosts.
func (f fixture) event(t testing.TB, capacity int, rrule string, hosts ...string) (domain.Event, []domain.Occurrence) {
	t.Helper()
	at := f.clock.Now().Truncate(time.Hour).Add(7 * 24 * time.Hour)
	spec := domain.Spec{Title: "Repair café", Kind: domain.KindOffline, Venue: domain.Venue{Street: "Main St 1", City: "Berlin", CountryCode: "DE"},
		Start: at, End: at.Add(2 * time.Hour), TimeZone: "Europe/Berlin", Capacity: capacity,
		Visibility: domain.VisibilityPublic, RRule: rrule, Tags: []string{"repair"}, HostIDs: hosts}
	now := f.clock.Now()
	e, starts, err := domain.NewEvent("demo", spec, uuid.Must(uuid.NewV7()).String(), now)
	if err != nil {
		t.Fatal(err)
	}
	e.Status, e.PublishedAt = domain.StatusPublished, now
	occs := domain.NewOccurrences(e, starts, func() string { return uuid.Must(uuid.NewV7()).String() }, now)
	if err := f.s.CreateEvent(f.ctx, e, occs); err != nil {
		t.Fatal(err)
	}
	return e, occs
}

func (f fixture) answer(t *testing.T, e domain.Event, o domain.Occurrence, member string, a domain.Answer) domain.RSVP {
	t.Helper()
	rs, err := f.s.Answer(f.ctx, "demo", e.ID, o.ID, member, a, false)
	if err != nil {
		t.Fatalf("answer of %s: %v", member, err)
	}
	return rs[0]
}

func (f fixture) rsvp(t *testing.T, o domain.Occurrence, member string) domain.RSVP {
	t.Helper()
	r, err := f.s.RSVP(f.ctx, "demo", o.ID, member)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f fixture) seatsConsistent(t *testing.T, o domain.Occurrence, want int) {
	t.Helper()
	counter, holding, err := f.s.SeatCounts(f.ctx, o.Community, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if counter != holding || counter != want {
		t.Errorf("seat counter %d, RSVPs holding a seat %d, want both %d", counter, holding, want)
	}
}

func TestStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("capacity holds under 1000 concurrent RSVPs", func(t *testing.T) { testConcurrentRSVPs(t, engine) })
			t.Run("freed seats are offered in waitlist order", func(t *testing.T) { testOffers(t, engine) })
			t.Run("answers", func(t *testing.T) { testAnswers(t, engine) })
			t.Run("series RSVPs", func(t *testing.T) { testSeries(t, engine) })
			t.Run("check-in, no-shows and feedback", func(t *testing.T) { testAttendance(t, engine) })
			t.Run("capacity changes", func(t *testing.T) { testCapacityChanges(t, engine) })
			t.Run("erasure", func(t *testing.T) { testErasure(t, engine) })
			t.Run("feeds", func(t *testing.T) { testFeedTokens(t, engine) })
			t.Run("another community's ids reach nothing", func(t *testing.T) { testOtherCommunity(t, engine) })
		})
	}
}

func testConcurrentRSVPs(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 500, "")
	o := occs[0]
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := f.s.Answer(f.ctx, "demo", e.ID, o.ID, fmt.Sprintf("m%04d", i), domain.AnswerGoing, false); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("RSVP failed: %v", err)
	}
	all, err := f.s.Attendees(f.ctx, "demo", o.ID, 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	var going, waiting []domain.RSVP
	for _, r := range all {
		switch r.Status {
		case domain.RSVPGoing:
			going = append(going, r)
		case domain.RSVPWaitlisted:
			waiting = append(waiting, r)
		default:
			t.Errorf("RSVP of %s is %s", r.MemberID, r.Status)
		}
	}
	if len(going) != 500 || len(waiting) != 500 {
		t.Fatalf("going %d, waitlisted %d; want 500 and 500", len(going), len(waiting))
	}
	f.seatsConsistent(t, o, 500)
	// Arrival order: positions run 1..500 in the order the answers were
	// taken, and every seat was taken before the first waitlist place.
	slices.SortFunc(waiting, func(a, b domain.RSVP) int { return a.Position - b.Position })
	for i, r := range waiting {
		if r.Position != i+1 {
			t.Fatalf("waitlist position %d at place %d; want 1..500 without gaps", r.Position, i+1)
		}
		if i > 0 && r.AnsweredAt.Before(waiting[i-1].AnsweredAt) {
			t.Errorf("position %d answered at %s, before position %d at %s", r.Position, r.AnsweredAt, i, waiting[i-1].AnsweredAt)
		}
	}
	codes := map[string]bool{}
	for _, r := range going {
		if !r.AnsweredAt.Before(waiting[0].AnsweredAt) {
			t.Errorf("seat of %s taken at %s, after the first waitlist place at %s", r.MemberID, r.AnsweredAt, waiting[0].AnsweredAt)
		}
		if len(r.Code) != domain.CodeLength || codes[r.Code] {
			t.Errorf("seat of %s has code %q (duplicate or malformed)", r.MemberID, r.Code)
		}
		codes[r.Code] = true
	}
	// One RSVPReceived per answer, and SeatTaken or Waitlisted for each.
	if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", published.TypeRSVPReceived); got != n {
		t.Errorf("RSVPReceived events = %d, want %d", got, n)
	}
	if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", published.TypeSeatTaken); got != 500 {
		t.Errorf("SeatTaken events = %d, want 500", got)
	}
	if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", published.TypeWaitlisted); got != 500 {
		t.Errorf("Waitlisted events = %d, want 500", got)
	}
	// One audit entry per answer, each naming its RSVP.
	if got := f.count(t, `SELECT count(DISTINCT a.target_id) FROM audit_log a JOIN rsvps r ON r.id = a.target_id
		WHERE a.action = ? AND a.target_type = 'rsvp' AND a.community = 'demo'`, domain.ActionRSVPAnswered); got != n {
		t.Errorf("audited answers = %d, want %d", got, n)
	}
}

func testOffers(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 2, "")
	o := occs[0]
	for _, m := range []string{"ada", "bob", "cleo", "dan", "eve"} {
		f.answer(t, e, o, m, domain.AnswerGoing)
	}
	if r := f.rsvp(t, o, "dan"); r.Status != domain.RSVPWaitlisted || r.Position != 2 {
		t.Fatalf("dan = %s at %d, want waitlisted at 2", r.Status, r.Position)
	}
	// Ada cancels: her seat is held for Cleo, first on the waitlist.
	if _, err := f.s.Cancel(f.ctx, "demo", e.ID, o.ID, "ada", false); err != nil {
		t.Fatal(err)
	}
	cleo := f.rsvp(t, o, "cleo")
	if cleo.Status != domain.RSVPOffered || !cleo.OfferExpiresAt.After(f.clock.Now().Add(23*time.Hour)) {
		t.Fatalf("cleo = %s until %s, want a 24 h offer", cleo.Status, cleo.OfferExpiresAt)
	}
	f.seatsConsistent(t, o, 2)
	// A newcomer cannot take the held seat.
	if r := f.answer(t, e, o, "fay", domain.AnswerGoing); r.Status != domain.RSVPWaitlisted || r.Position != 4 {
		t.Errorf("fay = %s at %d, want waitlisted at 4", r.Status, r.Position)
	}
	// Cleo accepts in time.
	taken, err := f.s.AcceptOffer(f.ctx, "demo", o.ID, "cleo")
	if err != nil || taken.Status != domain.RSVPGoing || taken.Code == "" {
		t.Fatalf("accept = %+v, %v", taken, err)
	}
	if again, err := f.s.AcceptOffer(f.ctx, "demo", o.ID, "cleo"); err != nil || again.Code != taken.Code {
		t.Errorf("accepting twice = %+v, %v; want the same seat", again, err)
	}
	if _, err := f.s.AcceptOffer(f.ctx, "demo", o.ID, "dan"); !errors.Is(err, domain.ErrNoOffer) {
		t.Errorf("accept without an offer = %v, want ErrNoOffer", err)
	}
	// Bob cancels; Dan lets the offer lapse; Eve is offered next.
	if _, err := f.s.Cancel(f.ctx, "demo", e.ID, o.ID, "bob", false); err != nil {
		t.Fatal(err)
	}
	if x, y, err := f.s.ExpireOffers(f.ctx, "demo"); err != nil || x != 0 || y != 0 {
		t.Errorf("expiring before the window ends = %d, %d, %v; want nothing", x, y, err)
	}
	f.clock.Advance(25 * time.Hour)
	if _, err := f.s.AcceptOffer(f.ctx, "demo", o.ID, "dan"); !errors.Is(err, domain.ErrOfferExpired) {
		t.Errorf("accept after expiry = %v, want ErrOfferExpired", err)
	}
	expired, offered, err := f.s.ExpireOffers(f.ctx, "demo")
	if err != nil || expired != 1 || offered != 1 {
		t.Fatalf("expire = %d expired, %d offered, %v; want 1 and 1", expired, offered, err)
	}
	if r := f.rsvp(t, o, "dan"); r.Status != domain.RSVPOfferExpired {
		t.Errorf("dan = %s, want offer_expired", r.Status)
	}
	if r := f.rsvp(t, o, "eve"); r.Status != domain.RSVPOffered {
		t.Errorf("eve = %s, want offered", r.Status)
	}
	if x, y, err := f.s.ExpireOffers(f.ctx, "demo"); err != nil || x != 0 || y != 0 {
		t.Errorf("a second sweep = %d, %d, %v; want nothing", x, y, err)
	}
	f.seatsConsistent(t, o, 2)
	for typ, want := range map[string]int{published.TypeSeatOffered: 3, published.TypeSeatOfferExpired: 1, published.TypeRSVPCancelled: 2} {
		if got := f.count(t, "SELECT count(*) FROM outbox WHERE event_type = ?", typ); got != want {
			t.Errorf("%s events = %d, want %d", typ, got, want)
		}
	}
}

func testAnswers(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "")
	o := occs[0]
	first := f.answer(t, e, o, "ada", domain.AnswerGoing)
	again := f.answer(t, e, o, "ada", domain.AnswerGoing)
	if again.ID != first.ID || again.Code != first.Code || again.Status != domain.RSVPGoing {
		t.Errorf("a repeated going = %+v, want the first answer unchanged", again)
	}
	f.answer(t, e, o, "bob", domain.AnswerGoing)
	if r := f.answer(t, e, o, "ada", domain.AnswerNotGoing); r.Status != domain.RSVPNotGoing || r.Code != "" {
		t.Errorf("not going = %+v", r)
	}
	if r := f.rsvp(t, o, "bob"); r.Status != domain.RSVPOffered {
		t.Errorf("bob after ada declined = %s, want offered", r.Status)
	}
	if r := f.answer(t, e, o, "ada", domain.AnswerGoing); r.Status != domain.RSVPWaitlisted || r.Position != 2 {
		t.Errorf("ada going again = %s at %d, want the end of the waitlist", r.Status, r.Position)
	}
	f.seatsConsistent(t, o, 1)
	if _, err := f.s.Cancel(f.ctx, "demo", e.ID, o.ID, "cleo", false); !errors.Is(err, domain.ErrRSVPNotFound) {
		t.Errorf("cancelling no RSVP = %v, want ErrRSVPNotFound", err)
	}

	past, pastOccs := f.event(t, 0, "")
	before := f.count(t, "SELECT count(*) FROM outbox")
	rsvps := f.count(t, "SELECT count(*) FROM rsvps")
	f.clock.Advance(8 * 24 * time.Hour)
	if _, err := f.s.Answer(f.ctx, "demo", past.ID, pastOccs[0].ID, "ada", domain.AnswerGoing, false); !errors.Is(err, domain.ErrOccurrenceEnded) {
		t.Errorf("RSVP to a past event = %v, want ErrOccurrenceEnded", err)
	}
	if _, err := f.s.Answer(f.ctx, "demo", past.ID, "no-such-occurrence", "ada", domain.AnswerGoing, false); !errors.Is(err, domain.ErrOccurrenceNotFound) {
		t.Errorf("RSVP to a missing occurrence = %v, want ErrOccurrenceNotFound", err)
	}
	if _, err := f.s.Answer(f.ctx, "other", past.ID, pastOccs[0].ID, "ada", domain.AnswerGoing, false); !errors.Is(err, domain.ErrEventNotFound) {
		t.Errorf("RSVP across communities = %v, want ErrEventNotFound", err)
	}
	if n := f.count(t, "SELECT count(*) FROM outbox"); n != before {
		t.Errorf("refused answers wrote %d events", n-before)
	}
	if n := f.count(t, "SELECT count(*) FROM rsvps"); n != rsvps {
		t.Errorf("refused answers stored %d RSVPs", n-rsvps)
	}
}

func testSeries(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "FREQ=WEEKLY;COUNT=4")
	if len(occs) != 4 {
		t.Fatalf("occurrences = %d, want 4", len(occs))
	}
	ada, err := f.s.Answer(f.ctx, "demo", e.ID, "", "ada", domain.AnswerGoing, true)
	if err != nil || len(ada) != 4 {
		t.Fatalf("series RSVP = %d, %v", len(ada), err)
	}
	bob, err := f.s.Answer(f.ctx, "demo", e.ID, "", "bob", domain.AnswerGoing, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range bob {
		if r.Status != domain.RSVPWaitlisted || !r.Series || r.OccurrenceID != occs[i].ID {
			t.Errorf("bob at occurrence %d = %+v", i, r)
		}
	}
	// Ada leaves the series after the first sitting started.
	f.clock.Advance(7*24*time.Hour + time.Hour)
	gone, err := f.s.Cancel(f.ctx, "demo", e.ID, "", "ada", true)
	if err != nil || len(gone) != 3 {
		t.Fatalf("series cancel = %d, %v; want the 3 upcoming", len(gone), err)
	}
	if r := f.rsvp(t, occs[0], "ada"); r.Status != domain.RSVPGoing {
		t.Errorf("the started sitting = %s, want it kept", r.Status)
	}
	for _, o := range occs[1:] {
		if r := f.rsvp(t, o, "bob"); r.Status != domain.RSVPOffered {
			t.Errorf("bob at %s = %s, want offered", o.Start, r.Status)
		}
		f.seatsConsistent(t, o, 1)
	}
	if n := f.count(t, "SELECT count(*) FROM series_rsvps WHERE member_id = 'ada'"); n != 0 {
		t.Errorf("ada's series RSVP survived")
	}
	single, _ := f.event(t, 0, "")
	if _, err := f.s.Answer(f.ctx, "demo", single.ID, "", "ada", domain.AnswerGoing, true); !errors.Is(err, domain.ErrNotRecurring) {
		t.Errorf("series RSVP to a single event = %v, want ErrNotRecurring", err)
	}
}

func testAttendance(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 0, "")
	o := occs[0]
	ada := f.answer(t, e, o, "ada", domain.AnswerGoing)
	f.answer(t, e, o, "bob", domain.AnswerGoing)
	f.answer(t, e, o, "cleo", domain.AnswerGoing)
	if _, err := f.s.CheckIn(f.ctx, "demo", o.ID, "ada", false); !errors.Is(err, domain.ErrCheckInClosed) {
		t.Errorf("check-in a week early = %v, want ErrCheckInClosed", err)
	}
	f.clock.Advance(7*24*time.Hour - time.Hour)
	byCode, err := f.s.RSVPByCode(f.ctx, "demo", ada.Code)
	if err != nil || byCode.MemberID != "ada" {
		t.Fatalf("code lookup = %+v, %v", byCode, err)
	}
	in, err := f.s.CheckIn(f.ctx, "demo", o.ID, "ada", false)
	if err != nil || in.Status != domain.RSVPCheckedIn || in.CheckedInAt.IsZero() {
		t.Fatalf("check-in = %+v, %v", in, err)
	}
	if again, err := f.s.CheckIn(f.ctx, "demo", o.ID, "ada", false); err != nil || !again.CheckedInAt.Equal(in.CheckedInAt) {
		t.Errorf("second check-in = %+v, %v; want the first unchanged", again, err)
	}
	if _, err := f.s.CheckIn(f.ctx, "demo", o.ID, "nobody", true); !errors.Is(err, domain.ErrNoSeat) {
		t.Errorf("check-in without a seat = %v, want ErrNoSeat", err)
	}
	if _, err := f.s.GiveFeedback(f.ctx, domain.Feedback{Community: "demo", OccurrenceID: o.ID, MemberID: "ada", Rating: 5}); !errors.Is(err, domain.ErrOccurrenceNotEnded) {
		t.Errorf("feedback before the end = %v, want ErrOccurrenceNotEnded", err)
	}
	if _, err := f.s.MarkNoShows(f.ctx, "demo", o.ID); !errors.Is(err, domain.ErrOccurrenceNotEnded) {
		t.Errorf("no-shows before the end = %v, want ErrOccurrenceNotEnded", err)
	}
	f.clock.Advance(4 * time.Hour)
	if _, err := f.s.CheckIn(f.ctx, "demo", o.ID, "bob", false); !errors.Is(err, domain.ErrCheckInClosed) {
		t.Errorf("a member's check-in after the end = %v, want ErrCheckInClosed", err)
	}
	n, err := f.s.MarkNoShows(f.ctx, "demo", o.ID)
	if err != nil || n != 2 {
		t.Fatalf("no-shows = %d, %v; want bob and cleo", n, err)
	}
	if n, err := f.s.MarkNoShows(f.ctx, "demo", o.ID); err != nil || n != 0 {
		t.Errorf("marking again = %d, %v; want 0", n, err)
	}
	// The team corrects Bob's record: he was there.
	if r, err := f.s.CheckIn(f.ctx, "demo", o.ID, "bob", true); err != nil || r.Status != domain.RSVPCheckedIn {
		t.Errorf("team check-in of a no-show = %+v, %v", r, err)
	}
	if _, err := f.s.GiveFeedback(f.ctx, domain.Feedback{Community: "demo", OccurrenceID: o.ID, MemberID: "cleo", Rating: 4}); !errors.Is(err, domain.ErrNotAttended) {
		t.Errorf("feedback from a no-show = %v, want ErrNotAttended", err)
	}
	for _, fb := range []domain.Feedback{
		{Community: "demo", OccurrenceID: o.ID, MemberID: "ada", Rating: 2, Comment: "Too loud."},
		{Community: "demo", OccurrenceID: o.ID, MemberID: "ada", Rating: 5, Comment: "Great, on second thought."},
		{Community: "demo", OccurrenceID: o.ID, MemberID: "bob", Rating: 4},
	} {
		if _, err := f.s.GiveFeedback(f.ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := f.s.FeedbackSummary(f.ctx, "demo", e.ID, "")
	if err != nil || sum.Count != 2 || sum.Average != 4.5 || sum.Distribution != [5]int{0, 0, 0, 1, 1} {
		t.Errorf("summary = %+v, %v; want 2 ratings averaging 4.5", sum, err)
	}
	list, err := f.s.ListFeedback(f.ctx, "demo", e.ID, 0, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("feedback list = %v, %v", list, err)
	}
	due, err := f.s.DueForNoShows(f.ctx, f.clock.Now(), 10)
	if err != nil || len(due) != 0 {
		t.Errorf("occurrences still due for no-shows = %v, %v", due, err)
	}
}

func testCapacityChanges(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "")
	o := occs[0]
	for _, m := range []string{"ada", "bob", "cleo"} {
		f.answer(t, e, o, m, domain.AnswerGoing)
	}
	grow := func(capacity int) error {
		_, err := f.s.MutateEvent(f.ctx, "demo", e.ID, func(e domain.Event, occs []domain.Occurrence, _ time.Time) (store.EventChange, error) {
			e.Capacity = capacity
			for i := range occs {
				occs[i].Capacity = capacity
			}
			return store.EventChange{Event: e, Occurrences: occs}, nil
		})
		return err
	}
	if err := grow(3); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"bob", "cleo"} {
		if r := f.rsvp(t, o, m); r.Status != domain.RSVPOffered {
			t.Errorf("%s after capacity grew = %s, want offered", m, r.Status)
		}
	}
	f.seatsConsistent(t, o, 3)
	if err := grow(2); !errors.Is(err, domain.ErrCapacityBelowSeats) {
		t.Errorf("shrinking below held seats = %v, want ErrCapacityBelowSeats", err)
	}
	got, err := f.s.GetOccurrence(f.ctx, "demo", o.ID)
	if err != nil || got.Capacity != 3 {
		t.Errorf("capacity after the refused change = %d, %v; want 3", got.Capacity, err)
	}
}

func testErasure(t *testing.T, engine string) {
	f := newStore(t, engine)
	past, pastOccs := f.event(t, 0, "")
	f.answer(t, past, pastOccs[0], "ada", domain.AnswerGoing)
	f.clock.Advance(7*24*time.Hour - time.Hour)
	if _, err := f.s.CheckIn(f.ctx, "demo", pastOccs[0].ID, "ada", false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(4 * time.Hour)
	if _, err := f.s.GiveFeedback(f.ctx, domain.Feedback{Community: "demo", OccurrenceID: pastOccs[0].ID, MemberID: "ada", Rating: 5, Comment: "Ada loved it"}); err != nil {
		t.Fatal(err)
	}
	next, nextOccs := f.event(t, 1, "")
	f.answer(t, next, nextOccs[0], "ada", domain.AnswerGoing)
	f.answer(t, next, nextOccs[0], "bob", domain.AnswerGoing)
	if _, err := f.s.FeedToken(f.ctx, "demo", "ada", "tok-ada-0123456789012345678901234567", false); err != nil {
		t.Fatal(err)
	}
	ran, err := f.s.EraseMember(f.ctx, "erase-1", "demo", "ada")
	if err != nil || !ran {
		t.Fatalf("erase = %v, %v", ran, err)
	}
	if ran, err := f.s.EraseMember(f.ctx, "erase-1", "demo", "ada"); err != nil || ran {
		t.Errorf("redelivered erasure = %v, %v; want no second effect", ran, err)
	}
	if n := f.count(t, "SELECT count(*) FROM feedback WHERE member_id = 'ada' AND comment <> ''"); n != 0 {
		t.Errorf("comments kept after erasure: %d", n)
	}
	if n := f.count(t, "SELECT count(*) FROM rsvps WHERE member_id = 'ada' AND code IS NOT NULL"); n != 0 {
		t.Errorf("check-in codes kept after erasure: %d", n)
	}
	if n := f.count(t, "SELECT count(*) FROM feed_tokens"); n != 0 {
		t.Errorf("feed tokens kept after erasure: %d", n)
	}
	if sum, _ := f.s.FeedbackSummary(f.ctx, "demo", past.ID, ""); sum.Count != 1 || sum.Average != 5 {
		t.Errorf("summary after erasure = %+v, want the rating counted", sum)
	}
	if r := f.rsvp(t, pastOccs[0], "ada"); r.Status != domain.RSVPCheckedIn {
		t.Errorf("past attendance after erasure = %s, want kept", r.Status)
	}
	if r := f.rsvp(t, nextOccs[0], "ada"); r.Status != domain.RSVPCancelled {
		t.Errorf("upcoming seat after erasure = %s, want cancelled", r.Status)
	}
	if r := f.rsvp(t, nextOccs[0], "bob"); r.Status != domain.RSVPOffered {
		t.Errorf("bob after ada's erasure = %s, want offered her seat", r.Status)
	}
}

func testFeedTokens(t *testing.T, engine string) {
	f := newStore(t, engine)
	tok, err := f.s.FeedToken(f.ctx, "demo", "ada", "first-token-0123456789012345678901", false)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := f.s.FeedToken(f.ctx, "demo", "ada", "second-token-012345678901234567890", false); again != tok {
		t.Errorf("second read = %q, want the first token %q", again, tok)
	}
	rotated, err := f.s.FeedToken(f.ctx, "demo", "ada", "third-token-0123456789012345678901", true)
	if err != nil || rotated == tok {
		t.Fatalf("rotate = %q, %v", rotated, err)
	}
	if _, _, err := f.s.FeedOwner(f.ctx, tok); !errors.Is(err, domain.ErrFeedTokenNotFound) {
		t.Errorf("old token after rotation = %v, want ErrFeedTokenNotFound", err)
	}
	if c, m, err := f.s.FeedOwner(f.ctx, rotated); err != nil || c != "demo" || m != "ada" {
		t.Errorf("owner = %s %s %v", c, m, err)
	}
}

// testOtherCommunity asks, as "other", for every kind of record of demo by
// its id: each is not found, and nothing of demo changes.
func testOtherCommunity(t *testing.T, engine string) {
	f := newStore(t, engine)
	e, occs := f.event(t, 1, "FREQ=WEEKLY;COUNT=2")
	o := occs[0]
	ada := f.answer(t, e, o, "ada", domain.AnswerGoing)
	f.answer(t, e, o, "bob", domain.AnswerGoing) // waitlisted
	if _, err := f.s.Answer(f.ctx, "demo", e.ID, "", "cy", domain.AnswerGoing, true); err != nil {
		t.Fatal(err)
	}
	outbox, audited := f.count(t, "SELECT count(*) FROM outbox"), f.count(t, "SELECT count(*) FROM audit_log")
	const other = "other"
	notFound := func(name string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s from another community = %v, want %v", name, err, want)
		}
	}
	_, _, err := f.s.GetEvent(f.ctx, other, e.ID)
	notFound("GetEvent", err, domain.ErrEventNotFound)
	_, err = f.s.GetOccurrence(f.ctx, other, o.ID)
	notFound("GetOccurrence", err, domain.ErrOccurrenceNotFound)
	_, err = f.s.MutateEvent(f.ctx, other, e.ID, func(e domain.Event, occs []domain.Occurrence, _ time.Time) (store.EventChange, error) {
		e.Title = "Taken over"
		return store.EventChange{Event: e, Occurrences: occs}, nil
	})
	notFound("MutateEvent", err, domain.ErrEventNotFound)
	_, err = f.s.Answer(f.ctx, other, e.ID, o.ID, "mallory", domain.AnswerGoing, false)
	notFound("Answer", err, domain.ErrEventNotFound)
	_, err = f.s.Answer(f.ctx, other, e.ID, "", "mallory", domain.AnswerGoing, true)
	notFound("Answer for a series", err, domain.ErrEventNotFound)
	_, err = f.s.Cancel(f.ctx, other, e.ID, o.ID, "ada", false)
	notFound("Cancel", err, domain.ErrEventNotFound)
	_, err = f.s.Cancel(f.ctx, other, e.ID, "", "cy", true)
	notFound("Cancel of a series", err, domain.ErrEventNotFound)
	_, err = f.s.AcceptOffer(f.ctx, other, o.ID, "bob")
	notFound("AcceptOffer", err, domain.ErrOccurrenceNotFound)
	_, err = f.s.RSVP(f.ctx, other, o.ID, "ada")
	notFound("RSVP", err, domain.ErrRSVPNotFound)
	_, err = f.s.RSVPByCode(f.ctx, other, ada.Code)
	notFound("RSVPByCode", err, domain.ErrCodeNotFound)
	_, err = f.s.CheckIn(f.ctx, other, o.ID, "ada", true)
	notFound("CheckIn", err, domain.ErrOccurrenceNotFound)
	_, err = f.s.MarkNoShows(f.ctx, other, o.ID)
	notFound("MarkNoShows", err, domain.ErrOccurrenceNotFound)
	_, err = f.s.GiveFeedback(f.ctx, domain.Feedback{Community: other, OccurrenceID: o.ID, MemberID: "ada", Rating: 1})
	notFound("GiveFeedback", err, domain.ErrOccurrenceNotFound)
	_, _, err = f.s.SeatCounts(f.ctx, other, o.ID)
	if !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("SeatCounts from another community = %v, want no rows", err)
	}
	if list, err := f.s.Attendees(f.ctx, other, o.ID, 0, 10); err != nil || len(list) != 0 {
		t.Errorf("Attendees from another community = %v, %v", list, err)
	}
	if seat, err := f.s.HoldsSeat(f.ctx, other, e.ID, "ada"); err != nil || seat {
		t.Errorf("HoldsSeat from another community = %v, %v", seat, err)
	}
	if x, y, err := f.s.ExpireOffers(f.ctx, other); err != nil || x+y != 0 {
		t.Errorf("ExpireOffers of another community = %d, %d, %v", x, y, err)
	}
	if erased, err := f.s.ForgetMember(f.ctx, other, "ada"); err != nil || erased != (store.Erased{}) {
		t.Errorf("ForgetMember in another community = %+v, %v", erased, err)
	}
	if cal, err := f.s.MemberCalendar(f.ctx, other, "ada", start, 10); err != nil || len(cal) != 0 {
		t.Errorf("MemberCalendar in another community = %v, %v", cal, err)
	}
	if sum, err := f.s.FeedbackSummary(f.ctx, other, e.ID, ""); err != nil || sum.Count != 0 {
		t.Errorf("FeedbackSummary of another community = %+v, %v", sum, err)
	}
	got, occsAfter, err := f.s.GetEvent(f.ctx, "demo", e.ID)
	if err != nil || got.Title != e.Title || len(occsAfter) != 2 || occsAfter[0].SeatsTaken != 1 || occsAfter[0].Waitlisted != 2 {
		t.Errorf("demo's event after the attempts = %+v, %d occurrences, %v", got, len(occsAfter), err)
	}
	if r := f.rsvp(t, o, "ada"); r.Status != domain.RSVPGoing || r.Code != ada.Code {
		t.Errorf("ada's seat after the attempts = %+v", r)
	}
	// Only the ForgetMember call in "other" was recorded, in "other".
	if n := f.count(t, "SELECT count(*) FROM outbox"); n != outbox {
		t.Errorf("outbox rows = %d, want %d: an attempt published", n, outbox)
	}
	if n := f.count(t, "SELECT count(*) FROM audit_log WHERE community = 'demo'"); n != audited {
		t.Errorf("demo's audit entries = %d, want %d", n, audited)
	}
}
