package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/outbox"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

const topic = "demo.things.v1"

func event(id, key string) kafka.Event {
	return kafka.Event{
		ID: id, Type: "kinship.test.v1.ThingHappened", Source: "/communities/demo/things", Subject: key,
		Time: time.Now(), ContentType: kafka.ContentTypeProtobuf, Data: []byte("data-" + id), Topic: topic, Key: key,
	}
}

type fixture struct {
	db       *db.DB
	outbox   *outbox.Outbox
	brokers  []string
	writer   *kafkago.Writer
	recorder *tracetest.SpanRecorder
	tp       *sdktrace.TracerProvider
}

func newFixture(t *testing.T, engine string) *fixture {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations())
	brokers := kafkatest.Start(t)
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{}, kafka.Topic{Name: topic, Partitions: 4, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: brokers})
	t.Cleanup(func() { w.Close() })
	rec := tracetest.NewSpanRecorder()
	return &fixture{db: d, outbox: outbox.New(d, propagator), brokers: brokers, writer: w, recorder: rec,
		tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))}
}

func (f *fixture) append(t *testing.T, ctx context.Context, events ...kafka.Event) {
	t.Helper()
	err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if err := f.outbox.Append(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.outbox.Notify()
}

func (f *fixture) relay(t *testing.T, o *outbox.Outbox, w outbox.Writer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- o.Run(ctx, outbox.RelayConfig{Writer: w, Tracer: f.tp, Logger: slog.New(slog.DiscardHandler),
			PollInterval: 50 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay Run: %v", err)
		}
	})
}

func (f *fixture) waitPublished(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var published, pending int
		if err := f.db.QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL").Scan(&published); err != nil {
			t.Fatal(err)
		}
		if err := f.db.QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if published == want && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("published %d, pending %d; want %d published", published, pending, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readTopic reads every record on topic, partition by partition.
func readTopic(t *testing.T, brokers []string) []kafkago.Message {
	t.Helper()
	var out []kafkago.Message
	for p := range 4 {
		conn, err := kafkago.DialLeader(context.Background(), "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				t.Fatalf("read partition %d: %v", p, err)
			}
			out = append(out, m)
			if m.Offset == last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

func TestRelay(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("publishes committed events with cloudevent headers in the appending trace", func(t *testing.T) {
				f := newFixture(t, engine)
				ctx, span := f.tp.Tracer("api").Start(context.Background(), "JoinCommunity")
				f.append(t, ctx, event("e1", "m1"))
				span.End()
				f.relay(t, f.outbox, f.writer)
				f.waitPublished(t, 1)

				msgs := readTopic(t, f.brokers)
				if len(msgs) != 1 {
					t.Fatalf("records on topic = %d, want 1", len(msgs))
				}
				got, err := kafka.ParseEvent(msgs[0])
				if err != nil {
					t.Fatalf("published record is not a cloudevent: %v", err)
				}
				if got.ID != "e1" || got.Key != "m1" || string(got.Data) != "data-e1" || got.Subject != "m1" {
					t.Errorf("published %+v", got)
				}
				consumerCtx := kafka.Extract(context.Background(), propagator, msgs[0].Headers)
				if tid := trace.SpanContextFromContext(consumerCtx).TraceID(); tid != span.SpanContext().TraceID() {
					t.Errorf("record traceparent trace = %s, want the appending trace %s", tid, span.SpanContext().TraceID())
				}
				var publishSpan sdktrace.ReadOnlySpan
				for _, s := range f.recorder.Ended() {
					if s.Name() == "publish "+topic {
						publishSpan = s
					}
				}
				if publishSpan == nil || publishSpan.Parent().SpanID() != span.SpanContext().SpanID() || publishSpan.SpanKind() != trace.SpanKindProducer {
					t.Errorf("no producer span under the appending span: %v", publishSpan)
				}
			})

			t.Run("rolled back events are never published", func(t *testing.T) {
				f := newFixture(t, engine)
				ctx := context.Background()
				err := f.db.InTx(ctx, func(tx *sql.Tx) error {
					if err := f.outbox.Append(ctx, tx, event("rolled-back", "m1")); err != nil {
						return err
					}
					return errors.New("validation failed later")
				})
				if err == nil {
					t.Fatal("transaction committed")
				}
				f.append(t, ctx, event("kept", "m2"))
				f.relay(t, f.outbox, f.writer)
				f.waitPublished(t, 1)
				for _, m := range readTopic(t, f.brokers) {
					if e, _ := kafka.ParseEvent(m); e.ID == "rolled-back" {
						t.Fatal("a rolled-back event was published")
					}
				}
			})

			t.Run("keeps order per key", func(t *testing.T) {
				f := newFixture(t, engine)
				ctx := context.Background()
				var want []string
				for i := range 250 {
					key := fmt.Sprintf("m%d", i%3)
					id := fmt.Sprintf("e%03d", i)
					f.append(t, ctx, event(id, key))
					if key == "m1" {
						want = append(want, id)
					}
				}
				f.relay(t, f.outbox, f.writer)
				f.waitPublished(t, 250)
				var got []string
				for _, m := range readTopic(t, f.brokers) {
					if string(m.Key) == "m1" {
						e, _ := kafka.ParseEvent(m)
						got = append(got, e.ID)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("key m1 order = %v, want %v", got, want)
				}
			})

			t.Run("broker errors back off and nothing is lost", func(t *testing.T) {
				f := newFixture(t, engine)
				flaky := &flakyWriter{next: f.writer, failures: 3}
				f.append(t, context.Background(), event("e1", "m1"), event("e2", "m2"))
				f.relay(t, f.outbox, flaky)
				f.waitPublished(t, 2)
				var attempts int
				var lastErr string
				if err := f.db.QueryRow("SELECT attempts, last_error FROM outbox WHERE event_id = 'e1'").Scan(&attempts, &lastErr); err != nil {
					t.Fatal(err)
				}
				if attempts != 3 || lastErr == "" {
					t.Errorf("attempts = %d, last_error = %q; want 3 recorded failures", attempts, lastErr)
				}
				if n := len(readTopic(t, f.brokers)); n != 2 {
					t.Errorf("records on topic = %d, want 2", n)
				}
			})

			t.Run("marks only the events the broker accepted", func(t *testing.T) {
				f := newFixture(t, engine)
				partial := &partialWriter{next: f.writer, refuse: "e2"}
				f.append(t, context.Background(), event("e1", "m1"), event("e2", "m2"), event("e3", "m3"))
				f.relay(t, f.outbox, partial)
				f.waitPublished(t, 3)
				counts := map[string]int{}
				for _, m := range readTopic(t, f.brokers) {
					e, _ := kafka.ParseEvent(m)
					counts[e.ID]++
				}
				if counts["e1"] != 1 || counts["e3"] != 1 || counts["e2"] != 1 {
					t.Errorf("records per event = %v, want each exactly once", counts)
				}
			})
		})
	}
}

func TestRelayReplicasOnPostgresPublishOnce(t *testing.T) {
	f := newFixture(t, "postgres")
	second := outbox.New(f.db, propagator)
	f.relay(t, f.outbox, f.writer)
	f.relay(t, second, f.writer)
	for i := range 100 {
		f.append(t, context.Background(), event(fmt.Sprintf("e%03d", i), "m1"))
		second.Notify()
	}
	f.waitPublished(t, 100)
	if n := len(readTopic(t, f.brokers)); n != 100 {
		t.Errorf("records on topic = %d, want 100 (one relay publishing)", n)
	}
}

func TestRelayReportsBacklogAndPublished(t *testing.T) {
	f := newFixture(t, "sqlite")
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f.append(t, context.Background(), event("e1", "m1"), event("e2", "m2"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.outbox.Run(ctx, outbox.RelayConfig{Writer: f.writer, Tracer: f.tp, Meter: mp, Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond})
	}()
	defer func() { cancel(); <-done }()
	f.waitPublished(t, 2)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				values[m.Name] = float64(d.DataPoints[0].Value)
			case metricdata.Gauge[int64]:
				values[m.Name] = float64(d.DataPoints[0].Value)
			case metricdata.Gauge[float64]:
				values[m.Name] = d.DataPoints[0].Value
			case metricdata.Histogram[float64]:
				values[m.Name] = float64(d.DataPoints[0].Count)
			}
		}
	}
	want := map[string]float64{"messaging.client.sent.messages": 2, "messaging.client.operation.duration": 1, "kinship.outbox.pending": 0, "kinship.outbox.oldest_age": 0}
	for name, v := range want {
		if got, ok := values[name]; !ok || got != v {
			t.Errorf("%s = %v (recorded: %v), want %v", name, got, ok, v)
		}
	}
}

func TestAppendRejectsIncompleteEvents(t *testing.T) {
	f := newFixture(t, "sqlite")
	e := event("e1", "m1")
	e.Type = ""
	err := f.db.InTx(context.Background(), func(tx *sql.Tx) error { return f.outbox.Append(context.Background(), tx, e) })
	if err == nil {
		t.Fatal("Append accepted an event without a type")
	}
}

// flakyWriter fails its first writes, as a broker that is down.
type flakyWriter struct {
	mu       sync.Mutex
	next     outbox.Writer
	failures int
}

func (w *flakyWriter) WriteMessages(ctx context.Context, msgs ...kafkago.Message) error {
	w.mu.Lock()
	if w.failures > 0 {
		w.failures--
		w.mu.Unlock()
		return errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
	}
	w.mu.Unlock()
	return w.next.WriteMessages(ctx, msgs...)
}

// partialWriter refuses one event once, as a partition whose leader moved.
type partialWriter struct {
	mu      sync.Mutex
	next    outbox.Writer
	refuse  string
	refused bool
}

func (w *partialWriter) WriteMessages(ctx context.Context, msgs ...kafkago.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	errs := make(kafkago.WriteErrors, len(msgs))
	var accepted []kafkago.Message
	for i, m := range msgs {
		e, _ := kafka.ParseEvent(m)
		if e.ID == w.refuse && !w.refused {
			errs[i] = kafkago.NotLeaderForPartition
			w.refused = true
			continue
		}
		accepted = append(accepted, m)
	}
	if err := w.next.WriteMessages(ctx, accepted...); err != nil {
		return err
	}
	if errs.Count() > 0 {
		return errs
	}
	return nil
}

func TestBacklogSaysHowLongTheOldestEventWaited(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			ctx := context.Background()
			if n, age, err := f.outbox.Backlog(ctx); err != nil || n != 0 || age != 0 {
				t.Fatalf("empty backlog = %d, %v, %v", n, age, err)
			}
			old, recent := event("e1", "m1"), event("e2", "m2")
			old.Time = time.Now().Add(-time.Hour)
			f.append(t, ctx, old, recent)
			n, age, err := f.outbox.Backlog(ctx)
			if err != nil || n != 2 || age < time.Hour || age > 2*time.Hour {
				t.Errorf("backlog = %d events, oldest %v, %v; want 2, about an hour", n, age, err)
			}
		})
	}
}
