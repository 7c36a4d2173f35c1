package kafka

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

func TestConsumerMeasuresWhatItConsumesAndItsLag(t *testing.T) {
	const topic = "demo.measured.v1"
	h := newHarness(t, topic)
	good, bad := testEvent(topic, "good"), testEvent(topic, "bad")
	garbage := kafkago.Message{Topic: topic, Key: []byte(good.Key), Value: []byte("not an event")}
	bad.Key = good.Key
	if err := h.writer.WriteMessages(context.Background(), good.Message(), garbage, bad.Message()); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mp := tel.MeterProvider("kinship-test")
	c, err := NewConsumer(ConsumerConfig{
		Brokers: h.brokers, GroupID: "measured-group", Topics: []string{topic}, DeadLetters: h.writer,
		Tracer: h.tp, Meter: mp, Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}, propagator)
	if err != nil {
		t.Fatal(err)
	}
	c.metrics.lagTTL = 0 // ask the broker at every scrape
	scrape := func() telemetrytest.Samples { return telemetrytest.Scrape(t, telemetry.MetricsHandler(mp)) }
	group := []string{"messaging_consumer_group_name", "measured-group", "messaging_destination_name", topic}
	if lag := scrape().Sum("kinship_kafka_consumer_lag", group...); lag != 3 {
		t.Errorf("lag before consuming = %v, want the 3 records written", lag)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, e Event) error {
			if e.ID == "bad" {
				return Permanent(errors.New("unknown member"))
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	var got telemetrytest.Samples
	for {
		got = scrape()
		if got.Sum("kinship_kafka_dead_letters_total", group...) == 2 && got.Has("kinship_kafka_consumer_lag", group...) &&
			got.Sum("kinship_kafka_consumer_lag", group...) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer did not catch up:\n%s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"messaging_client_consumed_messages_total", group, 3},
		{"kinship_kafka_dead_letters_total", append([]string{"error_type", "undecodable"}, group...), 1},
		{"kinship_kafka_dead_letters_total", append([]string{"error_type", "permanent"}, group...), 1},
		{"messaging_process_duration_seconds_count", append([]string{"error_type", ""}, group...), 1},
		{"messaging_process_duration_seconds_count", append([]string{"error_type", "permanent"}, group...), 1},
	}
	for _, tt := range tests {
		if n := got.Sum(tt.name, tt.labels...); n != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, n, tt.want)
		}
	}
}
