// Package subjectaccess answers subject-access requests (GDPR article
// 15): one archive of everything Kinship holds about a member, gathered
// from every store the way an erasure reaches every store — the members,
// events, communications, partners and insights services, and the
// member's journeys (their Temporal workflows, with their states). Each
// service is asked with the caller's own credentials, so its own rules
// decide what it gives and its own audit log records the reading; the
// archive's manifest is the receipt of what was included.
package subjectaccess

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// Store is one store a member's data is read from.
type Store struct {
	// Name is the store's name in the manifest, such as "events".
	Name string
	// Export returns the member's data as JSON, asking with the caller's
	// credentials (in ctx); nil when the store is not configured here.
	Export func(ctx context.Context, community, memberID string) ([]byte, error)
}

// URLs are the services' base URLs; an empty one leaves its store out of
// the archive, saying so in the manifest.
type URLs struct {
	Members, Events, Communications, Partners, Insights string
}

// Stores are the services' stores at urls, each asked over HTTP with the
// caller's credentials.
func Stores(urls URLs, tp trace.TracerProvider) []Store {
	hc := rpc.HTTPClient(30 * time.Second)
	opts := append(rpc.ClientOptions(tp, forwardCredentials{}), connect.WithReadMaxBytes(64<<20))
	store := func(name, url string, export func(context.Context, string, string) ([]byte, error)) Store {
		if url == "" {
			return Store{Name: name}
		}
		return Store{Name: name, Export: export}
	}
	var out []Store
	members := membersv1connect.NewMembersServiceClient(hc, urls.Members, opts...)
	out = append(out, store("members", urls.Members, func(ctx context.Context, community, id string) ([]byte, error) {
		res, err := members.ExportMemberData(ctx, connect.NewRequest(&membersv1.ExportMemberDataRequest{Community: community, MemberId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetJson(), nil
	}))
	events := eventsv1connect.NewAttendanceServiceClient(hc, urls.Events, opts...)
	out = append(out, store("events", urls.Events, func(ctx context.Context, community, id string) ([]byte, error) {
		res, err := events.ExportMemberData(ctx, connect.NewRequest(&eventsv1.ExportMemberDataRequest{Community: community, MemberId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetJson(), nil
	}))
	communications := communicationsv1connect.NewCommunicationsServiceClient(hc, urls.Communications, opts...)
	out = append(out, store("communications", urls.Communications, func(ctx context.Context, community, id string) ([]byte, error) {
		res, err := communications.ExportMemberData(ctx, connect.NewRequest(&communicationsv1.ExportMemberDataRequest{Community: community, MemberId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetJson(), nil
	}))
	partners := partnersv1connect.NewPartnersServiceClient(hc, urls.Partners, opts...)
	out = append(out, store("partners", urls.Partners, func(ctx context.Context, community, id string) ([]byte, error) {
		res, err := partners.ExportMemberData(ctx, connect.NewRequest(&partnersv1.ExportMemberDataRequest{Community: community, MemberId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetJson(), nil
	}))
	insights := insightsv1connect.NewMemberDataServiceClient(hc, urls.Insights, opts...)
	out = append(out, store("insights", urls.Insights, func(ctx context.Context, community, id string) ([]byte, error) {
		res, err := insights.ExportMemberData(ctx, connect.NewRequest(&insightsv1.ExportMemberDataRequest{Community: community, MemberId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetJson(), nil
	}))
	return out
}

// credentialsKey carries the caller's Authorization header in a context.
type credentialsKey struct{}

// withCredentials returns ctx carrying the caller's Authorization header.
func withCredentials(ctx context.Context, authorization string) context.Context {
	return context.WithValue(ctx, credentialsKey{}, authorization)
}

// forwardCredentials sends the caller's own Authorization header with
// every call: each service decides by its own rules what the caller may
// read, and records the caller in its audit log.
type forwardCredentials struct{}

func (forwardCredentials) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if a, _ := ctx.Value(credentialsKey{}).(string); a != "" {
			req.Header().Set("Authorization", a)
		}
		return next(ctx, req)
	}
}

func (forwardCredentials) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if a, _ := ctx.Value(credentialsKey{}).(string); a != "" {
			conn.RequestHeader().Set("Authorization", a)
		}
		return conn
	}
}

func (forwardCredentials) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
