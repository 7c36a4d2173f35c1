package inbox_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

func TestInbox(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, inbox.Migrations())
			if _, err := d.Exec("CREATE TABLE effects (event_id TEXT NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			in := inbox.New(d)
			ctx := context.Background()
			effect := func(id string) func(tx *sql.Tx) error {
				return func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO effects (event_id) VALUES (?)"), id)
					return err
				}
			}
			count := func() int {
				var n int
				if err := d.QueryRow("SELECT count(*) FROM effects").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}

			t.Run("a redelivered event has no second effect", func(t *testing.T) {
				ran, err := in.Handle(ctx, "comms", "e1", effect("e1"))
				if err != nil || !ran {
					t.Fatalf("first Handle = %v, %v; want ran", ran, err)
				}
				ran, err = in.Handle(ctx, "comms", "e1", effect("e1"))
				if err != nil || ran {
					t.Fatalf("second Handle = %v, %v; want skipped without error", ran, err)
				}
				if n := count(); n != 1 {
					t.Errorf("effects = %d, want 1", n)
				}
			})

			t.Run("each consumer handles an event once", func(t *testing.T) {
				ran, err := in.Handle(ctx, "events", "e1", effect("e1"))
				if err != nil || !ran {
					t.Fatalf("Handle by another consumer = %v, %v; want ran", ran, err)
				}
			})

			t.Run("a failed effect leaves the event unclaimed", func(t *testing.T) {
				boom := errors.New("boom")
				if _, err := in.Handle(ctx, "comms", "e2", func(*sql.Tx) error { return boom }); !errors.Is(err, boom) {
					t.Fatalf("Handle error = %v, want boom", err)
				}
				ran, err := in.Handle(ctx, "comms", "e2", effect("e2"))
				if err != nil || !ran {
					t.Fatalf("retry after failure = %v, %v; want ran", ran, err)
				}
			})

			t.Run("purge forgets old claims", func(t *testing.T) {
				n, err := in.Purge(ctx, time.Now().Add(time.Minute))
				if err != nil || n == 0 {
					t.Fatalf("Purge = %d, %v", n, err)
				}
			})
		})
	}
}

func TestInboxCountsTheDuplicatesItDrops(t *testing.T) {
	d := dbtest.Open(t, "sqlite", pg, inbox.Migrations())
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mp := tel.MeterProvider("kinship-test")
	if err := d.Instrument(mp, "test"); err != nil {
		t.Fatal(err)
	}
	in := inbox.New(d)
	ctx := context.Background()
	nothing := func(*sql.Tx) error { return nil }
	for _, h := range []struct{ consumer, event string }{{"comms", "e1"}, {"comms", "e1"}, {"comms", "e2"}, {"comms", "e1"}, {"events", "e1"}} {
		if _, err := in.Handle(ctx, h.consumer, h.event, nothing); err != nil {
			t.Fatal(err)
		}
	}
	got := telemetrytest.Scrape(t, telemetry.MetricsHandler(mp))
	for consumer, want := range map[string]float64{"comms": 2, "events": 0} {
		if n := got.Sum("kinship_inbox_duplicates_total", "kinship_inbox_consumer", consumer); n != want {
			t.Errorf("duplicates dropped by %s = %v, want %v\n%s", consumer, n, want, got)
		}
	}
}
