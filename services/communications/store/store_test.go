package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

func newStore(t *testing.T, engine string) (*store.Store, *db.DB) {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), store.Migrations())
	return store.New(d, outbox.New(d, propagation.TraceContext{})), d
}

func message(t *testing.T, key, text string) domain.Message {
	t.Helper()
	m, err := domain.NewMessage(domain.SendRequest{Community: "demo", IdempotencyKey: key, MemberID: "m1", To: "ada@example.org", Subject: "Welcome", Text: text},
		uuid.Must(uuid.NewV7()).String(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()

			t.Run("a key delivers once, and its outcome is kept with its event", func(t *testing.T) {
				s, d := newStore(t, engine)
				m := message(t, "k1", "hello")
				stored, deliver, err := s.Claim(ctx, m, time.Minute)
				if err != nil || !deliver || stored.ID != m.ID {
					t.Fatalf("first Claim = %v, %v, %v", stored.ID, deliver, err)
				}
				if _, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute); !errors.Is(err, domain.ErrInProgress) {
					t.Fatalf("Claim during delivery error = %v, want ErrInProgress", err)
				}
				sentAt := time.Now().UTC().Truncate(time.Microsecond)
				stored.SentAt = sentAt
				e, err := events.MessageSent(uuid.NewString(), stored)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.MarkSent(ctx, stored.ID, sentAt, e); err != nil {
					t.Fatal(err)
				}
				again, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute)
				if err != nil || deliver || again.ID != m.ID || again.Status != domain.StatusSent || !again.SentAt.Equal(sentAt) {
					t.Fatalf("Claim after sending = %+v, deliver %v, %v", again, deliver, err)
				}
				var events int
				if err := d.QueryRow("SELECT count(*) FROM outbox").Scan(&events); err != nil || events != 1 {
					t.Errorf("outbox events = %d (%v), want 1", events, err)
				}
			})

			t.Run("a key reused for another message is refused", func(t *testing.T) {
				s, _ := newStore(t, engine)
				if _, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.Claim(ctx, message(t, "k1", "something else"), time.Minute); !errors.Is(err, domain.ErrKeyReused) {
					t.Errorf("error = %v, want ErrKeyReused", err)
				}
			})

			t.Run("an abandoned or released delivery may be retried", func(t *testing.T) {
				s, _ := newStore(t, engine)
				first, _, err := s.Claim(ctx, message(t, "k1", "hello"), -time.Second) // lease already over
				if err != nil {
					t.Fatal(err)
				}
				retry, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute)
				if err != nil || !deliver || retry.ID != first.ID {
					t.Fatalf("Claim after lease expiry = %v, %v, %v; want the same message to deliver", retry.ID, deliver, err)
				}
				if err := s.Release(ctx, retry.ID); err != nil {
					t.Fatal(err)
				}
				if _, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute); err != nil || !deliver {
					t.Fatalf("Claim after Release = %v, %v; want deliver", deliver, err)
				}
			})

			t.Run("a refused message is never retried", func(t *testing.T) {
				s, _ := newStore(t, engine)
				m, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.MarkFailed(ctx, m.ID, "550 no such user"); err != nil {
					t.Fatal(err)
				}
				got, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute)
				if err != nil || deliver || got.Status != domain.StatusFailed || got.FailureReason != "550 no such user" {
					t.Errorf("Claim after failure = %+v, %v, %v", got, deliver, err)
				}
			})

			t.Run("concurrent requests with one key deliver once", func(t *testing.T) {
				s, _ := newStore(t, engine)
				var wg sync.WaitGroup
				var mu sync.Mutex
				delivers, inProgress := 0, 0
				for range 8 {
					wg.Go(func() {
						_, deliver, err := s.Claim(ctx, message(t, "k-race", "hello"), time.Minute)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil && deliver:
							delivers++
						case errors.Is(err, domain.ErrInProgress):
							inProgress++
						default:
							t.Errorf("Claim = %v, %v", deliver, err)
						}
					})
				}
				wg.Wait()
				if delivers != 1 || inProgress != 7 {
					t.Errorf("delivers = %d, in progress = %d; want 1 and 7", delivers, inProgress)
				}
			})
		})
	}
}
