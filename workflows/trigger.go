package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// TriggerGroup is the consumer group of the workflow trigger.
const TriggerGroup = "kinship-workflow-trigger"

// trigger starts journeys from member events.
type trigger struct {
	consumer *kafka.Consumer
	dlq      interface{ Close() error }
	clients  map[string]client.Client
	byTopic  map[string]string // topic → community
	cfg      Config
	logger   *slog.Logger
}

func newTrigger(cfg Config, clients map[string]client.Client, tp trace.TracerProvider, logger *slog.Logger) (*trigger, error) {
	t := &trigger{clients: clients, byTopic: map[string]string{}, cfg: cfg, logger: logger}
	var topics []string
	for _, community := range cfg.Communities {
		topic := memberevents.Topic(community)
		topics = append(topics, topic)
		t.byTopic[topic] = community
	}
	dlq := kafka.NewWriter(kafka.WriterConfig{Brokers: cfg.KafkaBrokers})
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, GroupID: TriggerGroup, Topics: topics,
		DeadLetters: dlq, Tracer: tp, Logger: logger,
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

// handle starts the onboarding journey of a member who joined. The
// workflow id is the member's, and a finished journey's id is never reused,
// so a redelivered event starts nothing.
func (t *trigger) handle(ctx context.Context, e kafka.Event) error {
	if e.Type != memberevents.TypeMemberJoined {
		return nil // other member events start nothing yet
	}
	joined, err := memberevents.DecodeMemberJoined(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	community := joined.GetCommunity()
	if t.byTopic[e.Topic] != community {
		return kafka.Permanent(fmt.Errorf("event %s on %s is about community %q", e.ID, e.Topic, community))
	}
	id := onboarding.WorkflowID(community, joined.GetMemberId())
	_, err = t.clients[community].ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                onboarding.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, onboarding.WorkflowName, onboarding.Input{
		Community:     community,
		MemberID:      joined.GetMemberId(),
		ReminderAfter: t.cfg.OnboardingReminderAfter,
		GiveUpAfter:   t.cfg.OnboardingGiveUpAfter,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		t.logger.InfoContext(ctx, "onboarding journey already exists; event was a redelivery", "workflow_id", id, "event_id", e.ID)
		return nil
	case err != nil:
		return fmt.Errorf("start %s: %w", id, err)
	}
	t.logger.InfoContext(ctx, "onboarding journey started", "workflow_id", id, "event_id", e.ID)
	return nil
}
