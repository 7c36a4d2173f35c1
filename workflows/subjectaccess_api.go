package workflows

import (
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/workflows/subjectaccess"
)

// subjectAccessTimeout bounds one subject-access export: every store is
// asked in turn.
const subjectAccessTimeout = 5 * time.Minute

// mountSubjectAccess serves kinship.members.v1.SubjectAccessService beside
// the journeys API: this process holds the Temporal clients the journeys'
// part needs and knows every service's address. It asks each service with
// the caller's own credentials and records the request in the worker's
// audit log.
func mountSubjectAccess(srv *serve.Server, cfg Config, clients map[string]client.Client, svc serviceClients, log *audit.Log, deps Deps, logger *slog.Logger) error {
	tokens, err := service.Tokens("worker", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: auth.NewRemoteKeys(svc.access), Policy: subjectaccess.Policy(),
		StreamTimeout: subjectAccessTimeout, Logger: logger})
	handler := subjectaccess.New(subjectaccess.Options{
		Stores: subjectaccess.Stores(subjectaccess.URLs{Members: cfg.MembersURL, Events: cfg.EventsURL, Communications: cfg.CommunicationsURL,
			Partners: cfg.PartnersURL, Insights: cfg.InsightsURL}, deps.Tracer),
		Temporal: clients, Audit: log, Logger: logger,
	})
	srv.Handle(membersv1connect.NewSubjectAccessServiceHandler(handler, rpc.HandlerOptions(deps.Tracer, logger, guard)...))
	// The OpenAPI document of the worker's APIs: the journeys API and this one.
	srv.Handle(openapi.Pattern, openapi.Handler("worker"))
	return nil
}
