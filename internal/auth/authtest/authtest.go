// Package authtest runs a local OIDC issuer for tests and mints tokens for
// each kind of caller.
package authtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// Audience is the audience test services expect.
const Audience = "kinship"

// WorkloadSubject is the subject test workloads present.
const WorkloadSubject = "kinship-test-workload"

// WorkloadAudience is the audience of test workloads' tokens, which
// people's tokens never carry.
const WorkloadAudience = "kinship-workload"

// Issuer is a running test issuer.
type Issuer struct {
	*localissuer.Issuer
}

// Start serves a fresh issuer for the test.
func Start(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	li, err := localissuer.New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = li.Handler()
	iss.Issuer = li
	return iss
}

// Config is the token configuration services under test trust.
func (i *Issuer) Config() auth.TokenConfig {
	return auth.TokenConfig{Issuer: i.URL(), Audience: Audience, WorkloadSubjects: []string{WorkloadSubject}, WorkloadAudience: WorkloadAudience}
}

// Token mints a token valid for an hour.
func (i *Issuer) Token(t testing.TB, c localissuer.Claims) string {
	t.Helper()
	if c.Audience == "" {
		c.Audience = Audience
	}
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	tok, err := i.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// For mints a token for subject holding roles in community.
func (i *Issuer) For(t testing.TB, community string, roles ...auth.Role) string {
	t.Helper()
	names := make([]string, len(roles))
	for j, r := range roles {
		names[j] = string(r)
	}
	return i.Token(t, localissuer.Claims{Subject: "test-" + community, Community: community, Roles: names})
}

// Workload mints the test workload's token.
func (i *Issuer) Workload(t testing.TB) string {
	t.Helper()
	return i.Token(t, localissuer.Claims{Subject: WorkloadSubject, Audience: WorkloadAudience})
}

// WorkloadTokens is the test workload's token source.
func (i *Issuer) WorkloadTokens() auth.TokenSource {
	return i.TokenSource(localissuer.Claims{Subject: WorkloadSubject, Audience: WorkloadAudience, TTL: time.Hour})
}

// Bearer makes a Connect client send token on every call.
func Bearer(token string) connect.ClientOption {
	return connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(token)))
}
