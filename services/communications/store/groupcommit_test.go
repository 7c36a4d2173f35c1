package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// One group commit stores the marks and hand-offs of many e-mails: each
// hand-off with its MessageSent event, each mark only for a message that
// is still pending, of the community named, and whose member still
// consents to what it needs.
func TestCommitSendingMarksAndHandsOffInOneGroup(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			seedMembers(t, s, d, "demo", "m", 4, domain.PurposeAnnouncements)
			seedMembers(t, s, d, "demo", "quiet", 1) // no consent
			queue := func(member string, kind domain.Kind) domain.Message {
				m := message(t, "key-"+member+"-"+kind.String(), "hello")
				m.MemberID, m.Kind = member, kind
				if err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := s.QueueMessage(ctx, tx, m, events.Factory{}.MessageQueued)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return m
			}
			at := time.Now().UTC().Truncate(time.Microsecond)
			sent := []domain.Message{queue("m0000", domain.KindAnnouncement), queue("m0001", domain.KindAnnouncement)}
			toMark := []domain.Message{
				queue("m0002", domain.KindAnnouncement),      // marked
				queue("quiet0000", domain.KindAnnouncement),  // no consent: refused
				queue("quiet0000", domain.KindTransactional), // needs none: marked
			}
			foreign := queue("m0003", domain.KindAnnouncement)
			foreign.Community = "other" // the right id, another community: refused
			var marks []store.Mark
			for _, m := range append(toMark, foreign) {
				marks = append(marks, store.Mark{Message: m, Attempt: 1, At: at})
			}
			var handOffs []store.HandOff
			for _, m := range sent {
				if _, err := s.MarkSending(ctx, m, 1, at); err != nil {
					t.Fatal(err)
				}
				m.SentAt = at
				e, err := events.Factory{}.MessageSent(m)
				if err != nil {
					t.Fatal(err)
				}
				handOffs = append(handOffs, store.HandOff{Community: "demo", Outcome: store.Outcome{ID: m.ID, Status: domain.StatusSent, At: at,
					To: m.MemberID + "@example.org", Subject: "News", Text: "hello", Events: []kafka.Event{e}}})
			}
			before := outboxCount(t, d)
			marked, err := s.CommitSending(ctx, marks, handOffs)
			if err != nil {
				t.Fatal(err)
			}
			if want := []bool{true, false, true, false}; len(marked) != len(want) || marked[0] != want[0] || marked[1] != want[1] || marked[2] != want[2] || marked[3] != want[3] {
				t.Errorf("marked = %v, want %v", marked, want)
			}
			for _, m := range sent {
				got, err := s.GetMessage(ctx, "demo", m.ID)
				if err != nil || got.Status != domain.StatusSent || !got.SendingAt.IsZero() || got.Subject != "News" {
					t.Errorf("handed-off message = %s, sending %v, subject %q (%v); want sent with its content, mark cleared", got.Status, got.SendingAt, got.Subject, err)
				}
			}
			if n := outboxCount(t, d) - before; n != len(sent) {
				t.Errorf("events appended = %d, want one MessageSent per hand-off: %d", n, len(sent))
			}
			for i, m := range toMark {
				got, err := s.GetMessage(ctx, "demo", m.ID)
				if err != nil || got.SendingAt.IsZero() != !marked[i] {
					t.Errorf("message %d: sending mark %v (%v), want marked %v", i, got.SendingAt, err, marked[i])
				}
			}
			if got, err := s.GetMessage(ctx, "demo", foreign.ID); err != nil || !got.SendingAt.IsZero() {
				t.Errorf("a mark naming another community marked the message: %v (%v)", got.SendingAt, err)
			}
		})
	}
}
