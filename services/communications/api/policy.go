package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// Policy says who may call each RPC the communications service serves.
func Policy() auth.Policy {
	const (
		all  = auth.ScopeCommunity
		self = auth.ScopeSelf
	)
	type grants = map[auth.Role]auth.Scope
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	organisers := grants{auth.Organiser: all, auth.PlatformAdmin: all}
	// Workflows send journey e-mails and read their state.
	teamAndWorkload := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Workload: all}
	// Members manage their own e-mail preferences.
	teamAndSelf := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self}
	return auth.Policy{
		communicationsv1connect.CommunicationsServiceSendMessageProcedure:    {Grants: teamAndWorkload},
		communicationsv1connect.CommunicationsServiceGetMessageProcedure:     {Grants: teamAndWorkload},
		communicationsv1connect.CommunicationsServiceListDeliveriesProcedure: {Grants: team},
		// The erasure workflow; platform admins may run it by hand.
		communicationsv1connect.CommunicationsServiceForgetMemberProcedure: {Grants: grants{auth.PlatformAdmin: all, auth.Workload: all}},
		// Domain webhooks are the organisers' to set up and to watch.
		communicationsv1connect.SubscriptionsServiceCreateSubscriptionProcedure:         {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		communicationsv1connect.SubscriptionsServiceListSubscriptionsProcedure:          {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		communicationsv1connect.SubscriptionsServiceDeleteSubscriptionProcedure:         {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		communicationsv1connect.SubscriptionsServiceRotateSubscriptionSecretProcedure:   {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		communicationsv1connect.SubscriptionsServiceListSubscriptionDeliveriesProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		communicationsv1connect.SubscriptionsServiceReplaySubscriptionDeliveryProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		// Subject access: organisers for anyone, everyone for themselves.
		communicationsv1connect.CommunicationsServiceExportMemberDataProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all,
			auth.Staff: auth.ScopeSelf, auth.Ambassador: auth.ScopeSelf, auth.Member: auth.ScopeSelf}},

		// Workflows create their default templates (digest, event
		// reminders) when a community has none yet.
		communicationsv1connect.TemplatesServiceSaveTemplateProcedure: {Grants: teamAndWorkload},
		communicationsv1connect.TemplatesServiceGetTemplateProcedure:  {Grants: teamAndWorkload},
		// The journeys API checks the templates a journey definition names.
		communicationsv1connect.TemplatesServiceListTemplatesProcedure:   {Grants: teamAndWorkload},
		communicationsv1connect.TemplatesServiceDeleteTemplateProcedure:  {Grants: team},
		communicationsv1connect.TemplatesServicePreviewTemplateProcedure: {Grants: team},

		// Announcements are privileged: they reach the whole community.
		communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Workload: all}},
		communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure:    {Grants: teamAndWorkload},
		communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure: {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure:  {Grants: team},
		communicationsv1connect.AnnouncementsServiceGetSendingPolicyProcedure:   {Grants: team},
		communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:      {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceListWebhooksProcedure:       {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure:      {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure:     {Grants: teamAndSelf},
		communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:     {Grants: teamAndSelf},
		communicationsv1connect.AnnouncementsServiceListSuppressionsProcedure:   {Grants: team},
		communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:  {Grants: organisers},

		// The service's audit log, community-wide.
		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: organisers},
		// The insights service reads the history to rebuild; platform admins may too.
		insightsv1connect.HistoryServiceReadHistoryProcedure: {Grants: map[auth.Role]auth.Scope{auth.PlatformAdmin: auth.ScopeCommunity, auth.Workload: auth.ScopeCommunity}},
	}
}
