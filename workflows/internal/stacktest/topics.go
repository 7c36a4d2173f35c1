package stacktest

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// WaitForEvent reads topic from the start until an event of type typ
// about key (the record key) arrives, as the worker's trigger would
// receive it.
func (s *Stack) WaitForEvent(t *testing.T, topic, typ, key string, timeout time.Duration) kafka.Event {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: s.Brokers, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("no %s for %s on %s: %v", typ, key, topic, err)
		}
		e, err := kafka.ParseEvent(msg)
		if err == nil && e.Type == typ && string(msg.Key) == key {
			return e
		}
	}
}

// Trigger consumes topic as the worker's trigger does — in a consumer
// group, committing after handle — until the test ends.
func (s *Stack) Trigger(t *testing.T, topic string, handle kafka.Handler) {
	t.Helper()
	dlq := kafka.NewWriter(kafka.WriterConfig{Brokers: s.Brokers})
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: s.Brokers, GroupID: "stacktest-trigger-" + topic, Topics: []string{topic},
		DeadLetters: dlq, Tracer: noop.NewTracerProvider(), Logger: s.logger}, telemetry.Propagator())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx, handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("trigger on %s: %v", topic, err)
		}
		_ = dlq.Close()
	})
}
