package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
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
				queueOne(t, s, d, m)
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

// A group larger than one statement carries (several chunks of marks and
// of hand-offs, from two communities, with their own times and attempts)
// marks exactly the pending messages whose members consent, each with its
// own time and attempt, and hands off each accepted message with its own
// content; a mark or hand-off naming a message of another community
// changes nothing.
func TestCommitSendingLargeGroupsAcrossCommunities(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			const n = 100 // more than one statement's 64, in each community
			base := time.Now().UTC().Truncate(time.Microsecond)
			type sent struct {
				m       domain.Message
				subject string
				at      time.Time
			}
			var marks []store.Mark
			var handOffs []store.HandOff
			wantMarked := map[string]bool{}
			var wantSent []sent
			for _, community := range []string{"demo", "other"} {
				consenting := seedMembers(t, s, d, community, "yes", n/2, domain.PurposeAnnouncements)
				silent := seedMembers(t, s, d, community, "no", n/2)
				for i, member := range append(consenting, silent...) {
					m := message(t, community+"-mark-"+member, "hello")
					m.Community, m.MemberID, m.Kind = community, member, domain.KindAnnouncement
					queueOne(t, s, d, m)
					marks = append(marks, store.Mark{Message: m, Attempt: 1 + i%3, At: base.Add(time.Duration(i) * time.Millisecond)})
					wantMarked[m.ID] = i < n/2

					h := message(t, community+"-sent-"+member, "hello")
					h.Community, h.MemberID, h.Kind = community, member, domain.KindTransactional
					queueOne(t, s, d, h)
					at := base.Add(time.Duration(i) * time.Second)
					subject := fmt.Sprintf("News %d for %s", i, member)
					handOffs = append(handOffs, store.HandOff{Community: community, Outcome: store.Outcome{ID: h.ID, Status: domain.StatusSent, At: at,
						To: member + "@example.org", Subject: subject, Text: "hello " + member, HTML: "<p>" + member + "</p>"}})
					wantSent = append(wantSent, sent{m: h, subject: subject, at: at})
				}
			}
			// The first message of each list named from the wrong community.
			marks[0].Message.Community = "other"
			wantMarked[marks[0].Message.ID] = false
			handOffs[0].Community = "other"
			wrongHandOff := handOffs[0].Outcome.ID

			marked, err := s.CommitSending(ctx, marks, handOffs)
			if err != nil {
				t.Fatal(err)
			}
			for i, mk := range marks {
				community := mk.Message.Community
				if i == 0 {
					community = "demo"
				}
				got, err := s.GetMessage(ctx, community, mk.Message.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := wantMarked[mk.Message.ID]
				if marked[i] != want || got.SendingAt.IsZero() == want {
					t.Errorf("mark %d (%s): marked %v, stored %v; want %v", i, mk.Message.MemberID, marked[i], !got.SendingAt.IsZero(), want)
				}
				if want && (!got.SendingAt.Equal(mk.At) || got.SendingAttempt != mk.Attempt) {
					t.Errorf("mark %d: at %v attempt %d, want %v attempt %d", i, got.SendingAt, got.SendingAttempt, mk.At, mk.Attempt)
				}
			}
			for i, w := range wantSent {
				got, err := s.GetMessage(ctx, w.m.Community, w.m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if w.m.ID == wrongHandOff {
					if got.Status != domain.StatusPending {
						t.Errorf("a hand-off naming another community changed the message: %s", got.Status)
					}
					continue
				}
				if got.Status != domain.StatusSent || !got.SentAt.Equal(w.at) || got.Subject != w.subject || got.Text != "hello "+w.m.MemberID ||
					got.HTML != "<p>"+w.m.MemberID+"</p>" || got.Attempts != 1 {
					t.Errorf("hand-off %d: %s at %v, subject %q, text %q, %d attempts; want sent at %v with its own content", i, got.Status, got.SentAt,
						got.Subject, got.Text, got.Attempts, w.at)
				}
			}
		})
	}
}

// queueOne queues m in a transaction of its own.
func queueOne(t *testing.T, s *store.Store, d *db.DB, m domain.Message) {
	t.Helper()
	ctx := context.Background()
	if err := d.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.QueueMessage(ctx, tx, m, events.Factory{}.MessageQueued)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
