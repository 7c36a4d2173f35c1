package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// Handler handles one event. Returning nil commits the record; returning a
// Permanent error sends it to the dead-letter topic and commits it; any
// other error is retried with backoff, holding the partition, until it
// succeeds or the consumer stops.
type Handler func(ctx context.Context, e Event) error

// PermanentError marks a failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the consumer dead-letters the event instead of
// retrying it.
func Permanent(err error) error { return &PermanentError{Err: err} }

// DLQ headers added to a dead-lettered record, beside its original headers.
const (
	HeaderDLQReason    = "kinship_dlq_reason"
	HeaderDLQTopic     = "kinship_dlq_topic"
	HeaderDLQPartition = "kinship_dlq_partition"
	HeaderDLQOffset    = "kinship_dlq_offset"
	HeaderDLQConsumer  = "kinship_dlq_consumer"
)

// DeadLetterTopic is where records of topic go that cannot be handled.
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// Group names the consumer group of a component (base, such as
// "kinship-members-activity") serving communities: each instance gets its
// own group, so one community's rebalance never pauses another's consumers
// on a shared cluster.
func Group(base string, communities []string) string {
	sorted := slices.Clone(communities)
	slices.Sort(sorted)
	return base + "." + strings.Join(sorted, "+")
}

// ConsumerConfig configures a consumer group member.
type ConsumerConfig struct {
	Brokers []string
	// GroupID names the consumer group; one group per consuming component
	// and instance (see Group).
	GroupID string
	Topics  []string
	// DeadLetters writes dead-lettered records; its Topic must be unset.
	DeadLetters *kafkago.Writer
	Tracer      trace.TracerProvider
	// Meter records the consumer's metrics (see internal/telemetry's
	// catalogue); nil means the one paired with Tracer.
	Meter  metric.MeterProvider
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the retry delay of failing handlers;
	// 0 means 100 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// Security protects the consumer's connections; zero means plaintext.
	// The dead-letter writer carries its own.
	Security Security
	// Lanes is how many records of different keys are handled at the same
	// time (see lanes.go); 0 or 1 handles one record after another.
	Lanes int
}

// Consumer reads records as one member of a consumer group and hands each to
// its Handler, committing only after the handler is done with it.
type Consumer struct {
	cfg        ConsumerConfig
	reader     groupReader
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	metrics    *consumerMetrics
}

// NewConsumer joins cfg.GroupID on cfg.Topics. A new group starts at the
// earliest offset, so nothing published before the first start is missed.
func NewConsumer(cfg ConsumerConfig, propagator propagation.TextMapPropagator) (*Consumer, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka consumer: no brokers")
	case cfg.GroupID == "":
		return nil, errors.New("kafka consumer: no group id")
	case len(cfg.Topics) == 0:
		return nil, errors.New("kafka consumer: no topics")
	case cfg.DeadLetters == nil:
		return nil, errors.New("kafka consumer: no dead-letter writer")
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.GroupID,
		GroupTopics:       cfg.Topics,
		StartOffset:       kafkago.FirstOffset,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
		ReadBatchTimeout:  2 * time.Second,
		CommitInterval:    0, // commit synchronously after each handled record
		HeartbeatInterval: 3 * time.Second,
		SessionTimeout:    30 * time.Second,
		Dialer:            cfg.Security.dialer(),
		ErrorLogger:       kafkago.LoggerFunc(func(msg string, args ...any) { cfg.Logger.Debug("kafka reader", "detail", fmt.Sprintf(msg, args...)) }),
	})
	if cfg.Meter == nil {
		cfg.Meter = telemetry.MeterProviderOf(cfg.Tracer)
	}
	c := &Consumer{cfg: cfg, reader: r, tracer: cfg.Tracer.Tracer(scope), propagator: propagator}
	m, err := newConsumerMetrics(c)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("kafka consumer metrics: %w", err)
	}
	c.metrics = m
	return c, nil
}

const scope = "github.com/kinshiphq/kinship/internal/kafka"

// groupReader is what a consumer needs of kafka-go's group reader.
type groupReader interface {
	FetchMessage(ctx context.Context) (kafkago.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafkago.Message) error
	Close() error
}

// Run consumes until ctx ends, then leaves the group. A failed fetch — a
// rebalance in progress, a broker gone for a while, a connection reset —
// is waited out with backoff while the reader rejoins by itself: it never
// ends the consumer (a consumer that quit made its process exit, and each
// restart reformed the group while the broker was away).
func (c *Consumer) Run(ctx context.Context, handle Handler) error {
	defer c.reader.Close()
	defer c.metrics.close()
	if c.cfg.Lanes > 1 {
		return c.runLanes(ctx, handle)
	}
	for {
		msg, ok := c.fetch(ctx)
		if !ok {
			return nil
		}
		if err := c.process(ctx, msg, handle); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := c.retry(ctx, "commit", msg, func() error { return c.reader.CommitMessages(ctx, msg) }); err != nil {
			return nil // only ctx ends retry
		}
	}
}

// fetch returns the next record, waiting out failed fetches with backoff
// while the reader rejoins the group; ok is false once ctx ended. Every
// failure is waited out, the end of a stream (io.EOF) too: the reader is
// closed only when Run returns, so an EOF here is a connection the broker
// closed — a broker stopping for an upgrade does — not the reader's end
// (the chaos harness saw every consumer's process exit when the broker
// was stopped for a minute).
func (c *Consumer) fetch(ctx context.Context) (msg kafkago.Message, ok bool) {
	for failures := 1; ; failures++ {
		msg, err := c.reader.FetchMessage(ctx)
		switch {
		case err == nil:
			return msg, true
		case ctx.Err() != nil:
			return msg, false
		}
		delay := c.backoff(failures)
		c.cfg.Logger.WarnContext(ctx, "kafka fetch failed; retrying", "topics", c.cfg.Topics, "group", c.cfg.GroupID,
			"attempt", failures, "retry_in_ms", delay.Milliseconds(), "error", err)
		select {
		case <-ctx.Done():
			return msg, false
		case <-time.After(delay):
		}
	}
}

// process runs handle for msg, retrying transient failures and
// dead-lettering permanent ones. It returns only when msg may be committed
// or ctx has ended.
func (c *Consumer) process(ctx context.Context, msg kafkago.Message, handle Handler) error {
	start := time.Now()
	c.metrics.consumed(ctx, msg.Topic)
	ctx = Extract(ctx, c.propagator, msg.Headers)
	ctx, span := c.tracer.Start(ctx, "process "+msg.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.operation.name", "process"),
			attribute.String("messaging.destination.name", msg.Topic),
			attribute.String("messaging.consumer.group.name", c.cfg.GroupID),
			attribute.Int("messaging.destination.partition.id", msg.Partition),
			attribute.Int64("messaging.kafka.offset", msg.Offset),
		))
	defer span.End()
	ctx = telemetry.WithCommunity(ctx, telemetry.TopicCommunity(msg.Topic))

	event, err := ParseEvent(msg)
	errorType := "undecodable"
	if err == nil {
		errorType = "permanent"
		span.SetAttributes(attribute.String("messaging.message.id", event.ID), attribute.String("cloudevents.event_type", event.Type))
		err = c.retry(ctx, "handle", msg, func() error {
			herr := handle(ctx, event)
			var perm *PermanentError
			if errors.As(herr, &perm) {
				return stopRetry{herr}
			}
			return herr
		})
		var stop stopRetry
		if !errors.As(err, &stop) {
			if err == nil {
				c.metrics.processed(ctx, msg.Topic, start, "")
			}
			return err // nil, or ctx ended
		}
		err = stop.err
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, "dead-lettered")
	span.SetAttributes(attribute.String("error.type", errorType))
	c.cfg.Logger.WarnContext(ctx, "dead-lettering record", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "error", err)
	if err := c.retry(ctx, "dead-letter", msg, func() error { return c.deadLetter(ctx, msg, err) }); err != nil {
		return err
	}
	c.metrics.processed(ctx, msg.Topic, start, errorType)
	c.metrics.deadLettered(ctx, msg.Topic, errorType)
	return nil
}

func (c *Consumer) deadLetter(ctx context.Context, msg kafkago.Message, reason error) error {
	headers := append([]kafkago.Header(nil), msg.Headers...)
	headers = append(headers,
		kafkago.Header{Key: HeaderDLQReason, Value: []byte(reason.Error())},
		kafkago.Header{Key: HeaderDLQTopic, Value: []byte(msg.Topic)},
		kafkago.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(msg.Partition))},
		kafkago.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
		kafkago.Header{Key: HeaderDLQConsumer, Value: []byte(c.cfg.GroupID)},
	)
	return c.cfg.DeadLetters.WriteMessages(ctx, kafkago.Message{
		Topic: DeadLetterTopic(msg.Topic), Key: msg.Key, Value: msg.Value, Headers: headers,
	})
}

// stopRetry ends retry with err.
type stopRetry struct{ err error }

func (s stopRetry) Error() string { return s.err.Error() }

// retry runs op until it returns nil or stopRetry, or ctx ends, with
// exponential backoff between attempts.
func (c *Consumer) retry(ctx context.Context, what string, msg kafkago.Message, op func() error) error {
	delay := c.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		err := op()
		var stop stopRetry
		if err == nil || errors.As(err, &stop) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.cfg.Logger.WarnContext(ctx, "kafka record failed; retrying", "step", what, "topic", msg.Topic,
			"partition", msg.Partition, "offset", msg.Offset, "attempt", attempt, "retry_in_ms", delay.Milliseconds(), "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, c.cfg.MaxBackoff)
	}
}

// backoff is the wait before the attempt after failures failed ones: from
// MinBackoff, doubling, at most MaxBackoff.
func (c *Consumer) backoff(failures int) time.Duration {
	d := c.cfg.MinBackoff
	for i := 1; i < failures && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxBackoff)
}
