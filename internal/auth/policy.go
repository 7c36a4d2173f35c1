package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Scope is how far a role's grant on one RPC reaches.
type Scope int

// Scopes, narrowest first.
const (
	// ScopeNone grants nothing.
	ScopeNone Scope = iota
	// ScopeSelf reaches only the caller's own records: the handler checks
	// the target with RequireTarget.
	ScopeSelf
	// ScopeCommunity reaches everything in the caller's community.
	ScopeCommunity
)

// Rule is the policy entry of one RPC.
type Rule struct {
	// Public RPCs may be called without credentials (join, unsubscribe);
	// they are rate-limited per IP and per token. Credentials, when sent,
	// are still verified and confined to their community.
	Public bool
	// Grants says which roles may call the RPC, and how far.
	Grants map[Role]Scope
}

// Policy maps each procedure (such as
// "/kinship.members.v1.MembersService/GetMember") to its rule. A procedure
// without an entry is refused.
type Policy map[string]Rule

// Merge returns a policy holding the entries of p and others.
func (p Policy) Merge(others ...Policy) Policy {
	out := Policy{}
	for _, src := range append([]Policy{p}, others...) {
		for k, v := range src {
			out[k] = v
		}
	}
	return out
}

// Missing returns the procedures of services that have no policy entry.
func (p Policy) Missing(services ...protoreflect.ServiceDescriptor) []string {
	var missing []string
	for _, svc := range services {
		methods := svc.Methods()
		for i := range methods.Len() {
			procedure := "/" + string(svc.FullName()) + "/" + string(methods.Get(i).Name())
			if _, ok := p[procedure]; !ok {
				missing = append(missing, procedure)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// scopeFor returns the widest scope any of p's roles holds under r.
func (r Rule) scopeFor(p Principal) Scope {
	best := ScopeNone
	for _, role := range p.Roles {
		if s := r.Grants[role]; s > best {
			best = s
		}
	}
	return best
}

// ErrNotYours is returned by RequireTarget when a self-scoped caller asks
// for someone else's record.
var ErrNotYours = errors.New("callers with this role may only act on their own record")

// RequireTarget lets the call go on when the caller may act on the member
// memberID: always with a community-wide grant, only for their own record
// with a self grant.
func RequireTarget(ctx context.Context, memberID string) error {
	p, ok := FromContext(ctx)
	if !ok {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("no credentials"))
	}
	scope, _ := ctx.Value(grantKey{}).(Scope)
	switch {
	case scope == ScopeCommunity:
		return nil
	case scope == ScopeSelf && p.MemberID != "" && p.MemberID == memberID:
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w", ErrNotYours))
}

// Confine is for calls whose request the interceptor cannot read (streams):
// it returns the community the call acts in — the caller's when community
// is empty — or PermissionDenied when the caller belongs elsewhere.
func Confine(ctx context.Context, community string) (string, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("no credentials"))
	}
	switch {
	case p.crossCommunity():
		return community, nil
	case community == "":
		return p.Community, nil
	case community != p.Community:
		return "", connect.NewError(connect.CodePermissionDenied, errors.New("your credentials are for another community"))
	}
	return community, nil
}

// ScopeOf returns how far the caller's grant on the current call reaches:
// ScopeNone for anonymous callers, and for callers a public RPC admits
// without a grant of their own.
func ScopeOf(ctx context.Context) Scope {
	scope, _ := ctx.Value(grantKey{}).(Scope)
	return scope
}
