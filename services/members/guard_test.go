package members_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/services/members/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// Who calls, in the guard table's columns.
var callers = []string{"none", "expired", "wrong-audience", "other-community", "api-key",
	"organiser", "staff", "ambassador", "member", "platform-admin", "workload"}

// expectations is the access table of the members service, written out by
// hand: a procedure missing here fails TestEveryRPCIsGuarded. Columns:
// anonymous, organiser (and an organiser's API key), staff, ambassador,
// member (both on their own record), platform admin, workload.
var expectations = map[string]map[string]string{
	membersv1connect.MembersServiceJoinCommunityProcedure:    row(allowed, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceGetMemberProcedure:        row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceListMembersProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.MembersServiceUpdateProfileProcedure:    row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceChangeStatusProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceLeaveCommunityProcedure:   row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceRecordConsentProcedure:    row(unauthenticated, allowed, denied, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceGetConsentsProcedure:      row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceAssignRoleProcedure:       row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.MembersServiceRevokeRoleProcedure:       row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.MembersServiceMergeMembersProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceExportMemberDataProcedure: row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceEraseMemberProcedure:      row(unauthenticated, allowed, denied, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceImportMembersProcedure:    row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceExportMembersProcedure:    row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	membersv1connect.SegmentsServiceCreateSegmentProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceListSegmentsProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceDeleteSegmentProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceCountSegmentProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceListSegmentMembersProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	membersv1connect.SegmentsServiceTargetGroupReportProcedure:  row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	membersv1connect.EngagementServiceRecordActivityProcedure:          row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	membersv1connect.EngagementServiceGetEngagementProcedure:           row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.EngagementServiceReviewLevelsProcedure:            row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.EngagementServiceRecomputeLevelsProcedure:         row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.EngagementServiceGetCommunitySettingsProcedure:    row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure: row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	membersv1connect.AccessServiceCreateAPIKeyProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAPIKeysProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceRevokeAPIKeyProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAuditEntriesProcedure: row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceVerifyAPIKeyProcedure:     row(unauthenticated, denied, denied, denied, denied, denied, allowed),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.
func row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": unauthenticated, "wrong-audience": unauthenticated, "other-community": denied,
		"api-key": organiser, "organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		membersv1.File_kinship_members_v1_members_proto.Services().ByName("MembersService"),
		membersv1.File_kinship_members_v1_segments_proto.Services().ByName("SegmentsService"),
		membersv1.File_kinship_members_v1_engagement_proto.Services().ByName("EngagementService"),
		membersv1.File_kinship_members_v1_access_proto.Services().ByName("AccessService"),
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

	s := start(t)
	ctx := context.Background()
	self, err := s.anon.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	memberID := self.Msg.GetMember().GetId()
	organiser := s.issuer.For(t, "demo", auth.Organiser)
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(organiser))
	key, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Community: "demo", Name: "import script", Roles: []string{"organiser"}}))
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Community: "demo", Name: "to revoke", Roles: []string{"staff"}}))
	if err != nil {
		t.Fatal(err)
	}

	tokens := map[string]string{
		"expired":         s.issuer.Token(t, localissuer.Claims{Subject: "late", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  s.issuer.Token(t, localissuer.Claims{Subject: "x", Community: "demo", Roles: []string{"organiser"}, Audience: "another-app"}),
		"other-community": s.issuer.For(t, "other", auth.Organiser),
		"api-key":         key.Msg.GetSecret(),
		"platform-admin":  s.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        s.issuer.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = s.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: memberID})
	}

	n := 0
	for procedure, want := range expectations {
		for _, caller := range callers {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo", "id": memberID, "memberId": memberID}
				switch procedure {
				case membersv1connect.MembersServiceJoinCommunityProcedure:
					body = map[string]any{"community": "demo", "email": fmt.Sprintf("guard-%d@example.org", n), "displayName": "Guard"}
				case membersv1connect.MembersServiceImportMembersProcedure, membersv1connect.MembersServiceExportMembersProcedure:
					got := callStream(t, s.url, procedure, tokens[caller])
					authtest.CheckGuard(t, procedure, caller, got, want[caller])
					return
				case membersv1connect.MembersServiceUpdateProfileProcedure:
					body["profile"], body["updateMask"] = map[string]any{"locale": "en-GB"}, "locale"
				case membersv1connect.MembersServiceChangeStatusProcedure:
					body["status"] = "MEMBER_STATUS_INACTIVE"
				case membersv1connect.MembersServiceRecordConsentProcedure:
					body["purpose"], body["granted"], body["source"], body["policyVersion"] = "email.digest", true, "form", "v1"
				case membersv1connect.MembersServiceAssignRoleProcedure, membersv1connect.MembersServiceRevokeRoleProcedure:
					body["role"] = "ambassador"
				case membersv1connect.MembersServiceMergeMembersProcedure:
					body["primaryId"], body["duplicateId"] = memberID, "01a21500-0000-7000-8000-000000000000"
				case membersv1connect.SegmentsServiceCreateSegmentProcedure:
					body["name"] = fmt.Sprintf("guard %d", n)
				case membersv1connect.EngagementServiceRecordActivityProcedure:
					body["type"], body["occurredAt"], body["sourceEventId"] = "posted", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf("guard-%d", n)
				case membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure:
					body["settings"] = map[string]any{"activityWeights": []any{map[string]any{"type": "posted", "weight": 1}},
						"levels": []any{map[string]any{"name": "Observer", "minScore": 0}}, "windowDays": 90}
				case membersv1connect.AccessServiceCreateAPIKeyProcedure:
					body["name"], body["roles"] = "guard", []string{"staff"}
				case membersv1connect.AccessServiceRevokeAPIKeyProcedure:
					body["id"] = doomed.Msg.GetKey().GetId()
				case membersv1connect.AccessServiceVerifyAPIKeyProcedure:
					body = map[string]any{"key": "kinship_aaaaaaaa_" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
				}
				authtest.CheckGuard(t, procedure, caller, authtest.Call(t, s.url+procedure, tokens[caller], body), want[caller])
			})
		}
	}
}

// callStream calls one of the streaming procedures with a typed client.
func callStream(t *testing.T, url, procedure, token string) string {
	t.Helper()
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, authtest.Bearer(token))
	}
	c := membersv1connect.NewMembersServiceClient(http.DefaultClient, url, opts...)
	ctx := context.Background()
	var err error
	if procedure == membersv1connect.MembersServiceImportMembersProcedure {
		stream := c.ImportMembers(ctx)
		if err = stream.Send(&membersv1.ImportMembersRequest{Community: "demo", DryRun: true, Chunk: []byte("email,display_name\n")}); err == nil {
			_, err = stream.CloseAndReceive()
		}
	} else {
		var stream *connect.ServerStreamForClient[membersv1.ExportMembersResponse]
		if stream, err = c.ExportMembers(ctx, connect.NewRequest(&membersv1.ExportMembersRequest{Community: "demo"})); err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
		}
	}
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}

// The worker may give and take the ambassador role, and no other.
func TestWorkloadsGiveOnlyTheAmbassadorRole(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	joined, err := s.anon.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	id := joined.Msg.GetMember().GetId()
	c := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	if _, err := c.AssignRole(ctx, connect.NewRequest(&membersv1.AssignRoleRequest{Community: "demo", MemberId: id, Role: "ambassador", Tier: "silver"})); err != nil {
		t.Errorf("assign ambassador: %v", err)
	}
	if _, err := c.RevokeRole(ctx, connect.NewRequest(&membersv1.RevokeRoleRequest{Community: "demo", MemberId: id, Role: "ambassador"})); err != nil {
		t.Errorf("revoke ambassador: %v", err)
	}
	for _, role := range []string{"organiser", "staff"} {
		if _, err := c.AssignRole(ctx, connect.NewRequest(&membersv1.AssignRoleRequest{Community: "demo", MemberId: id, Role: role})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("assign %s as a workload: %v, want PermissionDenied", role, err)
		}
		if _, err := c.RevokeRole(ctx, connect.NewRequest(&membersv1.RevokeRoleRequest{Community: "demo", MemberId: id, Role: role})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("revoke %s as a workload: %v, want PermissionDenied", role, err)
		}
	}
}
