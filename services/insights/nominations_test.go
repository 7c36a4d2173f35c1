package insights_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/insights/api"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// fakeJourneys is the worker's journeys API as far as the insights
// service reads it: each community's nominations, two a page.
type fakeJourneys struct {
	journeysv1connect.UnimplementedJourneysServiceHandler
	mu          sync.Mutex
	nominations map[string][]*journeysv1.Nomination
}

func (f *fakeJourneys) ListNominations(_ context.Context, req *connect.Request[journeysv1.ListNominationsRequest]) (*connect.Response[journeysv1.ListNominationsResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.nominations[req.Msg.GetCommunity()]
	from := 0
	if t := req.Msg.GetPageToken(); t != "" {
		var err error
		if from, err = strconv.Atoi(t); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("bad page token"))
		}
	}
	to := min(from+2, len(all))
	res := &journeysv1.ListNominationsResponse{}
	for _, n := range all[from:to] {
		res.Nominations = append(res.Nominations, proto.Clone(n).(*journeysv1.Nomination))
	}
	if to < len(all) {
		res.NextPageToken = strconv.Itoa(to)
	}
	return connect.NewResponse(res), nil
}

// set replaces community's nominations.
func (f *fakeJourneys) set(community string, ns ...*journeysv1.Nomination) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nominations[community] = ns
}

func serveJourneys(t *testing.T) (*fakeJourneys, api.NominationSource) {
	t.Helper()
	f := &fakeJourneys{nominations: map[string][]*journeysv1.Nomination{}}
	mux := http.NewServeMux()
	mux.Handle(journeysv1connect.NewJourneysServiceHandler(f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, api.ConnectNominations(journeysv1connect.NewJourneysServiceClient(http.DefaultClient, srv.URL))
}

func nomination(id, nominated string, outcome journeysv1.NominationOutcome, decided string) *journeysv1.Nomination {
	at := func(s string) *timestamppb.Timestamp {
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.DateTime, s)
		if err != nil {
			panic(err)
		}
		return timestamppb.New(t)
	}
	return &journeysv1.Nomination{Id: id, MemberId: "m-" + id, NominatedAt: at(nominated), NominatedByKind: "organiser", Outcome: outcome, DecidedAt: at(decided)}
}

const (
	pending    = journeysv1.NominationOutcome_NOMINATION_OUTCOME_PENDING
	approved   = journeysv1.NominationOutcome_NOMINATION_OUTCOME_APPROVED
	rejected   = journeysv1.NominationOutcome_NOMINATION_OUTCOME_REJECTED
	expired    = journeysv1.NominationOutcome_NOMINATION_OUTCOME_EXPIRED
	withdrawn  = journeysv1.NominationOutcome_NOMINATION_OUTCOME_WITHDRAWN
	ineligible = journeysv1.NominationOutcome_NOMINATION_OUTCOME_INELIGIBLE
)

// nominationFigures are the nomination metrics by month, February to
// April 2026.
func nominationFigures(t *testing.T, r *rig) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, m := range []string{"ambassadors.nominations", "ambassadors.nominations_approved", "ambassadors.nominations_rejected"} {
		out[m] = r.series(t, m, "2026-02-01", "2026-04-30", domain.ByMonth, domain.Segment{})[""]
	}
	for dim, values := range r.series(t, "ambassadors.nomination_outcomes", "2026-02-01", "2026-04-30", domain.ByMonth, domain.Segment{}) {
		out["outcomes["+dim+"]"] = values
	}
	return out
}

func checkFigures(t *testing.T, when string, got, want map[string][]float64) {
	t.Helper()
	for k, w := range want {
		if !sameValues(got[k], w) {
			t.Errorf("%s: %s = %v, want %v", when, k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && slices.ContainsFunc(g, func(v float64) bool { return v != 0 }) {
			t.Errorf("%s: %s = %v, want nothing", when, k, g)
		}
	}
}

func TestNominationsCountOnceEachThroughRereadsAndRebuilds(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, engine, time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC))
			journeys, source := serveJourneys(t)
			journeys.set("demo",
				nomination("n1", "2026-03-02 10:00:00", approved, "2026-03-05 09:00:00"),
				nomination("n2", "2026-03-03 10:00:00", rejected, "2026-03-10 09:00:00"),
				nomination("n3", "2026-03-20 10:00:00", pending, ""),
				nomination("n4", "2026-02-25 10:00:00", expired, "2026-03-27 10:00:00"),
				nomination("n5", "2026-04-01 10:00:00", withdrawn, "2026-04-02 10:00:00"),
				nomination("n6", "2026-04-10 10:00:00", ineligible, "2026-04-10 10:00:05"),
			)
			// Another community's nominations count there, never here.
			journeys.set("other", nomination("o1", "2026-03-02 10:00:00", approved, "2026-03-04 10:00:00"))
			sync := api.NewNominationSync(r.store, r.gate, source, []string{"demo", "other"}, nil)

			want := map[string][]float64{
				"ambassadors.nominations":          {1, 3, 2},
				"ambassadors.nominations_approved": {0, 1, 0},
				"ambassadors.nominations_rejected": {0, 1, 0},
				"outcomes[]":                       {0, 3, 2},
				"outcomes[approved]":               {0, 1, 0},
				"outcomes[rejected]":               {0, 1, 0},
				"outcomes[expired]":                {0, 1, 0},
				"outcomes[withdrawn]":              {0, 0, 1},
				"outcomes[ineligible]":             {0, 0, 1},
			}
			sync.Run(ctx)
			checkFigures(t, "first read", nominationFigures(t, r), want)
			sync.Run(ctx)
			checkFigures(t, "read again", nominationFigures(t, r), want)

			// The pending nomination is approved in April.
			journeys.set("demo",
				nomination("n1", "2026-03-02 10:00:00", approved, "2026-03-05 09:00:00"),
				nomination("n2", "2026-03-03 10:00:00", rejected, "2026-03-10 09:00:00"),
				nomination("n3", "2026-03-20 10:00:00", approved, "2026-04-03 10:00:00"),
				nomination("n4", "2026-02-25 10:00:00", expired, "2026-03-27 10:00:00"),
				nomination("n5", "2026-04-01 10:00:00", withdrawn, "2026-04-02 10:00:00"),
				nomination("n6", "2026-04-10 10:00:00", ineligible, "2026-04-10 10:00:05"),
			)
			want["ambassadors.nominations_approved"] = []float64{0, 1, 1}
			want["outcomes[]"] = []float64{0, 3, 3}
			want["outcomes[approved]"] = []float64{0, 1, 1}
			sync.Run(ctx)
			sync.Run(ctx)
			checkFigures(t, "after a decision", nominationFigures(t, r), want)

			// The worker forgets n4 (its namespace's retention) before a
			// rebuild: the rebuild keeps what was read of it.
			journeys.set("demo",
				nomination("n1", "2026-03-02 10:00:00", approved, "2026-03-05 09:00:00"),
				nomination("n2", "2026-03-03 10:00:00", rejected, "2026-03-10 09:00:00"),
				nomination("n3", "2026-03-20 10:00:00", approved, "2026-04-03 10:00:00"),
				nomination("n5", "2026-04-01 10:00:00", withdrawn, "2026-04-02 10:00:00"),
				nomination("n6", "2026-04-10 10:00:00", ineligible, "2026-04-10 10:00:05"),
			)
			rb := api.NewRebuilder(r.store, r.gate, []api.HistorySource{api.StaticHistory("members", "demo", nil)}, nil, nil).WithNominations(source)
			res, err := rb.Rebuild(ctx, "demo", noAudit, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(res.Counts, api.Count{Source: "journeys", Kind: "nomination", Records: 5}) {
				t.Errorf("rebuild counts %v, want 5 nominations read from journeys", res.Counts)
			}
			checkFigures(t, "after a rebuild", nominationFigures(t, r), want)
			sync.Run(ctx)
			checkFigures(t, "read after a rebuild", nominationFigures(t, r), want)

			// The other community counted its own only.
			other, err := r.engine.Series(ctx, api.SeriesQuery{Community: "other", Metric: "ambassadors.nominations_approved", From: "2026-03-01", To: "2026-03-31", Granularity: domain.ByMonth})
			if err != nil {
				t.Fatal(err)
			}
			if v := other.Lines[0].Points[0].Value; v != 1 {
				t.Errorf("other community's approvals in March = %v, want 1", v)
			}
		})
	}
}

func TestANominationTheJourneysAPIGarblesFailsTheReadAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "sqlite", time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC))
	journeys, source := serveJourneys(t)
	sync := api.NewNominationSync(r.store, r.gate, source, []string{"demo"}, nil)
	for _, tc := range []struct {
		name string
		bad  *journeysv1.Nomination
	}{
		{"no id", nomination("", "2026-03-02 10:00:00", approved, "2026-03-05 09:00:00")},
		{"no time", nomination("x", "", pending, "")},
		{"unknown outcome", nomination("x", "2026-03-02 10:00:00", journeysv1.NominationOutcome(99), "2026-03-05 09:00:00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journeys.set("demo", nomination("ok", "2026-03-01 10:00:00", pending, ""), nomination("ok2", "2026-03-01 11:00:00", pending, ""), tc.bad)
			if err := sync.Sync(ctx, "demo"); err == nil {
				t.Fatal("a garbled nomination was taken")
			}
			if got := nominationFigures(t, r)["ambassadors.nominations"]; !sameValues(got, []float64{0, 0, 0}) {
				t.Errorf("nominations %v after a failed read, want none", got)
			}
		})
	}
}
