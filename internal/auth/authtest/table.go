package authtest

import (
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// Table is a service's access table, written out by hand: for each
// procedure, the outcome each caller gets.
type Table map[string]map[string]string

// Row is one procedure's row: the outcomes for an anonymous caller, an
// organiser (and an organiser's API key, where the service takes keys),
// staff, an ambassador, a member, a platform admin and a workload. An
// expired token and one for another audience are always
// Unauthenticated, another community's organiser always Denied.
func Row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": Unauthenticated, "wrong-audience": Unauthenticated, "other-community": Denied,
		"api-key": organiser, "organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

// Callers are the columns of a Table, in order; withAPIKey adds the
// organiser's API key.
func Callers(withAPIKey bool) []string {
	callers := []string{"none", "expired", "wrong-audience", "other-community"}
	if withAPIKey {
		callers = append(callers, "api-key")
	}
	return append(callers, "organiser", "staff", "ambassador", "member", "platform-admin", "workload")
}

// Tokens are a bearer token for each caller of Callers but "none" and
// "api-key", for community; the role tokens name memberID as the
// caller's member record.
func (i *Issuer) Tokens(t testing.TB, community, memberID string) map[string]string {
	t.Helper()
	tokens := map[string]string{
		"expired": i.Token(t, localissuer.Claims{Subject: "late", Community: community, Roles: []string{string(auth.Organiser)},
			IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  i.Token(t, localissuer.Claims{Subject: "x", Community: community, Roles: []string{string(auth.Organiser)}, Audience: "another-app"}),
		"other-community": i.For(t, "other-"+community, auth.Organiser),
		"platform-admin":  i.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        i.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = i.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: community,
			Roles: []string{string(role)}, MemberID: memberID})
	}
	return tokens
}

// CheckCovered fails t unless every procedure of services has an entry in
// policy and a row in table, and neither holds anything else: a new RPC
// cannot go unguarded or untested, nor a removed one linger.
func CheckCovered(t *testing.T, policy auth.Policy, table Table, services ...protoreflect.ServiceDescriptor) {
	t.Helper()
	if missing := policy.Missing(services...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	procedures := map[string]bool{}
	for _, svc := range services {
		for i := range svc.Methods().Len() {
			procedure := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
			procedures[procedure] = true
			if _, ok := table[procedure]; !ok {
				t.Errorf("%s has no row in the guard table", procedure)
			}
		}
	}
	for procedure := range table {
		if !procedures[procedure] {
			t.Errorf("the guard table has a row for %s, which the services do not have", procedure)
		}
	}
	for procedure := range policy {
		if !procedures[procedure] {
			t.Errorf("the policy has an entry for %s, which the services do not have", procedure)
		}
	}
}
