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

// QueueAnnouncement stores a with the members filter f selects now (their
// ids: the segment as it stands when the announcement is accepted), one
// pending message per webhook with the events queued returns, and the audit
// entry audited writes, in one transaction. The members' own messages are
// queued afterwards, in batches, by QueueAnnouncementBatch. An idempotency
// key already used returns the stored announcement and stores nothing
// (created = false); a segment selecting no member, with no webhook, is
// domain.ErrEmptySegment and stores nothing.
func (s *Store) QueueAnnouncement(ctx context.Context, a domain.Announcement, f domain.Filter, hooks []domain.Webhook,
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
		where, args := matchWhere(a.Community, f)
		res, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO announcement_recipients (community, announcement_id, member_id)
			SELECT r.community, ?, r.member_id FROM recipients r WHERE `+where), append([]any{a.ID}, args...)...)
		if err != nil {
			return fmt.Errorf("store the announcement's recipients: %w", err)
		}
		members, _ := res.RowsAffected()
		if members == 0 && len(hooks) == 0 {
			return domain.ErrEmptySegment
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE announcements SET members_total = ? WHERE community = ? AND id = ?"),
			members, a.Community, a.ID); err != nil {
			return fmt.Errorf("store announcement: %w", err)
		}
		var msgs []domain.Message
		for _, w := range hooks {
			m := announcementMessage(a)
			m.ID, m.To, m.Channel, m.IdempotencyKey = newID(), w.ID, domain.ChannelWebhook, a.ID+"/webhook/"+w.ID
			msgs = append(msgs, m)
		}
		if err := s.queueMessages(ctx, tx, msgs, queued); err != nil {
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

// announcementMessage is a pending message of announcement a, without id,
// channel and destination.
func announcementMessage(a domain.Announcement) domain.Message {
	return domain.Message{Community: a.Community, Template: a.Template, Vars: a.Vars, Kind: a.Kind, AnnouncementID: a.ID,
		Status: domain.StatusPending, CreatedAt: a.CreatedAt, DueAt: a.SendAt}
}

// queueMessages stores msgs, 200 rows a statement, and appends the event
// queued returns for each, in tx, with multi-row statements too.
func (s *Store) queueMessages(ctx context.Context, tx *sql.Tx, msgs []domain.Message, queued func(domain.Message) (kafka.Event, error)) error {
	for start := 0; start < len(msgs); start += 200 {
		batch := msgs[start:min(start+200, len(msgs))]
		if err := s.insertMessages(ctx, tx, batch); err != nil {
			return err
		}
		events := make([]kafka.Event, len(batch))
		for i, m := range batch {
			e, err := queued(m)
			if err != nil {
				return err
			}
			events[i] = e
		}
		if err := s.outbox.AppendAll(ctx, tx, events); err != nil {
			return err
		}
	}
	return nil
}

// AnnouncementRef names an announcement.
type AnnouncementRef struct{ Community, ID string }

// Queueing lists the announcements whose members are not all queued yet
// and that are not cancelled, oldest first.
func (s *Store) Queueing(ctx context.Context) ([]AnnouncementRef, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT community, id FROM announcements
		WHERE members_queued < members_total AND cancelled = ? ORDER BY id`), false)
	if err != nil {
		return nil, fmt.Errorf("list announcements being queued: %w", err)
	}
	defer rows.Close()
	var out []AnnouncementRef
	for rows.Next() {
		var r AnnouncementRef
		if err := rows.Scan(&r.Community, &r.ID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// QueueAnnouncementBatch queues the messages of up to limit more members
// of announcement id of community — the next ones in member id order
// after the last one queued — with the events queued returns, in one
// transaction that also moves the announcement's cursor. A crash loses at
// most the batch under way, which the next call queues again; a member
// never gets two messages (the announcement's row is locked for the
// batch, and a second message for a member would break the messages'
// unique idempotency key). n is how many were queued; done says nothing
// is left to queue (all queued, or the announcement was cancelled), and
// the kept member ids are gone.
func (s *Store) QueueAnnouncementBatch(ctx context.Context, community, id string, limit int,
	queued func(domain.Message) (kafka.Event, error)) (n int, done bool, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := s.scanAnnouncement(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+announcementColumns+
			" FROM announcements WHERE community = ? AND id = ?")+s.forUpdate(), community, id))
		switch {
		case errors.Is(err, domain.ErrAnnouncementNotFound) && s.db.Dialect == "postgres":
			// Locked by another replica's batch (SKIP LOCKED), or gone.
			return nil
		case err != nil:
			return err
		}
		var cursor string
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT queue_cursor FROM announcements WHERE community = ? AND id = ?"),
			community, id).Scan(&cursor); err != nil {
			return fmt.Errorf("read the announcement's queue: %w", err)
		}
		if a.Cancelled || a.MembersQueued >= a.Members {
			done = true
			return s.forgetAnnouncementRecipients(ctx, tx, community, id)
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT member_id FROM announcement_recipients
			WHERE community = ? AND announcement_id = ? AND member_id > ? ORDER BY member_id LIMIT ?`), community, id, cursor, limit)
		if err != nil {
			return fmt.Errorf("read the announcement's recipients: %w", err)
		}
		var msgs []domain.Message
		for rows.Next() {
			m := announcementMessage(a)
			if err := rows.Scan(&m.MemberID); err != nil {
				_ = rows.Close()
				return err
			}
			m.ID, m.Channel, m.IdempotencyKey = newID(), domain.ChannelEmail, a.ID+"/"+m.MemberID
			msgs = append(msgs, m)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(msgs) == 0 {
			// Nothing after the cursor: the count ends where the queue did.
			done = true
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE announcements SET members_total = members_queued WHERE community = ? AND id = ?"),
				community, id); err != nil {
				return fmt.Errorf("finish queueing announcement %s: %w", id, err)
			}
			return s.forgetAnnouncementRecipients(ctx, tx, community, id)
		}
		if err := s.queueMessages(ctx, tx, msgs, queued); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE announcements SET members_queued = members_queued + ?, queue_cursor = ?
			WHERE community = ? AND id = ?`), len(msgs), msgs[len(msgs)-1].MemberID, community, id); err != nil {
			return fmt.Errorf("move the queue of announcement %s: %w", id, err)
		}
		n = len(msgs)
		if a.MembersQueued+int64(n) >= a.Members {
			done = true
			return s.forgetAnnouncementRecipients(ctx, tx, community, id)
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	if n > 0 {
		s.outbox.Notify()
	}
	return n, done, nil
}

// forgetAnnouncementRecipients drops the member ids an announcement kept
// for queueing, once it needs them no more.
func (s *Store) forgetAnnouncementRecipients(ctx context.Context, tx *sql.Tx, community, id string) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM announcement_recipients WHERE community = ? AND announcement_id = ?"), community, id); err != nil {
		return fmt.Errorf("drop the recipients of announcement %s: %w", id, err)
	}
	return nil
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

const announcementColumns = "id, community, template, kind, filter, send_at, webhooks, vars, idempotency_key, created_at, created_by, cancelled, " +
	"members_total, members_queued"

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
		if err := s.forgetAnnouncementRecipients(ctx, tx, community, id); err != nil {
			return err
		}
		return audited(tx)
	})
}

func (s *Store) scanAnnouncement(row scanner) (domain.Announcement, error) {
	var a domain.Announcement
	var kind, filter, vars string
	err := row.Scan(&a.ID, &a.Community, &a.Template, &kind, &filter, &a.SendAt, &a.Webhooks, &vars, &a.IdempotencyKey, &a.CreatedAt, &a.CreatedBy, &a.Cancelled,
		&a.Members, &a.MembersQueued)
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
