package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/events/api"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// runErasures consumes members.v1 and erases members' personal data here
// until ctx ends.
func runErasures(ctx context.Context, cfg Config, st *store.Store, dlq *kafkago.Writer, tp trace.TracerProvider, logger *slog.Logger) error {
	var topics []string
	for _, c := range cfg.Communities {
		topics = append(topics, published.ErasureTopics(c)...)
	}
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity, GroupID: kafka.Group(published.ErasureGroup, cfg.Communities), Topics: topics, DeadLetters: dlq, Tracer: tp, Logger: logger,
	}, telemetry.Propagator())
	if err != nil {
		return fmt.Errorf("events: erasures: %w", err)
	}
	return consumer.Run(ctx, published.NewErasure(st, cfg.Communities, logger).Handle)
}

// sweep moves expired seat offers on, marks no-shows and completes ended
// events every interval until ctx ends. A failed sweep is logged and
// tried again at the next tick.
func sweep(ctx context.Context, h *api.Handler, every, noShowAfter time.Duration, logger *slog.Logger) error {
	if every <= 0 {
		every = time.Minute
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		res, err := h.Sweep(ctx, noShowAfter)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			logger.WarnContext(ctx, "sweep failed", "error", err)
			continue
		}
		if res != (api.SweepResult{}) {
			logger.InfoContext(ctx, "swept", "offers_expired", res.OffersExpired, "seats_offered", res.SeatsOffered,
				"no_shows", res.NoShows, "completed", res.Completed)
		}
	}
}
