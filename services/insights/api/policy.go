package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
)

// grants is shorthand for a policy entry's grants.
type grants = map[auth.Role]auth.Scope

// Policy says who may call each RPC the insights service serves. The
// organising team (organisers, staff, platform admins) reads metrics,
// cohorts, funnels and goals; organisers set goals, export series (audited),
// rebuild and send the report. The operator (a workload) syncs the goals a
// Community resource names and reads their statuses. Members and
// ambassadors have no grant: these are the team's numbers.
func Policy() auth.Policy {
	const all = auth.ScopeCommunity
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	organisers := grants{auth.Organiser: all, auth.PlatformAdmin: all}
	teamAndWorkloads := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Workload: all}
	return auth.Policy{
		insightsv1connect.InsightsServiceListMetricsProcedure:      {Grants: team},
		insightsv1connect.InsightsServiceQueryMetricProcedure:      {Grants: team},
		insightsv1connect.InsightsServiceGetCohortsProcedure:       {Grants: team},
		insightsv1connect.InsightsServiceGetFunnelProcedure:        {Grants: team},
		insightsv1connect.InsightsServiceExportSeriesProcedure:     {Grants: team},
		insightsv1connect.InsightsServiceRebuildProcedure:          {Grants: organisers},
		insightsv1connect.InsightsServiceSendHealthReportProcedure: {Grants: organisers},

		insightsv1connect.GoalsServiceCreateGoalProcedure:  {Grants: organisers},
		insightsv1connect.GoalsServiceUpdateGoalProcedure:  {Grants: organisers},
		insightsv1connect.GoalsServiceArchiveGoalProcedure: {Grants: organisers},
		insightsv1connect.GoalsServiceGetGoalProcedure:     {Grants: teamAndWorkloads},
		insightsv1connect.GoalsServiceListGoalsProcedure:   {Grants: teamAndWorkloads},
		// The operator keeps a Community resource's goals.
		insightsv1connect.GoalsServiceSyncGoalsProcedure: {Grants: grants{auth.PlatformAdmin: all, auth.Workload: all}},

		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: organisers},
	}
}

// Catalogue says what each mutating RPC records in the audit log.
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		insightsv1connect.InsightsServiceExportSeriesProcedure:     {"insights.series_exported"},
		insightsv1connect.InsightsServiceRebuildProcedure:          {"insights.rebuilt"},
		insightsv1connect.InsightsServiceSendHealthReportProcedure: {"insights.report_sent"},
		insightsv1connect.GoalsServiceCreateGoalProcedure:          {"goal.created"},
		insightsv1connect.GoalsServiceUpdateGoalProcedure:          {"goal.updated"},
		insightsv1connect.GoalsServiceArchiveGoalProcedure:         {"goal.archived"},
		insightsv1connect.GoalsServiceSyncGoalsProcedure:           {"goals.synced"},
	}
}
