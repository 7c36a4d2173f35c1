package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/digest"
	"github.com/kinshiphq/kinship/workflows/erasure"
	"github.com/kinshiphq/kinship/workflows/eventlifecycle"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// serviceClients are the services' APIs, called with the worker's
// credentials.
type serviceClients struct {
	members        membersv1connect.MembersServiceClient
	segments       membersv1connect.SegmentsServiceClient
	engagement     membersv1connect.EngagementServiceClient
	access         membersv1connect.AccessServiceClient
	communications communicationsv1connect.CommunicationsServiceClient
	announcements  communicationsv1connect.AnnouncementsServiceClient
	events         eventsv1connect.EventsServiceClient
	attendance     eventsv1connect.AttendanceServiceClient
	templates      communicationsv1connect.TemplatesServiceClient
	contributions  partnersv1connect.ContributionsServiceClient
}

func newServiceClients(cfg Config, deps Deps) serviceClients {
	httpClient := rpc.HTTPClient(30 * time.Second)
	opts := rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))
	return serviceClients{
		members:        membersv1connect.NewMembersServiceClient(httpClient, cfg.MembersURL, opts...),
		segments:       membersv1connect.NewSegmentsServiceClient(httpClient, cfg.MembersURL, opts...),
		engagement:     membersv1connect.NewEngagementServiceClient(httpClient, cfg.MembersURL, opts...),
		access:         membersv1connect.NewAccessServiceClient(httpClient, cfg.MembersURL, opts...),
		communications: communicationsv1connect.NewCommunicationsServiceClient(httpClient, cfg.CommunicationsURL, opts...),
		announcements:  communicationsv1connect.NewAnnouncementsServiceClient(httpClient, cfg.CommunicationsURL, opts...),
		events:         eventsv1connect.NewEventsServiceClient(httpClient, cfg.EventsURL, opts...),
		attendance:     eventsv1connect.NewAttendanceServiceClient(httpClient, cfg.EventsURL, opts...),
		templates:      communicationsv1connect.NewTemplatesServiceClient(httpClient, cfg.CommunicationsURL, opts...),
		contributions:  partnersv1connect.NewContributionsServiceClient(httpClient, cfg.PartnersURL, opts...),
	}
}

var _ onboarding.BuddyBook = ambassador.Book{}

// templateMemory is how long the journeys trust that a template they made
// sure of still exists.
const templateMemory = 10 * time.Minute

// startWorkers runs, in each community's namespace, a worker per task
// queue with its workflows and activities registered. Register new
// workflow packages here.
func startWorkers(cfg Config, clients map[string]client.Client, svc serviceClients, store *definitions.Store) ([]worker.Worker, error) {
	var workers []worker.Worker
	start := func(c client.Client, community, queue string, register func(worker.Registry)) error {
		w := worker.New(c, queue, worker.Options{})
		register(w)
		if err := w.Start(); err != nil {
			return fmt.Errorf("worker: start %s worker for %s: %w", queue, community, err)
		}
		workers = append(workers, w)
		return nil
	}
	// One memory of the templates made sure of, shared by the journeys.
	ensured := templates.NewEnsurer(svc.templates, templateMemory)
	for _, community := range cfg.Communities {
		c := clients[community]
		onboardingActs := &onboarding.Activities{
			Members: svc.members, Engagement: svc.engagement, Segments: svc.segments,
			Communications: svc.communications, Events: svc.events, Templates: ensured, Buddies: ambassador.Book{Temporal: c},
		}
		ambassadorActs := &ambassador.Activities{
			Members: svc.members, Engagement: svc.engagement, Communications: svc.communications, Announcements: svc.announcements,
			Templates: ensured, Programmes: store,
		}
		lifecycleActs := &eventlifecycle.Activities{Events: svc.events, Attendance: svc.attendance, Communications: svc.communications, Templates: svc.templates}
		erasureActs := &erasure.Activities{Communications: svc.communications, Events: svc.attendance, Partners: svc.contributions}
		digestActs := &digest.Activities{Templates: svc.templates, Announcements: svc.announcements}
		err := start(c, community, onboarding.TaskQueue, func(r worker.Registry) { onboarding.Register(r, onboardingActs) })
		if err == nil {
			err = start(c, community, ambassador.TaskQueue, func(r worker.Registry) { ambassador.Register(r, ambassadorActs) })
		}
		if err == nil {
			err = start(c, community, eventlifecycle.TaskQueue, func(r worker.Registry) { eventlifecycle.Register(r, lifecycleActs) })
		}
		if err == nil {
			err = start(c, community, erasure.TaskQueue, func(r worker.Registry) { erasure.Register(r, erasureActs) })
		}
		if err == nil {
			err = start(c, community, digest.TaskQueue, func(r worker.Registry) { digest.Register(r, digestActs) })
		}
		if err != nil {
			stopAll(workers)
			return nil, err
		}
	}
	return workers, nil
}
