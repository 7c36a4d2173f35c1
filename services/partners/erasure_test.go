package partners_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

func TestForgetMemberUnlinksTheirContributionsOnce(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Repair Guild")
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "member-8")
	for _, member := range []string{"member-7", "member-7", "member-8"} {
		if _, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: p.GetId(),
			Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 90, MemberId: member})); err != nil {
			t.Fatal(err)
		}
	}
	worker := partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	first, err := worker.ForgetMember(ctx, connect.NewRequest(&partnersv1.ForgetMemberRequest{Community: "demo", MemberId: "member-7"}))
	if err != nil {
		t.Fatal(err)
	}
	if first.Msg.GetContributionsUnlinked() != 2 || first.Msg.GetForgottenAt() == nil {
		t.Errorf("first ForgetMember = %v, want 2 contributions unlinked", first.Msg)
	}
	if n := s.count(t, "contributions WHERE member_id = 'member-7'"); n != 0 {
		t.Errorf("contributions still naming the member: %d", n)
	}
	if n := s.count(t, "contributions"); n != 3 {
		t.Errorf("contributions = %d, want all 3 kept for the partner's totals", n)
	}
	if n := s.count(t, "contributions WHERE member_id = 'member-8'"); n != 1 {
		t.Errorf("another member's contributions = %d, want untouched", n)
	}
	again, err := worker.ForgetMember(ctx, connect.NewRequest(&partnersv1.ForgetMemberRequest{Community: "demo", MemberId: "member-7"}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Msg.GetContributionsUnlinked() != 0 {
		t.Errorf("second ForgetMember = %v, want nothing more unlinked", again.Msg)
	}
	if n := s.count(t, "audit_log WHERE action = 'member.forgotten' AND target_id = 'member-7' AND actor_kind = 'workload'"); n != 2 {
		t.Errorf("audit entries = %d, want one per call", n)
	}
}

func TestForgetMemberRefusesBadInput(t *testing.T) {
	s := start(t)
	worker := partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	for name, req := range map[string]*partnersv1.ForgetMemberRequest{
		"no member":         {Community: "demo"},
		"unknown community": {Community: "elsewhere", MemberId: "member-7"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := worker.ForgetMember(context.Background(), connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("ForgetMember(%v) = %v, want InvalidArgument", req, err)
			}
		})
	}
}
