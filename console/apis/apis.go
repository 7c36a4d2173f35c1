// Package apis holds the console's clients of Kinship's Connect APIs. Every
// call carries the signed-in person's own access token, taken from the
// request's context: the console has no credential of its own.
package apis

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/audit/auditclient"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// URLs are the base URLs of the APIs the console calls.
type URLs struct {
	Members, Events, Communications, Partners string
	// Journeys is the worker, which serves the journeys API.
	Journeys string
	// Insights is optional: without it the dashboard shows no charts.
	Insights string
}

// Clients are the console's API clients.
type Clients struct {
	Members    membersv1connect.MembersServiceClient
	Segments   membersv1connect.SegmentsServiceClient
	Engagement membersv1connect.EngagementServiceClient
	Access     membersv1connect.AccessServiceClient

	Events     eventsv1connect.EventsServiceClient
	Attendance eventsv1connect.AttendanceServiceClient
	Calendar   eventsv1connect.CalendarServiceClient

	Messages      communicationsv1connect.CommunicationsServiceClient
	Templates     communicationsv1connect.TemplatesServiceClient
	Announcements communicationsv1connect.AnnouncementsServiceClient

	Partners      partnersv1connect.PartnersServiceClient
	Contacts      partnersv1connect.ContactsServiceClient
	Agreements    partnersv1connect.AgreementsServiceClient
	Contributions partnersv1connect.ContributionsServiceClient
	Reports       partnersv1connect.ReportsServiceClient

	Journeys journeysv1connect.JourneysServiceClient

	// Insights and Goals are nil without an insights URL.
	Insights insightsv1connect.InsightsServiceClient
	Goals    insightsv1connect.GoalsServiceClient

	// Audit merges every service's audit log.
	Audit auditclient.Reader
}

// New returns clients of the APIs at u, traced with tp.
func New(u URLs, tp trace.TracerProvider) *Clients {
	hc := rpc.HTTPClient(0)
	opts := rpc.ClientOptions(tp, bearer{})
	c := &Clients{
		Members:       membersv1connect.NewMembersServiceClient(hc, u.Members, opts...),
		Segments:      membersv1connect.NewSegmentsServiceClient(hc, u.Members, opts...),
		Engagement:    membersv1connect.NewEngagementServiceClient(hc, u.Members, opts...),
		Access:        membersv1connect.NewAccessServiceClient(hc, u.Members, opts...),
		Events:        eventsv1connect.NewEventsServiceClient(hc, u.Events, opts...),
		Attendance:    eventsv1connect.NewAttendanceServiceClient(hc, u.Events, opts...),
		Calendar:      eventsv1connect.NewCalendarServiceClient(hc, u.Events, opts...),
		Messages:      communicationsv1connect.NewCommunicationsServiceClient(hc, u.Communications, opts...),
		Templates:     communicationsv1connect.NewTemplatesServiceClient(hc, u.Communications, opts...),
		Announcements: communicationsv1connect.NewAnnouncementsServiceClient(hc, u.Communications, opts...),
		Partners:      partnersv1connect.NewPartnersServiceClient(hc, u.Partners, opts...),
		Contacts:      partnersv1connect.NewContactsServiceClient(hc, u.Partners, opts...),
		Agreements:    partnersv1connect.NewAgreementsServiceClient(hc, u.Partners, opts...),
		Contributions: partnersv1connect.NewContributionsServiceClient(hc, u.Partners, opts...),
		Reports:       partnersv1connect.NewReportsServiceClient(hc, u.Partners, opts...),
		Journeys:      journeysv1connect.NewJourneysServiceClient(hc, u.Journeys, opts...),
		Audit: auditclient.Reader{Clients: map[string]auditv1connect.AuditServiceClient{
			"members":        auditv1connect.NewAuditServiceClient(hc, u.Members, opts...),
			"events":         auditv1connect.NewAuditServiceClient(hc, u.Events, opts...),
			"communications": auditv1connect.NewAuditServiceClient(hc, u.Communications, opts...),
			"partners":       auditv1connect.NewAuditServiceClient(hc, u.Partners, opts...),
		}},
	}
	if u.Insights != "" {
		c.Insights = insightsv1connect.NewInsightsServiceClient(hc, u.Insights, opts...)
		c.Goals = insightsv1connect.NewGoalsServiceClient(hc, u.Insights, opts...)
	}
	return c
}

type tokenKey struct{}

// WithToken returns ctx carrying the signed-in person's access token.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// ErrNoToken means a call was made outside a signed-in request.
var ErrNoToken = errors.New("console: no signed-in person's token for this call")

func tokenFrom(ctx context.Context) (string, error) {
	t, _ := ctx.Value(tokenKey{}).(string)
	if t == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, ErrNoToken)
	}
	return t, nil
}

// bearer puts the context's token on every call, unary and streaming.
type bearer struct{}

func (bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		t, err := tokenFrom(ctx)
		if err != nil {
			return nil, err
		}
		req.Header().Set("Authorization", "Bearer "+t)
		return next(ctx, req)
	}
}

func (bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t, err := tokenFrom(ctx); err == nil {
			conn.RequestHeader().Set("Authorization", "Bearer "+t)
		}
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
