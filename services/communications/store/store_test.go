package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

func newStore(t *testing.T, engine string) (*store.Store, *db.DB) {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), inbox.Migrations(), store.Migrations())
	return store.New(d, outbox.New(d, propagation.TraceContext{})), d
}

// noAudit stands in for the audit entry a store write takes.
func noAudit(*sql.Tx) error { return nil }

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
				stored, deliver, err := s.Claim(ctx, m, time.Minute, noAudit)
				if err != nil || !deliver || stored.ID != m.ID {
					t.Fatalf("first Claim = %v, %v, %v", stored.ID, deliver, err)
				}
				if _, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit); !errors.Is(err, domain.ErrInProgress) {
					t.Fatalf("Claim during delivery error = %v, want ErrInProgress", err)
				}
				sentAt := time.Now().UTC().Truncate(time.Microsecond)
				stored.SentAt = sentAt
				e, err := events.Factory{}.MessageSent(stored)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Record(ctx, []store.Outcome{{ID: stored.ID, Status: domain.StatusSent, At: sentAt, Events: []kafka.Event{e}}}); err != nil {
					t.Fatal(err)
				}
				again, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit)
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
				if _, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.Claim(ctx, message(t, "k1", "something else"), time.Minute, noAudit); !errors.Is(err, domain.ErrKeyReused) {
					t.Errorf("error = %v, want ErrKeyReused", err)
				}
			})

			t.Run("an abandoned or released delivery may be retried", func(t *testing.T) {
				s, _ := newStore(t, engine)
				first, _, err := s.Claim(ctx, message(t, "k1", "hello"), -time.Second, noAudit) // lease already over
				if err != nil {
					t.Fatal(err)
				}
				retry, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit)
				if err != nil || !deliver || retry.ID != first.ID {
					t.Fatalf("Claim after lease expiry = %v, %v, %v; want the same message to deliver", retry.ID, deliver, err)
				}
				if err := s.Release(ctx, retry.ID); err != nil {
					t.Fatal(err)
				}
				if _, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit); err != nil || !deliver {
					t.Fatalf("Claim after Release = %v, %v; want deliver", deliver, err)
				}
			})

			t.Run("a refused message is never retried", func(t *testing.T) {
				s, _ := newStore(t, engine)
				m, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Record(ctx, []store.Outcome{{ID: m.ID, Status: domain.StatusFailed, Reason: "550 no such user", Retry: true}}); err != nil {
					t.Fatal(err)
				}
				got, deliver, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, noAudit)
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
						_, deliver, err := s.Claim(ctx, message(t, "k-race", "hello"), time.Minute, noAudit)
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

func TestAnnouncementStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			now := time.Now().UTC().Truncate(time.Microsecond)
			people := []domain.Recipient{
				{MemberID: "a", Community: "demo", Email: "Ada@Example.org", DisplayName: "Ada", Status: "active", CountryCode: "GB", JoinedAt: now.Add(-48 * time.Hour), EmailVerified: true,
					Interests: []string{"solar"}, Consents: []string{domain.PurposeAnnouncements}},
				{MemberID: "b", Community: "demo", Email: "bob@example.org", DisplayName: "Bob", Status: "active", CountryCode: "DE", JoinedAt: now, EmailVerified: true,
					Interests: []string{"solar", "repair"}, Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}},
				{MemberID: "c", Community: "demo", Email: "cy@example.org", DisplayName: "Cy", Status: "left", CountryCode: "GB", JoinedAt: now, EmailVerified: true,
					Consents: []string{domain.PurposeAnnouncements}},
				{MemberID: "d", Community: "demo", Email: "di@example.org", DisplayName: "Di", Status: "active", CountryCode: "GB", JoinedAt: now, EmailVerified: true},
				{MemberID: "e", Community: "other", Email: "ed@example.org", DisplayName: "Ed", Status: "active", JoinedAt: now, EmailVerified: true,
					Consents: []string{domain.PurposeAnnouncements}},
				// Joined in public and never confirmed: no announcement.
				{MemberID: "f", Community: "demo", Email: "fay@example.org", DisplayName: "Fay", Status: "active", CountryCode: "GB", JoinedAt: now,
					Interests: []string{"repair"}, Consents: []string{domain.PurposeAnnouncements}},
			}
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				for _, r := range people {
					if err := s.PutRecipient(ctx, tx, r); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			announcements := []string{domain.PurposeAnnouncements}
			for name, tt := range map[string]struct {
				filter domain.Filter
				want   []string
			}{
				"consenting, current members": {domain.Filter{Consents: announcements}, []string{"a", "b"}},
				"by interest":                 {domain.Filter{Interests: []string{"repair"}}, []string{"b"}},
				"by country and consent":      {domain.Filter{CountryCodes: []string{"GB"}, Consents: announcements}, []string{"a"}},
				"joined in the last day":      {domain.Filter{JoinedAfter: now.Add(-24 * time.Hour)}, []string{"b", "d"}},
				"left members when asked":     {domain.Filter{Statuses: []string{"left"}}, []string{"c"}},
				"two consents":                {domain.Filter{Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}}, []string{"b"}},
				"nobody":                      {domain.Filter{Interests: []string{"knitting"}}, nil},
			} {
				got, err := s.MatchRecipients(ctx, "demo", tt.filter)
				if err != nil || !slices.Equal(got, tt.want) {
					t.Errorf("%s: MatchRecipients = %v, %v; want %v", name, got, err, tt.want)
				}
			}

			a, err := domain.NewAnnouncement(domain.Announcement{ID: uuid.NewString(), Community: "demo", Template: "news", Kind: domain.KindAnnouncement,
				IdempotencyKey: "news-1"}, now)
			if err != nil {
				t.Fatal(err)
			}
			hook := domain.Webhook{ID: "w1", Community: "demo", URL: "https://hooks.example.org/x", Format: domain.FormatGeneric, Secret: "s", Enabled: true, CreatedAt: now}
			if err := s.CreateWebhook(ctx, hook, noAudit); err != nil {
				t.Fatal(err)
			}
			queued := func(m domain.Message) (kafka.Event, error) { return events.Factory{}.MessageQueued(m) }
			stored, created, err := s.QueueAnnouncement(ctx, a, domain.Filter{Consents: announcements}, []domain.Webhook{hook}, queued, noAudit)
			if err != nil || !created || stored.Counts[domain.StatusPending] != 1 || stored.Members != 2 || stored.Unqueued() != 2 {
				t.Fatalf("QueueAnnouncement = %+v, %d members, %v, %v; want the webhook's message pending and 2 members to queue",
					stored.Counts, stored.Members, created, err)
			}
			if n, done, err := s.QueueAnnouncementBatch(ctx, "demo", a.ID, 10, queued); n != 2 || !done || err != nil {
				t.Fatalf("QueueAnnouncementBatch = %d, %v, %v; want both members queued", n, done, err)
			}
			again, created, err := s.QueueAnnouncement(ctx, a, domain.Filter{}, nil, queued, noAudit)
			if err != nil || created || again.ID != a.ID || again.Counts[domain.StatusPending] != 3 || again.Unqueued() != 0 {
				t.Fatalf("repeated QueueAnnouncement = %+v, %v, %v; want the first, unchanged", again.Counts, created, err)
			}
			var outboxed int
			if err := d.QueryRow("SELECT count(*) FROM outbox").Scan(&outboxed); err != nil || outboxed != 3 {
				t.Errorf("MessageQueued events = %d (%v), want 3", outboxed, err)
			}

			// Two dispatchers claim disjoint messages.
			var mu sync.Mutex
			claimed := map[string]int{}
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					ms, err := s.Due(ctx, time.Now(), 2, time.Minute)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					defer mu.Unlock()
					for _, m := range ms {
						claimed[m.ID]++
					}
				})
			}
			wg.Wait()
			if len(claimed) != 3 {
				t.Errorf("claimed %d distinct messages, want all 3", len(claimed))
			}
			for id, n := range claimed {
				if n != 1 {
					t.Errorf("message %s claimed %d times", id, n)
				}
			}
			if ms, err := s.Due(ctx, time.Now(), 10, time.Minute); err != nil || len(ms) != 0 {
				t.Errorf("Due while leased = %d messages, %v; want none", len(ms), err)
			}

			log, err := s.Deliveries(ctx, "demo", a.ID, "", "", 10)
			if err != nil {
				t.Fatal(err)
			}
			byMember := map[string]domain.Message{}
			for _, m := range log {
				byMember[m.MemberID] = m
			}
			ada, bob := byMember["a"], byMember["b"]
			unsubscribed := func(purpose string) (kafka.Event, error) {
				return events.Factory{}.Unsubscribed("demo", "b", purpose, "one-click", time.Now())
			}
			for click := range 3 {
				changed, err := s.Unsubscribe(ctx, "demo", "b", []string{domain.PurposeAnnouncements}, unsubscribed, noAudit)
				if err != nil || changed != (click == 0) {
					t.Fatalf("unsubscribe click %d: changed %v, %v; want a change on the first only", click+1, changed, err)
				}
			}
			if err := d.QueryRow(d.Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeUnsubscribed).Scan(&outboxed); err != nil || outboxed != 1 {
				t.Errorf("Unsubscribed events after three clicks = %d (%v), want 1", outboxed, err)
			}
			if due, reason, err := s.StillDue(ctx, bob, domain.PurposeAnnouncements); err != nil || due || reason != domain.ReasonNoConsent {
				t.Errorf("StillDue after unsubscribing = %v %q %v; want not due for %q", due, reason, err, domain.ReasonNoConsent)
			}
			if due, _, err := s.StillDue(ctx, ada, domain.PurposeAnnouncements); err != nil || !due {
				t.Errorf("StillDue for a consenting member = %v, %v", due, err)
			}

			sentAt := time.Now().UTC().Truncate(time.Microsecond)
			if err := s.Record(ctx, []store.Outcome{{ID: ada.ID, Status: domain.StatusSent, At: sentAt, To: "Ada@Example.org", Subject: "News", Text: "Hello Ada"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BounceMessage(ctx, "demo", ada.ID, true, "550 5.1.1", func(domain.Message) ([]kafka.Event, error) { return nil, nil }, noAudit); err != nil {
				t.Fatal(err)
			}
			if got, err := s.SuppressedAmong(ctx, "demo", []string{"ada@example.org", "bob@example.org"}); err != nil || !got["ada@example.org"] || len(got) != 1 {
				t.Errorf("SuppressedAmong = %v, %v; want ada only", got, err)
			}
			if _, err := s.BounceMessage(ctx, "demo", bob.ID, true, "x", func(domain.Message) ([]kafka.Event, error) { return nil, nil }, noAudit); !errors.Is(err, domain.ErrNotSent) {
				t.Errorf("bouncing an unsent message: %v, want ErrNotSent", err)
			}

			if err := s.CancelAnnouncement(ctx, "demo", a.ID, noAudit); err != nil {
				t.Fatal(err)
			}
			if due, _, err := s.StillDue(ctx, bob, domain.PurposeAnnouncements); err != nil || due {
				t.Errorf("StillDue after cancelling = %v, %v; want not due", due, err)
			}
			got, err := s.Announcement(ctx, "demo", a.ID)
			if err != nil || !got.Cancelled || got.Counts[domain.StatusBounced] != 1 || got.Counts[domain.StatusSuppressed] != 2 {
				t.Errorf("announcement after cancelling = %+v, %v; want 1 bounced and 2 suppressed", got, err)
			}

			if err := d.InTx(ctx, func(tx *sql.Tx) error { return s.EraseRecipient(ctx, tx, "demo", "a") }); err != nil {
				t.Fatal(err)
			}
			erased, err := s.GetMessage(ctx, "demo", ada.ID)
			if err != nil || erased.To != "" || erased.Subject != "" || erased.Text != "" {
				t.Errorf("message after erasure = %+v, %v; want no address or content", erased, err)
			}
			if _, err := s.LookupRecipient(ctx, "demo", "a"); !errors.Is(err, store.ErrNoRecipient) {
				t.Errorf("recipient after erasure: %v", err)
			}
		})
	}
}

func TestUpcomingEventsStore(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			at := time.Now().UTC().Truncate(time.Microsecond).Add(24 * time.Hour)
			occ := func(id string, start time.Time) domain.UpcomingEvent {
				return domain.UpcomingEvent{EventID: "e1", OccurrenceID: id, Community: "demo", Title: "Repair café", Kind: "offline", Public: true,
					Tags: []string{"repair", "bikes"}, TimeZone: "Europe/Berlin", StartsAt: start, EndsAt: start.Add(time.Hour)}
			}
			in := func(f func(tx *sql.Tx) error) {
				t.Helper()
				if err := d.InTx(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			in(func(tx *sql.Tx) error {
				return s.ScheduleEvent(ctx, tx, "demo", "e1", []domain.UpcomingEvent{occ("o1", at), occ("o2", at.Add(7*24*time.Hour))})
			})
			got, err := s.Upcoming(ctx, "demo", time.Now(), time.Now().Add(30*24*time.Hour), 10)
			if err != nil || len(got) != 2 || !slices.Equal(got[0].Tags, []string{"repair", "bikes"}) || !got[0].StartsAt.Equal(at) {
				t.Fatalf("Upcoming = %+v, %v", got, err)
			}
			// One occurrence moves; then the whole series is cut to one.
			in(func(tx *sql.Tx) error {
				return s.RescheduleEvent(ctx, tx, "demo", "e1", []domain.UpcomingEvent{{OccurrenceID: "o1", StartsAt: at.Add(time.Hour), EndsAt: at.Add(2 * time.Hour)}}, true)
			})
			got, _ = s.Upcoming(ctx, "demo", time.Now(), time.Now().Add(30*24*time.Hour), 10)
			if len(got) != 2 || !got[0].StartsAt.Equal(at.Add(time.Hour)) || got[0].Title != "Repair café" {
				t.Errorf("after moving one occurrence: %+v", got)
			}
			in(func(tx *sql.Tx) error {
				return s.RescheduleEvent(ctx, tx, "demo", "e1", []domain.UpcomingEvent{{OccurrenceID: "o2", StartsAt: at, EndsAt: at.Add(time.Hour)}}, false)
			})
			if got, _ = s.Upcoming(ctx, "demo", time.Now(), time.Now().Add(30*24*time.Hour), 10); len(got) != 1 || got[0].OccurrenceID != "o2" {
				t.Errorf("after rescheduling the series: %+v", got)
			}
			in(func(tx *sql.Tx) error { return s.CancelEvent(ctx, tx, "demo", "e1", "") })
			if got, _ = s.Upcoming(ctx, "demo", time.Now(), time.Now().Add(30*24*time.Hour), 10); len(got) != 0 {
				t.Errorf("after cancelling: %+v", got)
			}
			// An update about an event never scheduled here changes nothing.
			in(func(tx *sql.Tx) error {
				return s.RescheduleEvent(ctx, tx, "demo", "unknown", []domain.UpcomingEvent{{OccurrenceID: "x", StartsAt: at, EndsAt: at}}, false)
			})
		})
	}
}

// The same member id in two communities names two recipients: every
// read and write of one leaves the other alone.
func TestRecipientsOfTwoCommunitiesAreKeptApart(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			now := time.Now().UTC().Truncate(time.Microsecond)
			mine := domain.Recipient{MemberID: "m1", Community: "demo", Email: "ada@example.org", DisplayName: "Ada", Status: "active", JoinedAt: now,
				EmailVerified: true, Interests: []string{"solar"}, Consents: []string{domain.PurposeAnnouncements}}
			theirs := domain.Recipient{MemberID: "m1", Community: "other", Email: "bob@example.org", DisplayName: "Bob", Status: "active", JoinedAt: now,
				Interests: []string{"repair"}, Consents: []string{domain.PurposeDigest}}
			lonely := domain.Recipient{MemberID: "m2", Community: "other", Email: "cy@example.org", DisplayName: "Cy", Status: "active", JoinedAt: now, EmailVerified: true}
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				for _, r := range []domain.Recipient{mine, theirs, lonely} {
					if err := s.PutRecipient(ctx, tx, r); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := s.LookupRecipient(ctx, "demo", "m1")
			if err != nil || got.Email != mine.Email || !got.EmailVerified || !slices.Equal(got.Interests, mine.Interests) || !slices.Equal(got.Consents, mine.Consents) {
				t.Errorf("demo's m1 = %+v, %v", got, err)
			}
			if _, err := s.LookupRecipient(ctx, "demo", "m2"); !errors.Is(err, store.ErrNoRecipient) {
				t.Errorf("another community's member m2 from demo: %v, want ErrNoRecipient", err)
			}
			batch, err := s.Recipients(ctx, "demo", []string{"m1", "m2"})
			if err != nil || len(batch) != 1 || batch["m1"].Email != mine.Email {
				t.Errorf("Recipients(demo, m1, m2) = %+v, %v; want demo's m1 only", batch, err)
			}
			if ids, err := s.MatchRecipients(ctx, "other", domain.Filter{}); err != nil || !slices.Equal(ids, []string{"m2"}) {
				t.Errorf("other's confirmed recipients = %v, %v; want m2 (m1's address is not confirmed)", ids, err)
			}
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := s.SetConsent(ctx, tx, "demo", "m1", domain.PurposeAnnouncements, false); err != nil {
					return err
				}
				return s.EraseRecipient(ctx, tx, "demo", "m2") // not demo's: nothing happens
			}); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.LookupRecipient(ctx, "other", "m1"); r.Email != theirs.Email || !slices.Equal(r.Consents, theirs.Consents) {
				t.Errorf("other's m1 after demo's changes = %+v", r)
			}
			if _, err := s.LookupRecipient(ctx, "other", "m2"); err != nil {
				t.Errorf("other's m2 after demo erased an m2: %v", err)
			}
		})
	}
}

// A store write and its audit entry commit together: when the entry
// cannot be written, nothing of the change stays.
func TestAWriteWhoseAuditFailsLeavesNothing(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s, d := newStore(t, engine)
			boom := errors.New("audit log unavailable")
			failing := func(*sql.Tx) error { return boom }
			tmpl, err := domain.NewTemplate("demo", "news", []domain.Variant{{Subject: "News", Text: "Hello"}}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SaveTemplate(ctx, tmpl, failing); !errors.Is(err, boom) {
				t.Fatalf("SaveTemplate = %v", err)
			}
			hook := domain.Webhook{ID: "w1", Community: "demo", URL: "https://hooks.example.org/x", Format: domain.FormatGeneric, Secret: "s", Enabled: true, CreatedAt: time.Now()}
			if err := s.CreateWebhook(ctx, hook, failing); !errors.Is(err, boom) {
				t.Fatalf("CreateWebhook = %v", err)
			}
			if _, _, err := s.Claim(ctx, message(t, "k1", "hello"), time.Minute, failing); !errors.Is(err, boom) {
				t.Fatalf("Claim = %v", err)
			}
			for _, table := range []string{"templates", "webhooks", "messages"} {
				var n int
				if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != 0 {
					t.Errorf("%s rows after a failed audit = %d (%v), want 0", table, n, err)
				}
			}
		})
	}
}

// upTo keeps the migrations of fsys up to version last.
func upTo(t *testing.T, fsys fs.FS, last int) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	files, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var version int
		if _, err := fmt.Sscanf(f.Name(), "%05d_", &version); err != nil || version > last {
			continue
		}
		raw, err := fs.ReadFile(fsys, f.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name()] = &fstest.MapFile{Data: raw}
	}
	return out
}

// Recipients stored before they were keyed by community keep their
// community, tags and consents, and keep receiving mail (taken as
// confirmed).
func TestMigrationKeysExistingRecipientsByCommunity(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.Open(t, engine, pg)
			full := store.Migrations()
			before := db.Migrations{Name: full.Name, SQLite: upTo(t, full.SQLite, 4), Postgres: upTo(t, full.Postgres, 4)}
			logger := slog.New(slog.DiscardHandler)
			if err := db.Migrate(ctx, d, logger, before); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				"INSERT INTO recipients (member_id, community, email, display_name, status, joined_at) VALUES ('m1', 'demo', 'ada@example.org', 'Ada', 'active', ?)",
				"INSERT INTO recipient_tags (member_id, kind, tag) VALUES ('m1', 'interest', 'solar')",
				"INSERT INTO recipient_consents (member_id, purpose) VALUES ('m1', 'email.announcements')",
			} {
				args := []any{}
				if strings.Contains(q, "?") {
					args = append(args, time.Now().UTC())
				}
				if _, err := d.ExecContext(ctx, d.Rebind(q), args...); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx, d, logger, full); err != nil {
				t.Fatal(err)
			}
			s := store.New(d, nil)
			r, err := s.LookupRecipient(ctx, "demo", "m1")
			if err != nil || r.Email != "ada@example.org" || !r.EmailVerified || !slices.Equal(r.Interests, []string{"solar"}) || !r.Has(domain.PurposeAnnouncements) {
				t.Errorf("migrated recipient = %+v, %v", r, err)
			}
			if _, err := s.LookupRecipient(ctx, "other", "m1"); !errors.Is(err, store.ErrNoRecipient) {
				t.Errorf("the migrated recipient is found in another community: %v", err)
			}
		})
	}
}
