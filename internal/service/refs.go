package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// Refs checks that the ids a caller names — an event's hosts, a
// contribution's member, an event's partner — are records of the
// caller's community in the Kinship service that owns them, asking that
// service with this workload's credentials. The owner scopes every look-up
// by community, so another community's id is as unknown as an id of
// nobody. A nil *Refs has no service to ask: every check fails with
// ErrRefsNotConfigured, so an unchecked id is never accepted.
type Refs struct {
	what   string
	exists Exists
}

// Exists reports whether id is a current record of community; an error
// means the owner could not be asked.
type Exists func(ctx context.Context, community, id string) (bool, error)

// ErrRefsNotConfigured means the service that owns an id is not
// configured here, so ids of it cannot be checked.
var ErrRefsNotConfigured = errors.New("the service that owns these ids is not configured here")

// NewRefs checks ids of what (such as "partner") with exists.
func NewRefs(what string, exists Exists) *Refs { return &Refs{what: what, exists: exists} }

// Unknown returns those of ids (in order, once each) that are not current
// records of community. An error means the owning service could not
// answer; it carries Connect code Unavailable and no detail of the
// owner's answer.
func (r *Refs) Unknown(ctx context.Context, community string, ids ...string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if r == nil {
		return nil, ErrRefsNotConfigured
	}
	var unknown []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		ok, err := r.exists(ctx, community, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The owner's own message stays out: it is not the caller's to read.
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("could not check %s ids with the service that owns them (%s)", r.what, connect.CodeOf(err)))
		}
		if !ok {
			unknown = append(unknown, id)
		}
	}
	return unknown, nil
}

// Check refuses ids that are not current records of community with a
// field error naming field (InvalidArgument once mapped), as it does when
// no owning service is configured; an owner that cannot answer is an
// Unavailable error.
func (r *Refs) Check(ctx context.Context, community, field string, ids ...string) error {
	unknown, err := r.Unknown(ctx, community, ids...)
	switch {
	case errors.Is(err, ErrRefsNotConfigured):
		return validate.Field(field, "cannot be set: this instance does not reach the service that owns these ids to check them")
	case err != nil:
		return err
	case len(unknown) > 0:
		return validate.Field(field, "must name %ss of the community; %q is not one", r.what, unknown[0])
	}
	return nil
}

// Owned reports a lookup answer as Exists does: a NotFound from the owner
// means no such record, any other error that the owner could not answer.
func Owned(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case connect.CodeOf(err) == connect.CodeNotFound:
		return false, nil
	}
	return false, err
}

// Client is how a service builds a client of another Kinship service:
// an HTTP client with a deadline, tracing, and this workload's
// credentials on every call.
func Client(name string, credentials auth.TokenSource, tp trace.TracerProvider) (connect.HTTPClient, []connect.ClientOption, error) {
	if credentials == nil {
		return nil, nil, fmt.Errorf("%s: %w", name, errNoCredentials)
	}
	return rpc.HTTPClient(10 * time.Second), rpc.ClientOptions(tp, auth.NewClientInterceptor(credentials)), nil
}

// MemberRefs checks member ids through the members service at membersURL:
// a member who left or was erased is no longer a member to name.
func MemberRefs(name, membersURL string, credentials auth.TokenSource, tp trace.TracerProvider) (*Refs, error) {
	hc, opts, err := Client(name, credentials, tp)
	if err != nil {
		return nil, err
	}
	members := membersv1connect.NewMembersServiceClient(hc, membersURL, opts...)
	return NewRefs("member", func(ctx context.Context, community, id string) (bool, error) {
		res, err := members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: id}))
		if ok, err := Owned(err); !ok || err != nil {
			return ok, err
		}
		switch res.Msg.GetMember().GetStatus() {
		case membersv1.MemberStatus_MEMBER_STATUS_LEFT, membersv1.MemberStatus_MEMBER_STATUS_ERASED:
			return false, nil
		}
		return true, nil
	}), nil
}
