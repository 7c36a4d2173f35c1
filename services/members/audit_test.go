package members_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/members/api"
)

// Every RPC that changes data records what the catalogue says, in the
// same transaction, with ids only: each is performed successfully here,
// as the caller who would, and the log read back through AuditService.
func TestEveryChangeIsAudited(t *testing.T) {
	catalogue := api.Catalogue()
	audittest.CheckCovered(t, catalogue, membersServices()...)

	s := start(t)
	ctx := context.Background()
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	workload := authtest.Bearer(s.issuer.Workload(t))
	members := s.client
	segments := membersv1connect.NewSegmentsServiceClient(http.DefaultClient, s.url, organiser)
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, organiser)
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, organiser)
	asWorkload := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, workload)
	engagementAsWorkload := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, workload)
	accessAsWorkload := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, workload)
	auditClient := auditv1connect.NewAuditServiceClient(http.DefaultClient, s.url, organiser)
	integrations := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, organiser)
	referrals := membersv1connect.NewReferralsServiceClient(http.DefaultClient, s.url, organiser)

	person := func(n string) *membersv1.JoinCommunityRequest {
		return &membersv1.JoinCommunityRequest{Community: "demo", Email: n + "@example.org", DisplayName: n + " Person", EmailConsent: true, Interests: []string{"solar"}}
	}
	names := []string{"ada", "bea", "cai", "dov", "eli", "fay"}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = s.add(t, person(n))
	}
	var pii []string
	for _, n := range append(names, "pub", "imp") {
		pii = append(pii, n+"@example.org", n+" Person")
	}
	var segmentID, keyID, keySecret string

	steps := []struct {
		procedure string
		call      func() error
	}{
		{membersv1connect.MembersServiceJoinCommunityProcedure, func() error {
			_, err := s.anon.JoinCommunity(ctx, connect.NewRequest(person("pub")))
			return err
		}},
		{membersv1connect.MembersServiceConfirmEmailProcedure, func() error {
			pub := s.memberByEmail(t, "pub@example.org")
			_, err := asWorkload.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: "demo", MemberId: pub.GetId(), Email: pub.GetEmail()}))
			return err
		}},
		{membersv1connect.MembersServiceUpdateProfileProcedure, func() error {
			_, err := members.UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{Id: ids["ada"],
				Profile: &membersv1.Profile{DisplayName: "ada Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}))
			return err
		}},
		{membersv1connect.MembersServiceChangeStatusProcedure, func() error {
			_, err := members.ChangeStatus(ctx, connect.NewRequest(&membersv1.ChangeStatusRequest{Id: ids["bea"], Status: membersv1.MemberStatus_MEMBER_STATUS_INACTIVE}))
			return err
		}},
		{membersv1connect.MembersServiceLeaveCommunityProcedure, func() error {
			_, err := members.LeaveCommunity(ctx, connect.NewRequest(&membersv1.LeaveCommunityRequest{Id: ids["cai"]}))
			return err
		}},
		{membersv1connect.MembersServiceRecordConsentProcedure, func() error {
			_, err := members.RecordConsent(ctx, connect.NewRequest(&membersv1.RecordConsentRequest{MemberId: ids["ada"], Purpose: "email.digest",
				Granted: true, Source: "settings-page", PolicyVersion: "v1"}))
			return err
		}},
		{membersv1connect.MembersServiceAssignRoleProcedure, func() error {
			_, err := members.AssignRole(ctx, connect.NewRequest(&membersv1.AssignRoleRequest{MemberId: ids["ada"], Role: "ambassador"}))
			return err
		}},
		{membersv1connect.MembersServiceRevokeRoleProcedure, func() error {
			_, err := members.RevokeRole(ctx, connect.NewRequest(&membersv1.RevokeRoleRequest{MemberId: ids["ada"], Role: "ambassador"}))
			return err
		}},
		{membersv1connect.MembersServiceMergeMembersProcedure, func() error {
			_, err := members.MergeMembers(ctx, connect.NewRequest(&membersv1.MergeMembersRequest{PrimaryId: ids["dov"], DuplicateId: ids["eli"]}))
			return err
		}},
		{membersv1connect.MembersServiceEraseMemberProcedure, func() error {
			_, err := members.EraseMember(ctx, connect.NewRequest(&membersv1.EraseMemberRequest{MemberId: ids["fay"]}))
			return err
		}},
		{membersv1connect.MembersServiceImportMembersProcedure, func() error {
			_, err := importCSV(t, members, "email,display_name\nimp@example.org,imp Person\n", false)
			return err
		}},
		{membersv1connect.SegmentsServiceCreateSegmentProcedure, func() error {
			res, err := segments.CreateSegment(ctx, connect.NewRequest(&membersv1.CreateSegmentRequest{Name: "solar", Filter: &membersv1.SegmentFilter{Interests: []string{"solar"}}}))
			segmentID = res.Msg.GetSegment().GetId()
			return err
		}},
		{membersv1connect.SegmentsServiceDeleteSegmentProcedure, func() error {
			_, err := segments.DeleteSegment(ctx, connect.NewRequest(&membersv1.DeleteSegmentRequest{Id: segmentID}))
			return err
		}},
		{membersv1connect.EngagementServiceRecordActivityProcedure, func() error {
			_, err := engagementAsWorkload.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{Community: "demo", MemberId: ids["ada"],
				Type: "hosted_event", OccurredAt: timestamppb.New(time.Now()), SourceEventId: "audit-1"}))
			return err
		}},
		{membersv1connect.EngagementServiceReviewLevelsProcedure, func() error {
			_, err := engagement.ReviewLevels(ctx, connect.NewRequest(&membersv1.ReviewLevelsRequest{}))
			return err
		}},
		{membersv1connect.EngagementServiceRecomputeLevelsProcedure, func() error {
			_, err := engagement.RecomputeLevels(ctx, connect.NewRequest(&membersv1.RecomputeLevelsRequest{}))
			return err
		}},
		{membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure, func() error {
			_, err := engagement.UpdateCommunitySettings(ctx, connect.NewRequest(&membersv1.UpdateCommunitySettingsRequest{Settings: &membersv1.CommunitySettings{
				ActivityWeights: []*membersv1.ActivityWeight{{Type: "hosted_event", Weight: 10}},
				Levels:          []*membersv1.LevelThreshold{{Name: "Observer", MinScore: 0}}, WindowDays: 90}}))
			return err
		}},
		{membersv1connect.IntegrationsServiceCreateActivitySourceProcedure, func() error {
			_, err := integrations.CreateActivitySource(ctx, connect.NewRequest(&membersv1.CreateActivitySourceRequest{Name: "forum",
				Kind: membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_DISCOURSE}))
			return err
		}},
		{membersv1connect.IntegrationsServiceRotateActivitySourceSecretProcedure, func() error {
			_, err := integrations.RotateActivitySourceSecret(ctx, connect.NewRequest(&membersv1.RotateActivitySourceSecretRequest{Name: "forum"}))
			return err
		}},
		{membersv1connect.IntegrationsServiceRecordActivitiesProcedure, func() error {
			_, err := integrations.RecordActivities(ctx, connect.NewRequest(&membersv1.RecordActivitiesRequest{Activities: []*membersv1.ActivityInput{
				{MemberId: ids["ada"], Type: "hosted_event", OccurredAt: timestamppb.New(time.Now()), SourceEventId: "bulk-1"}}}))
			return err
		}},
		{membersv1connect.IntegrationsServiceImportActivitiesProcedure, func() error {
			stream := integrations.ImportActivities(ctx)
			csv := "type,occurred_at,source_event_id,member_id\nhosted_event," + time.Now().UTC().Format(time.RFC3339) + ",import-1," + ids["ada"] + "\n"
			if err := stream.Send(&membersv1.ImportActivitiesRequest{Chunk: []byte(csv)}); err != nil {
				return err
			}
			res, err := stream.CloseAndReceive()
			if err == nil && res.Msg.GetRecorded() != 1 {
				return fmt.Errorf("import recorded %d", res.Msg.GetRecorded())
			}
			return err
		}},
		{membersv1connect.IntegrationsServiceLinkHandleProcedure, func() error {
			_, err := integrations.LinkHandle(ctx, connect.NewRequest(&membersv1.LinkHandleRequest{MemberId: ids["ada"], Provider: "github", Handle: "ada-gh"}))
			return err
		}},
		{membersv1connect.IntegrationsServiceUnlinkHandleProcedure, func() error {
			_, err := integrations.UnlinkHandle(ctx, connect.NewRequest(&membersv1.UnlinkHandleRequest{MemberId: ids["ada"], Provider: "github"}))
			return err
		}},
		{membersv1connect.IntegrationsServiceDeleteActivitySourceProcedure, func() error {
			_, err := integrations.DeleteActivitySource(ctx, connect.NewRequest(&membersv1.DeleteActivitySourceRequest{Name: "forum"}))
			return err
		}},
		{membersv1connect.ReferralsServiceGetReferralCodeProcedure, func() error {
			_, err := referrals.GetReferralCode(ctx, connect.NewRequest(&membersv1.GetReferralCodeRequest{MemberId: ids["ada"]}))
			return err
		}},
		{membersv1connect.AccessServiceCreateAPIKeyProcedure, func() error {
			res, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "audit", Roles: []string{"staff"}}))
			keyID, keySecret = res.Msg.GetKey().GetId(), res.Msg.GetSecret()
			return err
		}},
		{membersv1connect.AccessServiceVerifyAPIKeyProcedure, func() error {
			_, err := accessAsWorkload.VerifyAPIKey(ctx, connect.NewRequest(&membersv1.VerifyAPIKeyRequest{Key: keySecret}))
			return err
		}},
		{membersv1connect.AccessServiceRevokeAPIKeyProcedure, func() error {
			_, err := access.RevokeAPIKey(ctx, connect.NewRequest(&membersv1.RevokeAPIKeyRequest{Id: keyID}))
			return err
		}},
	}
	done := map[string]bool{}
	for _, step := range steps {
		t.Run(step.procedure, func(t *testing.T) {
			mark := audittest.Mark(t, auditClient, "demo")
			if err := step.call(); err != nil {
				t.Fatal(err)
			}
			mark.Expect(t, step.procedure, catalogue[step.procedure], pii...)
			done[step.procedure] = true
		})
	}
	for procedure := range catalogue {
		if !done[procedure] {
			t.Errorf("%s is in the catalogue but not performed here", procedure)
		}
	}

	// Who is recorded: nobody for the public join, the workload for the
	// confirmation, the key itself for its use.
	res, err := auditClient.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", PageSize: 500}))
	if err != nil {
		t.Fatal(err)
	}
	pub := s.memberByEmail(t, "pub@example.org").GetId()
	actors := map[string]string{}
	for _, e := range res.Msg.GetEntries() {
		if e.GetService() != "members" {
			t.Errorf("entry of service %q", e.GetService())
		}
		if e.GetTargetId() == pub || e.GetAction() == "api_key.used" {
			actors[e.GetAction()] = e.GetActorKind() + ":" + e.GetActorId()
		}
	}
	for action, want := range map[string]string{"member.joined": "anonymous:", "member.email_confirmed": "workload:" + authtest.WorkloadSubject,
		"api_key.used": "api-key:" + keyID} {
		if actors[action] != want {
			t.Errorf("%s recorded as %q, want %q", action, actors[action], want)
		}
	}
}
