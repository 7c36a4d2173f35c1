package members_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/rpc"
)

func TestAPIKeyLifecycleIsAudited(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))

	created, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "nightly import", Roles: []string{"staff", "staff"}}))
	if err != nil {
		t.Fatal(err)
	}
	secret, key := created.Msg.GetSecret(), created.Msg.GetKey()
	if !strings.HasPrefix(secret, "kinship_"+key.GetPrefix()+"_") || key.GetCommunity() != "demo" || !slices.Equal(key.GetRoles(), []string{"staff"}) {
		t.Fatalf("created %v with secret prefix %q", key, secret[:20])
	}

	withKey := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(secret))
	if _, err := withKey.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{})); err != nil {
		t.Fatalf("staff key cannot list members: %v", err)
	}
	if _, err := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(secret)).
		ListAPIKeys(ctx, connect.NewRequest(&membersv1.ListAPIKeysRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("staff key listing keys = %v, want PermissionDenied", err)
	}

	listed, err := access.ListAPIKeys(ctx, connect.NewRequest(&membersv1.ListAPIKeysRequest{}))
	if err != nil || len(listed.Msg.GetKeys()) != 1 {
		t.Fatalf("ListAPIKeys = %v, %v", listed, err)
	}
	if listed.Msg.GetKeys()[0].GetLastUsedAt() == nil {
		t.Error("last use of the key not recorded")
	}

	revoked, err := access.RevokeAPIKey(ctx, connect.NewRequest(&membersv1.RevokeAPIKeyRequest{Id: key.GetId()}))
	if err != nil || revoked.Msg.GetKey().GetRevokedAt() == nil {
		t.Fatalf("RevokeAPIKey = %v, %v", revoked, err)
	}
	if _, err := access.RevokeAPIKey(ctx, connect.NewRequest(&membersv1.RevokeAPIKeyRequest{Id: key.GetId()})); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := withKey.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("revoked key = %v, want Unauthenticated", err)
	}

	entries, err := access.ListAuditEntries(ctx, connect.NewRequest(&membersv1.ListAuditEntriesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries.Msg.GetEntries() {
		actions = append(actions, e.GetAction())
		wantActor, wantID := "user", "test-demo"
		if e.GetAction() == "api_key.used" {
			wantActor, wantID = "api-key", key.GetId() // the key itself, at most once a minute
		}
		if e.GetTargetId() != key.GetId() || e.GetActorKind() != wantActor || e.GetActorId() != wantID {
			t.Errorf("audit entry %v", e)
		}
	}
	if !slices.Equal(actions, []string{"api_key.revoked", "api_key.used", "api_key.created"}) {
		t.Errorf("audit actions = %v, want the creation, one use and the revocation, newest first", actions)
	}
}

func TestAPIKeysCannotCarryPlatformRoles(t *testing.T) {
	s := start(t)
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	for name, roles := range map[string][]string{"none": nil, "platform-admin": {"platform-admin"}, "workload": {"workload"}, "made up": {"owner"}} {
		_, err := access.CreateAPIKey(context.Background(), connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "k", Roles: roles}))
		if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{"roles"}) {
			t.Errorf("%s: error = %v, want InvalidArgument on roles", name, err)
		}
	}
}

func TestMembersReadOnlyTheirOwnRecord(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	ada, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	other := validJoin()
	other.Email = "grace@example.org"
	grace, err := s.client.JoinCommunity(ctx, connect.NewRequest(other))
	if err != nil {
		t.Fatal(err)
	}
	adaID := ada.Msg.GetMember().GetId()
	for _, role := range []auth.Role{auth.Member, auth.Ambassador} {
		tok := s.issuer.Token(t, localissuer.Claims{Subject: "ada", Community: "demo", Roles: []string{string(role)}, MemberID: adaID})
		c := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(tok))
		if _, err := c.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: adaID})); err != nil {
			t.Errorf("%s reading their own record: %v", role, err)
		}
		_, err := c.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: grace.Msg.GetMember().GetId()}))
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("%s reading another member = %v, want PermissionDenied", role, err)
		}
	}
}

func localClaims(subject string, role auth.Role, memberID string) localissuer.Claims {
	return localissuer.Claims{Subject: subject, Community: "demo", Roles: []string{string(role)}, MemberID: memberID}
}
