package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// seedMembers stores n consenting members of community, ids prefix0000…,
// and returns their ids in order.
func seedMembers(t *testing.T, s *store.Store, d *db.DB, community, prefix string, n int, consents ...string) []string {
	t.Helper()
	var ids []string
	err := d.InTx(context.Background(), func(tx *sql.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s%04d", prefix, i)
			ids = append(ids, id)
			r := domain.Recipient{MemberID: id, Community: community, Email: id + "@example.org", DisplayName: id, Status: "active",
				JoinedAt: time.Now().Add(-time.Hour), EmailVerified: true, Consents: consents}
			if err := s.PutRecipient(context.Background(), tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func newAnnouncement(t *testing.T, key string) domain.Announcement {
	t.Helper()
	a, err := domain.NewAnnouncement(domain.Announcement{ID: uuid.NewString(), Community: "demo", Template: "news", Kind: domain.KindAnnouncement,
		IdempotencyKey: key}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// messagesByMember counts the announcement's messages per member, and
// their MessageQueued events in the outbox.
func messagesByMember(t *testing.T, d *db.DB, announcementID string) (map[string]int, int) {
	t.Helper()
	rows, err := d.Query(d.Rebind("SELECT member_id FROM messages WHERE community = ? AND announcement_id = ?"), "demo", announcementID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got[id]++
	}
	var queuedEvents int
	if err := d.QueryRow(d.Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeMessageQueued).Scan(&queuedEvents); err != nil {
		t.Fatal(err)
	}
	return got, queuedEvents
}

// An announcement is accepted with the members its segment selects, and
// their messages are queued afterwards in batches: an interrupted batch
// leaves nothing behind, the next process carries on, and every member
// selected gets exactly one message and one MessageQueued event — not the
// members of another community, not those without consent, not those who
// joined after the announcement was accepted.
func TestAnnouncementQueuesInBatchesOncePerMember(t *testing.T) {
	queued := func(m domain.Message) (kafka.Event, error) { return events.Factory{}.MessageQueued(m) }
	errInterrupted := errors.New("the process died in the middle of a batch")
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			want := seedMembers(t, s, d, "demo", "m", 23, domain.PurposeAnnouncements)
			seedMembers(t, s, d, "demo", "n", 3) // no consent
			seedMembers(t, s, d, "other", "o", 4, domain.PurposeAnnouncements)
			a := newAnnouncement(t, "news")

			stored, created, err := s.QueueAnnouncement(ctx, a, domain.Filter{Consents: []string{domain.PurposeAnnouncements}}, nil, queued, noAudit)
			if err != nil || !created {
				t.Fatalf("QueueAnnouncement = %v, %v", created, err)
			}
			if stored.Members != 23 || stored.Unqueued() != 23 || len(stored.Counts) != 0 {
				t.Fatalf("accepted announcement: %d members, %d to queue, counts %v; want 23, 23, none yet", stored.Members, stored.Unqueued(), stored.Counts)
			}
			// A member joining after the announcement was accepted is not in it.
			seedMembers(t, s, d, "demo", "late", 1, domain.PurposeAnnouncements)

			if n, done, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 5, queued); n != 5 || done || err != nil {
				t.Fatalf("first batch = %d, %v, %v; want 5 queued, more to come", n, done, err)
			}
			// The next batch dies half-way: nothing of it stays.
			calls := 0
			dying := func(m domain.Message) (kafka.Event, error) {
				if calls++; calls > 2 {
					return kafka.Event{}, errInterrupted
				}
				return queued(m)
			}
			if _, _, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 5, dying); !errors.Is(err, errInterrupted) {
				t.Fatalf("interrupted batch = %v, want the interruption", err)
			}
			if got, events := messagesByMember(t, d, a.ID); len(got) != 5 || events != 5 {
				t.Fatalf("after the interruption: %d messages, %d events; want the first batch's 5 and 5", len(got), events)
			}
			progress, err := s.Announcement(ctx, "demo", a.ID)
			if err != nil || progress.Members != 23 || progress.MembersQueued != 5 || progress.Counts[domain.StatusPending] != 5 {
				t.Fatalf("progress = %d of %d queued, counts %v (%v); want 5 of 23", progress.MembersQueued, progress.Members, progress.Counts, err)
			}

			// A restarted process carries on, with another batch size.
			for range 10 {
				n, done, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 7, queued)
				if err != nil {
					t.Fatal(err)
				}
				if done {
					break
				}
				if n == 0 {
					t.Fatal("a batch queued nothing and did not finish")
				}
			}
			got, queuedEvents := messagesByMember(t, d, a.ID)
			if len(got) != len(want) || queuedEvents != len(want) {
				t.Errorf("%d members got messages, %d MessageQueued events; want %d each", len(got), queuedEvents, len(want))
			}
			for _, id := range want {
				if got[id] != 1 {
					t.Errorf("member %s got %d messages, want 1", id, got[id])
				}
			}
			if n, done, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 7, queued); n != 0 || !done || err != nil {
				t.Errorf("a batch after the end = %d, %v, %v; want nothing, done", n, done, err)
			}
			final, err := s.Announcement(ctx, "demo", a.ID)
			if err != nil || final.Unqueued() != 0 || final.Counts[domain.StatusPending] != 23 {
				t.Errorf("final = %d to queue, counts %v (%v); want none to queue, 23 pending", final.Unqueued(), final.Counts, err)
			}
			if list, err := s.Queueing(ctx); err != nil || len(list) != 0 {
				t.Errorf("announcements still queueing = %v, %v; want none", list, err)
			}
			var kept int
			if err := d.QueryRow("SELECT count(*) FROM announcement_recipients").Scan(&kept); err != nil || kept != 0 {
				t.Errorf("member ids kept after queueing = %d (%v), want none", kept, err)
			}
		})
	}
}

// A cancellation while the members are being queued stops the queueing:
// the members not queued yet never get a message and count as suppressed.
func TestCancelStopsTheQueueing(t *testing.T) {
	queued := func(m domain.Message) (kafka.Event, error) { return events.Factory{}.MessageQueued(m) }
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			seedMembers(t, s, d, "demo", "m", 12, domain.PurposeAnnouncements)
			a := newAnnouncement(t, "news")
			if _, _, err := s.QueueAnnouncement(ctx, a, domain.Filter{Consents: []string{domain.PurposeAnnouncements}}, nil, queued, noAudit); err != nil {
				t.Fatal(err)
			}
			if n, _, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 4, queued); n != 4 || err != nil {
				t.Fatalf("first batch = %d, %v", n, err)
			}
			// Another community cannot cancel it.
			if err := s.CancelAnnouncement(ctx, "other", a.ID, noAudit); !errors.Is(err, domain.ErrAnnouncementNotFound) {
				t.Fatalf("cancel from another community = %v, want not found", err)
			}
			if list, err := s.Queueing(ctx); err != nil || len(list) != 1 {
				t.Fatalf("queueing = %v, %v; want the announcement", list, err)
			}
			if err := s.CancelAnnouncement(ctx, "demo", a.ID, noAudit); err != nil {
				t.Fatal(err)
			}
			if n, done, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 4, queued); n != 0 || !done || err != nil {
				t.Errorf("batch after the cancellation = %d, %v, %v; want nothing, done", n, done, err)
			}
			got, _ := messagesByMember(t, d, a.ID)
			if len(got) != 4 {
				t.Errorf("%d members have a message, want the first batch's 4", len(got))
			}
			final, err := s.Announcement(ctx, "demo", a.ID)
			if err != nil || !final.Cancelled || final.Unqueued() != 8 || final.Counts[domain.StatusSuppressed] != 4 {
				t.Errorf("final = cancelled %v, %d never queued, counts %v (%v); want cancelled, 8, 4 suppressed", final.Cancelled, final.Unqueued(), final.Counts, err)
			}
			if list, err := s.Queueing(ctx); err != nil || len(list) != 0 {
				t.Errorf("queueing after the cancellation = %v, %v; want none", list, err)
			}
		})
	}
}

// A segment selecting nobody, with no webhook, is refused and leaves
// nothing behind.
func TestEmptySegmentStoresNothing(t *testing.T) {
	queued := func(m domain.Message) (kafka.Event, error) { return events.Factory{}.MessageQueued(m) }
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			seedMembers(t, s, d, "other", "o", 3, domain.PurposeAnnouncements)
			a := newAnnouncement(t, "news")
			if _, _, err := s.QueueAnnouncement(ctx, a, domain.Filter{Consents: []string{domain.PurposeAnnouncements}}, nil, queued, noAudit); !errors.Is(err, domain.ErrEmptySegment) {
				t.Fatalf("QueueAnnouncement of an empty segment = %v, want ErrEmptySegment", err)
			}
			if _, err := s.Announcement(ctx, "demo", a.ID); !errors.Is(err, domain.ErrAnnouncementNotFound) {
				t.Errorf("the refused announcement was stored: %v", err)
			}
		})
	}
}
