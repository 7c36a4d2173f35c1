package insights_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/insights/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the access table of the insights service, written out
// by hand. Columns: anonymous, organiser (and an organiser's API key),
// staff, ambassador, member, platform admin, workload.
var expectations = authtest.Table{
	insightsv1connect.InsightsServiceListMetricsProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceQueryMetricProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceGetCohortsProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceGetFunnelProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceExportSeriesProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceRebuildProcedure:          authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.InsightsServiceSendHealthReportProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	insightsv1connect.GoalsServiceCreateGoalProcedure:  authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.GoalsServiceUpdateGoalProcedure:  authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.GoalsServiceArchiveGoalProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.GoalsServiceGetGoalProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	insightsv1connect.GoalsServiceListGoalsProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	insightsv1connect.GoalsServiceSyncGoalsProcedure:   authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),

	auditv1connect.AuditServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
}

func services() []protoreflect.ServiceDescriptor {
	var out []protoreflect.ServiceDescriptor
	for _, f := range []protoreflect.FileDescriptor{insightsv1.File_kinship_insights_v1_insights_proto, insightsv1.File_kinship_insights_v1_goals_proto,
		auditv1.File_kinship_audit_v1_audit_proto} {
		for i := range f.Services().Len() {
			out = append(out, f.Services().Get(i))
		}
	}
	return out
}

func TestEveryRPCIsGuarded(t *testing.T) {
	authtest.CheckCovered(t, api.Policy(), expectations, services()...)
	s := start(t, scenario())
	tokens := s.issuer.Tokens(t, "demo", "a")
	tokens["api-key"] = s.apiKey
	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(true) {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				switch procedure {
				case insightsv1connect.InsightsServiceExportSeriesProcedure:
					authtest.CheckGuard(t, procedure, caller, export(s.url, tokens[caller]), want[caller])
					return
				case insightsv1connect.InsightsServiceRebuildProcedure:
					authtest.CheckGuard(t, procedure, caller, rebuildAs(s.url, tokens[caller]), want[caller])
					return
				}
				body := map[string]any{"community": "demo", "name": "grow", "metric": "members.total",
					"goal": map[string]any{"name": "grow", "metric": "members.total", "target": 5}}
				authtest.CheckGuard(t, procedure, caller, authtest.Call(t, s.url+procedure, tokens[caller], body), want[caller])
			})
		}
	}
}

// export calls the streaming ExportSeries with a typed client.
func export(url, token string) string {
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, authtest.Bearer(token))
	}
	c := insightsv1connect.NewInsightsServiceClient(http.DefaultClient, url, opts...)
	stream, err := c.ExportSeries(context.Background(), connect.NewRequest(&insightsv1.ExportSeriesRequest{Community: "demo", Metric: "members.total"}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}

// rebuildAs calls the streaming Rebuild with a typed client.
func rebuildAs(url, token string) string {
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, authtest.Bearer(token))
	}
	if _, err := rebuild(context.Background(), insightsv1connect.NewInsightsServiceClient(http.DefaultClient, url, opts...)); err != nil {
		return connect.CodeOf(err).String()
	}
	return "ok"
}

func TestEveryChangeIsAudited(t *testing.T) {
	audittest.CheckCovered(t, api.Catalogue(), services()...)
	s := start(t, scenario())
	ctx := context.Background()
	operator := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	calls := map[string]func() error{
		insightsv1connect.InsightsServiceRebuildProcedure: func() error {
			_, err := rebuild(ctx, s.insights)
			return err
		},
		insightsv1connect.InsightsServiceExportSeriesProcedure: func() error {
			stream, err := s.insights.ExportSeries(ctx, connect.NewRequest(&insightsv1.ExportSeriesRequest{Community: "demo", Metric: "members.total"}))
			if err != nil {
				return err
			}
			for stream.Receive() {
			}
			return stream.Err()
		},
		insightsv1connect.InsightsServiceSendHealthReportProcedure: func() error {
			_, err := s.insights.SendHealthReport(ctx, connect.NewRequest(&insightsv1.SendHealthReportRequest{Community: "demo"}))
			return err
		},
		insightsv1connect.GoalsServiceCreateGoalProcedure: func() error {
			_, err := s.goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: "demo",
				Goal: &insightsv1.GoalSpec{Name: "grow", Metric: "members.total", Target: 10}}))
			return err
		},
		insightsv1connect.GoalsServiceUpdateGoalProcedure: func() error {
			_, err := s.goals.UpdateGoal(ctx, connect.NewRequest(&insightsv1.UpdateGoalRequest{Community: "demo", Name: "grow",
				Goal: &insightsv1.GoalSpec{Target: 12}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"target"}}}))
			return err
		},
		insightsv1connect.GoalsServiceArchiveGoalProcedure: func() error {
			_, err := s.goals.ArchiveGoal(ctx, connect.NewRequest(&insightsv1.ArchiveGoalRequest{Community: "demo", Name: "grow"}))
			return err
		},
		insightsv1connect.GoalsServiceSyncGoalsProcedure: func() error {
			_, err := operator.SyncGoals(ctx, connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: "demo",
				Goals: []*insightsv1.GoalSpec{{Name: "engage", Metric: "members.active", Target: 3}}}))
			return err
		},
	}
	// In this order: a goal is created before it is changed and archived.
	for _, procedure := range []string{insightsv1connect.InsightsServiceRebuildProcedure, insightsv1connect.InsightsServiceExportSeriesProcedure,
		insightsv1connect.InsightsServiceSendHealthReportProcedure, insightsv1connect.GoalsServiceCreateGoalProcedure,
		insightsv1connect.GoalsServiceUpdateGoalProcedure, insightsv1connect.GoalsServiceArchiveGoalProcedure, insightsv1connect.GoalsServiceSyncGoalsProcedure} {
		mark := audittest.Mark(t, s.audit, "demo")
		if err := calls[procedure](); err != nil {
			t.Fatalf("%s: %v", procedure, err)
		}
		mark.Expect(t, procedure, api.Catalogue()[procedure])
	}
	if len(calls) != len(api.Catalogue()) {
		t.Errorf("%d calls for %d catalogue entries", len(calls), len(api.Catalogue()))
	}
}
