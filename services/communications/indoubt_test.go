package communications

// These tests stop a delivery where a killed process would stop — after
// all local work but before the sending mark, or after the mail server's
// 250 but before the record — and then run a new dispatcher on the same
// database once the lease has run out, as a restarted replica would.

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

// acceptingMailer is a mail server that accepts everything and keeps
// what it accepted; like mail.Sender, it runs the envelope's
// BeforeHandOff first.
type acceptingMailer struct {
	mu       sync.Mutex
	accepted []mail.Envelope
}

func (a *acceptingMailer) Send(ctx context.Context, env mail.Envelope) error {
	if env.BeforeHandOff != nil {
		if err := env.BeforeHandOff(ctx); err != nil {
			return &mail.DeliveryError{Temporary: true, Err: err}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accepted = append(a.accepted, env)
	return nil
}

func (a *acceptingMailer) messageIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for _, env := range a.accepted {
		ids = append(ids, env.MessageID)
	}
	return ids
}

// levels keeps the level of every log record.
type levels struct {
	mu   sync.Mutex
	seen map[slog.Level][]string
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[r.Level] = append(l.seen[r.Level], r.Message)
	return nil
}
func (l *levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levels) WithGroup(string) slog.Handler      { return l }

// crashRig is one database, one mail server and the telemetry the
// successive dispatchers share.
type crashRig struct {
	st     *store.Store
	mailer *acceptingMailer
	logs   *levels
	tel    *telemetry.Telemetry
	start  time.Time
}

func newCrashRig(t *testing.T, engine string) *crashRig {
	t.Helper()
	d := dbtest.Open(t, engine, pg, outbox.Migrations(), inbox.Migrations(), store.Migrations())
	st := store.New(d, outbox.New(d, propagation.TraceContext{}))
	r := domain.Recipient{MemberID: "m1", Community: "demo", Email: "ada@example.org", DisplayName: "Ada", Status: "active",
		JoinedAt: time.Now().Add(-time.Hour), EmailVerified: true, Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}}
	if err := d.InTx(context.Background(), func(tx *sql.Tx) error { return st.PutRecipient(context.Background(), tx, r) }); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return &crashRig{st: st, mailer: &acceptingMailer{}, logs: &levels{seen: map[slog.Level][]string{}}, tel: tel,
		start: time.Now().UTC().Truncate(time.Second)}
}

// queue stores a pending e-mail of kind to m1, due at once.
func (r *crashRig) queue(t *testing.T, kind domain.Kind) domain.Message {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	m := domain.Message{ID: id, Community: "demo", IdempotencyKey: "key-" + id, Fingerprint: "f", MemberID: "m1", Subject: "Hello",
		Text: "Hello, Ada", Kind: kind, Channel: domain.ChannelEmail, Status: domain.StatusPending, CreatedAt: r.start}
	if kind == domain.KindConfirmation {
		m.To = "ada@example.org"
	}
	err := r.st.DB().InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := r.st.QueueMessage(context.Background(), tx, m, events.Factory{}.MessageQueued)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dispatcher is a new process's deliverer whose clock reads start plus
// after; crash, when set, says where it dies.
func (r *crashRig) dispatcher(after time.Duration, crash crashPoint) *Deliverer {
	quiet, _ := domain.ParseQuietHours("off")
	d := NewDeliverer(r.st, DelivererConfig{Mailer: r.mailer, Quiet: quiet, Links: Links{Key: make([]byte, 32), BaseURL: "https://kinship.test"},
		MessageIDDomain: "kinship.test", EmailPerSecond: 1000, WebhookPerSecond: 1000,
		Tracer: r.tel.TracerProvider("kinship-communications"), Logger: slog.New(r.logs)})
	d.now = func() time.Time { return r.start.Add(after) }
	if crash != 0 {
		d.crash = func(p crashPoint) bool { return p == crash }
	}
	return d
}

func (r *crashRig) inDoubt(t *testing.T, outcome string) float64 {
	t.Helper()
	return telemetrytest.Scrape(t, telemetry.MetricsHandler(r.tel.MeterProvider("kinship-communications"))).
		Sum("kinship_communications_in_doubt_total", "kinship_channel", "email", "kinship_outcome", outcome)
}

func TestCrashWindowsOfTheEmailPath(t *testing.T) {
	ctx := context.Background()
	afterLease := dispatchLease + time.Minute
	cases := []struct {
		name  string
		kind  domain.Kind
		crash crashPoint
		// sends is how many copies the mail server got in the end;
		// status is the final state of the message.
		sends    int
		status   domain.Status
		reason   string
		resent   float64 // kinship.communications.in_doubt by outcome
		notSent  float64
		attempts int
	}{
		{name: "transactional accepted, crash before the record: resent once with the same Message-ID",
			kind: domain.KindTransactional, crash: crashAfterAccept, sends: 2, status: domain.StatusSent, resent: 1, attempts: 2},
		{name: "confirmation accepted, crash before the record: resent once with the same Message-ID",
			kind: domain.KindConfirmation, crash: crashAfterAccept, sends: 2, status: domain.StatusSent, resent: 1, attempts: 2},
		{name: "announcement accepted, crash before the record: not resent, in doubt",
			kind: domain.KindAnnouncement, crash: crashAfterAccept, sends: 1, status: domain.StatusInDoubt, reason: domain.ReasonInDoubt, notSent: 1, attempts: 1},
		{name: "digest accepted, crash before the record: not resent, in doubt",
			kind: domain.KindDigest, crash: crashAfterAccept, sends: 1, status: domain.StatusInDoubt, reason: domain.ReasonInDoubt, notSent: 1, attempts: 1},
		{name: "announcement, crash before the sending mark: sent normally after the lease",
			kind: domain.KindAnnouncement, crash: crashBeforeMark, sends: 1, status: domain.StatusSent, attempts: 1},
		{name: "transactional, crash before the sending mark: sent normally after the lease",
			kind: domain.KindTransactional, crash: crashBeforeMark, sends: 1, status: domain.StatusSent, attempts: 1},
		{name: "transactional, no crash: sent once",
			kind: domain.KindTransactional, sends: 1, status: domain.StatusSent, attempts: 1},
		{name: "announcement, no crash: sent once",
			kind: domain.KindAnnouncement, sends: 1, status: domain.StatusSent, attempts: 1},
	}
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := newCrashRig(t, engine)
					if c.kind == domain.KindDigest {
						// A digest needs an event to list.
						if err := r.st.DB().InTx(ctx, func(tx *sql.Tx) error {
							return r.st.ScheduleEvent(ctx, tx, "demo", "e1", []domain.UpcomingEvent{{Community: "demo", EventID: "e1", OccurrenceID: "o1",
								Title: "Meet-up", Kind: "offline", Public: true, TimeZone: "UTC",
								StartsAt: r.start.Add(48 * time.Hour), EndsAt: r.start.Add(50 * time.Hour)}})
						}); err != nil {
							t.Fatal(err)
						}
					}
					m := r.queue(t, c.kind)

					// The first process: killed at the crash point.
					_, err := r.dispatcher(0, c.crash).dispatchOnce(ctx, 10, 1)
					if c.crash != 0 && err == nil {
						t.Fatal("the first dispatcher did not reach its crash point")
					}
					if c.crash == 0 && err != nil {
						t.Fatal(err)
					}
					// Within the lease a second process leaves it alone.
					if n, err := r.dispatcher(time.Minute, 0).dispatchOnce(ctx, 10, 1); n != 0 || err != nil {
						t.Fatalf("a dispatcher within the lease claimed %d messages (%v), want none", n, err)
					}
					// After the lease, a restarted process takes over; a third
					// one later finds nothing left to do.
					for _, after := range []time.Duration{afterLease, 2 * afterLease} {
						if _, err := r.dispatcher(after, 0).dispatchOnce(ctx, 10, 1); err != nil {
							t.Fatal(err)
						}
					}

					ids := r.mailer.messageIDs()
					if len(ids) != c.sends {
						t.Fatalf("the mail server got %d copies (%v), want %d", len(ids), ids, c.sends)
					}
					for _, id := range ids {
						if id != m.ID+"@kinship.test" {
							t.Errorf("Message-ID = %q, want %q on every copy", id, m.ID+"@kinship.test")
						}
					}
					got, err := r.st.GetMessage(ctx, "demo", m.ID)
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != c.status || got.FailureReason != c.reason || got.Attempts != c.attempts {
						t.Errorf("message = %s (%q), %d attempts; want %s (%q), %d attempts", got.Status, got.FailureReason, got.Attempts,
							c.status, c.reason, c.attempts)
					}
					if !got.SendingAt.IsZero() {
						t.Errorf("the sending mark stayed after the outcome: %v", got.SendingAt)
					}
					log, err := r.st.Deliveries(ctx, "demo", "", "m1", "", 10)
					if err != nil || len(log) != 1 || log[0].Status != c.status {
						t.Errorf("delivery log = %+v (%v), want the one message %s", log, err, c.status)
					}
					if resent, notSent := r.inDoubt(t, "resent"), r.inDoubt(t, "not_resent"); resent != c.resent || notSent != c.notSent {
						t.Errorf("in-doubt count: resent %v, not resent %v; want %v and %v", resent, notSent, c.resent, c.notSent)
					}
					if errs := r.logs.seen[slog.LevelError]; len(errs) > 0 {
						t.Errorf("logged at ERROR: %v", errs)
					}
					if warned := slices.Contains(r.logs.seen[slog.LevelWarn], "e-mail in doubt after an interrupted delivery"); warned != (c.resent+c.notSent > 0) {
						t.Errorf("warned of a message in doubt: %v; want %v", warned, c.resent+c.notSent > 0)
					}
				})
			}
		})
	}
}

// A message whose deliveries keep dying after the hand-off (a crash loop)
// is resent only while attempts remain, then given up in doubt.
func TestCrashLoopEndsInDoubt(t *testing.T) {
	ctx := context.Background()
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newCrashRig(t, engine)
			m := r.queue(t, domain.KindTransactional)
			step := dispatchLease + time.Second
			for i := range domain.MaxAttempts + 2 {
				_, _ = r.dispatcher(time.Duration(i)*step, crashAfterAccept).dispatchOnce(ctx, 10, 1)
			}
			if n := len(r.mailer.messageIDs()); n != domain.MaxAttempts {
				t.Errorf("the mail server got %d copies, want one per attempt: %d", n, domain.MaxAttempts)
			}
			got, err := r.st.GetMessage(ctx, "demo", m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != domain.StatusInDoubt || got.Attempts != domain.MaxAttempts {
				t.Errorf("message = %s after %d attempts, want in_doubt after %d", got.Status, got.Attempts, domain.MaxAttempts)
			}
			if resent, notSent := r.inDoubt(t, "resent"), r.inDoubt(t, "not_resent"); resent != domain.MaxAttempts-1 || notSent != 1 {
				t.Errorf("in-doubt count: resent %v, not resent %v; want %d and 1", resent, notSent, domain.MaxAttempts-1)
			}
		})
	}
}

// The MessageSent event is stored with the hand-off, in its one small
// transaction: a crash right after it loses neither.
func TestHandOffKeepsItsEvent(t *testing.T) {
	ctx := context.Background()
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newCrashRig(t, engine)
			m := r.queue(t, domain.KindTransactional)
			if _, err := r.dispatcher(0, 0).dispatchOnce(ctx, 10, 1); err != nil {
				t.Fatal(err)
			}
			var sent int
			if err := r.st.DB().QueryRowContext(ctx, r.st.DB().Rebind("SELECT count(*) FROM outbox WHERE event_type = ?"), events.TypeMessageSent).Scan(&sent); err != nil {
				t.Fatal(err)
			}
			if sent != 1 {
				t.Errorf("message.sent events in the outbox = %d, want 1 for %s", sent, m.ID)
			}
		})
	}
}

// status reads the state of every message in ids.
func (r *crashRig) statuses(t *testing.T, ids []string) map[string]domain.Status {
	t.Helper()
	out := map[string]domain.Status{}
	for _, id := range ids {
		m, err := r.st.GetMessage(context.Background(), "demo", id)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = m.Status
	}
	return out
}

// The marks and hand-offs of a batch are committed in groups. A process
// killed after the mail server's 250s but before their group commit leaves
// exactly the e-mails the server accepted and no commit recorded in doubt
// — at least that group's — and the in-doubt policy settles them: an
// announcement is not sent again and ends in_doubt, a transactional
// e-mail is sent again with the same Message-ID. Everything else goes out
// once: e-mails recorded before the crash are not resent, and those never
// handed over (their marks lost with the group) are sent normally.
func TestCrashBeforeAGroupCommitLeavesThatGroupInDoubt(t *testing.T) {
	ctx := context.Background()
	afterLease := dispatchLease + time.Minute
	const messages = 24
	for _, engine := range dbtest.Engines() {
		for _, c := range []struct {
			kind   domain.Kind
			resend bool
		}{{domain.KindAnnouncement, false}, {domain.KindTransactional, true}} {
			t.Run(engine+"/"+c.kind.String(), func(t *testing.T) {
				r := newCrashRig(t, engine)
				var ids []string
				for range messages {
					ids = append(ids, r.queue(t, c.kind).ID)
				}

				// The first process dies at its second group commit carrying
				// hand-offs.
				first := r.dispatcher(0, 0)
				commits := 0
				var lost []string
				first.crashCommit = func(handOffs []string) bool {
					if commits++; commits == 2 {
						lost = handOffs
						return true
					}
					return false
				}
				if _, err := first.dispatchOnce(ctx, messages, 4); err == nil {
					t.Fatal("the first dispatcher did not reach its crash point")
				}
				if len(lost) == 0 {
					t.Fatal("the crashed group carried no hand-off")
				}
				acceptedFirst := map[string]bool{}
				for _, id := range r.mailer.messageIDs() {
					acceptedFirst[strings.TrimSuffix(id, "@kinship.test")] = true
				}
				recorded := r.statuses(t, ids)
				// In doubt: what the server accepted and no commit recorded.
				var inDoubt []string
				for _, id := range ids {
					if acceptedFirst[id] && recorded[id] != domain.StatusSent {
						inDoubt = append(inDoubt, id)
					}
				}
				for _, id := range lost {
					if !slices.Contains(inDoubt, id) {
						t.Errorf("message %s of the lost group is not among those left in doubt %v", id, inDoubt)
					}
				}

				// Restarted processes after the lease finish the work.
				for _, after := range []time.Duration{afterLease, 2 * afterLease} {
					if _, err := r.dispatcher(after, 0).dispatchOnce(ctx, messages, 4); err != nil {
						t.Fatal(err)
					}
				}
				copies := map[string]int{}
				for _, id := range r.mailer.messageIDs() {
					copies[strings.TrimSuffix(id, "@kinship.test")]++
				}
				final := r.statuses(t, ids)
				for _, id := range ids {
					wantCopies, wantStatus := 1, domain.StatusSent
					if slices.Contains(inDoubt, id) {
						if c.resend {
							wantCopies = 2
						} else {
							wantStatus = domain.StatusInDoubt
						}
					}
					if copies[id] != wantCopies || final[id] != wantStatus {
						t.Errorf("message %s: %d copies, %s; want %d, %s (in doubt after the crash: %v)", id, copies[id], final[id],
							wantCopies, wantStatus, slices.Contains(inDoubt, id))
					}
				}
				resent, notSent := r.inDoubt(t, "resent"), r.inDoubt(t, "not_resent")
				if want := float64(len(inDoubt)); (c.resend && (resent != want || notSent != 0)) || (!c.resend && (notSent != want || resent != 0)) {
					t.Errorf("in-doubt count: resent %v, not resent %v; want %d %s", resent, notSent, len(inDoubt), map[bool]string{true: "resent", false: "not resent"}[c.resend])
				}
			})
		}
	}
}
