package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

type issuerFixture struct {
	issuer   *localissuer.Issuer
	verifier *TokenVerifier
	fetches  *int
}

func newIssuer(t testing.TB) *issuerFixture {
	t.Helper()
	fetches := 0
	var iss *localissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "jwks.json") {
			fetches++
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	if iss, err = localissuer.New(srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	v, err := NewTokenVerifier(TokenConfig{Issuer: srv.URL, Audience: "kinship", WorkloadSubjects: []string{"kinship-worker"}, WorkloadAudience: "kinship-workload"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return &issuerFixture{issuer: iss, verifier: v, fetches: &fetches}
}

func (f *issuerFixture) mint(t *testing.T, c localissuer.Claims) string {
	t.Helper()
	if c.Audience == "" {
		c.Audience = "kinship"
	}
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	tok, err := f.issuer.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenVerification(t *testing.T) {
	f := newIssuer(t)
	other := newIssuer(t)
	ctx := context.Background()
	organiser := localissuer.Claims{Subject: "u1", Community: "demo", Roles: []string{"organiser", "made-up"}}

	p, err := f.verifier.Verify(ctx, f.mint(t, organiser))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != KindUser || p.Subject != "u1" || p.Community != "demo" || len(p.Roles) != 1 || p.Roles[0] != Organiser {
		t.Errorf("principal = %+v; unknown roles must be dropped", p)
	}

	tests := map[string]string{
		"expired beyond the skew": f.mint(t, localissuer.Claims{Subject: "u1", Community: "demo", Roles: []string{"member"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong audience":          f.mint(t, localissuer.Claims{Subject: "u1", Community: "demo", Audience: "someone-else"}),
		"another issuer":          other.mint(t, organiser),
		"no community":            f.mint(t, localissuer.Claims{Subject: "u1", Roles: []string{"organiser"}}),
		"tampered":                f.mint(t, organiser) + "x",
		"not a jwt":               "hello",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := f.verifier.Verify(ctx, tok); err == nil {
				t.Error("accepted")
			}
		})
	}

	within := f.mint(t, localissuer.Claims{Subject: "u1", Community: "demo", IssuedAt: time.Now().Add(-time.Hour - 30*time.Second), TTL: time.Hour})
	if _, err := f.verifier.Verify(ctx, within); err != nil {
		t.Errorf("token expired 30 s ago rejected within the one-minute skew: %v", err)
	}

	admin, err := f.verifier.Verify(ctx, f.mint(t, localissuer.Claims{Subject: "root", Community: "demo", Roles: []string{"platform-admin"}}))
	if err != nil || admin.Community != "" || !admin.crossCommunity() {
		t.Errorf("platform admin = %+v, %v; want cross-community", admin, err)
	}
	w, err := f.verifier.Verify(ctx, f.mint(t, localissuer.Claims{Subject: "kinship-worker", Audience: "kinship-workload", Roles: []string{"organiser"}}))
	if err != nil || w.Kind != KindWorkload || len(w.Roles) != 1 || w.Roles[0] != Workload {
		t.Errorf("workload = %+v, %v; want the workload role only", w, err)
	}
	intruder, err := f.verifier.Verify(ctx, f.mint(t, localissuer.Claims{Subject: "intruder", Community: "demo", Roles: []string{"workload"}}))
	if err != nil || intruder.Has(Workload) || intruder.Kind != KindUser {
		t.Errorf("token claiming the workload role for an unconfigured subject = %+v, %v; want a plain user", intruder, err)
	}
}

func TestJWKSRotationNeedsNoRestart(t *testing.T) {
	f := newIssuer(t)
	ctx := context.Background()
	claims := localissuer.Claims{Subject: "u1", Community: "demo", Roles: []string{"member"}}
	old := f.mint(t, claims)
	if _, err := f.verifier.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	fetchesBefore := *f.fetches
	for range 3 {
		if _, err := f.verifier.Verify(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	if *f.fetches != fetchesBefore {
		t.Errorf("JWKS fetched again for a cached key (%d → %d)", fetchesBefore, *f.fetches)
	}

	if err := f.issuer.Rotate(); err != nil {
		t.Fatal(err)
	}
	rotated := f.mint(t, claims)
	if _, err := f.verifier.Verify(ctx, rotated); err != nil {
		t.Fatalf("token signed with the new key rejected: %v", err)
	}
	if *f.fetches != fetchesBefore+1 {
		t.Errorf("JWKS fetches after rotation = %d, want one more than %d", *f.fetches, fetchesBefore)
	}
	if _, err := f.verifier.Verify(ctx, old); err != nil {
		t.Errorf("token signed with the previous, still published key rejected: %v", err)
	}
}

func TestNewTokenVerifierRefusesUnsafeConfig(t *testing.T) {
	for name, cfg := range map[string]TokenConfig{
		"no issuer":     {Audience: "kinship"},
		"no audience":   {Issuer: "https://idp.example.org"},
		"huge skew":     {Issuer: "https://idp.example.org", Audience: "kinship", ClockSkew: time.Hour},
		"bad issuer":    {Issuer: "idp.example.org", Audience: "kinship"},
		"negative skew": {Issuer: "https://idp.example.org", Audience: "kinship", ClockSkew: -time.Second},
		"workload subjects without a workload audience": {Issuer: "https://idp.example.org", Audience: "kinship", WorkloadSubjects: []string{"kinship-worker"}},
		"workload audience that people's tokens carry": {Issuer: "https://idp.example.org", Audience: "kinship", WorkloadSubjects: []string{"kinship-worker"},
			WorkloadAudience: "kinship"},
		"workload issuer without subjects": {Issuer: "https://idp.example.org", Audience: "kinship", WorkloadIssuer: "https://k8s.example.org",
			WorkloadAudience: "kinship-workload"},
	} {
		if _, err := NewTokenVerifier(cfg, http.DefaultClient); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

const (
	getMember = "/kinship.members.v1.MembersService/GetMember"
	join      = "/kinship.members.v1.MembersService/JoinCommunity"
)

func testInterceptor(f *issuerFixture, limits Limits) *Interceptor {
	return NewInterceptor(Options{
		Tokens: f.verifier,
		Logger: slog.New(slog.DiscardHandler),
		Limits: limits,
		Policy: Policy{
			getMember: {Grants: map[Role]Scope{Organiser: ScopeCommunity, Member: ScopeSelf}},
			join:      {Public: true},
		},
	})
}

func TestAdmit(t *testing.T) {
	f := newIssuer(t)
	i := testInterceptor(f, Limits{})
	ctx := context.Background()
	organiser := "Bearer " + f.mint(t, localissuer.Claims{Subject: "o", Community: "demo", Roles: []string{"organiser"}})
	member := "Bearer " + f.mint(t, localissuer.Claims{Subject: "m", Community: "demo", Roles: []string{"member"}, MemberID: "m1"})
	staffElsewhere := "Bearer " + f.mint(t, localissuer.Claims{Subject: "s", Community: "other", Roles: []string{"organiser"}})
	ambassador := "Bearer " + f.mint(t, localissuer.Claims{Subject: "a", Community: "demo", Roles: []string{"ambassador"}})

	tests := []struct {
		name, procedure, authorization string
		msg                            any
		want                           connect.Code // 0: admitted
	}{
		{"no credentials", getMember, "", &membersv1.GetMemberRequest{Community: "demo"}, connect.CodeUnauthenticated},
		{"not bearer", getMember, "Basic dTpw", &membersv1.GetMemberRequest{Community: "demo"}, connect.CodeUnauthenticated},
		{"organiser", getMember, organiser, &membersv1.GetMemberRequest{Community: "demo"}, 0},
		{"organiser of another community", getMember, staffElsewhere, &membersv1.GetMemberRequest{Community: "demo"}, connect.CodePermissionDenied},
		{"role without a grant", getMember, ambassador, &membersv1.GetMemberRequest{Community: "demo"}, connect.CodePermissionDenied},
		{"unknown procedure", "/kinship.members.v1.MembersService/DeleteEverything", organiser, nil, connect.CodePermissionDenied},
		{"public without credentials", join, "", &membersv1.JoinCommunityRequest{Community: "demo"}, 0},
		{"public with another community's token", join, staffElsewhere, &membersv1.JoinCommunityRequest{Community: "demo"}, connect.CodePermissionDenied},
		{"public with a bad token", join, "Bearer nonsense", &membersv1.JoinCommunityRequest{Community: "demo"}, connect.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cancel, err := i.admit(ctx, tt.procedure, tt.authorization, "192.0.2.1:1234", tt.msg, time.Second)
			if cancel != nil {
				cancel()
			}
			if got := connect.CodeOf(err); (err == nil && tt.want != 0) || (err != nil && got != tt.want) {
				t.Errorf("admit = %v, want code %v", err, tt.want)
			}
		})
	}

	t.Run("community defaults to the token's", func(t *testing.T) {
		req := &membersv1.GetMemberRequest{Id: "m1"}
		actx, cancel, err := i.admit(ctx, getMember, member, "192.0.2.1:1234", req, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if req.GetCommunity() != "demo" {
			t.Errorf("community = %q, want the token's", req.GetCommunity())
		}
		if err := RequireTarget(actx, "m1"); err != nil {
			t.Errorf("member reading their own record: %v", err)
		}
		if err := RequireTarget(actx, "m2"); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("member reading another's record = %v, want PermissionDenied", err)
		}
	})
}

func TestPublicEndpointsAreRateLimitedPerIPAndPerToken(t *testing.T) {
	f := newIssuer(t)
	i := testInterceptor(f, Limits{PerIP: 1, PerToken: 1, Burst: 3})
	admitted := func(authorization, peer string) bool {
		_, cancel, err := i.admit(context.Background(), join, authorization, peer, &membersv1.JoinCommunityRequest{Community: "demo"}, time.Second)
		if cancel != nil {
			cancel()
		}
		if err != nil && connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("unexpected error %v", err)
		}
		return err == nil
	}
	n := 0
	for admitted("", "198.51.100.7:5000") {
		n++
		if n > 10 {
			t.Fatal("no limit per IP")
		}
	}
	if n != 3 {
		t.Errorf("admitted %d calls from one IP, want the burst of 3", n)
	}
	if !admitted("", "198.51.100.8:5000") {
		t.Error("another IP was limited too")
	}
	tok := "Bearer " + f.mint(t, localissuer.Claims{Subject: "bot", Community: "demo", Roles: []string{"member"}})
	n = 0
	for i := 0; i < 10 && admitted(tok, fmt.Sprintf("203.0.113.%d:1", i+1)); i++ {
		n++
	}
	if n != 3 {
		t.Errorf("admitted %d calls for one token across IPs, want 3", n)
	}
}

func TestGrantedCallersSkipPublicLimits(t *testing.T) {
	f := newIssuer(t)
	i := NewInterceptor(Options{Tokens: f.verifier, Logger: slog.New(slog.DiscardHandler), Limits: Limits{PerIP: 1, PerToken: 1, Burst: 1},
		Policy: Policy{join: {Public: true, Grants: map[Role]Scope{Organiser: ScopeCommunity}}}})
	organiser := "Bearer " + f.mint(t, localissuer.Claims{Subject: "o", Community: "demo", Roles: []string{"organiser"}})
	for n := range 20 {
		_, cancel, err := i.admit(context.Background(), join, organiser, "192.0.2.1:1", &membersv1.JoinCommunityRequest{Community: "demo"}, time.Second)
		if err != nil {
			t.Fatalf("organiser import call %d refused: %v", n, err)
		}
		cancel()
	}
}

func TestAPIKeys(t *testing.T) {
	k, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := ParseAPIKey(k.Plain)
	if err != nil || prefix != k.Prefix {
		t.Fatalf("ParseAPIKey = %q, %v; want %q", prefix, err, k.Prefix)
	}
	if !IsAPIKey(k.Plain) || !HashMatches(k.Plain, k.Hash) || HashMatches(k.Plain+"x", k.Hash) {
		t.Error("key does not match its own hash, or matches another")
	}
	if strings.Contains(k.Hash, k.Plain[len(k.Plain)-32:]) {
		t.Error("hash contains the secret")
	}
	for _, bad := range []string{"", "kinship_", "kinship_abc_def", "other_" + k.Plain} {
		if _, err := ParseAPIKey(bad); err == nil {
			t.Errorf("ParseAPIKey(%q) accepted", bad)
		}
	}
}

func TestWorkloadIssuerIsTrustedForWorkloadsOnly(t *testing.T) {
	people := newIssuer(t)
	cluster := newIssuer(t) // stands in for the Kubernetes service-account issuer
	v, err := NewTokenVerifier(TokenConfig{
		Issuer: people.issuer.URL(), Audience: "kinship",
		WorkloadIssuer: cluster.issuer.URL(), WorkloadAudience: "kinship-workload",
		WorkloadSubjects: []string{"system:serviceaccount:kinship-demo:kinship"},
	}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sa := cluster.mint(t, localissuer.Claims{Subject: "system:serviceaccount:kinship-demo:kinship", Audience: "kinship-workload"})
	p, err := v.Verify(ctx, sa)
	if err != nil || p.Kind != KindWorkload || !p.Has(Workload) {
		t.Fatalf("service-account token = %+v, %v; want a workload", p, err)
	}
	for name, tok := range map[string]string{
		"another service account": cluster.mint(t, localissuer.Claims{Subject: "system:serviceaccount:default:default", Audience: "kinship-workload"}),
		"person's audience":       cluster.mint(t, localissuer.Claims{Subject: "system:serviceaccount:kinship-demo:kinship", Audience: "kinship"}),
		"organiser from cluster":  cluster.mint(t, localissuer.Claims{Subject: "x", Audience: "kinship-workload", Community: "demo", Roles: []string{"organiser"}}),
	} {
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if p, err := v.Verify(ctx, people.mint(t, localissuer.Claims{Subject: "u", Community: "demo", Roles: []string{"organiser"}})); err != nil || !p.Has(Organiser) {
		t.Errorf("people's token = %+v, %v", p, err)
	}
}
