package members_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

func membersServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		membersv1.File_kinship_members_v1_members_proto.Services().ByName("MembersService"),
		membersv1.File_kinship_members_v1_segments_proto.Services().ByName("SegmentsService"),
		membersv1.File_kinship_members_v1_engagement_proto.Services().ByName("EngagementService"),
		membersv1.File_kinship_members_v1_access_proto.Services().ByName("AccessService"),
		membersv1.File_kinship_members_v1_integrations_proto.Services().ByName("IntegrationsService"),
		membersv1.File_kinship_members_v1_referrals_proto.Services().ByName("ReferralsService"),
		auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService"),
	}
}

// idFields lists the procedures whose requests name a member, segment or
// key by id.
func idFields() map[string][]string {
	out := map[string][]string{}
	for _, svc := range membersServices() {
		for i := range svc.Methods().Len() {
			m := svc.Methods().Get(i)
			fields := m.Input().Fields()
			for j := range fields.Len() {
				name := string(fields.Get(j).Name())
				if (name == "id" || strings.HasSuffix(name, "_id")) && name != "source_event_id" {
					p := "/" + string(svc.FullName()) + "/" + string(m.Name())
					out[p] = append(out[p], name)
				}
			}
		}
	}
	return out
}

// An organiser of another community, holding demo's ids (leaked, guessed
// or seen in a URL), calls every RPC that takes an id: each is refused as
// not found — the look-up is scoped to their community in the query — and
// nothing of demo's is shown or changed.
func TestIDsOfAnotherCommunityAreNotFound(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	demoOrganiser := s.issuer.For(t, "demo", auth.Organiser)
	ada := s.add(t, validJoin())
	grace := validJoin()
	grace.Email, grace.DisplayName = "grace@example.org", "Grace Hopper"
	graceID := s.add(t, grace)
	segments := membersv1connect.NewSegmentsServiceClient(http.DefaultClient, s.url, authtest.Bearer(demoOrganiser))
	seg, err := segments.CreateSegment(ctx, connect.NewRequest(&membersv1.CreateSegmentRequest{Name: "solar", Filter: &membersv1.SegmentFilter{Interests: []string{"solar"}}}))
	if err != nil {
		t.Fatal(err)
	}
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(demoOrganiser))
	key, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "script", Roles: []string{"staff"}}))
	if err != nil {
		t.Fatal(err)
	}
	segID, keyID := seg.Msg.GetSegment().GetId(), key.Msg.GetKey().GetId()

	// What the other community's organiser sends: demo's ids, each in the
	// field that names it, with whatever else a successful call needs.
	calls := map[string]map[string]any{
		membersv1connect.MembersServiceGetMemberProcedure:      {"id": ada},
		membersv1connect.MembersServiceUpdateProfileProcedure:  {"id": ada, "profile": map[string]any{"displayName": "Owned"}, "updateMask": "displayName"},
		membersv1connect.MembersServiceChangeStatusProcedure:   {"id": ada, "status": "MEMBER_STATUS_INACTIVE"},
		membersv1connect.MembersServiceLeaveCommunityProcedure: {"id": ada},
		membersv1connect.MembersServiceRecordConsentProcedure: {"memberId": ada, "purpose": "email.digest", "granted": true, "source": "form",
			"policyVersion": "v1"},
		membersv1connect.MembersServiceGetConsentsProcedure:         {"memberId": ada},
		membersv1connect.MembersServiceAssignRoleProcedure:          {"memberId": ada, "role": "organiser"},
		membersv1connect.MembersServiceRevokeRoleProcedure:          {"memberId": ada, "role": "member"},
		membersv1connect.MembersServiceMergeMembersProcedure:        {"primaryId": ada, "duplicateId": graceID},
		membersv1connect.MembersServiceExportMemberDataProcedure:    {"memberId": ada},
		membersv1connect.MembersServiceEraseMemberProcedure:         {"memberId": ada},
		membersv1connect.MembersServiceConfirmEmailProcedure:        {"memberId": ada, "email": "ada@example.org"},
		membersv1connect.SegmentsServiceDeleteSegmentProcedure:      {"id": segID},
		membersv1connect.SegmentsServiceCountSegmentProcedure:       {"segmentId": segID},
		membersv1connect.SegmentsServiceListSegmentMembersProcedure: {"segmentId": segID},
		membersv1connect.SegmentsServiceTargetGroupReportProcedure:  {"segmentId": segID},
		membersv1connect.EngagementServiceRecordActivityProcedure: {"memberId": ada, "type": "hosted_event", "occurredAt": time.Now().UTC().Format(time.RFC3339),
			"sourceEventId": "attack-1"},
		membersv1connect.EngagementServiceGetEngagementProcedure:  {"memberId": ada},
		membersv1connect.AccessServiceRevokeAPIKeyProcedure:       {"id": keyID},
		membersv1connect.IntegrationsServiceLinkHandleProcedure:   {"memberId": ada, "provider": "github", "handle": "mallory"},
		membersv1connect.IntegrationsServiceUnlinkHandleProcedure: {"memberId": ada, "provider": "github"},
		membersv1connect.IntegrationsServiceListHandlesProcedure:  {"memberId": ada},
		membersv1connect.ReferralsServiceGetReferralCodeProcedure: {"memberId": ada},
		membersv1connect.ReferralsServiceListReferralsProcedure:   {"memberId": ada},
	}
	for procedure := range idFields() {
		if _, ok := calls[procedure]; !ok && procedure != membersv1connect.MembersServiceExportMembersProcedure {
			t.Errorf("%s takes an id but is not tried with another community's", procedure)
		}
	}

	auditClient := auditv1connect.NewAuditServiceClient(http.DefaultClient, s.url, authtest.Bearer(demoOrganiser))
	mark := audittest.Mark(t, auditClient, "demo")
	otherOrganiser := s.issuer.For(t, "other", auth.Organiser)
	for procedure, body := range calls {
		token := otherOrganiser
		if procedure == membersv1connect.MembersServiceConfirmEmailProcedure {
			token = s.issuer.Workload(t) // only workloads confirm; they name the community
			body["community"] = "other"
		}
		t.Run(procedure, func(t *testing.T) {
			status, _, raw := s.post(t, procedure, token, mustJSON(t, body))
			var e struct{ Code, Message string }
			_ = json.Unmarshal(raw, &e)
			if status == http.StatusOK || e.Code != "not_found" {
				t.Errorf("= %d %s, want not_found", status, raw)
			}
			for _, secret := range []string{"ada@example.org", "Ada Lovelace", "grace@example.org", "Grace Hopper", "solar", "script"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("the answer holds %q: %s", secret, raw)
				}
			}
			if procedure == membersv1connect.MembersServiceConfirmEmailProcedure {
				return
			}
			// Naming demo outright is refused before any look-up.
			body["community"] = "demo"
			if _, _, raw := s.post(t, procedure, otherOrganiser, mustJSON(t, body)); !strings.Contains(string(raw), "permission_denied") {
				t.Errorf("naming demo = %s, want permission_denied", raw)
			}
		})
	}
	t.Run("ExportMembers", func(t *testing.T) {
		c := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(otherOrganiser))
		stream, err := c.ExportMembers(ctx, connect.NewRequest(&membersv1.ExportMembersRequest{SegmentId: segID}))
		if err == nil {
			for stream.Receive() {
				t.Errorf("exported %q", stream.Msg().GetChunk())
			}
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("ExportMembers of demo's segment = %v, want NotFound", err)
		}
	})

	if got := mark.Since(t); len(got) != 0 {
		t.Errorf("demo's audit log gained %v", got)
	}
	m, err := s.client.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: ada}))
	if err != nil || m.Msg.GetMember().GetDisplayName() != "Ada Lovelace" || m.Msg.GetMember().GetStatus() != membersv1.MemberStatus_MEMBER_STATUS_ACTIVE ||
		len(m.Msg.GetMember().GetRoles()) != 0 {
		t.Errorf("Ada after the attempts = %v, %v", m.Msg.GetMember(), err)
	}
	if _, err := s.client.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: graceID})); err != nil {
		t.Errorf("Grace after the attempts: %v", err)
	}
	keys, err := access.ListAPIKeys(ctx, connect.NewRequest(&membersv1.ListAPIKeysRequest{}))
	if err != nil || len(keys.Msg.GetKeys()) != 1 || keys.Msg.GetKeys()[0].GetRevokedAt() != nil {
		t.Errorf("demo's key after the attempts = %v, %v", keys, err)
	}
	if list, err := segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{})); err != nil || len(list.Msg.GetSegments()) != 1 {
		t.Errorf("demo's segments after the attempts = %v, %v", list, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
