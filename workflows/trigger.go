package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/erasure"
	"github.com/kinshiphq/kinship/workflows/eventlifecycle"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// TriggerGroup is the consumer group of the workflow trigger (see
// kafka.Group).
const TriggerGroup = "kinship-workflow-trigger"

// defaultTriggerConcurrency is how many members' events the trigger
// handles at once unless Config.TriggerConcurrency says otherwise: each
// join's journey start is a round trip to Temporal, and one after another
// they kept joins waiting for their journey far longer than Temporal
// needed (see docs/benchmarks.md, joins carried end to end).
const defaultTriggerConcurrency = 16

// triggerTopics are the topics the trigger reads for a community. A route
// for an event of another topic needs its topic here.
func triggerTopics(community string) []string {
	return []string{memberevents.Topic(community), eventevents.Topic(community)}
}

// route handles one type of event about community. It is idempotent:
// every workflow it starts has a deterministic id, and signals and
// cancellations tolerate repeats, so a redelivered event has no second
// effect.
type route func(ctx context.Context, community string, e kafka.Event) error

// routes maps each CloudEvents type the trigger acts on to its route;
// other events are committed and skipped. To start or signal another
// workflow from an event, add a line here.
func (t *trigger) routes() map[string]route {
	return map[string]route{
		memberevents.TypeMemberJoined:     t.startOnboarding,
		memberevents.TypeProfileUpdated:   t.profileUpdated,
		memberevents.TypeEmailConfirmed:   t.emailConfirmed,
		memberevents.TypeMemberLeft:       t.cancelJourneys,
		memberevents.TypeMemberErased:     t.erased,
		memberevents.TypeActivityRecorded: t.activityRecorded,
		eventevents.TypeCheckedIn:         t.checkedIn,
		eventevents.TypeRSVPReceived:      t.rsvpReceived,
		eventevents.TypeEventScheduled:    t.eventLifecycle,
		eventevents.TypeEventUpdated:      t.eventLifecycle,
		eventevents.TypeEventCancelled:    t.eventLifecycle,
		eventevents.TypeSeatOffered:       t.eventLifecycle,
	}
}

// trigger starts, signals and cancels workflows from the services' events.
type trigger struct {
	consumer *kafka.Consumer
	dlq      interface{ Close() error }
	clients  map[string]client.Client
	byTopic  map[string]string // topic → community
	defs     *definitions.Store
	quotas   *quotaTypes
	cfg      Config
	logger   *slog.Logger
	table    map[string]route
}

func newTrigger(cfg Config, clients map[string]client.Client, defs *definitions.Store, tp trace.TracerProvider, logger *slog.Logger) (*trigger, error) {
	t := &trigger{clients: clients, byTopic: map[string]string{}, defs: defs, quotas: newQuotaTypes(defs, quotaTypesMemory), cfg: cfg, logger: logger}
	t.table = t.routes()
	var topics []string
	for _, community := range cfg.Communities {
		for _, topic := range triggerTopics(community) {
			topics = append(topics, topic)
			t.byTopic[topic] = community
		}
	}
	lanes := cfg.TriggerConcurrency
	if lanes == 0 {
		lanes = defaultTriggerConcurrency
	}
	dlq := kafka.NewWriter(kafka.WriterConfig{Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity})
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity, GroupID: kafka.Group(TriggerGroup, cfg.Communities), Topics: topics,
		DeadLetters: dlq, Tracer: tp, Logger: logger, Lanes: lanes,
	}, telemetry.Propagator())
	if err != nil {
		_ = dlq.Close()
		return nil, fmt.Errorf("worker: trigger: %w", err)
	}
	t.consumer, t.dlq = consumer, dlq
	return t, nil
}

func (t *trigger) run(ctx context.Context) error {
	defer t.dlq.Close()
	return t.consumer.Run(ctx, t.handle)
}

// handle routes one event. Undecodable events and events about another
// community than their topic's are dead-lettered.
func (t *trigger) handle(ctx context.Context, e kafka.Event) error {
	r, ok := t.table[e.Type]
	if !ok {
		return nil
	}
	community, ok := t.byTopic[e.Topic]
	if !ok {
		return kafka.Permanent(fmt.Errorf("event %s came on %s, which the trigger does not read", e.ID, e.Topic))
	}
	return r(ctx, community, e)
}

// payload decodes e into msg and checks it is about community.
func payload[M interface {
	proto.Message
	GetCommunity() string
	GetMemberId() string
}](e kafka.Event, community string, msg M) error {
	if e.ContentType != kafka.ContentTypeProtobuf {
		return kafka.Permanent(fmt.Errorf("event %s has content type %q", e.ID, e.ContentType))
	}
	if err := proto.Unmarshal(e.Data, msg); err != nil {
		return kafka.Permanent(fmt.Errorf("decode %s %s: %w", e.Type, e.ID, err))
	}
	switch {
	case msg.GetMemberId() == "" || msg.GetCommunity() == "":
		return kafka.Permanent(fmt.Errorf("event %s lacks member id or community", e.ID))
	case msg.GetCommunity() != community:
		return kafka.Permanent(fmt.Errorf("event %s on %s is about community %q", e.ID, e.Topic, msg.GetCommunity()))
	}
	return nil
}

// startOnboarding starts the journey of a member who joined — unless they
// came in an import, whose members organisers start as a cohort. A member
// who joined with a complete profile has that step done at once.
func (t *trigger) startOnboarding(ctx context.Context, community string, e kafka.Event) error {
	joined := &membersv1.MemberJoined{}
	if err := payload(e, community, joined); err != nil {
		return err
	}
	if joined.GetSource().GetKind() == membersv1.SourceKind_SOURCE_KIND_IMPORT && !t.cfg.OnboardImported {
		t.logger.DebugContext(ctx, "imported member; the journey waits for a cohort start", "member_id", joined.GetMemberId(), "event_id", e.ID)
		return nil
	}
	id := onboarding.WorkflowID(community, joined.GetMemberId())
	g, version, err := t.defs.CurrentOnboarding(ctx, community)
	if err != nil {
		return fmt.Errorf("read the onboarding definition of %s: %w", community, err)
	}
	started, err := onboarding.Start(ctx, t.clients[community], community, joined.GetMemberId(), g, version, joined.GetEmailVerified())
	if err != nil {
		return err
	}
	if started {
		t.logger.InfoContext(ctx, "onboarding journey started", "workflow_id", id, "event_id", e.ID)
	} else {
		t.logger.InfoContext(ctx, "onboarding journey already exists; event was a redelivery", "workflow_id", id, "event_id", e.ID)
	}
	if profileComplete(joined.GetProfile(), joined.GetInterests()) {
		return t.signal(ctx, community, id, onboarding.SignalProfileCompleted, nil)
	}
	return nil
}

// profileUpdated tells a member's journey their profile is complete: a
// time zone, where they are, and at least one interest.
func (t *trigger) profileUpdated(ctx context.Context, community string, e kafka.Event) error {
	updated := &membersv1.ProfileUpdated{}
	if err := payload(e, community, updated); err != nil {
		return err
	}
	if !profileComplete(updated.GetProfile(), nil) {
		return nil
	}
	return t.signal(ctx, community, onboarding.WorkflowID(community, updated.GetMemberId()), onboarding.SignalProfileCompleted, nil)
}

// emailConfirmed lets a member's journey, waiting for them to confirm
// their address, go on.
func (t *trigger) emailConfirmed(ctx context.Context, community string, e kafka.Event) error {
	confirmed := &membersv1.EmailConfirmed{}
	if err := payload(e, community, confirmed); err != nil {
		return err
	}
	return t.signal(ctx, community, onboarding.WorkflowID(community, confirmed.GetMemberId()), onboarding.SignalEmailConfirmed, nil)
}

func profileComplete(p *membersv1.Profile, interests []string) bool {
	loc := p.GetLocation()
	return p.GetTimeZone() != "" && (loc.GetCity() != "" || loc.GetCountryCode() != "") && len(interests)+len(p.GetInterests()) > 0
}

// checkedIn tells the member's journey they attended an event.
func (t *trigger) checkedIn(ctx context.Context, community string, e kafka.Event) error {
	ci := &eventsv1.CheckedIn{}
	if err := payload(e, community, ci); err != nil {
		return err
	}
	return t.signal(ctx, community, onboarding.WorkflowID(community, ci.GetMemberId()), onboarding.SignalCheckedIn,
		onboarding.CheckIn{EventID: ci.GetEventId(), OccurrenceID: ci.GetOccurrenceId()})
}

// rsvpReceived tells the member's journey they answered an invitation
// (going or on the waitlist).
func (t *trigger) rsvpReceived(ctx context.Context, community string, e kafka.Event) error {
	r := &eventsv1.RSVPReceived{}
	if err := payload(e, community, r); err != nil {
		return err
	}
	if r.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING && r.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED {
		return nil
	}
	return t.signal(ctx, community, onboarding.WorkflowID(community, r.GetMemberId()), onboarding.SignalRSVPed,
		onboarding.RSVP{EventID: r.GetEventId(), OccurrenceID: r.GetOccurrenceId()})
}

// activityRecorded tells an ambassador's programme of an activity that
// counts towards its quotas, so a review sees every one of them. Other
// activities, and members outside the programme, are left alone.
func (t *trigger) activityRecorded(ctx context.Context, community string, e kafka.Event) error {
	a := &membersv1.ActivityRecorded{}
	if err := payload(e, community, a); err != nil {
		return err
	}
	counts, err := t.quotas.counts(ctx, community, a.GetType())
	if err != nil || !counts {
		return err
	}
	return t.signal(ctx, community, ambassador.WorkflowID(community, a.GetMemberId()), ambassador.SignalActivityRecorded,
		ambassador.ActivityCounted{ID: a.GetActivityId(), Type: a.GetType(), OccurredAt: a.GetOccurredAt().AsTime()})
}

// cancelJourneys ends the journeys of a member who left or was erased.
func (t *trigger) cancelJourneys(ctx context.Context, community string, e kafka.Event) error {
	var memberID string
	switch e.Type {
	case memberevents.TypeMemberLeft:
		left := &membersv1.MemberLeft{}
		if err := payload(e, community, left); err != nil {
			return err
		}
		memberID = left.GetMemberId()
	default:
		erased := &membersv1.MemberErased{}
		if err := payload(e, community, erased); err != nil {
			return err
		}
		memberID = erased.GetMemberId()
	}
	for _, id := range []string{onboarding.WorkflowID(community, memberID), ambassador.WorkflowID(community, memberID)} {
		err := t.clients[community].CancelWorkflow(ctx, id, "")
		if err != nil && !isGone(err) {
			return fmt.Errorf("cancel %s: %w", id, err)
		}
		if err == nil {
			t.logger.InfoContext(ctx, "journey cancelled", "workflow_id", id, "event_id", e.ID, "event_type", e.Type)
		}
	}
	return nil
}

// signal signals a running journey; a member without one, or whose
// journey ended, is no error.
func (t *trigger) signal(ctx context.Context, community, workflowID, name string, arg any) error {
	err := t.clients[community].SignalWorkflow(ctx, workflowID, "", name, arg)
	if err != nil && !isGone(err) {
		return fmt.Errorf("signal %s to %s: %w", name, workflowID, err)
	}
	return nil
}

// isGone reports an error about a workflow that does not exist or has
// ended.
func isGone(err error) bool {
	var notFound *serviceerror.NotFound
	return errors.As(err, &notFound)
}

// eventLifecycle starts, steers or ends the lifecycle workflow of a
// published event.
func (t *trigger) eventLifecycle(ctx context.Context, community string, e kafka.Event) error {
	acted, err := eventlifecycle.Handle(ctx, t.clients[community], community, e, t.cfg.EventLifecycle)
	if err == nil {
		t.logger.InfoContext(ctx, "event lifecycle", "event_type", e.Type, "event_id", e.ID, "acted", acted)
	}
	return err
}

// erased stops the member's journeys at once and starts the erasure,
// which carries it to every service (and cancels them again, harmlessly).
func (t *trigger) erased(ctx context.Context, community string, e kafka.Event) error {
	if err := t.cancelJourneys(ctx, community, e); err != nil {
		return err
	}
	started, err := erasure.Handle(ctx, t.clients[community], community, e)
	if err == nil {
		t.logger.InfoContext(ctx, "erasure", "event_id", e.ID, "started", started)
	}
	return err
}
