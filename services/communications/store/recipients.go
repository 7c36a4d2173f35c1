package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// PutRecipient creates or replaces a recipient with its tags and consents,
// in tx (the projection consumer's inbox transaction).
func (s *Store) PutRecipient(ctx context.Context, tx *sql.Tx, r domain.Recipient) error {
	var lastActive any
	if !r.LastActiveAt.IsZero() {
		lastActive = r.LastActiveAt.UTC()
	}
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO recipients
		(member_id, community, email, display_name, locale, time_zone, status, country_code, region, city, level, joined_at, last_active_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (member_id) DO UPDATE SET email = excluded.email, display_name = excluded.display_name, locale = excluded.locale,
		time_zone = excluded.time_zone, status = excluded.status, country_code = excluded.country_code, region = excluded.region,
		city = excluded.city, level = excluded.level, last_active_at = excluded.last_active_at`),
		r.MemberID, r.Community, r.Email, r.DisplayName, r.Locale, r.TimeZone, r.Status, r.CountryCode, r.Region, r.City, r.Level,
		r.JoinedAt.UTC(), lastActive)
	if err != nil {
		return fmt.Errorf("store recipient %s: %w", r.MemberID, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_tags WHERE member_id = ?"), r.MemberID); err != nil {
		return err
	}
	for kind, tags := range map[string][]string{"interest": r.Interests, "skill": r.Skills, "goal": r.Goals, "role": r.Roles} {
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO recipient_tags (member_id, kind, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"), r.MemberID, kind, t); err != nil {
				return fmt.Errorf("store recipient tags: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_consents WHERE member_id = ?"), r.MemberID); err != nil {
		return err
	}
	for _, p := range r.Consents {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO recipient_consents (member_id, purpose) VALUES (?, ?) ON CONFLICT DO NOTHING"), r.MemberID, p); err != nil {
			return fmt.Errorf("store recipient consents: %w", err)
		}
	}
	return nil
}

// LookupRecipient returns one recipient, or ErrNoRecipient.
func (s *Store) LookupRecipient(ctx context.Context, memberID string) (domain.Recipient, error) {
	return s.Recipient(ctx, s.db, memberID)
}

// Recipient returns one recipient, in q (the pool or a transaction).
func (s *Store) Recipient(ctx context.Context, q querier, memberID string) (domain.Recipient, error) {
	rs, err := s.recipients(ctx, q, []string{memberID})
	if err != nil {
		return domain.Recipient{}, err
	}
	r, ok := rs[memberID]
	if !ok {
		return domain.Recipient{}, ErrNoRecipient
	}
	return r, nil
}

// ErrNoRecipient means the projection has no such member.
var ErrNoRecipient = errors.New("no such recipient")

// Recipients returns the recipients with these ids, by id.
func (s *Store) Recipients(ctx context.Context, ids []string) (map[string]domain.Recipient, error) {
	return s.recipients(ctx, s.db, ids)
}

func (s *Store) recipients(ctx context.Context, q querier, ids []string) (map[string]domain.Recipient, error) {
	out := map[string]domain.Recipient{}
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		in := placeholders(len(batch))
		rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT member_id, community, email, display_name, locale, time_zone, status,
			country_code, region, city, level, joined_at, last_active_at FROM recipients WHERE member_id IN (`+in+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("read recipients: %w", err)
		}
		for rows.Next() {
			var r domain.Recipient
			var lastActive sql.NullTime
			if err := rows.Scan(&r.MemberID, &r.Community, &r.Email, &r.DisplayName, &r.Locale, &r.TimeZone, &r.Status,
				&r.CountryCode, &r.Region, &r.City, &r.Level, &r.JoinedAt, &lastActive); err != nil {
				_ = rows.Close()
				return nil, err
			}
			if lastActive.Valid {
				r.LastActiveAt = lastActive.Time.UTC()
			}
			out[r.MemberID] = r
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := s.loadRecipientLists(ctx, q, out, in, args); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) loadRecipientLists(ctx context.Context, q querier, out map[string]domain.Recipient, in string, args []any) error {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT member_id, kind, tag FROM recipient_tags WHERE member_id IN ("+in+") ORDER BY member_id, kind, tag"), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, kind, tag string
		if err := rows.Scan(&id, &kind, &tag); err != nil {
			_ = rows.Close()
			return err
		}
		r := out[id]
		switch kind {
		case "interest":
			r.Interests = append(r.Interests, tag)
		case "skill":
			r.Skills = append(r.Skills, tag)
		case "goal":
			r.Goals = append(r.Goals, tag)
		case "role":
			r.Roles = append(r.Roles, tag)
		}
		out[id] = r
	}
	if err := rows.Close(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, s.db.Rebind("SELECT member_id, purpose FROM recipient_consents WHERE member_id IN ("+in+") ORDER BY member_id, purpose"), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, purpose string
		if err := rows.Scan(&id, &purpose); err != nil {
			return err
		}
		r := out[id]
		r.Consents = append(r.Consents, purpose)
		out[id] = r
	}
	return rows.Err()
}

// SetConsent grants or withdraws purpose for a recipient, in tx.
func (s *Store) SetConsent(ctx context.Context, tx *sql.Tx, memberID, purpose string, granted bool) error {
	var err error
	if granted {
		_, err = tx.ExecContext(ctx, s.db.Rebind("INSERT INTO recipient_consents (member_id, purpose) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM recipients WHERE member_id = ?) ON CONFLICT DO NOTHING"), memberID, purpose, memberID)
	} else {
		_, err = tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_consents WHERE member_id = ? AND purpose = ?"), memberID, purpose)
	}
	if err != nil {
		return fmt.Errorf("set consent of %s: %w", memberID, err)
	}
	return nil
}

// EraseRecipient forgets a member: the projection row goes, and the
// delivery log keeps ids but loses the address and the content.
func (s *Store) EraseRecipient(ctx context.Context, tx *sql.Tx, memberID string) error {
	for _, q := range []string{
		"DELETE FROM recipients WHERE member_id = ?",
		"UPDATE messages SET to_email = '', subject = '', text_body = '', html_body = '', vars = '{}' WHERE member_id = ?",
	} {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(q), memberID); err != nil {
			return fmt.Errorf("erase recipient %s: %w", memberID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE messages SET status = ?, failure_reason = ? WHERE member_id = ? AND status = ?"),
		domain.StatusSuppressed.String(), domain.ReasonNotMember, memberID, domain.StatusPending.String()); err != nil {
		return fmt.Errorf("erase recipient %s: %w", memberID, err)
	}
	return nil
}

// DeleteRecipient forgets a merged duplicate.
func (s *Store) DeleteRecipient(ctx context.Context, tx *sql.Tx, memberID string) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipients WHERE member_id = ?"), memberID)
	return err
}

// MatchRecipients returns the ids of community's recipients f selects, in
// id order.
func (s *Store) MatchRecipients(ctx context.Context, community string, f domain.Filter) ([]string, error) {
	clauses := []string{"r.community = ?"}
	args := []any{community}
	in := func(column string, vals []string) {
		if len(vals) == 0 {
			return
		}
		clauses = append(clauses, column+" IN ("+placeholders(len(vals))+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	tag := func(kind string, vals []string) {
		if len(vals) == 0 {
			return
		}
		clauses = append(clauses, "EXISTS (SELECT 1 FROM recipient_tags t WHERE t.member_id = r.member_id AND t.kind = ? AND t.tag IN ("+placeholders(len(vals))+"))")
		args = append(args, kind)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	tag("interest", f.Interests)
	tag("skill", f.Skills)
	tag("goal", f.Goals)
	tag("role", f.Roles)
	in("r.country_code", f.CountryCodes)
	in("r.region", f.Regions)
	in("r.city", f.Cities)
	in("r.level", f.Levels)
	if len(f.Statuses) > 0 {
		in("r.status", f.Statuses)
	} else {
		clauses = append(clauses, "r.status IN ('active', 'invited')")
	}
	for _, p := range f.Consents {
		clauses = append(clauses, "EXISTS (SELECT 1 FROM recipient_consents c WHERE c.member_id = r.member_id AND c.purpose = ?)")
		args = append(args, p)
	}
	for _, b := range []struct {
		cond string
		t    time.Time
	}{{"r.joined_at >= ?", f.JoinedAfter}, {"r.joined_at < ?", f.JoinedBefore}, {"r.last_active_at >= ?", f.LastActiveAfter},
		{"(r.last_active_at IS NULL OR r.last_active_at < ?)", f.LastActiveBefore}} {
		if !b.t.IsZero() {
			clauses = append(clauses, b.cond)
			args = append(args, b.t.UTC())
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT r.member_id FROM recipients r WHERE "+strings.Join(clauses, " AND ")+" ORDER BY r.member_id"), args...)
	if err != nil {
		return nil, fmt.Errorf("match recipients: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Unsubscribe withdraws purpose for a member and appends unsubscribed, in
// one transaction; pending messages needing that consent are suppressed
// when they come due.
func (s *Store) Unsubscribe(ctx context.Context, memberID, purpose string, unsubscribed kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.SetConsent(ctx, tx, memberID, purpose, false); err != nil {
			return err
		}
		return s.outbox.Append(ctx, tx, unsubscribed)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}
