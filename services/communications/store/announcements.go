package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// QueueAnnouncement stores a and one pending message per recipient id and
// per webhook, with the events each message's queuing returns and the
// audit entry audited writes, in one transaction. An idempotency key already used returns the stored
// announcement and queues nothing (created = false).
func (s *Store) QueueAnnouncement(ctx context.Context, a domain.Announcement, members []string, hooks []domain.Webhook,
	queued func(domain.Message) (kafka.Event, error), audited func(*sql.Tx) error) (domain.Announcement, bool, error) {
	filter, err := json.Marshal(a.Filter)
	if err != nil {
		return a, false, err
	}
	vars, err := json.Marshal(a.Vars)
	if err != nil {
		return a, false, err
	}
	created := true
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO announcements
			(id, community, template, kind, filter, send_at, webhooks, vars, idempotency_key, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, idempotency_key) DO NOTHING`),
			a.ID, a.Community, a.Template, a.Kind.String(), string(filter), a.SendAt, a.Webhooks, string(vars), a.IdempotencyKey, a.CreatedAt, a.CreatedBy)
		if err != nil {
			return fmt.Errorf("store announcement: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			created = false
			return nil
		}
		base := domain.Message{Community: a.Community, Template: a.Template, Vars: a.Vars, Kind: a.Kind, AnnouncementID: a.ID,
			Status: domain.StatusPending, CreatedAt: a.CreatedAt, DueAt: a.SendAt}
		var batch []domain.Message
		flush := func() error {
			if err := s.insertMessages(ctx, tx, batch); err != nil {
				return err
			}
			for _, m := range batch {
				e, err := queued(m)
				if err != nil {
					return err
				}
				if err := s.outbox.Append(ctx, tx, e); err != nil {
					return err
				}
			}
			batch = batch[:0]
			return nil
		}
		add := func(m domain.Message) error {
			if batch = append(batch, m); len(batch) == 200 {
				return flush()
			}
			return nil
		}
		for _, id := range members {
			m := base
			m.ID, m.MemberID, m.Channel, m.IdempotencyKey = newID(), id, domain.ChannelEmail, a.ID+"/"+id
			if err := add(m); err != nil {
				return err
			}
		}
		for _, w := range hooks {
			m := base
			m.ID, m.To, m.Channel, m.IdempotencyKey = newID(), w.ID, domain.ChannelWebhook, a.ID+"/webhook/"+w.ID
			if err := add(m); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		return audited(tx)
	})
	if err != nil {
		return a, false, err
	}
	if !created {
		stored, err := s.announcementByKey(ctx, a.Community, a.IdempotencyKey)
		return stored, false, err
	}
	s.outbox.Notify()
	stored, err := s.Announcement(ctx, a.Community, a.ID)
	return stored, true, err
}

// insertMessages stores messages with one statement per batch.
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, ms []domain.Message) error {
	if len(ms) == 0 {
		return nil
	}
	const cols = 13
	rows := make([]string, len(ms))
	args := make([]any, 0, len(ms)*cols)
	for i, m := range ms {
		rows[i] = "(" + placeholders(cols) + ", '', '', 'pending', 0)"
		vars, err := json.Marshal(m.Vars)
		if err != nil {
			return err
		}
		args = append(args, m.ID, m.Community, m.IdempotencyKey, "", m.MemberID, m.To, m.Template, string(vars),
			m.Kind.String(), string(m.Channel), m.AnnouncementID, m.CreatedAt, m.DueAt.UTC())
	}
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO messages (id, community, idempotency_key, fingerprint, member_id, to_email,
		template, vars, kind, channel, announcement_id, created_at, due_at, subject, text_body, status, attempts)
		VALUES `+strings.Join(rows, ", ")), args...)
	if err != nil {
		return fmt.Errorf("queue messages: %w", err)
	}
	return nil
}

const announcementColumns = "id, community, template, kind, filter, send_at, webhooks, vars, idempotency_key, created_at, created_by, cancelled"

// Announcement returns an announcement with its message counts.
func (s *Store) Announcement(ctx context.Context, community, id string) (domain.Announcement, error) {
	a, err := s.scanAnnouncement(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+announcementColumns+" FROM announcements WHERE community = ? AND id = ?"), community, id))
	if err != nil {
		return a, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT status, count(*) FROM messages WHERE community = ? AND announcement_id = ? GROUP BY status"), community, id)
	if err != nil {
		return a, fmt.Errorf("count announcement messages: %w", err)
	}
	defer rows.Close()
	a.Counts = map[domain.Status]int64{}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return a, err
		}
		st, err := domain.ParseStatus(status)
		if err != nil {
			return a, err
		}
		a.Counts[st] = n
	}
	return a, rows.Err()
}

func (s *Store) announcementByKey(ctx context.Context, community, key string) (domain.Announcement, error) {
	var id string
	if err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT id FROM announcements WHERE community = ? AND idempotency_key = ?"), community, key).Scan(&id); err != nil {
		return domain.Announcement{}, fmt.Errorf("find announcement: %w", err)
	}
	return s.Announcement(ctx, community, id)
}

// CancelAnnouncement suppresses the messages of an announcement of
// community not sent yet and runs audited, in one transaction.
func (s *Store) CancelAnnouncement(ctx context.Context, community, id string, audited func(*sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE announcements SET cancelled = ? WHERE community = ? AND id = ?"), true, community, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrAnnouncementNotFound
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind("UPDATE messages SET status = ?, failure_reason = ? WHERE community = ? AND announcement_id = ? AND status = ?"),
			domain.StatusSuppressed.String(), domain.ReasonCancelled, community, id, domain.StatusPending.String())
		if err != nil {
			return err
		}
		return audited(tx)
	})
}

func (s *Store) scanAnnouncement(row scanner) (domain.Announcement, error) {
	var a domain.Announcement
	var kind, filter, vars string
	err := row.Scan(&a.ID, &a.Community, &a.Template, &kind, &filter, &a.SendAt, &a.Webhooks, &vars, &a.IdempotencyKey, &a.CreatedAt, &a.CreatedBy, &a.Cancelled)
	if errors.Is(err, sql.ErrNoRows) {
		return a, domain.ErrAnnouncementNotFound
	}
	if err != nil {
		return a, fmt.Errorf("read announcement: %w", err)
	}
	if a.Kind, err = domain.ParseKind(kind); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(filter), &a.Filter); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(vars), &a.Vars); err != nil {
		return a, err
	}
	a.SendAt, a.CreatedAt = a.SendAt.UTC(), a.CreatedAt.UTC()
	return a, nil
}

// Announcements returns up to limit announcements of community older than
// the one with id before ("" for the newest), newest first, without their
// message counts.
func (s *Store) Announcements(ctx context.Context, community, before string, limit int) ([]domain.Announcement, error) {
	query, args := "SELECT "+announcementColumns+" FROM announcements WHERE community = ?", []any{community}
	if before != "" {
		query, args = query+" AND id < ?", append(args, before)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list announcements: %w", err)
	}
	defer rows.Close()
	var out []domain.Announcement
	for rows.Next() {
		a, err := s.scanAnnouncement(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
