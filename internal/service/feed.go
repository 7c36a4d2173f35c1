package service

import (
	"context"
	"fmt"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// Feed is one stream of events a service consumes: the topics it reads
// for each community it serves, and what it does with each event.
type Feed struct {
	// Name says what the feed is in errors, such as "members: activity feed".
	Name string
	// Group is the consumer group's base name; the instance's communities
	// are added to it (kafka.Group).
	Group string
	// Topics are the topics read for one community.
	Topics func(community string) []string
	Handle kafka.Handler
	// Lanes is how many records of different keys the feed handles at
	// once (kafka.ConsumerConfig.Lanes); 0 or 1 handles one after another.
	// Only for handlers whose effects depend on the order of one key's
	// events alone.
	Lanes int
}

// consume runs f for communities until ctx ends. base carries the
// brokers, security, dead-letter writer, tracer and logger; its group and
// topics come from f.
func consume(ctx context.Context, base kafka.ConsumerConfig, communities []string, f Feed) error {
	base.Topics = nil
	for _, c := range communities {
		base.Topics = append(base.Topics, f.Topics(c)...)
	}
	base.GroupID = kafka.Group(f.Group, communities)
	base.Lanes = f.Lanes
	consumer, err := kafka.NewConsumer(base, telemetry.Propagator())
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return consumer.Run(ctx, f.Handle)
}
