package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// MarkSending records, durably and before an e-mail is handed to the mail
// server, that attempt number attempt of message m began at at: a message
// found pending with the mark after its lease ran out was left in doubt by
// a crash (see domain.InDoubtPolicy). A mark left by an earlier attempt that
// was itself in doubt counts that attempt. ok is false when m is no longer
// pending or, for a kind needing consent, its member no longer gives it
// (StillDue tells which).
func (s *Store) MarkSending(ctx context.Context, m domain.Message, attempt int, at time.Time) (ok bool, err error) {
	marked, err := s.CommitSending(ctx, []Mark{{Message: m, Attempt: attempt, At: at}}, nil)
	if err != nil {
		return false, err
	}
	return marked[0], nil
}

// RecordHandOff stores, in its own small transaction, that the mail server
// accepted the message of sent outcome o, with its events.
func (s *Store) RecordHandOff(ctx context.Context, community string, o Outcome) error {
	_, err := s.CommitSending(ctx, nil, []HandOff{{Community: community, Outcome: o}})
	return err
}

// Mark is the sending mark of one attempt at an e-mail: attempt number
// Attempt of Message began at At.
type Mark struct {
	Message domain.Message
	Attempt int
	At      time.Time
}

// HandOff is the sent outcome of a message of Community that the mail
// server accepted.
type HandOff struct {
	Community string
	Outcome   Outcome
}

// CommitSending stores, in one transaction, the sending marks of e-mails
// about to be handed to the mail server and the hand-offs of e-mails it
// accepted (each with its events): the dispatcher's group commit, so that
// the marks and 250s of many e-mails in flight cost one commit. The marks
// go in one UPDATE (or a few, see sendingChunks), and so do the
// hand-offs. marked[i] says whether marks[i] was stored: false when
// its message is no longer pending or, for a kind needing consent, its
// member no longer gives it.
func (s *Store) CommitSending(ctx context.Context, marks []Mark, handOffs []HandOff) (marked []bool, err error) {
	marked = make([]bool, len(marks))
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var events []kafka.Event
		for _, chunk := range sendingChunks(handOffs) {
			if err := s.handOffChunk(ctx, tx, chunk); err != nil {
				return err
			}
		}
		for _, h := range handOffs {
			events = append(events, h.Outcome.Events...)
		}
		if err := s.outbox.AppendAll(ctx, tx, events); err != nil {
			return err
		}
		index := make(map[string]int, len(marks))
		for i, mk := range marks {
			index[mk.Message.Community+"/"+mk.Message.ID] = i
		}
		for _, chunk := range sendingChunks(marks) {
			keys, err := s.markChunk(ctx, tx, chunk)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if i, ok := index[k]; ok {
					marked[i] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(handOffs) > 0 {
		s.outbox.Notify()
	}
	return marked, nil
}

// handOffChunk records hand-offs in one UPDATE: each message of the
// community named that is still pending becomes sent at its time, with the content as
// sent; its lease and sending mark end.
func (s *Store) handOffChunk(ctx context.Context, tx *sql.Tx, chunk []HandOff) error {
	args := make([]any, 0, 8*len(chunk)+1)
	for _, h := range chunk {
		o := h.Outcome
		args = append(args, h.Community, o.ID, domain.StatusPending.String(), o.At.UTC(), o.To, o.Subject, o.Text, o.HTML)
	}
	args = append(args, domain.StatusSent.String())
	at := s.typed("?", "TIMESTAMPTZ")
	query := "WITH v (community, mid, pending, at, rcpt, subj, body, html) AS (VALUES " + rowsOf(len(chunk), "(?, ?, ?, "+at+", ?, ?, ?, ?)") + `)
		UPDATE messages SET status = ?, sent_at = v.at, lease_until = NULL, sending_at = NULL, attempts = messages.attempts + 1,
			to_email = CASE WHEN v.rcpt <> '' THEN v.rcpt ELSE messages.to_email END,
			subject = CASE WHEN v.subj <> '' THEN v.subj ELSE messages.subject END,
			text_body = CASE WHEN v.body <> '' THEN v.body ELSE messages.text_body END,
			html_body = CASE WHEN v.html <> '' THEN v.html ELSE messages.html_body END
		FROM v WHERE ` + byKey
	if _, err := tx.ExecContext(ctx, s.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("record hand-offs of %d messages from %s: %w", len(chunk), chunk[0].Outcome.ID, err)
	}
	return nil
}

// markChunk stores sending marks in one UPDATE and returns the messages it
// marked, as community/id: those of the community named, still pending,
// whose member, for a kind needing consent, still gives it (the consent
// is checked again right before the hand-off).
func (s *Store) markChunk(ctx context.Context, tx *sql.Tx, chunk []Mark) ([]string, error) {
	args := make([]any, 0, 6*len(chunk))
	for _, mk := range chunk {
		purpose := mk.Message.Kind.Purpose()
		if mk.Message.MemberID == "" {
			purpose = ""
		}
		args = append(args, mk.Message.Community, mk.Message.ID, domain.StatusPending.String(), mk.At.UTC(), mk.Attempt, purpose)
	}
	row := "(?, ?, ?, " + s.typed("?", "TIMESTAMPTZ") + ", " + s.typed("?", "INTEGER") + ", ?)"
	query := "WITH v (community, mid, pending, at, attempt, purpose) AS (VALUES " + rowsOf(len(chunk), row) + `)
		UPDATE messages SET sending_at = v.at, sending_attempt = v.attempt,
			attempts = messages.attempts + CASE WHEN messages.sending_at IS NULL THEN 0 ELSE 1 END
		FROM v WHERE ` + byKey + `
			AND (v.purpose = '' OR EXISTS (SELECT 1 FROM recipient_consents c
				JOIN recipients r ON r.community = c.community AND r.member_id = c.member_id
				WHERE c.community = messages.community AND c.member_id = messages.member_id AND c.purpose = v.purpose
					AND r.status NOT IN ('erased', 'left')))
		RETURNING messages.community, messages.id`
	rows, err := tx.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("mark %d messages sending from %s: %w", len(chunk), chunk[0].Message.ID, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var community, id string
		if err := rows.Scan(&community, &id); err != nil {
			return nil, err
		}
		keys = append(keys, community+"/"+id)
	}
	return keys, rows.Err()
}

// byKey joins the rows of a group's VALUES list (v) to their messages.
// The community and the pending state travel with each row rather than as
// constants: PostgreSQL, which has no statistics yet for the messages an
// announcement just queued, would otherwise take them for selective and
// scan every pending message of the community (or hash them) instead of
// looking each row up by its primary key. The lookup stays scoped to the
// community named.
const byKey = "messages.id = v.mid AND messages.community = v.community AND messages.status = v.pending"

// typed is placeholder p with its type spelled out on PostgreSQL, which
// takes an untyped parameter in a VALUES list for text; SQLite keeps a
// value as bound.
func (s *Store) typed(p, pgType string) string {
	if s.db.Dialect == db.Postgres {
		return "CAST(" + p + " AS " + pgType + ")"
	}
	return p
}

// rowsOf is n copies of row, comma-separated.
func rowsOf(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// sendingChunks splits a group's marks or hand-offs into statements
// of 2^k rows (the largest that fits what is left, at most 64), so a
// connection's statement cache holds a few shapes whatever the group
// sizes.
func sendingChunks[T any](items []T) [][]T {
	var out [][]T
	for len(items) > 0 {
		n := 64
		for n > len(items) {
			n /= 2
		}
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}
