// Package store keeps the events service's data: events, their
// occurrences, RSVPs and the waitlist, feedback and calendar feed tokens.
// Every write appends its events to the outbox and its audit entry to the
// audit log in the same transaction. Every query that reaches a row by id
// names the community too: another community's id is not found.
//
// Seats are taken inside the RSVP's transaction with the occurrence row
// locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite write transactions
// are serialised), so capacity holds under any concurrency, and waitlist
// positions come from a per-occurrence sequence in arrival order.
// Concurrent RSVPs for one occurrence share a transaction and its commit
// (group commit, groupcommit.go).
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the events schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("events", migrations) }

// Outbox is where the store appends events (an *outbox.Outbox).
type Outbox interface {
	Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error
	// AppendTraced appends the events of several callers, each in its
	// own caller's trace, in as few statements as the engine allows.
	AppendTraced(ctx context.Context, tx *sql.Tx, events []outbox.Traced) error
	Notify()
}

// Events builds the events the store publishes for changes it makes on
// its own (seats passed on, offers expired, no-shows).
type Events interface {
	EventScheduled(e domain.Event, occs []domain.Occurrence) (kafka.Event, error)
	EventUpdated(e domain.Event, occurrenceID string, changed []string, occs []domain.Occurrence) (kafka.Event, error)
	EventCancelled(e domain.Event, occurrenceID, reason string, at time.Time) (kafka.Event, error)
	RSVPReceived(r domain.RSVP, answer domain.Answer) (kafka.Event, error)
	RSVPCancelled(r domain.RSVP, previous domain.RSVPStatus, at time.Time) (kafka.Event, error)
	Waitlisted(r domain.RSVP) (kafka.Event, error)
	SeatOffered(r domain.RSVP, at time.Time) (kafka.Event, error)
	SeatOfferExpired(r domain.RSVP, at time.Time) (kafka.Event, error)
	SeatTaken(r domain.RSVP, fromWaitlist bool, at time.Time) (kafka.Event, error)
	CheckedIn(r domain.RSVP) (kafka.Event, error)
	NoShow(r domain.RSVP, at time.Time) (kafka.Event, error)
	FeedbackGiven(f domain.Feedback) (kafka.Event, error)
	EventCompleted(e domain.Event, a domain.Attendance, at time.Time) (kafka.Event, error)
}

// Auditor records a change in the audit log, in the change's
// transaction, for the caller in ctx (an *audit.Log).
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
	// RecordAll records the actions of several callers, each for its
	// own, in as few statements as the engine allows.
	RecordAll(ctx context.Context, tx *sql.Tx, items ...audit.Item) error
}

// Options tune a Store; zero values take the defaults.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OfferWindow is how long a freed seat is held for the next member on
	// the waitlist; 0 means 24 h.
	OfferWindow time.Duration
	// Codes is the randomness of check-in codes; nil means crypto/rand.
	Codes io.Reader
	// AnswerBatch is the most concurrent answers for one occurrence that
	// share a transaction (see answerGrouped); 0 means 512, and 1 gives
	// every answer a transaction of its own.
	AnswerBatch int
}

// Store is the events repository.
type Store struct {
	db     *db.DB
	outbox Outbox
	inbox  *inbox.Inbox
	events Events
	audit  Auditor
	now    func() time.Time
	window time.Duration
	codes  io.Reader
	// batcher groups concurrent answers per occurrence (group commit),
	// up to maxBatch in a transaction.
	batcher  batcher
	maxBatch int
}

// New returns a store over d that appends events built by ev to ob and
// records every change in log, each in the change's transaction.
func New(d *db.DB, ob Outbox, ev Events, log Auditor, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OfferWindow <= 0 {
		opts.OfferWindow = domain.OfferWindow
	}
	if opts.AnswerBatch <= 0 {
		opts.AnswerBatch = defaultAnswerBatch
	}
	return &Store{db: d, outbox: ob, inbox: inbox.New(d), events: ev, audit: log, now: opts.Now, window: opts.OfferWindow, codes: opts.Codes,
		maxBatch: opts.AnswerBatch}
}

// Ping checks the database.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// querier is what reads need from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// clock returns the store's time, at the precision both engines keep.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return stamp(t)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// forUpdate locks the selected rows on PostgreSQL; SQLite transactions
// already hold the one write lock.
func (s *Store) forUpdate(q string) string {
	if s.db.Dialect == db.Postgres {
		return q + " FOR UPDATE"
	}
	return q
}

// collector gathers a transaction's events and appends them at the end.
type collector struct {
	events []kafka.Event
	err    error
}

func (c *collector) add(e kafka.Event, err error) {
	if err != nil && c.err == nil {
		c.err = err
	}
	if err == nil {
		c.events = append(c.events, e)
	}
}

func (s *Store) flush(ctx context.Context, tx *sql.Tx, c *collector) error {
	if c.err != nil {
		return c.err
	}
	for _, e := range c.events {
		if err := s.outbox.Append(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// Entry is an audit entry a change records: what happened, to what.
type Entry struct {
	Action     string
	TargetType string
	TargetID   string
}

// record writes entries of community's audit log in tx.
func (s *Store) record(ctx context.Context, tx *sql.Tx, community string, entries ...Entry) error {
	for _, e := range entries {
		if err := s.audit.Record(ctx, tx, community, e.Action, e.TargetType, e.TargetID); err != nil {
			return err
		}
	}
	return nil
}

// Page tokens are opaque offsets tied to what they page.
func encodeOffset(scope string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "|" + strconv.Itoa(offset)))
}

// DecodeOffset reads a page token of scope; empty is the first page.
func DecodeOffset(scope, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, validate.Field("page_token", "is not a token from a previous response")
	}
	sc, n, ok := strings.Cut(string(raw), "|")
	offset, err := strconv.Atoi(n)
	if !ok || sc != scope || err != nil || offset < 0 {
		return 0, validate.Field("page_token", "is not a token from a previous response")
	}
	return offset, nil
}

// EncodeOffset returns the token of the page starting at offset.
func EncodeOffset(scope string, offset int) string { return encodeOffset(scope, offset) }

var errNoRows = sql.ErrNoRows

func notFound(err error, as error) error {
	if errors.Is(err, errNoRows) {
		return as
	}
	return err
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
