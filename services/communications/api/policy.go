package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
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

		// Workflows create their default templates (digest, event
		// reminders) when a community has none yet.
		communicationsv1connect.TemplatesServiceSaveTemplateProcedure:    {Grants: teamAndWorkload},
		communicationsv1connect.TemplatesServiceGetTemplateProcedure:     {Grants: teamAndWorkload},
		communicationsv1connect.TemplatesServiceListTemplatesProcedure:   {Grants: team},
		communicationsv1connect.TemplatesServiceDeleteTemplateProcedure:  {Grants: team},
		communicationsv1connect.TemplatesServicePreviewTemplateProcedure: {Grants: team},

		// Announcements are privileged: they reach the whole community.
		communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all, auth.Workload: all}},
		communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure:    {Grants: teamAndWorkload},
		communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure: {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:      {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceListWebhooksProcedure:       {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure:      {Grants: organisers},
		communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure:     {Grants: teamAndSelf},
		communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:     {Grants: teamAndSelf},
		communicationsv1connect.AnnouncementsServiceListSuppressionsProcedure:   {Grants: team},
		communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:  {Grants: organisers},
	}
}
