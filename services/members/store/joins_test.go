package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

// gatedOutbox is the real outbox, noting the transaction each event was
// appended in; an event whose id is one of gates holds its append until
// release is closed, so that joins queue up behind the batches appending
// them. Each gated append is announced on entered.
type gatedOutbox struct {
	*outbox.Outbox
	gates   map[string]bool
	entered chan string
	release chan struct{}
	mu      sync.Mutex
	txOf    map[string]*sql.Tx
}

func newGatedOutbox() *gatedOutbox {
	return &gatedOutbox{gates: map[string]bool{}, entered: make(chan string, 16), release: make(chan struct{}), txOf: map[string]*sql.Tx{}}
}

func (o *gatedOutbox) Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error {
	o.note(tx, e)
	return o.Outbox.Append(ctx, tx, e)
}

func (o *gatedOutbox) AppendTraced(ctx context.Context, tx *sql.Tx, events []outbox.Traced) error {
	for _, t := range events {
		o.note(tx, t.Event)
	}
	return o.Outbox.AppendTraced(ctx, tx, events)
}

// note holds a gated event until release and notes tx as its
// transaction.
func (o *gatedOutbox) note(tx *sql.Tx, e kafka.Event) {
	o.mu.Lock()
	gated := o.gates[e.ID]
	delete(o.gates, e.ID)
	o.mu.Unlock()
	if gated {
		o.entered <- e.ID
		<-o.release
	}
	o.mu.Lock()
	o.txOf[e.ID] = tx
	o.mu.Unlock()
}

func (o *gatedOutbox) tx(id string) *sql.Tx {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.txOf[id]
}

// aJoin is one join of a group-commit test and what it must come to.
type aJoin struct {
	name    string
	m       domain.Member
	consent *domain.ConsentRecord
	events  []kafka.Event
	ctx     context.Context
	want    error // nil: stored; otherwise the error it must match (errors.Is)
	failing bool  // fails on its own for a reason no refusal names
	// public: a join without credentials, audited as anonymous (as the
	// API's public joins are).
	public bool
}

// publicAudit records callers without credentials as anonymous, as the
// API does for public joins.
type publicAudit struct{ log *audit.Log }

func (p publicAudit) Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error {
	return p.log.RecordAnonymous(ctx, tx, community, action, targetType, targetID)
}

func (p publicAudit) RecordAll(ctx context.Context, tx *sql.Tx, items ...audit.Item) error {
	return p.log.RecordAllAnonymous(ctx, tx, items...)
}

// publicJoiner builds a public join of community for email: no
// credentials, unverified, with MemberJoined and the confirmation it asks
// for.
func publicJoiner(t testing.TB, name, community, email string) aJoin {
	t.Helper()
	now := time.Now()
	m, err := domain.NewMember(domain.JoinRequest{Community: community, Profile: domain.Profile{Email: email, DisplayName: "Member " + name,
		Interests: []string{"solar", "climate"}, Skills: []string{"design"}}}, domain.DefaultSettings(community), uuid.Must(uuid.NewV7()).String(), now)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := events.Factory{}.MemberJoined(m)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := events.Factory{}.EmailConfirmationRequested(m, m.Email, domain.ConfirmJoin, now)
	if err != nil {
		t.Fatal(err)
	}
	return aJoin{name: name, m: m, events: []kafka.Event{joined, confirm}, ctx: context.Background(), public: true}
}

// auditor is what j's join is audited by.
func (j aJoin) auditor(f fixture) store.JoinAuditor {
	if j.public {
		return publicAudit{f.log}
	}
	return f.log
}

// joiner builds a join by the team of community for email, with its
// MemberJoined event and, with consent, its first consent record and
// ConsentChanged; the caller is the organiser "caller-<name>".
func joiner(t testing.TB, name, community, email string, consent bool) aJoin {
	t.Helper()
	now := time.Now()
	m, err := domain.NewMember(domain.JoinRequest{Community: community, Vouched: true, EmailConsent: consent,
		Profile: domain.Profile{Email: email, DisplayName: "Member " + name, Interests: []string{"solar", "climate"}, Skills: []string{"design"}}},
		domain.DefaultSettings(community), uuid.Must(uuid.NewV7()).String(), now)
	if err != nil {
		t.Fatal(err)
	}
	j := aJoin{name: name, m: m}
	e, err := events.Factory{}.MemberJoined(m)
	if err != nil {
		t.Fatal(err)
	}
	j.events = append(j.events, e)
	if consent {
		rec, err := domain.NewConsentRecord(m.ID, domain.PurposeAnnouncements, true, domain.ConsentSourceOrganiser, domain.DefaultPolicyVersion, now)
		if err != nil {
			t.Fatal(err)
		}
		changed, err := events.Factory{}.ConsentChanged(community, rec)
		if err != nil {
			t.Fatal(err)
		}
		j.consent, j.events = &rec, append(j.events, changed)
	}
	j.ctx = auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "caller-" + name, Community: community,
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	return j
}

func (j aJoin) eventIDs() []any {
	var ids []any
	for _, e := range j.events {
		ids = append(ids, e.ID)
	}
	return ids
}

// countWhere counts the rows of table matching where.
func (f fixture) countWhere(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(f.db.Rebind("SELECT count(*) FROM "+table+" WHERE "+where), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkJoin checks what j left behind: a stored join has its member,
// tags, search terms, consent, exactly its events and exactly one audit
// entry for its own caller; a refused or failed one has nothing at all.
func (f fixture) checkJoin(t *testing.T, j aJoin) {
	t.Helper()
	id := j.m.ID
	events := 0
	if ids := j.eventIDs(); len(ids) > 0 {
		events = f.countWhere(t, "outbox", "event_id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")", ids...)
	}
	kind, actor := string(auth.KindUser), "caller-"+j.name
	if j.public {
		kind, actor = audit.KindAnonymous, ""
	}
	audits := f.countWhere(t, "audit_log", "target_id = ? AND action = ? AND actor_kind = ? AND actor_id = ?", id, "member.joined", kind, actor)
	if j.want != nil || j.failing {
		left := f.countWhere(t, "members", "id = ?", id) + f.countWhere(t, "member_interests", "member_id = ?", id) +
			f.countWhere(t, "member_search_terms", "member_id = ?", id) + f.countWhere(t, "consent_ledger", "member_id = ?", id) +
			f.countWhere(t, "audit_log", "target_id = ?", id) + events
		if left != 0 {
			t.Errorf("%s: refused, yet %d rows of it were stored", j.name, left)
		}
		return
	}
	got, err := f.s.GetMember(context.Background(), j.m.Community, id)
	if err != nil {
		t.Fatalf("%s: stored member: %v", j.name, err)
	}
	if got.Email != j.m.Email || len(got.Interests) != 2 || len(got.Skills) != 1 || got.EmailConsent != (j.consent != nil) || got.EmailVerified == j.public {
		t.Errorf("%s: stored %+v", j.name, got)
	}
	if n := f.countWhere(t, "member_search_terms", "member_id = ?", id); n == 0 {
		t.Errorf("%s: no search terms", j.name)
	}
	wantLedger := 0
	if j.consent != nil {
		wantLedger = 1
	}
	if n := f.countWhere(t, "consent_ledger", "member_id = ?", id); n != wantLedger {
		t.Errorf("%s: %d consent records, want %d", j.name, n, wantLedger)
	}
	if events != len(j.events) || f.countWhere(t, "outbox", "event_key = ?", id) != len(j.events) {
		t.Errorf("%s: %d of its %d events in the outbox", j.name, events, len(j.events))
	}
	if audits != 1 || f.countWhere(t, "audit_log", "target_id = ?", id) != 1 {
		t.Errorf("%s: %d audit entries for its caller, want exactly 1", j.name, audits)
	}
}

func TestGroupCommit(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("joins that queue together share one commit, each with its own answer", func(t *testing.T) { testBatchAnswers(t, engine) })
			t.Run("a join failing in a batch fails alone", func(t *testing.T) { testBatchFailure(t, engine) })
			t.Run("public and team joins in one batch: each audited for its own caller", func(t *testing.T) { testBatchPublic(t, engine) })
			t.Run("concurrent joins of one address: one member", func(t *testing.T) { testConcurrentDuplicates(t, engine) })
		})
	}
}

// lineUp starts leads (as many as batches run at once on the engine),
// waits until each of their batches is appending its gated event, then
// starts each of joins in turn, each queued before the next starts, and
// releases the batches: the queued joins make the next batch, in this
// order. It returns every join's error, the leads' first.
func lineUp(t *testing.T, f fixture, ob *gatedOutbox, leads, joins []aJoin) []error {
	t.Helper()
	all := append(slices.Clone(leads), joins...)
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	run := func(i int) {
		j := all[i]
		wg.Go(func() { errs[i] = f.s.CreateMember(j.ctx, j.m, j.consent, j.auditor(f), j.events...) })
	}
	for i := range leads {
		run(i)
		select {
		case <-ob.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("a leading join never reached the outbox")
		}
	}
	for i := range joins {
		run(len(leads) + i)
		for deadline := time.Now().Add(30 * time.Second); f.s.JoinsWaiting() != i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d joins queued, want %d", f.s.JoinsWaiting(), i+1)
			}
		}
	}
	close(ob.release)
	wg.Wait()
	return errs
}

// gatedLeads are the joins that take every batch slot of f's engine and
// hold it until ob releases them.
// joinLinedUp lines joins up behind gated leaders and checks that each
// got its own answer and stored what it should; it returns the leaders.
func (f fixture) joinLinedUp(t *testing.T, ob *gatedOutbox, joins []aJoin) (leads []aJoin) {
	t.Helper()
	leads = gatedLeads(t, f, ob)
	errs := lineUp(t, f, ob, leads, joins)
	for i, j := range append(slices.Clone(leads), joins...) {
		t.Run(j.name, func(t *testing.T) {
			if j.want == nil && errs[i] != nil || j.want != nil && !errors.Is(errs[i], j.want) {
				t.Errorf("error = %v, want %v", errs[i], j.want)
			}
			f.checkJoin(t, j)
		})
	}
	return leads
}

func gatedLeads(t *testing.T, f fixture, ob *gatedOutbox) []aJoin {
	var leads []aJoin
	for i := range f.s.JoinLeaders() {
		lead := joiner(t, fmt.Sprintf("lead-%d", i), "demo", fmt.Sprintf("lead-%d@example.org", i), false)
		ob.gates[lead.events[0].ID] = true
		leads = append(leads, lead)
	}
	return leads
}

func testBatchAnswers(t *testing.T, engine string) {
	f, ob := gatedWithTaken(t, engine)
	cancelled := joiner(t, "cancelled", "demo", "cancelled@example.org", false)
	ctx, cancel := context.WithCancel(cancelled.ctx)
	cancel()
	cancelled.ctx, cancelled.want = ctx, context.Canceled
	badReferrer := joiner(t, "bad-referrer", "demo", "referred@example.org", false)
	badReferrer.m.Source = domain.Source{Kind: domain.SourceReferral, ReferrerID: "nobody"}
	badReferrer.want = domain.ErrUnknownReferrer
	nowhere := joiner(t, "nowhere", "nowhere", "nowhere@example.org", false)
	nowhere.want = domain.ErrUnknownCommunity
	takenAgain := joiner(t, "taken-again", "demo", "taken@example.org", true)
	takenAgain.want = domain.ErrEmailTaken
	first := joiner(t, "first", "demo", "ada@example.org", true)
	second := joiner(t, "second", "demo", "ada@example.org", false)
	second.want = domain.ErrEmailTaken // first, ahead of it in the same batch, has the address
	otherCommunity := joiner(t, "other-community", "other", "ada@example.org", false)
	last := joiner(t, "last", "demo", "grace@example.org", true)
	joins := []aJoin{first, takenAgain, cancelled, second, badReferrer, nowhere, otherCommunity, last}

	leads := f.joinLinedUp(t, ob, joins)
	// The stored joins of the queue shared one transaction, not the
	// leader's.
	shared := ob.tx(first.events[0].ID)
	for _, j := range []aJoin{otherCommunity, last} {
		if ob.tx(j.events[0].ID) != shared {
			t.Errorf("%s was committed apart from the joins queued with it", j.name)
		}
	}
	for _, lead := range leads {
		if shared == nil || shared == ob.tx(lead.events[0].ID) {
			t.Error("the queued joins did not get a transaction of their own batch")
		}
	}
	if n, want := f.count(t, "members"), len(leads)+4; n != want {
		t.Errorf("%d members, want %d (taken, the leads, first, other-community, last)", n, want)
	}
}

func testBatchFailure(t *testing.T, engine string) {
	f, ob := gatedStore(t, engine)
	before := joiner(t, "before", "demo", "before@example.org", true)
	failing := joiner(t, "failing", "demo", "failing@example.org", true)
	// Its second event cannot be appended: the join fails after it wrote
	// its member, tags, consent and audit entry.
	failing.events[1].ID, failing.failing = "", true
	dup := joiner(t, "dup", "demo", "before@example.org", false)
	dup.want = domain.ErrEmailTaken
	after := joiner(t, "after", "demo", "after@example.org", false)
	joins := []aJoin{before, failing, dup, after}

	leads := gatedLeads(t, f, ob)
	errs := lineUp(t, f, ob, leads, joins)
	for i, j := range append(slices.Clone(leads), joins...) {
		t.Run(j.name, func(t *testing.T) {
			switch {
			case j.failing && (errs[i] == nil || refusal(errs[i])):
				t.Errorf("error = %v, want the outbox's failure", errs[i])
			case !j.failing && j.want == nil && errs[i] != nil, j.want != nil && !errors.Is(errs[i], j.want):
				t.Errorf("error = %v, want %v", errs[i], j.want)
			}
			f.checkJoin(t, j)
		})
	}
	if n, want := f.count(t, "members"), len(leads)+2; n != want {
		t.Errorf("%d members, want %d (the leads, before, after)", n, want)
	}
}

// A batch mixing public joins (no credentials) and the team's: each is
// stored whole, audited for its own caller — anonymous for the public
// ones — and their entries and events share the batch's transaction.
func testBatchPublic(t *testing.T, engine string) {
	f, ob := gatedWithTaken(t, engine)
	publicTaken := publicJoiner(t, "public-taken", "demo", "taken@example.org")
	publicTaken.want = domain.ErrEmailTaken
	joins := []aJoin{
		publicJoiner(t, "public-1", "demo", "p1@example.org"),
		publicJoiner(t, "public-2", "demo", "p2@example.org"),
		joiner(t, "team-1", "demo", "t1@example.org", true),
		publicTaken,
		publicJoiner(t, "public-3", "other", "p3@example.org"),
		joiner(t, "team-2", "other", "t2@example.org", false),
		publicJoiner(t, "public-4", "demo", "p4@example.org"),
	}
	f.joinLinedUp(t, ob, joins)
	shared := ob.tx(joins[0].events[0].ID)
	for _, j := range joins[1:] {
		if j.want == nil && ob.tx(j.events[0].ID) != shared {
			t.Errorf("%s was committed apart from the joins queued with it", j.name)
		}
	}
	if n := f.countWhere(t, "audit_log", "actor_kind = ?", audit.KindAnonymous); n != 4 {
		t.Errorf("%d anonymous audit entries, want 4 (one per stored public join)", n)
	}
}

func refusal(err error) bool {
	return errors.Is(err, domain.ErrEmailTaken) || errors.Is(err, domain.ErrUnknownCommunity) || errors.Is(err, domain.ErrUnknownReferrer)
}

// Many joins at once, each address twice: with group commit and without,
// exactly one join of each address stores a member, the other is told the
// address is taken, and each member has exactly its events and audit
// entry.
func testConcurrentDuplicates(t *testing.T, engine string) {
	for _, batch := range []int{0, 1} {
		t.Run(fmt.Sprintf("join batch %d", batch), func(t *testing.T) {
			f := newStore(t, engine, nil)
			f.s.WithJoinBatch(batch)
			const addresses = 12
			joins := make([]aJoin, 0, 2*addresses)
			for i := range 2 * addresses {
				joins = append(joins, joiner(t, fmt.Sprintf("j%d", i), "demo", fmt.Sprintf("m%d@example.org", i%addresses), i%3 == 0))
			}
			errs := make([]error, len(joins))
			var wg sync.WaitGroup
			for i, j := range joins {
				wg.Go(func() { errs[i] = f.s.CreateMember(j.ctx, j.m, j.consent, f.log, j.events...) })
			}
			wg.Wait()
			for i := range addresses {
				a, b := i, i+addresses
				switch {
				case errs[a] == nil && errors.Is(errs[b], domain.ErrEmailTaken):
					joins[b].want = errs[b]
				case errs[b] == nil && errors.Is(errs[a], domain.ErrEmailTaken):
					joins[a].want = errs[a]
				default:
					t.Fatalf("joins of m%d@example.org: %v and %v, want one stored and one ErrEmailTaken", i, errs[a], errs[b])
				}
			}
			for _, j := range joins {
				f.checkJoin(t, j)
			}
			if n := f.count(t, "members"); n != addresses {
				t.Errorf("%d members, want %d", n, addresses)
			}
		})
	}
}

// gatedStore is a store whose outbox holds the joins it is told to
// (gatedOutbox) and appends every other to the real outbox.
func gatedStore(t *testing.T, engine string) (fixture, *gatedOutbox) {
	t.Helper()
	ob := newGatedOutbox()
	f := newStore(t, engine, ob)
	ob.Outbox = outbox.New(f.db, propagation.TraceContext{})
	return f, ob
}

// gatedWithTaken is gatedStore with taken@example.org already a member
// of demo.
func gatedWithTaken(t *testing.T, engine string) (fixture, *gatedOutbox) {
	t.Helper()
	f, ob := gatedStore(t, engine)
	taken := joiner(t, "taken", "demo", "taken@example.org", false)
	if err := f.s.CreateMember(taken.ctx, taken.m, nil, f.log, taken.events...); err != nil {
		t.Fatal(err)
	}
	return f, ob
}
