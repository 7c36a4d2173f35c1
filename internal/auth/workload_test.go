package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// A person whose identity provider lets them pick their subject — a
// username, a social login — takes the subject of one of Kinship's
// workloads. Their token must stay a person's: workload rights come only
// from the workload audience, which the provider never gives people.
func TestPeopleTokensWithAWorkloadSubjectGetNoWorkloadRights(t *testing.T) {
	f := newIssuer(t)
	ctx := context.Background()
	const workerSubject = "kinship-worker"

	tests := []struct {
		name   string
		claims localissuer.Claims
		// wantUser: the token verifies as a plain user with these roles;
		// nil: the token is refused.
		wantUser []Role
	}{
		{"a member token with the worker's subject", localissuer.Claims{Subject: workerSubject, Community: "demo", Roles: []string{"member"}}, []Role{Member}},
		{"claiming the workload role too", localissuer.Claims{Subject: workerSubject, Community: "demo", Roles: []string{"workload", "member"}}, []Role{Member}},
		{"both audiences at once", localissuer.Claims{Subject: workerSubject, MoreAudiences: []string{"kinship-workload"}, Community: "demo", Roles: []string{"member"}}, []Role{Member}},
		{"the worker's subject and no community", localissuer.Claims{Subject: workerSubject}, nil},
		{"the workload audience for an unknown subject", localissuer.Claims{Subject: "intruder", Audience: "kinship-workload", Community: "demo", Roles: []string{"organiser"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.verifier.Verify(ctx, f.mint(t, tt.claims))
			if tt.wantUser == nil {
				if err == nil {
					t.Fatalf("accepted as %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != KindUser || p.Has(Workload) || p.crossCommunity() || p.Community != "demo" || len(p.Roles) != len(tt.wantUser) || p.Roles[0] != tt.wantUser[0] {
				t.Errorf("principal = %+v; want a user of demo with %v and no workload rights", p, tt.wantUser)
			}
		})
	}

	// Through the interceptor: an RPC only workloads may call refuses the
	// person, and admits the real workload.
	const verify = "/kinship.members.v1.AccessService/VerifyAPIKey"
	i := NewInterceptor(Options{Tokens: f.verifier, Logger: slog.New(slog.DiscardHandler),
		Policy: Policy{verify: {Grants: map[Role]Scope{Workload: ScopeCommunity}}}})
	impostor := "Bearer " + f.mint(t, localissuer.Claims{Subject: workerSubject, Community: "demo", Roles: []string{"member"}})
	if _, _, err := i.admit(ctx, verify, impostor, "192.0.2.1", &membersv1.VerifyAPIKeyRequest{}, time.Second); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a person with the worker's subject calling a workload RPC = %v, want PermissionDenied", err)
	}
	worker := "Bearer " + f.mint(t, localissuer.Claims{Subject: workerSubject, Audience: "kinship-workload"})
	_, cancel, err := i.admit(ctx, verify, worker, "192.0.2.1", &membersv1.VerifyAPIKeyRequest{}, time.Second)
	if err != nil {
		t.Fatalf("the worker's own token refused: %v", err)
	}
	cancel()
}
