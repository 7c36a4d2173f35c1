package communications_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// A service started on a database a killed process left behind — e-mails
// marked sending whose leases ran out, and one never tried — resends the
// transactional one with its Message-ID, gives the bulk one up as in doubt
// and sends the untried one, over real SMTP, and says so in the delivery
// log.
func TestAStartedServiceSettlesWhatACrashLeftInDoubt(t *testing.T) {
	ada, bob, cy := member("m1", "ada@example.org"), recipient(2), recipient(3)
	queued := func(id, memberID string, kind domain.Kind) domain.Message {
		return domain.Message{ID: id, Community: "demo", IdempotencyKey: id, Fingerprint: id, MemberID: memberID, Subject: "Hello", Text: "Hello there",
			Kind: kind, Channel: domain.ChannelEmail, Status: domain.StatusPending, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	}
	welcome := queued("01900000-0000-7000-8000-000000000001", ada.MemberID, domain.KindTransactional)
	news := queued("01900000-0000-7000-8000-000000000002", bob.MemberID, domain.KindAnnouncement)
	untried := queued("01900000-0000-7000-8000-000000000003", cy.MemberID, domain.KindAnnouncement)
	f := start(t, options{recipients: []domain.Recipient{ada, bob, cy}, before: func(ctx context.Context, s *store.Store) error {
		for _, m := range []domain.Message{welcome, news, untried} {
			if err := s.DB().InTx(ctx, func(tx *sql.Tx) error {
				_, err := s.QueueMessage(ctx, tx, m, events.Factory{}.MessageQueued)
				return err
			}); err != nil {
				return err
			}
		}
		// The killed process had handed these two to the mail server.
		for _, m := range []domain.Message{welcome, news} {
			if _, err := s.MarkSending(ctx, m, 1, time.Now().Add(-5*time.Minute)); err != nil {
				return err
			}
		}
		return nil
	}})
	ctx := context.Background()
	status := func(m domain.Message) *communicationsv1.Message {
		res, err := f.client.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: "demo", MemberId: m.MemberID}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Msg.GetMessages()) != 1 {
			t.Fatalf("delivery log of %s = %v, want one message", m.MemberID, res.Msg.GetMessages())
		}
		return res.Msg.GetMessages()[0]
	}
	eventually(t, "all three are settled", func() bool {
		for _, m := range []domain.Message{welcome, news, untried} {
			if status(m).GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_PENDING {
				return false
			}
		}
		return true
	})
	for _, c := range []struct {
		name   string
		m      domain.Message
		to     string
		copies int
		status communicationsv1.MessageStatus
		reason string
	}{
		{"transactional, in doubt: resent with its Message-ID", welcome, ada.Email, 1, communicationsv1.MessageStatus_MESSAGE_STATUS_SENT, ""},
		{"announcement, in doubt: not resent, in doubt in the log", news, bob.Email, 0, communicationsv1.MessageStatus_MESSAGE_STATUS_IN_DOUBT, domain.ReasonInDoubt},
		{"announcement, never tried: sent", untried, cy.Email, 1, communicationsv1.MessageStatus_MESSAGE_STATUS_SENT, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := status(c.m)
			if got.GetStatus() != c.status || got.GetFailureReason() != c.reason {
				t.Errorf("delivery log = %s (%q), want %s (%q)", got.GetStatus(), got.GetFailureReason(), c.status, c.reason)
			}
			mails := f.sink.Messages(c.to)
			if len(mails) != c.copies {
				t.Fatalf("e-mails to the member = %d, want %d", len(mails), c.copies)
			}
			for _, mail := range mails {
				if mail.MessageID != c.m.ID+"@kinship.test" {
					t.Errorf("Message-ID = %q, want %q", mail.MessageID, c.m.ID+"@kinship.test")
				}
			}
		})
	}
}
