package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights"
	"github.com/kinshiphq/kinship/services/insights/api"
	"github.com/kinshiphq/kinship/services/insights/demo"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// demoWeeks is how many weeks of synthetic history the demo community
// gets, ending last Sunday.
const demoWeeks = 16

// runInsights runs the insights service over the other services. Its
// rebuilds read, besides their histories, a synthetic history of the
// first community: the weeks before the dev stack first started.
func runInsights(ctx context.Context, cfg Config, ep Endpoints, sec kafka.Security, trust auth.TokenConfig, issuer *localissuer.Issuer,
	ln net.Listener, deps Deps) error {
	return insights.Run(ctx, insights.Config{
		HTTPAddr:          ln.Addr().String(),
		DatabaseURL:       filepath.Join(cfg.DataDir, "insights.db"),
		KafkaBrokers:      ep.Kafka,
		KafkaSecurity:     sec,
		Communities:       cfg.Communities,
		Auth:              trust,
		MembersURL:        ep.Members,
		EventsURL:         ep.Events,
		CommunicationsURL: ep.Communications,
		PartnersURL:       ep.Partners,
		JourneysURL:       ep.Worker, // the ambassador nominations
	}, insights.Deps{Logger: deps.Logger, Tracer: deps.Telemetry.TracerProvider("kinship-insights"), Meter: deps.Telemetry.MeterProvider("kinship-insights"),
		Listener: ln, Credentials: workloadTokens(issuer, insightsSubject),
		ExtraHistories: []api.HistorySource{demoHistory(cfg.Communities[0], time.Now())}})
}

// demoHistory is the first community's synthetic history: members
// joining, their activity, weekly events with RSVPs and check-ins,
// messages, partners and their contributions, over the demoWeeks weeks
// before this week.
func demoHistory(community string, now time.Time) api.HistorySource {
	monday := domain.WeekStart(domain.DayOf(now, time.UTC)) - 7*demoWeeks
	w := demo.Generate(community, 1, monday.Date(), demoWeeks, 12)
	var records []*insightsv1.HistoryRecord
	history := w.History()
	for _, source := range []string{"members", "events", "communications", "partners"} {
		records = append(records, history[source]...)
	}
	return api.StaticHistory("demo history", community, records)
}

// seedInsights gives a fresh data folder's first community its demo
// numbers: the organiser gets the organiser role in the members service's
// register (the weekly health report goes to them), a rebuild reads the
// services' histories with the synthetic one, and three goals are set.
// A failure is logged: the stack runs on without the demo numbers.
func seedInsights(ctx context.Context, iss *localissuer.Issuer, ep Endpoints, community string, logger *slog.Logger) {
	if err := seedInsightsOnce(ctx, iss, ep, community); err != nil && ctx.Err() == nil {
		logger.WarnContext(ctx, "seeding the demo history failed; `kinship insights rebuild` seeds it again", "error", err)
	}
}

func seedInsightsOnce(ctx context.Context, iss *localissuer.Issuer, ep Endpoints, community string) error {
	admin, err := iss.Mint(localissuer.Claims{Subject: "kinship-dev-seed", Audience: devAudience, Roles: []string{string(auth.PlatformAdmin)}, TTL: 5 * time.Minute})
	if err != nil {
		return err
	}
	bearer := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(admin)))
	members := membersv1connect.NewMembersServiceClient(http.DefaultClient, ep.Members, bearer)
	for _, p := range seedPeople(community) {
		if p.role != auth.Organiser {
			continue
		}
		id, err := ensureMember(ctx, members, community, p)
		if err != nil {
			return fmt.Errorf("find the organiser: %w", err)
		}
		if _, err := members.AssignRole(ctx, connect.NewRequest(&membersv1.AssignRoleRequest{Community: community, MemberId: id, Role: string(auth.Organiser)})); err != nil {
			return fmt.Errorf("give the organiser their role: %w", err)
		}
	}
	client := insightsv1connect.NewInsightsServiceClient(http.DefaultClient, ep.Insights, bearer)
	stream, err := client.Rebuild(ctx, connect.NewRequest(&insightsv1.RebuildRequest{Community: community}))
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	done := false
	for stream.Receive() {
		done = stream.Msg().GetDone()
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if !done {
		return errors.New("rebuild: no result")
	}
	total, err := client.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: community, Metric: "members.total",
		Granularity: insightsv1.Granularity_GRANULARITY_DAY, FromDate: time.Now().UTC().Format(time.DateOnly)}))
	if err != nil {
		return fmt.Errorf("read the members: %w", err)
	}
	pts := total.Msg.GetSeries()[0].GetPoints()
	now := pts[len(pts)-1].GetValue()
	goals := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, ep.Insights, bearer)
	in := func(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly) }
	for _, g := range []*insightsv1.GoalSpec{
		{Name: "grow", Metric: "members.total", Target: math.Ceil(math.Max(now, 10) * 1.5), Deadline: in(180),
			Description: "Half as many members again within six months"},
		{Name: "engage", Metric: "members.active_rate", Target: 0.6, Deadline: in(90), Description: "Three in five members active every month"},
		{Name: "show-up", Metric: "events.attendance_rate", Target: 0.8, Deadline: in(90), Description: "Four in five seats used"},
	} {
		_, err := goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: community, Goal: g}))
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return fmt.Errorf("set goal %s: %w", g.GetName(), err)
		}
	}
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
