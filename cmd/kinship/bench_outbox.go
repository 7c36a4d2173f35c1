//go:build !nodev

package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
	"github.com/kinshiphq/kinship/internal/outbox"
)

// benchOutboxBatch is the relay's batch (its default) and the raw
// writer's, and the writers' BatchSize.
const benchOutboxBatch = 100

// benchOutbox measures the outbox relay on every engine: n events
// committed to the outbox table beforehand, published to the in-process
// broker by the relay, against the ceiling — the same n messages written
// by a raw kafka-go Writer with the same settings (internal/kafka's
// NewWriter, batches of benchOutboxBatch) to the same broker, in the same
// run. Each row checks that exactly n records reached the topic.
func benchOutbox(ctx context.Context, n int, logger *slog.Logger) (string, error) {
	dir, err := os.MkdirTemp("", "kinship-bench-outbox-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	broker, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4))
	if err != nil {
		return "", fmt.Errorf("bench: start broker: %w", err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	engines, stopEngines, err := benchEngines(ctx)
	if err != nil {
		return "", err
	}
	defer stopEngines()

	type row struct {
		name  string
		rate  float64
		took  time.Duration
		load  string
		raw   bool
		ratio string
	}
	var rows []row
	start := time.Now()
	evs := benchOutboxEvents(n)
	for i, engine := range engines {
		topic := fmt.Sprintf("bench.outbox.%d.v1", i)
		rawTopic := topic + ".raw"
		if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: topic, Partitions: 4, ReplicationFactor: 1},
			kafka.Topic{Name: rawTopic, Partitions: 4, ReplicationFactor: 1}); err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
		logger.Info("outbox benchmark: raw writer", "engine", engine.name, "events", n)
		raw, err := benchRawWriter(ctx, brokers, rawTopic, evs)
		if err != nil {
			return "", err
		}
		rawRow := row{name: "raw kafka-go Writer, batches of 100 (ceiling)", rate: float64(n) / raw.Seconds(), took: raw, load: benchLoad(), raw: true, ratio: "1.00"}
		logger.Info("outbox benchmark: relay", "engine", engine.name, "events", n)
		relayed, err := benchRelay(ctx, engine, dir, brokers, topic, evs)
		if err != nil {
			return "", err
		}
		rate := float64(n) / relayed.Seconds()
		rows = append(rows, rawRow, row{name: "outbox relay on " + engine.name, rate: rate, took: relayed, load: benchLoad(), ratio: ratio(rate, rawRow.rate)})
	}

	var b strings.Builder
	benchHeader(&b, "Outbox relay against a raw Kafka writer", fmt.Sprintf("kinship bench outbox -outbox-events %d", n), start)
	fmt.Fprintf(&b, "Target: the relay publishes ≥ 0.6 × what a raw kafka-go `Writer` writes. %d events (CloudEvents of about 200 bytes, keyed "+
		"by 1,000 members) are committed to a fresh outbox table first, 1,000 a transaction; the relay (batches of %d, the services' "+
		"writer: internal/kafka's NewWriter, acks from all replicas) then publishes them to the in-process broker and marks each "+
		"published, and is timed until none is pending. The ceiling writes the same %d messages, batch after batch of %d, with a writer of "+
		"the same settings to the same broker just before. Each row checks that exactly %d records reached its topic. Load is the "+
		"one-minute load average after the row. %s\n\n", n, benchOutboxBatch, n, benchOutboxBatch, n, benchPostgresNote)
	fmt.Fprintf(&b, "| path | events | took | events/s | × raw | load |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.2f s | %.0f | %s | %s |\n", r.name, n, r.took.Seconds(), r.rate, r.ratio, r.load)
	}
	b.WriteString("\n")
	return b.String(), nil
}

// benchOutboxEvents are n events as a service appends them.
func benchOutboxEvents(n int) []kafka.Event {
	payload := []byte(strings.Repeat("kinship bench payload ", 9))
	now := time.Now().UTC()
	evs := make([]kafka.Event, n)
	for i := range evs {
		member := fmt.Sprintf("m%06d", i%1000)
		evs[i] = kafka.Event{ID: fmt.Sprintf("bench-%08d", i), Type: "kinship.bench.v1.Benchmarked", Source: "kinship/bench",
			Subject: member, Time: now, ContentType: kafka.ContentTypeProtobuf, Data: payload, Key: member}
	}
	return evs
}

// benchRawWriter writes the events to topic in batches and returns how
// long it took.
func benchRawWriter(ctx context.Context, brokers []string, topic string, evs []kafka.Event) (time.Duration, error) {
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: brokers, BatchSize: benchOutboxBatch})
	defer w.Close()
	msgs := make([]kafkago.Message, len(evs))
	for i, e := range evs {
		e.Topic = topic
		msgs[i] = e.Message()
	}
	before, err := topicEnd(ctx, brokers, topic)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(msgs); i += benchOutboxBatch {
		if err := w.WriteMessages(ctx, msgs[i:min(i+benchOutboxBatch, len(msgs))]...); err != nil {
			return 0, fmt.Errorf("bench: raw write: %w", err)
		}
	}
	took := time.Since(start)
	return took, checkTopicGrew(ctx, brokers, topic, before, len(evs))
}

// benchRelay commits the events to a fresh outbox on engine, then runs the
// relay until none is pending and returns how long that took.
func benchRelay(ctx context.Context, engine benchEngine, dir string, brokers []string, topic string, evs []kafka.Event) (time.Duration, error) {
	url, err := engine.url(ctx, dir, "outbox")
	if err != nil {
		return 0, err
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), outbox.Migrations()); err != nil {
		return 0, err
	}
	o := outbox.New(d, propagation.TraceContext{})
	for i := 0; i < len(evs); i += 1000 {
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			for _, e := range evs[i:min(i+1000, len(evs))] {
				e.Topic = topic
				if err := o.Append(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("bench: fill the outbox: %w", err)
		}
	}
	before, err := topicEnd(ctx, brokers, topic)
	if err != nil {
		return 0, err
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: brokers, BatchSize: benchOutboxBatch})
	defer w.Close()
	relayCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- o.Run(relayCtx, outbox.RelayConfig{Writer: w, Tracer: noop.NewTracerProvider(), Logger: slog.New(slog.DiscardHandler),
			BatchSize: benchOutboxBatch})
	}()
	o.Notify()
	deadline := time.Now().Add(5 * time.Minute)
	var took time.Duration
	for {
		pending, err := o.Pending(ctx)
		if err != nil {
			stop()
			<-done
			return 0, err
		}
		if pending == 0 {
			took = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			stop()
			<-done
			return 0, fmt.Errorf("bench: %d events still pending after 5 minutes", pending)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		return 0, fmt.Errorf("bench: relay: %w", err)
	}
	return took, checkTopicGrew(ctx, brokers, topic, before, len(evs))
}

// topicEnd sums the end offsets of topic's partitions: how many records
// it holds.
func topicEnd(ctx context.Context, brokers []string, topic string) (int64, error) {
	kc := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return 0, fmt.Errorf("bench: metadata of %s: %v", topic, err)
	}
	var offsets []kafkago.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		offsets = append(offsets, kafkago.LastOffsetOf(p.ID))
	}
	ends, err := kc.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: offsets}})
	if err != nil {
		return 0, fmt.Errorf("bench: offsets of %s: %w", topic, err)
	}
	var total int64
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("bench: offsets of %s: %w", topic, p.Error)
		}
		total += p.LastOffset
	}
	return total, nil
}

// checkTopicGrew checks that topic holds exactly n more records than before.
func checkTopicGrew(ctx context.Context, brokers []string, topic string, before int64, n int) error {
	after, err := topicEnd(ctx, brokers, topic)
	if err != nil {
		return err
	}
	if after-before != int64(n) {
		return fmt.Errorf("bench: %s received %d records, want exactly %d", topic, after-before, n)
	}
	return nil
}
