package members_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
	"github.com/kinshiphq/kinship/services/members/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the access table of the members service, written out by
// hand: a procedure missing here fails TestEveryRPCIsGuarded. Columns:
// anonymous, organiser (and an organiser's API key), staff, ambassador,
// member (both on their own record), platform admin, workload.
var expectations = authtest.Table{
	membersv1connect.MembersServiceJoinCommunityProcedure:    authtest.Row(allowed, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceGetMemberProcedure:        authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceListMembersProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.MembersServiceUpdateProfileProcedure:    authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceChangeStatusProcedure:     authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceLeaveCommunityProcedure:   authtest.Row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceRecordConsentProcedure:    authtest.Row(unauthenticated, allowed, denied, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceGetConsentsProcedure:      authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceAssignRoleProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.MembersServiceRevokeRoleProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.MembersServiceMergeMembersProcedure:     authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceExportMemberDataProcedure: authtest.Row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	membersv1connect.MembersServiceEraseMemberProcedure:      authtest.Row(unauthenticated, allowed, denied, allowed, allowed, allowed, allowed),
	membersv1connect.MembersServiceImportMembersProcedure:    authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceExportMembersProcedure:    authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.MembersServiceConfirmEmailProcedure:     authtest.Row(unauthenticated, denied, denied, denied, denied, denied, allowed),

	membersv1connect.SegmentsServiceCreateSegmentProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceListSegmentsProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceDeleteSegmentProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceCountSegmentProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.SegmentsServiceListSegmentMembersProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	membersv1connect.SegmentsServiceTargetGroupReportProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	membersv1connect.EngagementServiceRecordActivityProcedure:          authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	membersv1connect.EngagementServiceGetEngagementProcedure:           authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.EngagementServiceReviewLevelsProcedure:            authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	membersv1connect.EngagementServiceRecomputeLevelsProcedure:         authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.EngagementServiceGetCommunitySettingsProcedure:    authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	membersv1connect.AccessServiceCreateAPIKeyProcedure:     authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAPIKeysProcedure:      authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceRevokeAPIKeyProcedure:     authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.AccessServiceVerifyAPIKeyProcedure:     authtest.Row(unauthenticated, denied, denied, denied, denied, denied, allowed),

	membersv1connect.IntegrationsServiceCreateActivitySourceProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceListActivitySourcesProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceRotateActivitySourceSecretProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceDeleteActivitySourceProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceListDeliveriesProcedure:             authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceListUnmatchedActivitiesProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceRecordActivitiesProcedure:           authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceImportActivitiesProcedure:           authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	membersv1connect.IntegrationsServiceLinkHandleProcedure:                 authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	membersv1connect.IntegrationsServiceUnlinkHandleProcedure:               authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	membersv1connect.IntegrationsServiceListHandlesProcedure:                authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),

	membersv1connect.ReferralsServiceGetReferralCodeProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	membersv1connect.ReferralsServiceListReferralsProcedure:   authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),

	auditv1connect.AuditServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.HistoryServiceReadHistoryProcedure: authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		membersv1.File_kinship_members_v1_members_proto.Services().ByName("MembersService"),
		membersv1.File_kinship_members_v1_segments_proto.Services().ByName("SegmentsService"),
		membersv1.File_kinship_members_v1_engagement_proto.Services().ByName("EngagementService"),
		membersv1.File_kinship_members_v1_access_proto.Services().ByName("AccessService"),
		membersv1.File_kinship_members_v1_integrations_proto.Services().ByName("IntegrationsService"),
		membersv1.File_kinship_members_v1_referrals_proto.Services().ByName("ReferralsService"),
		auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService"),
		insightsv1.File_kinship_insights_v1_history_proto.Services().ByName("HistoryService"),
	}
	authtest.CheckCovered(t, api.Policy(), expectations, services...)

	s := start(t)
	ctx := context.Background()
	self, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
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

	tokens := s.issuer.Tokens(t, "demo", memberID)
	tokens["api-key"] = key.Msg.GetSecret()

	n := 0
	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(true) {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo", "id": memberID, "memberId": memberID}
				switch procedure {
				case membersv1connect.MembersServiceJoinCommunityProcedure:
					body = map[string]any{"community": "demo", "email": fmt.Sprintf("guard-%d@example.org", n), "displayName": "Guard"}
				case insightsv1connect.HistoryServiceReadHistoryProcedure:
					authtest.CheckGuard(t, procedure, caller, insightstest.ReadHistoryAs(s.url, tokens[caller]), want[caller])
					return
				case membersv1connect.MembersServiceImportMembersProcedure, membersv1connect.MembersServiceExportMembersProcedure,
					membersv1connect.IntegrationsServiceImportActivitiesProcedure:
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
				case membersv1connect.MembersServiceConfirmEmailProcedure:
					body["email"] = "ada@example.org"
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
	if procedure == membersv1connect.IntegrationsServiceImportActivitiesProcedure {
		stream := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, url, opts...).ImportActivities(ctx)
		if err = stream.Send(&membersv1.ImportActivitiesRequest{Community: "demo", Chunk: []byte("type,occurred_at,source_event_id,member_id\n")}); err == nil {
			_, err = stream.CloseAndReceive()
		}
	} else if procedure == membersv1connect.MembersServiceImportMembersProcedure {
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
	joined, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
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
