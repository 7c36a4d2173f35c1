package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// consumerMetrics are a consumer's instruments: records fetched, the time
// each took to handle, records dead-lettered, and the group's lag, asked
// of the broker when metrics are collected.
type consumerMetrics struct {
	c            *Consumer
	consumedC    metric.Int64Counter
	processH     metric.Float64Histogram
	deadLetterC  metric.Int64Counter
	registration metric.Registration

	// lag caches the broker's answer for lagTTL, so frequent scrapes
	// ask the broker at most that often.
	mu      sync.Mutex
	lag     []partitionLag
	lagAt   time.Time
	lagTTL  time.Duration
	lagWait time.Duration
}

type partitionLag struct {
	topic     string
	partition int
	lag       int64
}

func newConsumerMetrics(c *Consumer) (*consumerMetrics, error) {
	meter := telemetry.Meter(c.cfg.Meter, scope)
	m := &consumerMetrics{c: c, lagTTL: 5 * time.Second, lagWait: 3 * time.Second}
	var err error
	if m.consumedC, err = telemetry.Int64Counter(meter, telemetry.MetricMessagesConsumed); err != nil {
		return nil, err
	}
	if m.processH, err = telemetry.Float64Histogram(meter, telemetry.MetricProcessDuration); err != nil {
		return nil, err
	}
	if m.deadLetterC, err = telemetry.Int64Counter(meter, telemetry.MetricDeadLetters); err != nil {
		return nil, err
	}
	lag, err := telemetry.Int64ObservableGauge(meter, telemetry.MetricConsumerLag, nil)
	if err != nil {
		return nil, err
	}
	m.registration, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, p := range m.groupLag(ctx) {
			o.ObserveInt64(lag, p.lag, metric.WithAttributes(
				attribute.String("messaging.consumer.group.name", c.cfg.GroupID),
				attribute.String("messaging.destination.name", p.topic),
				attribute.Int("messaging.destination.partition.id", p.partition)))
		}
		return nil
	}, lag)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *consumerMetrics) close() {
	_ = m.registration.Unregister()
}

func (m *consumerMetrics) consumed(ctx context.Context, topic string) {
	m.consumedC.Add(ctx, 1, metric.WithAttributes(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.consumer.group.name", m.c.cfg.GroupID),
		attribute.String("messaging.destination.name", topic)))
}

// processed records how long one record took to handle; errorType is ""
// when it was handled, else why it was dead-lettered.
func (m *consumerMetrics) processed(ctx context.Context, topic string, start time.Time, errorType string) {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.name", "process"),
		attribute.String("messaging.consumer.group.name", m.c.cfg.GroupID),
		attribute.String("messaging.destination.name", topic),
	}
	if errorType != "" {
		attrs = append(attrs, attribute.String("error.type", errorType))
	}
	m.processH.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}

func (m *consumerMetrics) deadLettered(ctx context.Context, topic, errorType string) {
	m.deadLetterC.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(
		attribute.String("messaging.consumer.group.name", m.c.cfg.GroupID),
		attribute.String("messaging.destination.name", topic),
		attribute.String("error.type", errorType)))
}

// groupLag returns the group's lag on every partition of its topics, at
// most lagTTL old; on a broker error, the last answer.
func (m *consumerMetrics) groupLag(ctx context.Context) []partitionLag {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.lagAt) < m.lagTTL {
		return m.lag
	}
	ctx, cancel := context.WithTimeout(ctx, m.lagWait)
	defer cancel()
	lag, err := askLag(ctx, m.c.cfg)
	if err != nil {
		m.c.cfg.Logger.DebugContext(ctx, "kafka consumer lag unknown", "group", m.c.cfg.GroupID, "error", err)
		return m.lag
	}
	m.lag, m.lagAt = lag, time.Now()
	return lag
}

// askLag compares each partition's end offset with the group's committed
// one; a partition the group never committed counts from offset 0.
func askLag(ctx context.Context, cfg ConsumerConfig) ([]partitionLag, error) {
	client, done := newClient(cfg.Brokers, cfg.Security, 5*time.Second)
	defer done()
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: cfg.Topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	ends := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	committed := &kafkago.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: map[string][]int{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			continue
		}
		for _, p := range t.Partitions {
			ends.Topics[t.Name] = append(ends.Topics[t.Name], kafkago.LastOffsetOf(p.ID))
			committed.Topics[t.Name] = append(committed.Topics[t.Name], p.ID)
		}
	}
	endRes, err := client.ListOffsets(ctx, ends)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	doneRes, err := client.OffsetFetch(ctx, committed)
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	at := map[string]map[int]int64{}
	for topic, parts := range doneRes.Topics {
		at[topic] = map[int]int64{}
		for _, p := range parts {
			at[topic][p.Partition] = max(p.CommittedOffset, 0)
		}
	}
	var out []partitionLag
	for topic, parts := range endRes.Topics {
		for _, p := range parts {
			if p.Error != nil {
				continue
			}
			out = append(out, partitionLag{topic: topic, partition: p.Partition, lag: max(p.LastOffset-at[topic][p.Partition], 0)})
		}
	}
	return out, nil
}
