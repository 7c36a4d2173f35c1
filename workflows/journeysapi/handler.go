// Package journeysapi is the journeys API: organisers start onboarding
// journeys for members and cohorts, watch and steer them, and run the
// ambassador programme. It is served by the worker and speaks to Temporal
// in each community's namespace; the services are called as the worker.
package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/temporalweb"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
)

// Options are what the handler needs.
type Options struct {
	// Temporal holds one client per community namespace served.
	Temporal map[string]client.Client
	// The members APIs, called with the worker's credentials.
	Members    membersv1connect.MembersServiceClient
	Segments   membersv1connect.SegmentsServiceClient
	Engagement membersv1connect.EngagementServiceClient
	// Templates are the communications service's templates, which saved
	// definitions are checked against.
	Templates communicationsv1connect.TemplatesServiceClient
	// Store keeps the communities' definitions and the audit log of what
	// organisers change and steer.
	Store *definitions.Store
	// StartConcurrency is how many journeys a cohort start starts at
	// once; 0 means 16.
	StartConcurrency int
	// TemporalUI is the Temporal Web UI's base URL, such as
	// "https://temporal.example.org": each journey links to its workflow
	// run there (workflow_url). Empty gives no links.
	TemporalUI string
	Logger     *slog.Logger
}

// Handler implements JourneysService.
type Handler struct {
	opts Options
	now  func() time.Time
}

var _ journeysv1connect.JourneysServiceHandler = (*Handler)(nil)

// New returns the journeys API.
func New(opts Options) *Handler {
	if opts.StartConcurrency <= 0 {
		opts.StartConcurrency = 16
	}
	return &Handler{opts: opts, now: time.Now}
}

// temporal returns the namespace client of a community the request
// names; the interceptor has confined the caller to it already.
func (h *Handler) temporal(community string) (client.Client, error) {
	if community == "" {
		return nil, rpc.InvalidArgument(validate.Field("community", "is required"))
	}
	c, ok := h.opts.Temporal[community]
	if !ok {
		return nil, rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	}
	return c, nil
}

func requireMember(memberID string) error {
	if memberID == "" {
		return rpc.InvalidArgument(validate.Field("member_id", "is required"))
	}
	if len(memberID) > 64 {
		return rpc.InvalidArgument(validate.Field("member_id", "must be at most 64 characters"))
	}
	return nil
}

// toConnect maps Temporal's errors to the codes a caller acts on.
func (h *Handler) toConnect(ctx context.Context, procedure string, err error) error {
	var notFound *serviceerror.NotFound
	var cerr *connect.Error
	switch {
	case errors.As(err, &cerr):
		return cerr
	case errors.As(err, &notFound):
		return connect.NewError(connect.CodeNotFound, errors.New("no such journey"))
	}
	return rpc.ToConnect(ctx, h.opts.Logger, procedure, err)
}

// workflowURL links a journey's workflow run to the Temporal Web UI; each
// community is a namespace of its own. Empty without a UI.
func (h *Handler) workflowURL(community string, run *commonpb.WorkflowExecution) string {
	return temporalweb.WorkflowURL(h.opts.TemporalUI, community, run.GetWorkflowId(), run.GetRunId())
}

// noJourney is the NotFound of a member without a journey of kind.
func noJourney(kind string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("the member has no %s journey", kind))
}
