package communications

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/services/communications/domain"
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
