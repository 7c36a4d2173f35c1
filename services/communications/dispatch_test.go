package communications

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// waitFor polls cond until it holds, failing the test after a generous
// minute: an outcome awaited, not a timing asserted.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The dispatcher claims the next batch while the current one is being
// sent: across many small batches every e-mail still goes out exactly
// once, ends sent, and keeps no sending mark.
func TestDispatchSendsEveryEmailOnceAcrossBatchesClaimedAhead(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newCrashRig(t, engine)
			var ids []string
			for i := range 40 {
				kind := domain.KindAnnouncement
				if i%3 == 0 {
					kind = domain.KindTransactional
				}
				ids = append(ids, r.queue(t, kind).ID)
			}
			d := r.dispatcher(0, 0)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Dispatch(ctx, 7, 3, 10*time.Millisecond) }()
			waitFor(t, "every e-mail sent", func() bool {
				for _, s := range r.statuses(t, ids) {
					if s != domain.StatusSent {
						return false
					}
				}
				return true
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			copies := map[string]int{}
			for _, id := range r.mailer.messageIDs() {
				copies[strings.TrimSuffix(id, "@kinship.test")]++
			}
			for _, id := range ids {
				if copies[id] != 1 {
					t.Errorf("message %s went out %d times, want once", id, copies[id])
				}
				if m, err := r.st.GetMessage(context.Background(), "demo", id); err != nil || !m.SendingAt.IsZero() || m.Attempts != 1 {
					t.Errorf("message %s: sending mark %v, %d attempts (%v); want none and 1", id, m.SendingAt, m.Attempts, err)
				}
			}
			if len(copies) != len(ids) {
				t.Errorf("the mail server got %d distinct e-mails, want %d", len(copies), len(ids))
			}
		})
	}
}

// heldMailer holds every e-mail once its sending mark is committed (after
// BeforeHandOff) until released, then accepts it.
type heldMailer struct {
	acceptingMailer
	held    chan string
	release chan struct{}
}

func (h *heldMailer) Send(ctx context.Context, env mail.Envelope) error {
	if env.BeforeHandOff != nil {
		if err := env.BeforeHandOff(ctx); err != nil {
			return &mail.DeliveryError{Temporary: true, Err: err}
		}
	}
	h.held <- env.MessageID
	<-h.release
	return h.acceptingMailer.Send(ctx, mail.Envelope{MessageID: env.MessageID, To: env.To})
}

// Marks are submitted as soon as an e-mail is rendered, but at most one
// per SMTP connection is marked and not yet answered by the mail server,
// so a marked e-mail is one a connection is sending: however many workers
// wait, a crash leaves no e-mail in doubt that was never handed over.
// Released, every e-mail goes out once.
func TestMarksAheadOfTheMailServerAreBounded(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newCrashRig(t, engine)
			var ids []string
			for range 12 {
				ids = append(ids, r.queue(t, domain.KindAnnouncement).ID)
			}
			d := r.dispatcher(0, 0)
			held := &heldMailer{held: make(chan string, len(ids)), release: make(chan struct{})}
			d.mailer = held
			d.markWindow = 1 // one SMTP connection
			done := make(chan error, 1)
			go func() {
				_, err := d.dispatchOnce(context.Background(), len(ids), 8)
				done <- err
			}()
			// One e-mail reaches the mail server with its mark committed;
			// the seven other workers wait for room in the window.
			first := []string{<-held.held}
			marked := 0
			for _, id := range ids {
				m, err := r.st.GetMessage(context.Background(), "demo", id)
				if err != nil {
					t.Fatal(err)
				}
				if !m.SendingAt.IsZero() {
					marked++
					if !slices.Contains(first, id+"@kinship.test") {
						t.Errorf("message %s is marked sending but was not handed to the mail server", id)
					}
				}
			}
			if marked != d.markWindow {
				t.Errorf("%d e-mails marked sending while the mail server holds %d, want %d", marked, len(first), d.markWindow)
			}
			close(held.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			copies := map[string]int{}
			for _, id := range held.messageIDs() {
				copies[strings.TrimSuffix(id, "@kinship.test")]++
			}
			for id, s := range r.statuses(t, ids) {
				if s != domain.StatusSent || copies[id] != 1 {
					t.Errorf("message %s: %s, %d copies; want sent once", id, s, copies[id])
				}
			}
		})
	}
}
