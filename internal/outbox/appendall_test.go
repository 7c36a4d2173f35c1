package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
)

func TestAppendAll(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Run("events of several writes are published in order, each in its own write's trace", func(t *testing.T) {
				f := newFixture(t, engine)
				// Three writes share a transaction (a group commit), 300
				// events in all: more than one statement carries.
				var traced []outbox.Traced
				var spans []trace.Span
				writeOf := map[string]int{}
				for w := range 3 {
					ctx, span := f.tp.Tracer("api").Start(context.Background(), fmt.Sprintf("RSVP %d", w))
					spans = append(spans, span)
					for i := range 100 {
						id := fmt.Sprintf("w%d-e%03d", w, i)
						traced = append(traced, outbox.Traced{Ctx: ctx, Event: event(id, fmt.Sprintf("k%d", i%2))})
						writeOf[id] = w
					}
				}
				err := f.db.InTx(context.Background(), func(tx *sql.Tx) error {
					return f.outbox.AppendTraced(context.Background(), tx, traced)
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range spans {
					s.End()
				}
				if got := f.stored(t); !sameIDs(got, traced) {
					t.Fatalf("stored %d events out of order or incomplete", len(got))
				}
				f.outbox.Notify()
				f.relay(t, f.outbox, f.writer)
				f.waitPublished(t, len(traced))

				msgs := readTopic(t, f.brokers)
				if len(msgs) != len(traced) {
					t.Fatalf("records on topic = %d, want %d", len(msgs), len(traced))
				}
				last := map[string]string{} // key -> last event id seen on its partition
				for _, m := range msgs {
					got, err := kafka.ParseEvent(m)
					if err != nil {
						t.Fatal(err)
					}
					if prev, ok := last[got.Key]; ok && prev > got.ID {
						t.Errorf("key %s: %s published after %s", got.Key, got.ID, prev)
					}
					last[got.Key] = got.ID
					w := writeOf[got.ID]
					consumerCtx := kafka.Extract(context.Background(), propagator, m.Headers)
					if tid := trace.SpanContextFromContext(consumerCtx).TraceID(); tid != spans[w].SpanContext().TraceID() {
						t.Errorf("%s published in trace %s, want its write's %s", got.ID, tid, spans[w].SpanContext().TraceID())
					}
				}
			})

			t.Run("AppendAll keeps the trace of its context with every event", func(t *testing.T) {
				f := newFixture(t, engine)
				ctx, span := f.tp.Tracer("api").Start(context.Background(), "Batch")
				defer span.End()
				events := []kafka.Event{event("a", "k"), event("b", "k"), event("c", "j")}
				if err := f.db.InTx(ctx, func(tx *sql.Tx) error { return f.outbox.AppendAll(ctx, tx, events) }); err != nil {
					t.Fatal(err)
				}
				rows, err := f.db.Query("SELECT event_id, trace FROM outbox ORDER BY seq")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var ids []string
				for rows.Next() {
					var id, raw string
					if err := rows.Scan(&id, &raw); err != nil {
						t.Fatal(err)
					}
					carrier := propagation.MapCarrier{}
					if err := json.Unmarshal([]byte(raw), &carrier); err != nil {
						t.Fatal(err)
					}
					got := trace.SpanContextFromContext(propagator.Extract(context.Background(), carrier))
					if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
						t.Errorf("event %s carries %s/%s, want the appending span", id, got.TraceID(), got.SpanID())
					}
					ids = append(ids, id)
				}
				if fmt.Sprint(ids) != "[a b c]" {
					t.Errorf("stored %v, want [a b c] in order", ids)
				}
			})

			t.Run("one incomplete event stores none, and nothing is nothing", func(t *testing.T) {
				f := newFixture(t, engine)
				ctx := context.Background()
				bad := event("bad", "k")
				bad.Type = ""
				err := f.db.InTx(ctx, func(tx *sql.Tx) error {
					if err := f.outbox.AppendAll(ctx, tx, []kafka.Event{event("ok", "k"), bad}); err == nil {
						t.Error("an event without a type was appended")
					}
					// The caller goes on regardless: nothing may have been written.
					return f.outbox.AppendAll(ctx, tx, nil)
				})
				if err != nil {
					t.Fatal(err)
				}
				if n, err := f.outbox.Pending(ctx); err != nil || n != 0 {
					t.Errorf("pending = %d, %v; want 0", n, err)
				}
			})
		})
	}
}

// stored returns the ids of the outbox's events in the order it holds
// them.
func (f *fixture) stored(t *testing.T) []string {
	t.Helper()
	rows, err := f.db.Query("SELECT event_id FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func sameIDs(ids []string, traced []outbox.Traced) bool {
	if len(ids) != len(traced) {
		return false
	}
	for i, tr := range traced {
		if ids[i] != tr.Event.ID {
			return false
		}
	}
	return true
}
