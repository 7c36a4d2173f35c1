package workflows

import (
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// cohortStartTimeout bounds a StartOnboarding stream; a longer cohort is
// continued by starting it again (members started already are skipped).
const cohortStartTimeout = 30 * time.Minute

// mountJourneysAPI serves the journeys API behind the same guard as the
// services: bearer tokens from the issuer, API keys verified by the
// members service, the journeys policy.
func mountJourneysAPI(srv *serve.Server, cfg Config, clients map[string]client.Client, svc serviceClients, store *definitions.Store, log *audit.Log, deps Deps, logger *slog.Logger) error {
	tokens, err := service.Tokens("worker", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{
		Tokens: tokens, Keys: auth.NewRemoteKeys(svc.access), Policy: journeysapi.Policy(),
		StreamTimeout: cohortStartTimeout, Logger: logger,
	})
	handler := journeysapi.New(journeysapi.Options{
		Temporal: clients, Members: svc.members, Segments: svc.segments, Engagement: svc.engagement, Templates: svc.templates,
		Store: store, StartConcurrency: cfg.StartConcurrency, TemporalUI: cfg.TemporalUI, Logger: logger,
	})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	srv.Handle(journeysv1connect.NewJourneysServiceHandler(handler, opts...))
	srv.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "journeys", logger), opts...))
	return nil
}
