package communications

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// haltingMailer accepts an e-mail and then stops the database for a
// while, as a PostgreSQL restart right after the mail server's 250 does.
type haltingMailer struct {
	*acceptingMailer
	t       *testing.T
	downFor time.Duration
	resumed chan error
}

func (h *haltingMailer) Send(ctx context.Context, env mail.Envelope) error {
	if err := h.acceptingMailer.Send(ctx, env); err != nil {
		return err
	}
	if err := pg.Halt(ctx); err != nil {
		h.t.Errorf("halt postgresql: %v", err)
	}
	go func() {
		time.Sleep(h.downFor)
		h.resumed <- pg.Resume(context.Background())
	}()
	return nil
}

// An e-mail the mail server accepted while the database went away is
// recorded once the database is back, not left in doubt to be sent again
// after its lease (the chaos run found two welcomes resent that way after
// "postgresql restarted").
func TestAnAcceptedEmailIsRecordedAcrossADatabaseRestart(t *testing.T) {
	ctx := context.Background()
	r := newCrashRig(t, "postgres")
	mailer := &haltingMailer{acceptingMailer: r.mailer, t: t, downFor: time.Second, resumed: make(chan error, 1)}
	id := uuid.Must(uuid.NewV7()).String()
	m := domain.Message{ID: id, Community: "demo", IdempotencyKey: "key-" + id, Fingerprint: "f", MemberID: "m1", Subject: "Welcome",
		Text: "Hello, Ada", Kind: domain.KindTransactional, Channel: domain.ChannelEmail, Status: domain.StatusPending, CreatedAt: r.start}
	stored, deliver, err := r.st.Claim(ctx, m, 2*time.Minute, func(*sql.Tx) error { return nil })
	if err != nil || !deliver {
		t.Fatalf("claim: deliver=%v, %v", deliver, err)
	}
	d := r.dispatcher(0, 0)
	d.mailer = mailer
	o, err := d.DeliverNow(ctx, stored)
	if rerr := <-mailer.resumed; rerr != nil {
		t.Fatalf("resume postgresql: %v", rerr)
	}
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if o.Status != domain.StatusSent {
		t.Errorf("outcome %s, want sent", o.Status)
	}
	got, err := r.st.GetMessage(ctx, "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.StatusSent || !got.SendingAt.IsZero() {
		t.Errorf("stored status %s, sending since %v; want sent and no sending mark (not in doubt)", got.Status, got.SendingAt)
	}
	if ids := r.mailer.messageIDs(); len(ids) != 1 {
		t.Errorf("mail server got %d e-mails, want 1", len(ids))
	}
}

// A record whose commit went through but whose answer was lost (the
// connection cut after COMMIT) is tried again, finds its event already in
// the outbox, and counts as recorded: the e-mail is sent once, with one
// MessageSent, and not reported as unrecorded.
func TestARecordWhoseCommitWentUnansweredIsNotRecordedTwice(t *testing.T) {
	ctx := context.Background()
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newCrashRig(t, engine)
			m := r.queue(t, domain.KindTransactional)
			m.SentAt = r.start
			sent, err := events.Factory{}.MessageSent(m)
			if err != nil {
				t.Fatal(err)
			}
			o := store.Outcome{ID: m.ID, Status: domain.StatusSent, At: r.start, HandedOff: true, Events: []kafka.Event{sent}}
			calls := 0
			err = r.dispatcher(0, 0).record(ctx, "e-mail "+m.ID, func(ctx context.Context) error {
				calls++
				err := r.st.RecordHandOff(ctx, m.Community, o)
				if calls == 1 && err == nil {
					return fmt.Errorf("commit transaction: %w", driver.ErrBadConn) // committed, answer lost
				}
				return err
			})
			if err != nil || calls != 2 {
				t.Fatalf("record = %v after %d attempts, want recorded after 2", err, calls)
			}
			got, err := r.st.GetMessage(ctx, "demo", m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != domain.StatusSent {
				t.Errorf("status %s, want sent", got.Status)
			}
			var n int
			if err := r.st.DB().QueryRowContext(ctx, r.st.DB().Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeMessageSent).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("message.sent events in the outbox = %d, want 1", n)
			}
		})
	}
}

// An error that is not the database's absence ends the record at once:
// retrying a statement the database refuses would only hold the caller.
func TestALastingRecordErrorIsNotRetried(t *testing.T) {
	r := newCrashRig(t, "sqlite")
	calls := 0
	refused := errors.New("row 1: value too long")
	err := r.dispatcher(0, 0).record(context.Background(), "e-mail x", func(context.Context) error {
		calls++
		return refused
	})
	if !errors.Is(err, refused) || calls != 1 {
		t.Errorf("record = %v after %d attempts, want the error after 1", err, calls)
	}
}
