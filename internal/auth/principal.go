// Package auth authenticates and authorises every Kinship API call: one
// Connect interceptor shared by every service verifies the caller (an OIDC
// bearer token, an API key, or a workload's token), checks the RPC's policy
// entry, confines the call to the caller's community and rate-limits public
// endpoints.
package auth

import (
	"context"
	"slices"
)

// Role is what a caller may do in a community.
type Role string

// The roles. Every role but PlatformAdmin and Workload is held in one
// community.
const (
	Organiser     Role = "organiser"
	Ambassador    Role = "ambassador"
	Member        Role = "member"
	Staff         Role = "staff"
	PlatformAdmin Role = "platform-admin"
	// Workload is a Kinship component calling another (the worker's
	// activities, a service verifying an API key), with its own narrow
	// policy entries.
	Workload Role = "workload"
)

// AllRoles lists every role, for policy tests.
func AllRoles() []Role {
	return []Role{Organiser, Ambassador, Member, Staff, PlatformAdmin, Workload}
}

// Kind says how a principal authenticated.
type Kind string

// Ways to authenticate.
const (
	KindUser     Kind = "user"
	KindAPIKey   Kind = "api-key"
	KindWorkload Kind = "workload"
)

// Principal is an authenticated caller.
type Principal struct {
	Kind Kind
	// Subject is the token's sub, the API key's id, or the workload's name.
	Subject string
	// Community is the one community the principal acts in; empty for
	// platform admins and workloads, which act in every community the
	// instance serves.
	Community string
	Roles     []Role
	// MemberID is the caller's member record, when the caller is a member.
	MemberID string
}

// Has reports whether p holds role.
func (p Principal) Has(role Role) bool { return slices.Contains(p.Roles, role) }

// crossCommunity reports whether p may act in any community.
func (p Principal) crossCommunity() bool {
	return p.Community == "" && (p.Has(PlatformAdmin) || p.Has(Workload))
}

type principalKey struct{}
type grantKey struct{}

// FromContext returns the caller of the current request, if authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (the interceptor does this; tests of
// handlers may too).
func WithPrincipal(ctx context.Context, p Principal, scope Scope) context.Context {
	return context.WithValue(context.WithValue(ctx, principalKey{}, p), grantKey{}, scope)
}
