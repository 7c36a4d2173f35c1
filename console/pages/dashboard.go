package pages

import (
	"context"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
)

type dashboardPage struct {
	Members, Active int64
	Reviews         []*journeysv1.RosterEntry
	Expiring        []*partnersv1.ExpiringAgreement
	Offers          []*eventsv1.RSVP
	// EventTitles names the events of Offers.
	EventTitles map[string]string
	Insights    bool
	Goals       []*insightsv1.Goal
	Charts      []chart
	Funnel      *insightsv1.GetFunnelResponse
	Bounced     float64
	Problems    []string
}

// chart is one Chart.js chart: its id, title and configuration (written
// into a JSON block the page's script reads; no inline script).
type chart struct {
	ID, Title, Summary string
	Config             map[string]any
}

// dashboardWeeks is how far back the charts look.
const dashboardWeeks = 12

// dashboard shows the goals, the community's health over time and what
// needs attention. Every call runs in parallel, and each is one bounded
// query on its service.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	var d dashboardPage
	var mu sync.Mutex
	fail := func(what string) {
		mu.Lock()
		d.Problems = append(d.Problems, what)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if res, err := s.api.Segments.CountSegment(gctx, connect.NewRequest(&membersv1.CountSegmentRequest{Community: s.opts.Community, Filter: &membersv1.SegmentFilter{}})); err == nil {
			d.Members = res.Msg.GetCount()
		} else {
			fail("member count")
		}
		return nil
	})
	g.Go(func() error {
		f := &membersv1.SegmentFilter{LastActiveAfter: timestamppb.New(time.Now().AddDate(0, 0, -30))}
		if res, err := s.api.Segments.CountSegment(gctx, connect.NewRequest(&membersv1.CountSegmentRequest{Community: s.opts.Community, Filter: f})); err == nil {
			d.Active = res.Msg.GetCount()
		}
		return nil
	})
	g.Go(func() error {
		res, err := s.api.Journeys.ListProgramme(gctx, connect.NewRequest(&journeysv1.ListProgrammeRequest{Community: s.opts.Community, PageSize: 100}))
		if err != nil {
			fail("ambassador programme")
			return nil
		}
		for _, e := range res.Msg.GetEntries() {
			if e.GetStage() == "review" {
				d.Reviews = append(d.Reviews, e)
			}
		}
		return nil
	})
	g.Go(func() error {
		if res, err := s.api.Reports.ExpiringAgreements(gctx, connect.NewRequest(&partnersv1.ExpiringAgreementsRequest{Community: s.opts.Community, WithinDays: 30})); err == nil {
			d.Expiring = res.Msg.GetAgreements()
		} else {
			fail("partner agreements")
		}
		return nil
	})
	g.Go(func() error {
		res, err := s.api.Attendance.ListSeatOffers(gctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{Community: s.opts.Community, PageSize: 20}))
		if err != nil {
			fail("seat offers")
			return nil
		}
		d.Offers = res.Msg.GetRsvps()
		d.EventTitles = s.eventTitles(gctx, d.Offers)
		return nil
	})
	var charts []chart
	if s.api.Insights != nil {
		d.Insights = true
		charts = s.insightsCharts(gctx, g, &d, &mu, fail)
	}
	_ = g.Wait()
	for _, ch := range charts {
		if ch.Config != nil {
			d.Charts = append(d.Charts, ch)
		}
	}
	s.render(w, r, c, http.StatusOK, "dashboard", "Dashboard", "dashboard", d)
}

// eventTitles looks up the titles of the events rsvps are about, each
// event once; one that cannot be read is left out (the page shows its id).
func (s *Server) eventTitles(ctx context.Context, rsvps []*eventsv1.RSVP) map[string]string {
	titles := map[string]string{}
	for _, r := range rsvps {
		if _, seen := titles[r.GetEventId()]; seen {
			continue
		}
		titles[r.GetEventId()] = ""
		if res, err := s.api.Events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: s.opts.Community, Id: r.GetEventId()})); err == nil {
			titles[r.GetEventId()] = res.Msg.GetEvent().GetSpec().GetTitle()
		}
	}
	return titles
}
