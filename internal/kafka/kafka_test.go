package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
)

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func testEvent(topic, id string) Event {
	return Event{
		ID: id, Type: "kinship.test.v1.Thing", Source: "/test", Subject: "s-" + id,
		Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), ContentType: ContentTypeProtobuf,
		Data: []byte("payload-" + id), Topic: topic, Key: "k-" + id,
	}
}

func TestParseEventRoundTripsHeaders(t *testing.T) {
	in := testEvent("demo.things.v1", "e1")
	msg := in.Message()
	got, err := ParseEvent(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in.ID || got.Type != in.Type || got.Source != in.Source || got.Subject != in.Subject ||
		!got.Time.Equal(in.Time) || got.ContentType != in.ContentType || string(got.Data) != string(in.Data) || got.Key != in.Key {
		t.Errorf("ParseEvent = %+v, want %+v", got, in)
	}
}

func TestParseEventRejectsRecordsWithoutCloudEventHeaders(t *testing.T) {
	tests := map[string]func(*kafkago.Message){
		"no headers":        func(m *kafkago.Message) { m.Headers = nil },
		"wrong specversion": func(m *kafkago.Message) { setHeader(m, HeaderSpecVersion, "0.3") },
		"empty id":          func(m *kafkago.Message) { setHeader(m, HeaderID, "") },
		"bad time":          func(m *kafkago.Message) { setHeader(m, HeaderTime, "yesterday") },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			msg := testEvent("t", "e1").Message()
			mutate(&msg)
			if _, err := ParseEvent(msg); !errors.Is(err, ErrNotCloudEvent) {
				t.Errorf("ParseEvent error = %v, want ErrNotCloudEvent", err)
			}
		})
	}
}

func setHeader(m *kafkago.Message, key, value string) {
	HeaderCarrier{Headers: &m.Headers}.Set(key, value)
}

func TestHeaderCarrierCarriesTraceContext(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "produce")
	defer span.End()
	var headers []kafkago.Header
	Inject(ctx, propagator, &headers)
	Inject(ctx, propagator, &headers) // injecting twice must not duplicate
	n := 0
	for _, h := range headers {
		if h.Key == "traceparent" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("traceparent headers = %d, want 1 (%v)", n, headers)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), propagator, headers))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("extracted %v, want %v", got, span.SpanContext())
	}
}

type harness struct {
	brokers  []string
	writer   *kafkago.Writer
	recorder *tracetest.SpanRecorder
	tp       *sdktrace.TracerProvider
}

func newHarness(t *testing.T, topics ...string) *harness {
	t.Helper()
	brokers := kafkatest.Start(t)
	var specs []Topic
	for _, name := range topics {
		specs = append(specs, Topic{Name: name, Partitions: 2, ReplicationFactor: 1}, Topic{Name: DeadLetterTopic(name), Partitions: 1, ReplicationFactor: 1})
	}
	ctx := context.Background()
	if err := EnsureTopics(ctx, brokers, Security{}, specs...); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, brokers, Security{}, specs...); err != nil {
		t.Fatalf("EnsureTopics is not idempotent: %v", err)
	}
	w := NewWriter(WriterConfig{Brokers: brokers})
	t.Cleanup(func() { w.Close() })
	rec := tracetest.NewSpanRecorder()
	return &harness{brokers: brokers, writer: w, recorder: rec, tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))}
}

func (h *harness) consume(t *testing.T, topic string, handle Handler) context.CancelFunc {
	t.Helper()
	c, err := NewConsumer(ConsumerConfig{
		Brokers: h.brokers, GroupID: "test-group", Topics: []string{topic}, DeadLetters: h.writer,
		Tracer: h.tp, Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}, propagator)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})
	return cancel
}

func readAll(t *testing.T, brokers []string, topic string, want int) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []kafkago.Message
	for p := 0; p < 2 && len(out) < want; p++ {
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for len(out) < want {
			pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			m, err := r.ReadMessage(pctx)
			pcancel()
			if err != nil {
				break
			}
			out = append(out, m)
		}
		r.Close()
	}
	if len(out) < want {
		t.Fatalf("read %d records from %s, want %d", len(out), topic, want)
	}
	return out
}

func TestConsumerHandlesEachEventAndContinuesTheTrace(t *testing.T) {
	const topic = "demo.things.v1"
	h := newHarness(t, topic)
	ctx, span := h.tp.Tracer("producer").Start(context.Background(), "produce")
	var msgs []kafkago.Message
	for i := range 5 {
		m := testEvent(topic, fmt.Sprintf("e%d", i)).Message()
		Inject(ctx, propagator, &m.Headers)
		msgs = append(msgs, m)
	}
	span.End()
	if err := h.writer.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]trace.TraceID{}
	done := make(chan struct{})
	h.consume(t, topic, func(ctx context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen[e.ID] = trace.SpanContextFromContext(ctx).TraceID()
		if len(seen) == 5 {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("handled %d of 5 events", len(seen))
	}
	for id, tid := range seen {
		if tid != span.SpanContext().TraceID() {
			t.Errorf("event %s handled in trace %s, want the producer's %s", id, tid, span.SpanContext().TraceID())
		}
	}
}

func TestConsumerRetriesTransientFailuresAndDeadLettersPermanentOnes(t *testing.T) {
	const topic = "demo.retry.v1"
	h := newHarness(t, topic)
	good := testEvent(topic, "good")
	bad := testEvent(topic, "bad")
	garbage := kafkago.Message{Topic: topic, Key: []byte("k-good"), Value: []byte("not an event")}
	// Same key: one partition, so order is good, garbage, bad, after.
	bad.Key, good.Key = "k-good", "k-good"
	after := testEvent(topic, "after")
	after.Key = "k-good"
	if err := h.writer.WriteMessages(context.Background(), good.Message(), garbage, bad.Message(), after.Message()); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	attempts := map[string]int{}
	var order []string
	done := make(chan struct{})
	h.consume(t, topic, func(ctx context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[e.ID]++
		switch {
		case e.ID == "good" && attempts[e.ID] < 3:
			return errors.New("temporal unavailable")
		case e.ID == "bad":
			return Permanent(errors.New("unknown member"))
		}
		order = append(order, e.ID)
		if e.ID == "after" {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("consumer did not reach the last record")
	}
	mu.Lock()
	if attempts["good"] != 3 || attempts["bad"] != 1 {
		t.Errorf("attempts = %v, want good retried to 3 and bad tried once", attempts)
	}
	if fmt.Sprint(order) != "[good after]" {
		t.Errorf("handled order = %v, want [good after]", order)
	}
	mu.Unlock()

	dead := readAll(t, h.brokers, DeadLetterTopic(topic), 2)
	reasons := map[string]string{}
	for _, m := range dead {
		c := HeaderCarrier{Headers: &m.Headers}
		if c.Get(HeaderDLQTopic) != topic || c.Get(HeaderDLQConsumer) != "test-group" || c.Get(HeaderDLQOffset) == "" {
			t.Errorf("dead letter lacks its origin: %v", m.Headers)
		}
		reasons[string(m.Value)] = c.Get(HeaderDLQReason)
	}
	if r := reasons["not an event"]; r == "" {
		t.Errorf("garbage record not dead-lettered with a reason: %v", reasons)
	}
	if r := reasons["payload-bad"]; r != "permanent: unknown member" {
		t.Errorf("bad event reason = %q, want the handler's error", r)
	}
}

func TestConsumerResumesFromCommittedOffset(t *testing.T) {
	const topic = "demo.resume.v1"
	h := newHarness(t, topic)
	first := testEvent(topic, "first")
	if err := h.writer.WriteMessages(context.Background(), first.Message()); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	stop := h.consume(t, topic, func(_ context.Context, e Event) error { got <- e.ID; return nil })
	if id := waitFor(t, got); id != "first" {
		t.Fatalf("got %s, want first", id)
	}
	stop()
	time.Sleep(100 * time.Millisecond)

	second := testEvent(topic, "second")
	if err := h.writer.WriteMessages(context.Background(), second.Message()); err != nil {
		t.Fatal(err)
	}
	h.consume(t, topic, func(_ context.Context, e Event) error { got <- e.ID; return nil })
	if id := waitFor(t, got); id != "second" {
		t.Fatalf("after restart got %s, want second (first was committed)", id)
	}
}

func waitFor(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(15 * time.Second):
		t.Fatal("no event handled")
		return ""
	}
}

func TestPing(t *testing.T) {
	h := newHarness(t, "demo.ping.v1")
	if err := Ping(context.Background(), h.brokers, Security{}); err != nil {
		t.Fatalf("Ping live cluster: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Ping(ctx, []string{"127.0.0.1:1"}, Security{}); err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}
}

func TestNewProtoAndDecodeRoundTrip(t *testing.T) {
	payload := timestamppb.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	e, err := NewProto(Event{Type: "kinship.test.v1.Tick", Source: "/test", Subject: "s", Topic: "demo.test.v1", Key: "k"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID == "" || e.ContentType != ContentTypeProtobuf || e.Topic != "demo.test.v1" || e.Key != "k" {
		t.Fatalf("event %+v", e)
	}
	if next, _ := NewProto(e, payload); next.ID == e.ID {
		t.Error("two events got the same id")
	}
	var got timestamppb.Timestamp
	if err := Decode(e, "kinship.test.v1.Tick", &got); err != nil || !got.AsTime().Equal(payload.AsTime()) {
		t.Fatalf("decode: %v %v", &got, err)
	}
	if err := Decode(e, "kinship.test.v1.Other", &got); err == nil || !strings.Contains(err.Error(), "is kinship.test.v1.Tick, not kinship.test.v1.Other") {
		t.Errorf("wrong type: %v", err)
	}
	json := e
	json.ContentType = "application/json"
	if err := Decode(json, e.Type, &got); err == nil || !strings.Contains(err.Error(), "content type") {
		t.Errorf("wrong content type: %v", err)
	}
	broken := e
	broken.Data = []byte{0xff, 0xff}
	if err := Decode(broken, e.Type, &got); err == nil || !strings.Contains(err.Error(), "decode kinship.test.v1.Tick") {
		t.Errorf("broken payload: %v", err)
	}
}
