package members

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

// runActivityFeed consumes the other services' events into the activity
// ledger until ctx ends.
func runActivityFeed(ctx context.Context, cfg Config, st *store.Store, dlq *kafkago.Writer, tp trace.TracerProvider, logger *slog.Logger) error {
	var topics []string
	for _, c := range cfg.Communities {
		topics = append(topics, events.ActivityTopics(c)...)
	}
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity, GroupID: kafka.Group(events.ActivityGroup, cfg.Communities), Topics: topics, DeadLetters: dlq, Tracer: tp, Logger: logger,
	}, telemetry.Propagator())
	if err != nil {
		return fmt.Errorf("members: activity feed: %w", err)
	}
	return consumer.Run(ctx, events.NewActivityFeed(st).Handle)
}

// runUnsubscribeFeed records the communications service's unsubscribes
// as consent withdrawals until ctx ends.
func runUnsubscribeFeed(ctx context.Context, cfg Config, st *store.Store, dlq *kafkago.Writer, tp trace.TracerProvider, logger *slog.Logger) error {
	var topics []string
	for _, c := range cfg.Communities {
		topics = append(topics, events.UnsubscribeTopics(c)...)
	}
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity, GroupID: kafka.Group(events.UnsubscribeGroup, cfg.Communities), Topics: topics, DeadLetters: dlq, Tracer: tp, Logger: logger,
	}, telemetry.Propagator())
	if err != nil {
		return fmt.Errorf("members: unsubscribe feed: %w", err)
	}
	return consumer.Run(ctx, events.NewUnsubscribeFeed(st).Handle)
}

// reviewLevels applies level downgrades (and any missed upgrades) to every
// community every interval, until ctx ends.
func reviewLevels(ctx context.Context, communities []string, every time.Duration, st *store.Store, logger *slog.Logger) error {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		for _, community := range communities {
			settings, err := st.Settings(ctx, community)
			if err != nil {
				logger.WarnContext(ctx, "level review skipped", "community", community, "error", err)
				continue
			}
			members, up, down, err := st.Relevel(ctx, community, settings, events.Factory{})
			if err != nil {
				logger.WarnContext(ctx, "level review failed", "community", community, "error", err)
				continue
			}
			logger.InfoContext(ctx, "levels reviewed", "community", community, "members", members, "upgraded", up, "downgraded", down)
		}
	}
}
