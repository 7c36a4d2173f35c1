package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

func outboxCount(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The sending mark tells a message a crash left in doubt from one never
// handed to the mail server, and every outcome clears it.
func TestSendingMark(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			at := time.Now().UTC().Truncate(time.Microsecond)

			// abandoned claims a message whose lease is already over.
			abandoned := func(t *testing.T, s *store.Store, key string) domain.Message {
				t.Helper()
				m, deliver, err := s.Claim(ctx, message(t, key, "hello"), -time.Second, noAudit)
				if err != nil || !deliver {
					t.Fatalf("Claim = %v, %v", deliver, err)
				}
				return m
			}

			t.Run("an abandoned message is in doubt only when it was marked sending", func(t *testing.T) {
				s, _ := newStore(t, engine)
				untried := abandoned(t, s, "untried")
				marked := abandoned(t, s, "marked")
				if ok, err := s.MarkSending(ctx, marked, 1, at); err != nil || !ok {
					t.Fatalf("MarkSending = %v, %v", ok, err)
				}
				again, deliver, err := s.Claim(ctx, message(t, "untried", "hello"), -time.Second, noAudit)
				if err != nil || !deliver || again.ID != untried.ID || !again.SendingAt.IsZero() {
					t.Errorf("Claim of the untried message = %+v, %v, %v; want it to deliver, not in doubt", again, deliver, err)
				}
				again, deliver, err = s.Claim(ctx, message(t, "marked", "hello"), time.Minute, noAudit)
				if err != nil || !deliver || again.ID != marked.ID || !again.SendingAt.Equal(at) || again.SendingAttempt != 1 {
					t.Errorf("Claim of the marked message = sending %v attempt %d, %v, %v; want in doubt since %v, attempt 1",
						again.SendingAt, again.SendingAttempt, deliver, err, at)
				}
				due, err := s.Due(ctx, time.Now(), 10, time.Minute)
				if err != nil || len(due) != 1 || due[0].ID != untried.ID || !due[0].SendingAt.IsZero() {
					t.Errorf("Due = %+v, %v; want only the untried message (the marked one is leased)", due, err)
				}
			})

			t.Run("the dispatcher's claim carries the mark, and marking again counts the interrupted attempt", func(t *testing.T) {
				s, _ := newStore(t, engine)
				m := abandoned(t, s, "k1")
				if ok, err := s.MarkSending(ctx, m, 1, at); err != nil || !ok {
					t.Fatalf("MarkSending = %v, %v", ok, err)
				}
				due, err := s.Due(ctx, time.Now(), 10, -time.Second)
				if err != nil || len(due) != 1 || !due[0].SendingAt.Equal(at) || due[0].SendingAttempt != 1 || due[0].Attempts != 0 {
					t.Fatalf("Due = %+v, %v; want the message in doubt, attempt 1 of 0 counted", due, err)
				}
				if ok, err := s.MarkSending(ctx, due[0], 2, at.Add(time.Minute)); err != nil || !ok {
					t.Fatalf("MarkSending again = %v, %v", ok, err)
				}
				got, err := s.GetMessage(ctx, "demo", m.ID)
				if err != nil || got.Attempts != 1 || got.SendingAttempt != 2 || !got.SendingAt.Equal(at.Add(time.Minute)) {
					t.Errorf("after marking again = %d attempts, attempt %d since %v (%v); want 1, 2 since %v",
						got.Attempts, got.SendingAttempt, got.SendingAt, err, at.Add(time.Minute))
				}
			})

			t.Run("the hand-off is recorded with its event at once, and the batch record leaves it alone", func(t *testing.T) {
				s, d := newStore(t, engine)
				m := abandoned(t, s, "k1")
				if ok, err := s.MarkSending(ctx, m, 1, at); err != nil || !ok {
					t.Fatalf("MarkSending = %v, %v", ok, err)
				}
				m.SentAt = at
				e, err := events.Factory{}.MessageSent(m)
				if err != nil {
					t.Fatal(err)
				}
				o := store.Outcome{ID: m.ID, Status: domain.StatusSent, At: at, To: "ada@example.org", Subject: "Welcome", Text: "hello", Events: []kafka.Event{e}}
				if err := s.RecordHandOff(ctx, "demo", o); err != nil {
					t.Fatal(err)
				}
				before := outboxCount(t, d)
				o.HandedOff = true
				if err := s.Record(ctx, []store.Outcome{o}); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetMessage(ctx, "demo", m.ID)
				if err != nil || got.Status != domain.StatusSent || !got.SentAt.Equal(at) || got.Attempts != 1 || !got.SendingAt.IsZero() {
					t.Errorf("after the hand-off = %s sent %v, %d attempts, sending %v (%v); want sent at %v, 1 attempt, no mark",
						got.Status, got.SentAt, got.Attempts, got.SendingAt, err, at)
				}
				if after := outboxCount(t, d); after != before {
					t.Errorf("the batch record added %d events to a handed-off outcome", after-before)
				}
				if ok, err := s.MarkSending(ctx, got, 2, at); err != nil || ok {
					t.Errorf("MarkSending of a sent message = %v, %v; want refused", ok, err)
				}
			})

			t.Run("marking and recording a hand-off are scoped to the message's community", func(t *testing.T) {
				s, _ := newStore(t, engine)
				m := abandoned(t, s, "k1")
				other := m
				other.Community = "other"
				if ok, err := s.MarkSending(ctx, other, 1, at); err != nil || ok {
					t.Errorf("MarkSending in another community = %v, %v; want refused", ok, err)
				}
				if err := s.RecordHandOff(ctx, "other", store.Outcome{ID: m.ID, Status: domain.StatusSent, At: at}); err != nil {
					t.Fatal(err)
				}
				if got, err := s.GetMessage(ctx, "demo", m.ID); err != nil || got.Status != domain.StatusPending || !got.SendingAt.IsZero() {
					t.Errorf("message = %s, sending %v (%v); want untouched", got.Status, got.SendingAt, err)
				}
			})

			for _, c := range []struct {
				name   string
				o      store.Outcome
				status domain.Status
			}{
				{"a retry clears the mark", store.Outcome{Status: domain.StatusPending, Retry: true, Reason: "421 try later", DueAt: at.Add(time.Minute)}, domain.StatusPending},
				{"a failure clears the mark", store.Outcome{Status: domain.StatusFailed, Retry: true, Reason: "550 no such user"}, domain.StatusFailed},
				{"giving up in doubt is final and in the delivery log", store.Outcome{Status: domain.StatusInDoubt, Retry: true, Reason: domain.ReasonInDoubt}, domain.StatusInDoubt},
			} {
				t.Run(c.name, func(t *testing.T) {
					s, _ := newStore(t, engine)
					m := abandoned(t, s, "k1")
					if ok, err := s.MarkSending(ctx, m, 1, at); err != nil || !ok {
						t.Fatalf("MarkSending = %v, %v", ok, err)
					}
					c.o.ID = m.ID
					if err := s.Record(ctx, []store.Outcome{c.o}); err != nil {
						t.Fatal(err)
					}
					log, err := s.Deliveries(ctx, "demo", "", m.MemberID, "", 10)
					if err != nil || len(log) != 1 {
						t.Fatalf("delivery log = %+v, %v", log, err)
					}
					if got := log[0]; got.Status != c.status || got.FailureReason != c.o.Reason || !got.SendingAt.IsZero() || got.Attempts != 1 {
						t.Errorf("message = %s (%q), sending %v, %d attempts; want %s (%q), no mark, 1 attempt",
							got.Status, got.FailureReason, got.SendingAt, got.Attempts, c.status, c.o.Reason)
					}
				})
			}
		})
	}
}
