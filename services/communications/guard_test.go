package communications_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// Who calls, in the guard table's columns. API keys are verified by the
// members service and tested end to end in test/e2e.
var callers = []string{"none", "expired", "wrong-audience", "other-community",
	"organiser", "staff", "ambassador", "member", "platform-admin", "workload"}

// expectations is the communications service's access table, written out
// by hand: a procedure missing here fails the test. Columns: anonymous,
// organiser, staff, ambassador, member (both on their own record),
// platform admin, workload.
var expectations = map[string]map[string]string{
	communicationsv1connect.CommunicationsServiceSendMessageProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.CommunicationsServiceGetMessageProcedure:     row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.CommunicationsServiceListDeliveriesProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.CommunicationsServiceForgetMemberProcedure:   row(unauthenticated, denied, denied, denied, denied, allowed, allowed),

	communicationsv1connect.TemplatesServiceSaveTemplateProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.TemplatesServiceGetTemplateProcedure:     row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.TemplatesServiceListTemplatesProcedure:   row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.TemplatesServiceDeleteTemplateProcedure:  row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.TemplatesServicePreviewTemplateProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure: row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure: row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceListWebhooksProcedure:       row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure:     row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure:     row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	communicationsv1connect.AnnouncementsServiceListSuppressionsProcedure:   row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure:  row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
}

// row fills a table row: bad tokens are unauthenticated and another
// community's organiser is denied.
func row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": unauthenticated, "wrong-audience": unauthenticated, "other-community": denied,
		"organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		communicationsv1.File_kinship_communications_v1_communications_proto.Services().ByName("CommunicationsService"),
		communicationsv1.File_kinship_communications_v1_templates_proto.Services().ByName("TemplatesService"),
		communicationsv1.File_kinship_communications_v1_announcements_proto.Services().ByName("AnnouncementsService"),
	}
	if missing := api.Policy().Missing(services...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	for _, svc := range services {
		for i := range svc.Methods().Len() {
			procedure := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
			if _, ok := expectations[procedure]; !ok {
				t.Errorf("%s has no row in the guard table", procedure)
			}
		}
	}

	self := recipient(0)
	f := start(t, options{recipients: []domain.Recipient{self}})
	tokens := map[string]string{
		"expired":         f.issuer.Token(t, localissuer.Claims{Subject: "late", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  f.issuer.Token(t, localissuer.Claims{Subject: "x", Community: "demo", Roles: []string{"organiser"}, Audience: "another-app"}),
		"other-community": f.issuer.For(t, "other", auth.Organiser),
		"platform-admin":  f.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        f.issuer.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = f.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: self.MemberID})
	}
	n := 0
	for procedure, want := range expectations {
		for _, caller := range callers {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo", "id": "01a21500-0000-7000-8000-000000000000", "memberId": self.MemberID}
				switch procedure {
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
