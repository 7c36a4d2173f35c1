package insights_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/insights/api"
	w "github.com/kinshiphq/kinship/services/insights/demo"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
)

// genStart is the generated communities' first Monday; genNow a day after
// their sixteenth week.
var (
	genStart = w.Day("2025-11-03", "00:00")
	genNow   = w.Day("2026-02-24", "12:00")
)

func sources(urls map[string]string) []api.HistorySource {
	var out []api.HistorySource
	for _, name := range []string{"members", "events", "communications", "partners"} {
		out = append(out, api.ConnectHistory(name, insightsv1connect.NewHistoryServiceClient(http.DefaultClient, urls[name])))
	}
	return out
}

func noAudit(*sql.Tx) error { return nil }

// sameNumbers fails t unless a and b answer every metric of the catalogue,
// by day, week and month, the cohort table and the funnel the same, and
// hold the same buckets.
func sameNumbers(t *testing.T, a, b *rig, from, to string) {
	t.Helper()
	ctx := context.Background()
	da, err := a.store.BucketDeltas(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.store.BucketDeltas(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if diff := domain.Diff(da, db); len(diff) > 0 {
		n := 0
		for k, v := range diff {
			if n++; n <= 10 {
				t.Errorf("bucket %s[%s] on %s differs by %d", k.Bucket, k.Dim, k.Day, v)
			}
		}
		t.Errorf("%d buckets differ", len(diff))
	}
	for _, m := range domain.Catalogue() {
		for _, g := range []domain.Granularity{domain.ByDay, domain.ByWeek, domain.ByMonth} {
			sa, sb := a.series(t, m.Name, from, to, g, domain.Segment{}), b.series(t, m.Name, from, to, g, domain.Segment{})
			if len(sa) != len(sb) {
				t.Errorf("%s by %s: lines %d and %d", m.Name, g, len(sa), len(sb))
			}
			for dim, va := range sa {
				if !sameValues(va, sb[dim]) {
					t.Errorf("%s[%s] by %s: %v and %v", m.Name, dim, g, va, sb[dim])
				}
			}
		}
	}
	ca, _, err := a.engine.Cohorts(ctx, "demo", from, to, domain.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	cb, _, err := b.engine.Cohorts(ctx, "demo", from, to, domain.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ca) != len(cb) {
		t.Fatalf("%d and %d cohorts", len(ca), len(cb))
	}
	for i := range ca {
		if ca[i].Size != cb[i].Size || len(ca[i].Active) != len(cb[i].Active) {
			t.Errorf("cohort %s: %+v and %+v", ca[i].Week, ca[i], cb[i])
			continue
		}
		for k := range ca[i].Active {
			if ca[i].Active[k] != cb[i].Active[k] {
				t.Errorf("cohort %s: %v and %v", ca[i].Week, ca[i].Active, cb[i].Active)
				break
			}
		}
	}
	fa, err := a.engine.Funnel(ctx, "demo", from, to, domain.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.engine.Funnel(ctx, "demo", from, to, domain.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range fa.Steps {
		if fa.Steps[i] != fb.Steps[i] {
			t.Errorf("funnel step %d: %+v and %+v", i, fa.Steps[i], fb.Steps[i])
		}
	}
}

func TestARebuildGivesTheNumbersOfLiveConsumption(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			x := w.Generate("demo", 11, genStart, 16, 12)
			for i := 0; i < len(x.Events); i += 97 {
				x.Republish(i)
			}
			live := newRig(t, engine, genNow)
			live.feed(t, w.Interleave(rand.New(rand.NewPCG(5, 5)), x.Events, 0.25))

			rebuilt := newRig(t, engine, genNow)
			rb := api.NewRebuilder(rebuilt.store, rebuilt.gate, sources(insightstest.Serve(t, x.History())), nil, nil)
			res, err := rb.Rebuild(context.Background(), "demo", noAudit, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Estimated != 0 || len(res.Counts) == 0 {
				t.Errorf("rebuild result %+v", res)
			}
			counts, err := rebuilt.store.Counts(context.Background(), "demo")
			if err != nil {
				t.Fatal(err)
			}
			if counts["members"] == 0 || counts["activities"] == 0 || counts["attendance"] == 0 || counts["contributions"] == 0 {
				t.Fatalf("the rebuild read too little: %v", counts)
			}
			sameNumbers(t, live, rebuilt, genStart.Format(time.DateOnly), genNow.Format(time.DateOnly))
		})
	}
}

func TestARebuildReplacesWhatWasThereAndConsumptionGoesOnFromKafka(t *testing.T) {
	x := w.Generate("demo", 12, genStart, 15, 10)
	snapshot := x.History() // the services' state when the rebuild reads them
	n := len(x.Events)
	// Life goes on after the rebuild read the histories.
	d := func(day, hhmm string) time.Time { return w.Day(day, hhmm) }
	x.Join("late", d("2026-02-16", "09:00"), w.Profile{Country: "DE", Interests: []string{"solar"}})
	x.Welcome("late-w", "late", d("2026-02-16", "09:01"))
	x.Activity("late-a", "late", "posted", d("2026-02-17", "10:00"))
	x.Schedule("late-ev", d("2026-02-16", "10:00"), w.Occurrence{ID: "late-o", Start: d("2026-02-20", "18:00"), End: d("2026-02-20", "20:00")})
	x.Going("late-ev", "late-o", "late", d("2026-02-17", "11:00"))
	x.CheckIn("late-ev", "late-o", "late", d("2026-02-20", "18:05"))
	x.Contribution("late-c", "p0", "money", "2026-02-18", "EUR", 4200, 0, d("2026-02-18", "12:00"))
	x.Leave("m1", d("2026-02-21", "09:00"))

	all := newRig(t, "sqlite", genNow)
	all.feed(t, x.Events)

	r := newRig(t, "sqlite", genNow)
	// The projection held part of what the histories hold when the rebuild
	// started; the rebuild replaces all of it.
	r.feed(t, x.Events[:n/2])
	rb := api.NewRebuilder(r.store, r.gate, sources(insightstest.Serve(t, snapshot)), nil, nil)
	if _, err := rb.Rebuild(context.Background(), "demo", noAudit, nil); err != nil {
		t.Fatal(err)
	}
	// Kafka then delivers from the last committed offsets: records the
	// histories already told, and what happened since.
	r.feed(t, x.Events[n-200:])
	sameNumbers(t, all, r, genStart.Format(time.DateOnly), genNow.Format(time.DateOnly))
}

func TestEventsInAnyOrderSettleToTheSameNumbers(t *testing.T) {
	inOrder := newRig(t, "sqlite", today)
	inOrder.feed(t, scenario().Events)
	for seed := range uint64(3) {
		x := scenario()
		evs := x.Events
		// Any order at all, even within a member: a rebuild's facts and the
		// events that follow may cross.
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		shuffled := newRig(t, "sqlite", today)
		shuffled.feed(t, append(evs, evs[:len(evs)/3]...))
		sameNumbers(t, inOrder, shuffled, firstWeek, lastDay)
	}
}

func TestRecomputingGivesWhatTheLiveProjectionKept(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			x := w.Generate("demo", 13, genStart, 12, 10)
			live := newRig(t, engine, genNow)
			live.feed(t, w.Interleave(rand.New(rand.NewPCG(1, 2)), x.Events, 0.2))
			before, err := live.store.BucketDeltas(context.Background(), "demo")
			if err != nil {
				t.Fatal(err)
			}
			if err := live.db.InTx(context.Background(), func(tx *sql.Tx) error { return live.store.Recompute(context.Background(), tx, "demo") }); err != nil {
				t.Fatal(err)
			}
			after, err := live.store.BucketDeltas(context.Background(), "demo")
			if err != nil {
				t.Fatal(err)
			}
			if diff := domain.Diff(before, after); len(diff) > 0 {
				t.Errorf("recomputing changed %d buckets", len(diff))
			}
		})
	}
}
