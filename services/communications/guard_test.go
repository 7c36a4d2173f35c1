package communications_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the communications service's access table, written out
// by hand: a procedure missing here fails the test. Columns: anonymous,
// organiser, staff, ambassador, member (both on their own record),
// platform admin, workload.
var expectations = authtest.Table{
	communicationsv1connect.CommunicationsServiceSendMessageProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.CommunicationsServiceGetMessageProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.CommunicationsServiceListDeliveriesProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.CommunicationsServiceForgetMemberProcedure:   authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
	// Subject access: each for themselves, organisers for anyone.
	communicationsv1connect.CommunicationsServiceExportMemberDataProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),

	communicationsv1connect.TemplatesServiceSaveTemplateProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.TemplatesServiceGetTemplateProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.TemplatesServiceListTemplatesProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.TemplatesServiceDeleteTemplateProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.TemplatesServicePreviewTemplateProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceGetSendingPolicyProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:      authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceListWebhooksProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure:      authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure:     authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:     authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	communicationsv1connect.AnnouncementsServiceListSuppressionsProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:  authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	communicationsv1connect.SubscriptionsServiceCreateSubscriptionProcedure:         authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.SubscriptionsServiceListSubscriptionsProcedure:          authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.SubscriptionsServiceDeleteSubscriptionProcedure:         authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.SubscriptionsServiceRotateSubscriptionSecretProcedure:   authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.SubscriptionsServiceListSubscriptionDeliveriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.SubscriptionsServiceReplaySubscriptionDeliveryProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	auditv1connect.AuditServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.HistoryServiceReadHistoryProcedure: authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
}

// row fills a table row: bad tokens are unauthenticated and another
// community's organiser is denied.

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		communicationsv1.File_kinship_communications_v1_communications_proto.Services().ByName("CommunicationsService"),
		communicationsv1.File_kinship_communications_v1_templates_proto.Services().ByName("TemplatesService"),
		communicationsv1.File_kinship_communications_v1_announcements_proto.Services().ByName("AnnouncementsService"),
		communicationsv1.File_kinship_communications_v1_subscriptions_proto.Services().ByName("SubscriptionsService"),
		auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService"),
		insightsv1.File_kinship_insights_v1_history_proto.Services().ByName("HistoryService"),
	}
	authtest.CheckCovered(t, api.Policy(), expectations, services...)

	self := recipient(0)
	f := start(t, options{recipients: []domain.Recipient{self}})
	tokens := f.issuer.Tokens(t, "demo", self.MemberID)
	n := 0
	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(false) { // API keys: verified by the members service, tested end to end in test/e2e
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo", "id": "01a21500-0000-7000-8000-000000000000", "memberId": self.MemberID}
				switch procedure {
				case insightsv1connect.HistoryServiceReadHistoryProcedure:
					authtest.CheckGuard(t, procedure, caller, insightstest.ReadHistoryAs(f.url, tokens[caller]), want[caller])
					return
				case communicationsv1connect.CommunicationsServiceSendMessageProcedure:
					body = map[string]any{"community": "demo", "idempotencyKey": fmt.Sprintf("guard-%d", n), "memberId": self.MemberID,
						"toEmail": self.Email, "subject": "Guard", "textBody": "Hello"}
				case communicationsv1connect.TemplatesServiceSaveTemplateProcedure:
					body["name"], body["variants"] = "guard", []any{map[string]any{"subject": "Hi", "textBody": "Hello {{.Member.DisplayName}}"}}
				case communicationsv1connect.TemplatesServiceGetTemplateProcedure, communicationsv1connect.TemplatesServiceDeleteTemplateProcedure,
					communicationsv1connect.TemplatesServicePreviewTemplateProcedure:
					body["name"] = "guard"
				case communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure:
					body = map[string]any{"community": "demo", "template": "missing", "idempotencyKey": fmt.Sprintf("guard-%d", n)}
				case communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:
					body["url"], body["format"] = "https://hooks.example.org/x", "WEBHOOK_FORMAT_GENERIC"
				case communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:
					body["preferences"] = map[string]any{"announcements": true, "digest": true}
				case communicationsv1connect.CommunicationsServiceForgetMemberProcedure:
					body["memberId"] = "m-guard-forgotten" // not the recipient the other calls are about
				case communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:
					body["email"] = "someone@example.org"
				}
				authtest.CheckGuard(t, procedure, caller, authtest.Call(t, f.url+procedure, tokens[caller], body), want[caller])
			})
		}
	}
}

// A member may read and change only their own preferences.
func TestMembersReachOnlyTheirOwnPreferences(t *testing.T) {
	self, other := recipient(0), recipient(1)
	f := start(t, options{recipients: []domain.Recipient{self, other}})
	token := f.issuer.Token(t, localissuer.Claims{Subject: "u-member", Community: "demo", Roles: []string{"member"}, MemberID: self.MemberID})
	c := communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, f.url, authtest.Bearer(token))
	ctx := context.Background()
	if _, err := c.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: "demo", MemberId: self.MemberID})); err != nil {
		t.Errorf("own preferences: %v", err)
	}
	_, err := c.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: "demo", MemberId: other.MemberID}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("another member's preferences: %v, want PermissionDenied", err)
	}
}
