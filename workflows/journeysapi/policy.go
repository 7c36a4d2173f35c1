package journeysapi

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// Policy says who may call each RPC of the journeys API: organisers and
// platform admins run journeys, staff watch them, ambassadors nominate
// their peers and members themselves. Workloads read the nominations
// (the insights service counts them) and read, save and publish
// definitions (the operator seeds them from the Community resource).
func Policy() auth.Policy {
	const (
		all  = auth.ScopeCommunity
		self = auth.ScopeSelf
	)
	type grants = map[auth.Role]auth.Scope
	organisers := grants{auth.Organiser: all, auth.PlatformAdmin: all}
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	seeders := func(g grants) grants {
		out := grants{auth.Workload: all}
		for role, scope := range g {
			out[role] = scope
		}
		return out
	}
	return auth.Policy{
		journeysv1connect.JourneysServiceStartOnboardingProcedure: {Grants: organisers},
		journeysv1connect.JourneysServiceGetJourneyProcedure:      {Grants: team},
		journeysv1connect.JourneysServiceListJourneysProcedure:    {Grants: team},
		journeysv1connect.JourneysServiceSignalJourneyProcedure:   {Grants: organisers},
		journeysv1connect.JourneysServiceCancelJourneyProcedure:   {Grants: organisers},
		journeysv1connect.JourneysServiceNominateAmbassadorProcedure: {Grants: grants{
			auth.Organiser: all, auth.PlatformAdmin: all, auth.Ambassador: all, auth.Member: self}},
		journeysv1connect.JourneysServiceReviewNominationProcedure: {Grants: organisers},
		journeysv1connect.JourneysServiceListProgrammeProcedure:    {Grants: team},
		// The insights service counts the nominations with its workload
		// token, confined to the communities it may read.
		journeysv1connect.JourneysServiceListNominationsProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Workload: all}},
		// Staff may read how the journeys are shaped; organisers shape,
		// try, steer and migrate them.
		journeysv1connect.JourneysServiceGetDefinitionProcedure:          {Grants: seeders(team)},
		journeysv1connect.JourneysServiceListDefinitionVersionsProcedure: {Grants: team},
		journeysv1connect.JourneysServiceDiffDefinitionsProcedure:        {Grants: team},
		journeysv1connect.JourneysServiceSaveDefinitionProcedure:         {Grants: seeders(organisers)},
		journeysv1connect.JourneysServicePublishDefinitionProcedure:      {Grants: seeders(organisers)},
		journeysv1connect.JourneysServiceTestRunDefinitionProcedure:      {Grants: organisers},
		journeysv1connect.JourneysServiceSteerJourneysProcedure:          {Grants: organisers},
		journeysv1connect.JourneysServiceMigrateJourneysProcedure:        {Grants: organisers},
		// The worker's audit log: what organisers changed and steered.
		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: organisers},
	}
}
