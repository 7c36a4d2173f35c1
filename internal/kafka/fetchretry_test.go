package kafka

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace/noop"
)

// flakyReader fails its first fetches as a group reader does while the
// broker is away, stops or the group rebalances, then hands out one
// record, then reports the end of its stream until its context ends.
type flakyReader struct {
	mu        sync.Mutex
	failures  []error
	msg       *kafkago.Message
	committed []kafkago.Message
	closed    bool
}

func (r *flakyReader) FetchMessage(ctx context.Context) (kafkago.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) > 0 {
		err := r.failures[0]
		r.failures = r.failures[1:]
		return kafkago.Message{}, err
	}
	if r.msg != nil {
		m := *r.msg
		r.msg = nil
		return m, nil
	}
	if err := ctx.Err(); err != nil {
		return kafkago.Message{}, err
	}
	return kafkago.Message{}, io.EOF
}

func (r *flakyReader) CommitMessages(_ context.Context, msgs ...kafkago.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = append(r.committed, msgs...)
	return nil
}

func (r *flakyReader) Close() error { r.closed = true; return nil }

// A consumer waits out failed fetches — a rebalance, a reset connection, a
// broker gone or stopping — and goes on with the next record; only the end
// of its context ends it.
func TestConsumerOutlastsFailedFetches(t *testing.T) {
	c, err := NewConsumer(ConsumerConfig{Brokers: []string{"127.0.0.1:1"}, GroupID: "g", Topics: []string{"demo.things.v1"},
		DeadLetters: NewWriter(WriterConfig{Brokers: []string{"127.0.0.1:1"}}), Tracer: noop.NewTracerProvider(),
		Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, propagator)
	if err != nil {
		t.Fatal(err)
	}
	m := testEvent("demo.things.v1", "e1").Message()
	m.Topic = "demo.things.v1"
	fake := &flakyReader{msg: &m, failures: []error{
		kafkago.RebalanceInProgress, errors.New("read tcp 127.0.0.1:1: connection reset by peer"), kafkago.RequestTimedOut,
		context.DeadlineExceeded, kafkago.NotCoordinatorForGroup,
		// A broker that stops closes its connections: kafka-go reports
		// the end of the stream, which is not the end of the reader.
		io.EOF, io.ErrUnexpectedEOF,
	}}
	c.reader = fake
	var handled []string
	ctx, stop := context.WithCancel(context.Background())
	err = c.Run(ctx, func(_ context.Context, e Event) error { handled = append(handled, e.ID); stop(); return nil })
	if err != nil {
		t.Fatalf("Run = %v, want nil once its context ended", err)
	}
	if len(handled) != 1 || handled[0] != "e1" || len(fake.committed) != 1 {
		t.Errorf("handled %v, committed %d; want the record after seven failed fetches", handled, len(fake.committed))
	}
	if c.backoff(1) != time.Millisecond || c.backoff(3) != 4*time.Millisecond || c.backoff(30) != 4*time.Millisecond {
		t.Errorf("backoff 1, 3, 30 = %v %v %v", c.backoff(1), c.backoff(3), c.backoff(30))
	}

	// Failing for ever, it still stops when its context ends.
	c2, _ := NewConsumer(ConsumerConfig{Brokers: []string{"127.0.0.1:1"}, GroupID: "g", Topics: []string{"demo.things.v1"},
		DeadLetters: NewWriter(WriterConfig{Brokers: []string{"127.0.0.1:1"}}), Tracer: noop.NewTracerProvider(),
		Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}, propagator)
	endless := &flakyReader{}
	for range 100000 {
		endless.failures = append(endless.failures, kafkago.RebalanceInProgress)
	}
	c2.reader = endless
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c2.Run(ctx, func(context.Context, Event) error { return nil }); err != nil {
		t.Errorf("Run after its context ended = %v, want nil", err)
	}
}
