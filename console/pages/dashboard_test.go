package pages

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/session"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeInsights answers as the insights API does for a small community.
type fakeInsights struct {
	insightsv1connect.UnimplementedInsightsServiceHandler
	insightsv1connect.UnimplementedGoalsServiceHandler
}

func (fakeInsights) QueryMetric(_ context.Context, req *connect.Request[insightsv1.QueryMetricRequest]) (*connect.Response[insightsv1.QueryMetricResponse], error) {
	return connect.NewResponse(&insightsv1.QueryMetricResponse{Metric: &insightsv1.Metric{Name: req.Msg.GetMetric(), Unit: "members"},
		Series: []*insightsv1.Series{{Points: []*insightsv1.Point{{PeriodStart: "2026-11-23", Value: 4}, {PeriodStart: "2026-11-30", Value: 7}}}}}), nil
}

func (fakeInsights) GetCohorts(context.Context, *connect.Request[insightsv1.GetCohortsRequest]) (*connect.Response[insightsv1.GetCohortsResponse], error) {
	return connect.NewResponse(&insightsv1.GetCohortsResponse{Cohorts: []*insightsv1.Cohort{
		{WeekStart: "2026-11-23", Size: 4, Active: []int64{3}, Share: []float64{0.75}}, {WeekStart: "2026-11-30", Size: 2}}}), nil
}

func (fakeInsights) GetFunnel(context.Context, *connect.Request[insightsv1.GetFunnelRequest]) (*connect.Response[insightsv1.GetFunnelResponse], error) {
	return connect.NewResponse(&insightsv1.GetFunnelResponse{Steps: []*insightsv1.FunnelStep{
		{Name: "joined", Members: 10, ConversionFromStart: 1}, {Name: "welcomed", Members: 9, ConversionFromStart: 0.9, ConversionFromPrevious: 0.9, MedianDays: 0.1}}}), nil
}

func (fakeInsights) ListGoals(context.Context, *connect.Request[insightsv1.ListGoalsRequest]) (*connect.Response[insightsv1.ListGoalsResponse], error) {
	return connect.NewResponse(&insightsv1.ListGoalsResponse{Goals: []*insightsv1.Goal{
		{Spec: &insightsv1.GoalSpec{Name: "500 <b>members</b>", Metric: "members.total", Target: 500, Deadline: "2027-06-30"}, Unit: "members",
			Progress: &insightsv1.GoalProgress{Status: insightsv1.GoalStatus_GOAL_STATUS_AT_RISK, Current: 320, Target: 500, Progress: 0.64, HasForecast: true, Forecast: 450}},
		{Spec: &insightsv1.GoalSpec{Name: "no progress yet", Metric: "members.active", Target: 100, Deadline: "2027-01-31"}},
	}}), nil
}

func TestDashboardShowsGoalsAndChartsFromInsights(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewMembersServiceHandler(&fakeMembers{}))
	mux.Handle(insightsv1connect.NewInsightsServiceHandler(fakeInsights{}))
	mux.Handle(insightsv1connect.NewGoalsServiceHandler(fakeInsights{}))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	store, _ := session.New(session.Options{})
	s, err := New(Options{Community: "demo", PublicURL: "https://console.example", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, store, nil,
		apis.New(apis.URLs{Members: api.URL, Events: api.URL, Communications: api.URL, Partners: api.URL, Journeys: api.URL, Insights: api.URL}, noop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	r := &testRig{srv: srv, store: store}
	cookie, _ := r.signIn(t, "staff")
	res, page := r.do(t, http.MethodGet, "/dashboard", cookie, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		"500 &lt;b&gt;members&lt;/b&gt;", `<span class="badge warn">at risk</span>`, "320 of 500 members by 2027-06-30", `value="64"`,
		"Forecast at the deadline: 450 members", "no progress yet",
		`<canvas data-chart="chart-0-data"`, `"heatmap"`, "Newcomers per week: 7 members in the week of 2026-11-30.",
		"<td>welcomed</td><td>9</td><td>90%</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %s", want)
		}
	}
	if strings.Contains(page, "<b>members</b>") {
		t.Error("a goal's name was rendered as markup")
	}
}

// fakeOffers answers the events APIs with one seat offer about to expire.
type fakeOffers struct {
	eventsv1connect.UnimplementedAttendanceServiceHandler
	eventsv1connect.UnimplementedEventsServiceHandler
}

func (fakeOffers) ListSeatOffers(context.Context, *connect.Request[eventsv1.ListSeatOffersRequest]) (*connect.Response[eventsv1.ListSeatOffersResponse], error) {
	at := timestamppb.New(time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC))
	return connect.NewResponse(&eventsv1.ListSeatOffersResponse{Rsvps: []*eventsv1.RSVP{{EventId: "ev-1", OccurrenceId: "oc-1", MemberId: "m-9",
		Status: eventsv1.RSVPStatus_RSVP_STATUS_OFFERED, OfferExpiresAt: at, OccurrenceStartTime: at}}}), nil
}

func (fakeOffers) GetEvent(context.Context, *connect.Request[eventsv1.GetEventRequest]) (*connect.Response[eventsv1.GetEventResponse], error) {
	return connect.NewResponse(&eventsv1.GetEventResponse{Event: &eventsv1.Event{Id: "ev-1", Spec: &eventsv1.EventSpec{Title: "Repair <café>"}}}), nil
}

func TestDashboardListsSeatOffersAboutToExpire(t *testing.T) {
	r := newRigWith(t, func(mux *http.ServeMux) {
		mux.Handle(eventsv1connect.NewAttendanceServiceHandler(fakeOffers{}))
		mux.Handle(eventsv1connect.NewEventsServiceHandler(fakeOffers{}))
	})
	cookie, _ := r.signIn(t, "organiser")
	_, page := r.do(t, http.MethodGet, "/dashboard", cookie, nil, nil)
	for _, want := range []string{`<a href="/events/ev-1">Repair &lt;café&gt;</a>`, `offered to <a href="/members/m-9">m-9</a>`,
		`<a href="#offers-h">seat offers expiring within 24 hours</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %s", want)
		}
	}
	if strings.Contains(page, "could not be loaded right now: seat offers") {
		t.Error("the offers were reported as not loaded")
	}
}

func (fakeOffers) ListMemberRSVPs(_ context.Context, req *connect.Request[eventsv1.ListMemberRSVPsRequest]) (*connect.Response[eventsv1.ListMemberRSVPsResponse], error) {
	at := timestamppb.New(time.Date(2026, 12, 9, 18, 0, 0, 0, time.UTC))
	return connect.NewResponse(&eventsv1.ListMemberRSVPsResponse{Rsvps: []*eventsv1.RSVP{{EventId: "ev-1", OccurrenceId: "oc-1", MemberId: req.Msg.GetMemberId(),
		Status: eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED, OccurrenceStartTime: at}}}), nil
}

// A member's page lists their answers to events in one call.
func TestMemberPageListsTheirRSVPs(t *testing.T) {
	r := newRigWith(t, func(mux *http.ServeMux) {
		mux.Handle(eventsv1connect.NewAttendanceServiceHandler(fakeOffers{}))
		mux.Handle(eventsv1connect.NewEventsServiceHandler(fakeOffers{}))
	})
	cookie, _ := r.signIn(t, "organiser")
	_, page := r.do(t, http.MethodGet, "/members/m-1", cookie, nil, nil)
	if !strings.Contains(page, `<a href="/events/ev-1">Repair &lt;café&gt;</a>`) || !strings.Contains(page, `<span class="badge warn">waitlisted</span>`) {
		t.Errorf("the member's page does not list their RSVP:\n%s", page)
	}
}
