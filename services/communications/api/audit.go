package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
)

// Catalogue says what each mutating RPC records in the audit log, in the
// same transaction as its effect; audittest.CheckCovered fails when a
// mutating RPC is missing. Entries hold ids (message, template name,
// announcement, webhook, member), never addresses or content.
//
// The public endpoints record too, as anonymous callers:
// "consent.withdrawn" (one-click unsubscribe, when it changed anything),
// "email.confirmed" (a confirmation link used) and "message.bounced" (a
// bounce report, authenticated by its community's bounce token).
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		communicationsv1connect.CommunicationsServiceSendMessageProcedure:       {"message.queued"},
		communicationsv1connect.CommunicationsServiceForgetMemberProcedure:      {"member.forgotten"},
		communicationsv1connect.TemplatesServiceSaveTemplateProcedure:           {"template.saved"},
		communicationsv1connect.TemplatesServiceDeleteTemplateProcedure:         {"template.deleted"},
		communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure: {"announcement.created"},
		communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure: {"announcement.cancelled"},
		communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:      {"webhook.created"},
		communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure:      {"webhook.deleted"},
		communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:     {"preferences.changed"},
		communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:  {"suppression.removed"},
		// Domain webhooks.
		communicationsv1connect.SubscriptionsServiceCreateSubscriptionProcedure:         {"subscription.created"},
		communicationsv1connect.SubscriptionsServiceDeleteSubscriptionProcedure:         {"subscription.deleted"},
		communicationsv1connect.SubscriptionsServiceRotateSubscriptionSecretProcedure:   {"subscription.secret_rotated"},
		communicationsv1connect.SubscriptionsServiceReplaySubscriptionDeliveryProcedure: {"subscription_delivery.replayed"},
	}
}
