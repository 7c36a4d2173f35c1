package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// grants is shorthand for a policy entry's grants.
type grants = map[auth.Role]auth.Scope

// Policy says who may call each RPC the partners service serves.
// Organisers and staff manage partners; platform admins may do
// everything. Members and ambassadors have no grant here: the partner
// register — prospects, stakeholder assessments, contacts — is the team's
// working tool. Workloads (the worker, other services) may read partners
// and agreements and run the expiry sweep, but never read contacts or the
// interaction log. Erasing a contact is for organisers.
func Policy() auth.Policy {
	const all = auth.ScopeCommunity
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	organisers := grants{auth.Organiser: all, auth.PlatformAdmin: all}
	teamAndWorkloads := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Workload: all}
	return auth.Policy{
		partnersv1connect.PartnersServiceAddPartnerProcedure:          {Grants: team},
		partnersv1connect.PartnersServiceGetPartnerProcedure:          {Grants: teamAndWorkloads},
		partnersv1connect.PartnersServiceListPartnersProcedure:        {Grants: teamAndWorkloads},
		partnersv1connect.PartnersServiceUpdatePartnerProcedure:       {Grants: team},
		partnersv1connect.PartnersServiceChangePartnerStatusProcedure: {Grants: team},
		// A reminder workflow may read who is due.
		partnersv1connect.PartnersServiceListDueForReviewProcedure: {Grants: teamAndWorkloads},
		partnersv1connect.PartnersServiceLogInteractionProcedure:   {Grants: team},
		partnersv1connect.PartnersServiceListInteractionsProcedure: {Grants: team},
		// Subject access: organisers for anyone, everyone for themselves.
		partnersv1connect.PartnersServiceExportMemberDataProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all,
			auth.Staff: auth.ScopeSelf, auth.Ambassador: auth.ScopeSelf, auth.Member: auth.ScopeSelf}},

		// The attention list is the team's (the console reads it).
		partnersv1connect.AttentionServiceListAttentionProcedure:        {Grants: team},
		partnersv1connect.AttentionServiceAcknowledgeAttentionProcedure: {Grants: team},

		// Contacts are personal data: the team only.
		partnersv1connect.ContactsServiceAddContactProcedure:           {Grants: team},
		partnersv1connect.ContactsServiceGetContactProcedure:           {Grants: team},
		partnersv1connect.ContactsServiceListContactsProcedure:         {Grants: team},
		partnersv1connect.ContactsServiceUpdateContactProcedure:        {Grants: team},
		partnersv1connect.ContactsServiceRecordContactConsentProcedure: {Grants: team},
		partnersv1connect.ContactsServiceEraseContactProcedure:         {Grants: organisers},

		partnersv1connect.AgreementsServiceCreateAgreementProcedure:    {Grants: team},
		partnersv1connect.AgreementsServiceGetAgreementProcedure:       {Grants: teamAndWorkloads},
		partnersv1connect.AgreementsServiceListAgreementsProcedure:     {Grants: teamAndWorkloads},
		partnersv1connect.AgreementsServiceUpdateAgreementProcedure:    {Grants: team},
		partnersv1connect.AgreementsServiceSignAgreementProcedure:      {Grants: team},
		partnersv1connect.AgreementsServiceActivateAgreementProcedure:  {Grants: team},
		partnersv1connect.AgreementsServiceRenewAgreementProcedure:     {Grants: team},
		partnersv1connect.AgreementsServiceTerminateAgreementProcedure: {Grants: team},
		// A scheduler (or, later, a Temporal timer) may run the sweep.
		partnersv1connect.AgreementsServiceRunExpirySweepProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Workload: all}},

		partnersv1connect.ContributionsServiceRecordContributionProcedure: {Grants: team},
		partnersv1connect.ContributionsServiceListContributionsProcedure:  {Grants: team},
		// The erasure workflow; platform admins may run it by hand.
		partnersv1connect.ContributionsServiceForgetMemberProcedure: {Grants: grants{auth.PlatformAdmin: all, auth.Workload: all}},

		partnersv1connect.ReportsServiceStakeholderGridProcedure:    {Grants: team},
		partnersv1connect.ReportsServiceContributionTotalsProcedure: {Grants: team},
		partnersv1connect.ReportsServiceExpiringAgreementsProcedure: {Grants: teamAndWorkloads},
		partnersv1connect.ReportsServiceExportReportProcedure:       {Grants: team},

		// The service's own audit log: organisers and platform admins read
		// the whole community's trail.
		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: organisers},
		// The insights service reads the history to rebuild; platform admins may too.
		insightsv1connect.HistoryServiceReadHistoryProcedure: {Grants: map[auth.Role]auth.Scope{auth.PlatformAdmin: auth.ScopeCommunity, auth.Workload: auth.ScopeCommunity}},
	}
}
