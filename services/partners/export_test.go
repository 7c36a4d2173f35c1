package partners_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// A member's subject-access export holds the relationships they own, the
// interactions they took part in and the contributions they made — never
// the team's notes; a member reads only their own.
func TestExportMemberDataHoldsWhatIsTheirs(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(),
		Partner: &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{OwnerId: "member-7"}}, UpdateMask: mask("stakeholder.owner_id")})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{PartnerId: p.GetId(),
		Kind: partnersv1.InteractionKind_INTERACTION_KIND_MEETING, OccurredAt: timestamppb.New(s.clock.Now()), OrganiserIds: []string{"member-7"},
		Notes: "Talked budgets with their treasurer"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: p.GetId(),
		Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 90, MemberId: "member-7"})); err != nil {
		t.Fatal(err)
	}
	as := func(member string) partnersv1connect.PartnersServiceClient {
		return partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Token(t, localissuer.Claims{
			Subject: "u-" + member, Community: "demo", Roles: []string{string(auth.Member)}, MemberID: member})))
	}
	res, err := as("member-7").ExportMemberData(ctx, connect.NewRequest(&partnersv1.ExportMemberDataRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Owned         []struct{ Name string } `json:"owned_partners"`
		Interactions  []struct{ Kind string } `json:"interactions"`
		Contributions []struct {
			VolunteerMinutes int64 `json:"volunteer_minutes"`
		} `json:"contributions"`
	}
	if err := json.Unmarshal(res.Msg.GetJson(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Owned) != 1 || doc.Owned[0].Name != "Solar Co-op" || len(doc.Interactions) != 1 || len(doc.Contributions) != 1 ||
		doc.Contributions[0].VolunteerMinutes != 90 || strings.Contains(string(res.Msg.GetJson()), "treasurer") {
		t.Errorf("member-7's export = %s", res.Msg.GetJson())
	}
	if _, err := as("m-1").ExportMemberData(ctx, connect.NewRequest(&partnersv1.ExportMemberDataRequest{MemberId: "member-7"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("another member's export = %v, want PermissionDenied", err)
	}
	if _, err := s.partners.ExportMemberData(ctx, connect.NewRequest(&partnersv1.ExportMemberDataRequest{MemberId: "member-7"})); err != nil {
		t.Errorf("the organiser's export = %v", err)
	}
	other := partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	if res, err := other.ExportMemberData(ctx, connect.NewRequest(&partnersv1.ExportMemberDataRequest{Community: "other", MemberId: "member-7"})); err != nil ||
		strings.Contains(string(res.Msg.GetJson()), "Solar") {
		t.Errorf("other's export naming member-7 = %v, %v", res, err)
	}
}
