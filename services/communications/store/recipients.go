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
		(community, member_id, email, email_verified, display_name, locale, time_zone, status, country_code, region, city, level, joined_at, last_active_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (community, member_id) DO UPDATE SET email = excluded.email, email_verified = excluded.email_verified,
		display_name = excluded.display_name, locale = excluded.locale,
		time_zone = excluded.time_zone, status = excluded.status, country_code = excluded.country_code, region = excluded.region,
		city = excluded.city, level = excluded.level, last_active_at = excluded.last_active_at`),
		r.Community, r.MemberID, r.Email, r.EmailVerified, r.DisplayName, r.Locale, r.TimeZone, r.Status, r.CountryCode, r.Region, r.City, r.Level,
		r.JoinedAt.UTC(), lastActive)
	if err != nil {
		return fmt.Errorf("store recipient %s: %w", r.MemberID, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_tags WHERE community = ? AND member_id = ?"), r.Community, r.MemberID); err != nil {
		return err
	}
	for kind, tags := range map[string][]string{"interest": r.Interests, "skill": r.Skills, "goal": r.Goals, "role": r.Roles} {
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO recipient_tags (community, member_id, kind, tag) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
				r.Community, r.MemberID, kind, t); err != nil {
				return fmt.Errorf("store recipient tags: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_consents WHERE community = ? AND member_id = ?"), r.Community, r.MemberID); err != nil {
		return err
	}
	for _, p := range r.Consents {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO recipient_consents (community, member_id, purpose) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
			r.Community, r.MemberID, p); err != nil {
			return fmt.Errorf("store recipient consents: %w", err)
		}
	}
	return nil
}

// LookupRecipient returns a recipient of community, or ErrNoRecipient —
// also when the id is a member of another community.
func (s *Store) LookupRecipient(ctx context.Context, community, memberID string) (domain.Recipient, error) {
	return s.Recipient(ctx, s.db, community, memberID)
}

// Recipient returns a recipient of community, in q (the pool or a
// transaction).
func (s *Store) Recipient(ctx context.Context, q querier, community, memberID string) (domain.Recipient, error) {
	rs, err := s.recipients(ctx, q, community, []string{memberID})
	if err != nil {
		return domain.Recipient{}, err
	}
	r, ok := rs[memberID]
	if !ok {
		return domain.Recipient{}, ErrNoRecipient
	}
	return r, nil
}

// ErrNoRecipient means the community's projection has no such member.
var ErrNoRecipient = errors.New("no such recipient")

// Recipients returns the recipients of community with these ids, by id;
// ids of other communities' members are simply not found.
func (s *Store) Recipients(ctx context.Context, community string, ids []string) (map[string]domain.Recipient, error) {
	return s.recipients(ctx, s.db, community, ids)
}

func (s *Store) recipients(ctx context.Context, q querier, community string, ids []string) (map[string]domain.Recipient, error) {
	out := map[string]domain.Recipient{}
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		args := make([]any, 0, len(batch)+1)
		args = append(args, community)
		for _, id := range batch {
			args = append(args, id)
		}
		in := placeholders(len(batch))
		rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT member_id, community, email, email_verified, display_name, locale, time_zone, status,
			country_code, region, city, level, joined_at, last_active_at FROM recipients WHERE community = ? AND member_id IN (`+in+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("read recipients: %w", err)
		}
		for rows.Next() {
			var r domain.Recipient
			var lastActive sql.NullTime
			if err := rows.Scan(&r.MemberID, &r.Community, &r.Email, &r.EmailVerified, &r.DisplayName, &r.Locale, &r.TimeZone, &r.Status,
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

// loadRecipientLists adds tags and consents; args are the community and
// the ids of the IN list in.
func (s *Store) loadRecipientLists(ctx context.Context, q querier, out map[string]domain.Recipient, in string, args []any) error {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT member_id, kind, tag FROM recipient_tags WHERE community = ? AND member_id IN ("+in+") ORDER BY member_id, kind, tag"), args...)
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
	rows, err = q.QueryContext(ctx, s.db.Rebind("SELECT member_id, purpose FROM recipient_consents WHERE community = ? AND member_id IN ("+in+") ORDER BY member_id, purpose"), args...)
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

// SetConsent grants or withdraws purpose for a recipient of community, in
// tx, and reports whether anything changed.
func (s *Store) SetConsent(ctx context.Context, tx *sql.Tx, community, memberID, purpose string, granted bool) (bool, error) {
	var res sql.Result
	var err error
	if granted {
		res, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO recipient_consents (community, member_id, purpose)
			SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM recipients WHERE community = ? AND member_id = ?) ON CONFLICT DO NOTHING`),
			community, memberID, purpose, community, memberID)
	} else {
		res, err = tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipient_consents WHERE community = ? AND member_id = ? AND purpose = ?"), community, memberID, purpose)
	}
	if err != nil {
		return false, fmt.Errorf("set consent of %s: %w", memberID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// EraseRecipient forgets a member of community: the projection row goes,
// and the delivery log keeps ids but loses the address and the content.
func (s *Store) EraseRecipient(ctx context.Context, tx *sql.Tx, community, memberID string) error {
	for _, q := range []string{
		"DELETE FROM recipients WHERE community = ? AND member_id = ?",
		"UPDATE messages SET to_email = '', subject = '', text_body = '', html_body = '', vars = '{}' WHERE community = ? AND member_id = ?",
	} {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(q), community, memberID); err != nil {
			return fmt.Errorf("erase recipient %s: %w", memberID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE messages SET status = ?, failure_reason = ? WHERE community = ? AND member_id = ? AND status = ?"),
		domain.StatusSuppressed.String(), domain.ReasonNotMember, community, memberID, domain.StatusPending.String()); err != nil {
		return fmt.Errorf("erase recipient %s: %w", memberID, err)
	}
	// What the domain webhooks carried about them goes too.
	return s.RedactSubscriptionDeliveries(ctx, tx, community, memberID)
}

// DeleteRecipient forgets a merged duplicate of community.
func (s *Store) DeleteRecipient(ctx context.Context, tx *sql.Tx, community, memberID string) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM recipients WHERE community = ? AND member_id = ?"), community, memberID)
	return err
}

// MatchRecipients returns the ids of community's recipients f selects
// whose address is confirmed, in id order.
func (s *Store) MatchRecipients(ctx context.Context, community string, f domain.Filter) ([]string, error) {
	where, args := matchWhere(community, f)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT r.member_id FROM recipients r WHERE "+where+" ORDER BY r.member_id"), args...)
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

// matchWhere is the condition on recipients r selecting the members of
// community that filter f matches, with its arguments.
func matchWhere(community string, f domain.Filter) (string, []any) {
	clauses := []string{"r.community = ?", "r.email_verified = ?"}
	args := []any{community, true}
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
		clauses = append(clauses, "EXISTS (SELECT 1 FROM recipient_tags t WHERE t.community = r.community AND t.member_id = r.member_id AND t.kind = ? AND t.tag IN ("+placeholders(len(vals))+"))")
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
		clauses = append(clauses, "EXISTS (SELECT 1 FROM recipient_consents c WHERE c.community = r.community AND c.member_id = r.member_id AND c.purpose = ?)")
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
	return strings.Join(clauses, " AND "), args
}

// Unsubscribe withdraws purposes for a member of community and, for each
// it changed, appends the event unsubscribed builds, then runs audited
// once if anything changed — all in one transaction: a repeated
// unsubscribe publishes and records nothing more. Pending messages
// needing a withdrawn consent are suppressed when they come due. It
// reports whether anything changed.
func (s *Store) Unsubscribe(ctx context.Context, community, memberID string, purposes []string, unsubscribed func(purpose string) (kafka.Event, error),
	audited func(*sql.Tx) error) (bool, error) {
	changed := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		changed = false
		for _, purpose := range purposes {
			withdrawn, err := s.SetConsent(ctx, tx, community, memberID, purpose, false)
			if err != nil {
				return err
			}
			if !withdrawn {
				continue
			}
			changed = true
			e, err := unsubscribed(purpose)
			if err != nil {
				return err
			}
			if err := s.outbox.Append(ctx, tx, e); err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		return audited(tx)
	})
	if err != nil {
		return false, err
	}
	if changed {
		s.outbox.Notify()
	}
	return changed, nil
}
