package insights_test

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/insights/api"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

// rig is the insights service without Kafka and HTTP: its store, the
// projection events are handed to, and the engine that answers.
type rig struct {
	db     *db.DB
	store  *store.Store
	proj   *events.Projection
	gate   *events.Gate
	engine *api.Engine
	now    time.Time
}

// newRig opens a fresh insights database on engine, serving demo (UTC)
// and other, its clock at now.
func newRig(t *testing.T, engine string, now time.Time) *rig {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations())
	return openRig(t, d, now, map[string]*time.Location{"demo": time.UTC, "other": time.UTC})
}

func openRig(t *testing.T, d *db.DB, now time.Time, zones map[string]*time.Location) *rig {
	t.Helper()
	st := store.New(d, zones)
	if _, err := st.EnsureCommunities(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &rig{db: d, store: st, gate: events.NewGate(), now: now}
	r.proj = events.NewProjection(st, inbox.New(d), r.gate)
	r.engine = api.NewEngine(st, api.EngineConfig{Quotas: []domain.Quota{{Activity: "hosted_event", Count: 1}}, SeriesDays: 1096,
		Now: func() time.Time { return r.now }})
	return r
}

// feed hands events to the projection in the order given.
func (r *rig) feed(t *testing.T, evs []kafka.Event) {
	t.Helper()
	for _, e := range evs {
		if err := r.proj.Handle(context.Background(), e); err != nil {
			t.Fatalf("handle %s %s: %v", e.Type, e.ID, err)
		}
	}
}

// series answers metric by granularity from from to to, one slice of
// values per breakdown value ("" the total).
func (r *rig) series(t *testing.T, metric, from, to string, g domain.Granularity, seg domain.Segment) map[string][]float64 {
	t.Helper()
	s, err := r.engine.Series(context.Background(), api.SeriesQuery{Community: "demo", Metric: metric, From: from, To: to, Granularity: g, Segment: seg})
	if err != nil {
		t.Fatalf("%s: %v", metric, err)
	}
	out := map[string][]float64{}
	for _, l := range s.Lines {
		for _, p := range l.Points {
			out[l.Dim] = append(out[l.Dim], p.Value)
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func sameValues(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !near(got[i], want[i]) {
			return false
		}
	}
	return true
}
