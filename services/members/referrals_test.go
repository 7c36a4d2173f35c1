package members_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// Every member has a referral code. Someone who joins with it has the
// referral as their source; once they confirm their address the referrer
// gets one referred_member activity — not before (a public join proves
// nothing), and never twice. The referrer sees when their referrals joined;
// the team sees who they are.
func TestReferralsCountOnceTheNewcomerConfirms(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	ada := s.add(t, validJoin())
	adaToken := authtest.Bearer(s.memberToken(t, "demo", ada))
	asAda := membersv1connect.NewReferralsServiceClient(http.DefaultClient, s.url, adaToken)
	team := membersv1connect.NewReferralsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))

	code, err := asAda.GetReferralCode(ctx, connect.NewRequest(&membersv1.GetReferralCodeRequest{}))
	if err != nil || len(code.Msg.GetCode()) != 12 || code.Msg.GetJoinPath() != "/join/demo?ref="+code.Msg.GetCode() {
		t.Fatalf("code = %v, %v", code, err)
	}
	again, err := asAda.GetReferralCode(ctx, connect.NewRequest(&membersv1.GetReferralCodeRequest{MemberId: ada}))
	if err != nil || again.Msg.GetCode() != code.Msg.GetCode() {
		t.Errorf("the code the second time = %v, %v; want the same", again, err)
	}

	referred := func() []*membersv1.Activity {
		t.Helper()
		res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: ada}))
		if err != nil {
			t.Fatal(err)
		}
		var out []*membersv1.Activity
		for _, a := range res.Msg.GetRecent() {
			if a.GetType() == "referred_member" {
				out = append(out, a)
			}
		}
		return out
	}

	// A public join with the code: nothing counts until the address is confirmed.
	if _, err := s.anon.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: "demo", Email: "bea@example.org",
		DisplayName: "Bea", ReferralCode: code.Msg.GetCode()})); err != nil {
		t.Fatal(err)
	}
	bea := s.memberByEmail(t, "bea@example.org")
	if bea.GetSource().GetKind() != membersv1.SourceKind_SOURCE_KIND_REFERRAL || bea.GetSource().GetReferrerId() != ada {
		t.Errorf("bea's source = %v", bea.GetSource())
	}
	if got := referred(); len(got) != 0 {
		t.Errorf("referrals counted before confirmation: %v", got)
	}
	list, err := asAda.ListReferrals(ctx, connect.NewRequest(&membersv1.ListReferralsRequest{}))
	if err != nil || list.Msg.GetTotal() != 1 || list.Msg.GetCounted() != 0 || list.Msg.GetReferrals()[0].GetCounted() {
		t.Fatalf("ada's referrals before confirmation = %v, %v", list, err)
	}

	workload := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	for range 2 { // the link followed twice
		if _, err := workload.ConfirmEmail(ctx, connect.NewRequest(&membersv1.ConfirmEmailRequest{Community: "demo", MemberId: bea.GetId(), Email: "bea@example.org"})); err != nil {
			t.Fatal(err)
		}
	}
	got := referred()
	if len(got) != 1 || got[0].GetProperties()["referred_member_id"] != bea.GetId() || got[0].GetSourceEventId() != "referral/"+bea.GetId() {
		t.Fatalf("ada's referred_member activities = %v, want one for bea", got)
	}

	// The team adds a newcomer with Ada's code: it counts at once.
	added, err := s.client.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: "demo", Email: "cai@example.org",
		DisplayName: "Cai", ReferralCode: code.Msg.GetCode()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := referred(); len(got) != 2 {
		t.Errorf("ada's referrals after the team added cai = %d, want 2", len(got))
	}

	mine, err := asAda.ListReferrals(ctx, connect.NewRequest(&membersv1.ListReferralsRequest{}))
	if err != nil || mine.Msg.GetTotal() != 2 || mine.Msg.GetCounted() != 2 {
		t.Fatalf("ada's own list = %v, %v", mine, err)
	}
	for _, r := range mine.Msg.GetReferrals() {
		if r.GetMemberId() != "" || r.GetDisplayName() != "" || !r.GetCounted() || r.GetJoinedAt() == nil {
			t.Errorf("ada sees %v; want when each joined and that it counted, not who", r)
		}
	}
	theirs, err := team.ListReferrals(ctx, connect.NewRequest(&membersv1.ListReferralsRequest{MemberId: ada, PageSize: 1}))
	if err != nil || len(theirs.Msg.GetReferrals()) != 1 || theirs.Msg.GetReferrals()[0].GetMemberId() != added.Msg.GetMember().GetId() ||
		theirs.Msg.GetNextPageToken() == "" {
		t.Fatalf("the team's first page = %v, %v", theirs, err)
	}
	next, err := team.ListReferrals(ctx, connect.NewRequest(&membersv1.ListReferralsRequest{MemberId: ada, PageSize: 1, PageToken: theirs.Msg.GetNextPageToken()}))
	if err != nil || len(next.Msg.GetReferrals()) != 1 || next.Msg.GetReferrals()[0].GetDisplayName() != "Bea" {
		t.Errorf("the team's second page = %v, %v", next, err)
	}
	// A member sees only their own.
	if _, err := asAda.ListReferrals(ctx, connect.NewRequest(&membersv1.ListReferralsRequest{MemberId: bea.GetId()})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ada listing bea's referrals = %v", err)
	}

	for name, req := range map[string]*membersv1.JoinCommunityRequest{
		"referral_code": {Community: "demo", Email: "dov@example.org", DisplayName: "Dov", ReferralCode: "aaaaaaaaaaaa"},
		// A public join cannot credit someone by id.
		"source.referrer_id": {Community: "demo", Email: "eli@example.org", DisplayName: "Eli",
			Source: &membersv1.Source{Kind: membersv1.SourceKind_SOURCE_KIND_REFERRAL, ReferrerId: ada}},
	} {
		if _, err := s.anon.JoinCommunity(ctx, connect.NewRequest(req)); !containsField(err, name) {
			t.Errorf("public join naming %s = %v, want InvalidArgument on it", name, err)
		}
	}
	// Another community's organiser cannot use demo's code.
	other := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	if _, err := other.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: "other", Email: "fay@example.org",
		DisplayName: "Fay", ReferralCode: code.Msg.GetCode()})); !containsField(err, "referral_code") {
		t.Errorf("demo's code in other = %v, want InvalidArgument on referral_code", err)
	}
}

// containsField reports whether err is InvalidArgument naming field.
func containsField(err error, field string) bool {
	return connect.CodeOf(err) == connect.CodeInvalidArgument && slices.Contains(rpc.FieldViolations(err), field)
}
