package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// grants is shorthand for a policy entry's grants.
type grants = map[auth.Role]auth.Scope

// Policy says who may call each RPC the members service serves.
func Policy() auth.Policy {
	const (
		all  = auth.ScopeCommunity
		self = auth.ScopeSelf
	)
	organisers := grants{auth.Organiser: all, auth.PlatformAdmin: all}
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	// Members and ambassadors act on their own record (ambassadors will
	// also see the members they buddy once buddies exist).
	teamAndSelf := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self}
	with := func(g grants, role auth.Role) grants {
		out := grants{role: all}
		for r, s := range g {
			out[r] = s
		}
		return out
	}
	return auth.Policy{
		// Anyone may join (double opt-in); the team — and workloads — may
		// add members for others, vouching for their addresses, and are not
		// held to the public rate limits.
		membersv1connect.MembersServiceJoinCommunityProcedure: {Public: true, Grants: with(team, auth.Workload)},
		// Workflows read members to address them.
		membersv1connect.MembersServiceGetMemberProcedure:      {Grants: with(teamAndSelf, auth.Workload)},
		membersv1connect.MembersServiceListMembersProcedure:    {Grants: team},
		membersv1connect.MembersServiceUpdateProfileProcedure:  {Grants: teamAndSelf},
		membersv1connect.MembersServiceChangeStatusProcedure:   {Grants: organisers},
		membersv1connect.MembersServiceLeaveCommunityProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self}},
		// The communications service records unsubscribes as a workload.
		membersv1connect.MembersServiceRecordConsentProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self, auth.Workload: all}},
		membersv1connect.MembersServiceGetConsentsProcedure:   {Grants: with(teamAndSelf, auth.Workload)},
		// The ambassador programme workflow gives and takes the ambassador role.
		membersv1connect.MembersServiceAssignRoleProcedure:       {Grants: with(organisers, auth.Workload)},
		membersv1connect.MembersServiceRevokeRoleProcedure:       {Grants: with(organisers, auth.Workload)},
		membersv1connect.MembersServiceMergeMembersProcedure:     {Grants: organisers},
		membersv1connect.MembersServiceExportMemberDataProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self}},
		// Members may erase themselves; the erasure workflow acts as a workload.
		membersv1connect.MembersServiceEraseMemberProcedure:   {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self, auth.Workload: all}},
		membersv1connect.MembersServiceImportMembersProcedure: {Grants: organisers},
		membersv1connect.MembersServiceExportMembersProcedure: {Grants: organisers},
		// The communications service confirms addresses after checking the
		// signed link a member followed.
		membersv1connect.MembersServiceConfirmEmailProcedure: {Grants: grants{auth.Workload: all}},

		membersv1connect.SegmentsServiceCreateSegmentProcedure: {Grants: team},
		membersv1connect.SegmentsServiceListSegmentsProcedure:  {Grants: team},
		membersv1connect.SegmentsServiceDeleteSegmentProcedure: {Grants: team},
		membersv1connect.SegmentsServiceCountSegmentProcedure:  {Grants: team},
		// The journeys API starts cohorts; onboarding looks for buddies.
		membersv1connect.SegmentsServiceListSegmentMembersProcedure: {Grants: with(team, auth.Workload)},
		membersv1connect.SegmentsServiceTargetGroupReportProcedure:  {Grants: team},

		// Workflows and other services' consumers record activities.
		membersv1connect.EngagementServiceRecordActivityProcedure:  {Grants: with(team, auth.Workload)},
		membersv1connect.EngagementServiceGetEngagementProcedure:   {Grants: with(teamAndSelf, auth.Workload)},
		membersv1connect.EngagementServiceReviewLevelsProcedure:    {Grants: with(organisers, auth.Workload)},
		membersv1connect.EngagementServiceRecomputeLevelsProcedure: {Grants: organisers},
		// Everyone in the community may read its vocabularies and goals.
		membersv1connect.EngagementServiceGetCommunitySettingsProcedure: {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all,
			auth.Ambassador: all, auth.Member: all, auth.Workload: all}},
		membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure: {Grants: organisers},

		membersv1connect.AccessServiceCreateAPIKeyProcedure:     {Grants: organisers},
		membersv1connect.AccessServiceListAPIKeysProcedure:      {Grants: organisers},
		membersv1connect.AccessServiceRevokeAPIKeyProcedure:     {Grants: organisers},
		membersv1connect.AccessServiceListAuditEntriesProcedure: {Grants: organisers},
		// Other services resolve API keys presented to them.
		membersv1connect.AccessServiceVerifyAPIKeyProcedure: {Grants: grants{auth.Workload: all}},

		// Activity sources are the organisers' to set up; the team may read
		// what they brought and record activities in bulk.
		membersv1connect.IntegrationsServiceCreateActivitySourceProcedure:       {Grants: organisers},
		membersv1connect.IntegrationsServiceListActivitySourcesProcedure:        {Grants: team},
		membersv1connect.IntegrationsServiceRotateActivitySourceSecretProcedure: {Grants: organisers},
		membersv1connect.IntegrationsServiceDeleteActivitySourceProcedure:       {Grants: organisers},
		membersv1connect.IntegrationsServiceListDeliveriesProcedure:             {Grants: team},
		membersv1connect.IntegrationsServiceListUnmatchedActivitiesProcedure:    {Grants: team},
		membersv1connect.IntegrationsServiceRecordActivitiesProcedure:           {Grants: team},
		membersv1connect.IntegrationsServiceImportActivitiesProcedure:           {Grants: team},
		// Members link their own handles; the team anyone's.
		membersv1connect.IntegrationsServiceLinkHandleProcedure:   {Grants: teamAndSelf},
		membersv1connect.IntegrationsServiceUnlinkHandleProcedure: {Grants: teamAndSelf},
		membersv1connect.IntegrationsServiceListHandlesProcedure:  {Grants: teamAndSelf},
		// Everyone has a referral code and sees whom they referred; the team
		// sees everyone's (the ambassador programme reads them as a workload).
		membersv1connect.ReferralsServiceGetReferralCodeProcedure: {Grants: teamAndSelf},
		membersv1connect.ReferralsServiceListReferralsProcedure:   {Grants: with(teamAndSelf, auth.Workload)},

		// The audit log of the members service, as every service serves its own.
		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: organisers},
		// The insights service reads the history to rebuild; platform admins may too.
		insightsv1connect.HistoryServiceReadHistoryProcedure: {Grants: map[auth.Role]auth.Scope{auth.PlatformAdmin: auth.ScopeCommunity, auth.Workload: auth.ScopeCommunity}},
	}
}
