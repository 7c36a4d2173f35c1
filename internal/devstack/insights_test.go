package devstack_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/devstack/devstacktest"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// TestTheDemoCommunityStartsWithMonthsOfHistory runs the whole stack on a
// fresh data folder: the insights service rebuilds from every service's
// history (each serves HistoryService) and the synthetic one, so the
// organiser finds members, events, cohorts and goals at once.
func TestTheDemoCommunityStartsWithMonthsOfHistory(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := devstack.Config{Communities: []string{"demo"}}
	ep, _ := devstacktest.Start(t, cfg, devstack.Deps{Logger: slog.New(slog.DiscardHandler), Telemetry: tel}, "demo")
	organiser := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(ep.Tokens[auth.Organiser])))
	ctx := context.Background()
	ins := insightsv1connect.NewInsightsServiceClient(http.DefaultClient, ep.Insights, organiser)
	for _, metric := range []string{"members.total", "members.active", "events.held", "communications.sent", "partners.contributions"} {
		res, err := ins.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: "demo", Metric: metric,
			Granularity: insightsv1.Granularity_GRANULARITY_MONTH}))
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, p := range res.Msg.GetSeries()[0].GetPoints() {
			sum += p.GetValue()
		}
		if sum == 0 {
			t.Errorf("%s shows nothing on first start", metric)
		}
	}
	cohorts, err := ins.GetCohorts(ctx, connect.NewRequest(&insightsv1.GetCohortsRequest{Community: "demo"}))
	if err != nil || len(cohorts.Msg.GetCohorts()) != 12 || cohorts.Msg.GetCohorts()[0].GetSize() == 0 {
		t.Errorf("cohorts %v %v", cohorts, err)
	}
	goals, err := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, ep.Insights, organiser).ListGoals(ctx,
		connect.NewRequest(&insightsv1.ListGoalsRequest{Community: "demo"}))
	if err != nil || len(goals.Msg.GetGoals()) != 3 {
		t.Fatalf("goals %v %v", goals, err)
	}
	for _, g := range goals.Msg.GetGoals() {
		if g.GetProgress().GetStatus() == insightsv1.GoalStatus_GOAL_STATUS_UNSPECIFIED || g.GetProgress().GetMessage() == "" {
			t.Errorf("goal %s: %v", g.GetSpec().GetName(), g.GetProgress())
		}
	}
}
