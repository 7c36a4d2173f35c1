package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/services/partners/domain"
)

const attentionColumns = `id, community, kind, partner_id, agreement_id, due_date, owner_id, raised_at, notified_at, acknowledged_at,
	acknowledged_by, escalated_at, resolved_at, resolution`

func scanAttention(row interface{ Scan(...any) error }) (domain.AttentionItem, error) {
	var a domain.AttentionItem
	var kind string
	var notified, acked, escalated, resolved sql.NullTime
	err := row.Scan(&a.ID, &a.Community, &kind, &a.PartnerID, &a.AgreementID, dateCol{&a.DueDate}, &a.OwnerID, &a.RaisedAt, &notified, &acked,
		&a.AcknowledgedBy, &escalated, &resolved, &a.Resolution)
	if err != nil {
		return a, err
	}
	a.Kind, a.RaisedAt = domain.AttentionKind(kind), a.RaisedAt.UTC()
	a.NotifiedAt, a.AcknowledgedAt, a.EscalatedAt, a.ResolvedAt = timeOf(notified), timeOf(acked), timeOf(escalated), timeOf(resolved)
	return a, nil
}

func timeOf(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (s *Store) readAttention(ctx context.Context, q querier, where string, args ...any) ([]domain.AttentionItem, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT "+attentionColumns+" FROM attention_items WHERE "+where), args...)
	if err != nil {
		return nil, fmt.Errorf("read attention items: %w", err)
	}
	defer rows.Close()
	var out []domain.AttentionItem
	for rows.Next() {
		a, err := scanAttention(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RaiseAttention raises an item for every signed or active agreement of
// community ending from today to horizon days ahead and for every partner
// whose review date has come, unless one was raised for that cause
// already; each new item is audited. It returns the items raised.
func (s *Store) RaiseAttention(ctx context.Context, community string, today domain.Date, horizon int, now time.Time) ([]domain.AttentionItem, error) {
	var raised []domain.AttentionItem
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var candidates []domain.AttentionItem
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT a.id, a.partner_id, a.end_date, p.owner_id FROM agreements a
			JOIN partners p ON p.community = a.community AND p.id = a.partner_id
			WHERE a.community = ? AND a.status IN ('signed', 'active') AND a.end_date IS NOT NULL AND a.end_date >= ? AND a.end_date <= ?
			ORDER BY a.end_date, a.id`), community, today.String(), today.AddDays(horizon).String())
		if err != nil {
			return fmt.Errorf("find expiring agreements: %w", err)
		}
		for rows.Next() {
			a := domain.AttentionItem{Community: community, Kind: domain.AttentionAgreementExpiring}
			if err := rows.Scan(&a.AgreementID, &a.PartnerID, dateCol{&a.DueDate}, &a.OwnerID); err != nil {
				rows.Close()
				return err
			}
			candidates = append(candidates, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, s.db.Rebind(`SELECT id, next_review_date, owner_id FROM partners
			WHERE community = ? AND next_review_date IS NOT NULL AND next_review_date <= ? ORDER BY next_review_date, id`), community, today.String())
		if err != nil {
			return fmt.Errorf("find partners due for review: %w", err)
		}
		for rows.Next() {
			a := domain.AttentionItem{Community: community, Kind: domain.AttentionReviewDue}
			if err := rows.Scan(&a.PartnerID, dateCol{&a.DueDate}, &a.OwnerID); err != nil {
				rows.Close()
				return err
			}
			candidates = append(candidates, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range candidates {
			a.ID, a.RaisedAt = uuid.Must(uuid.NewV7()).String(), now.UTC().Truncate(time.Microsecond)
			res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO attention_items (id, community, kind, partner_id, agreement_id, due_date,
				owner_id, cause_key, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, cause_key) DO NOTHING`),
				a.ID, a.Community, string(a.Kind), a.PartnerID, a.AgreementID, dateArg(a.DueDate), a.OwnerID, a.CauseKey(), a.RaisedAt)
			if err != nil {
				return fmt.Errorf("raise attention item: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			if err := s.record(ctx, tx, community, domain.ActionAttentionRaised, domain.TargetAttention, a.ID); err != nil {
				return err
			}
			raised = append(raised, a)
		}
		return nil
	})
	return raised, err
}

// ResolveAttention closes the open items of community whose cause went
// away — an agreement renewed (its end date moved), ended or terminated;
// a partner whose review date moved on or was removed — each audited. It
// returns how many it resolved.
func (s *Store) ResolveAttention(ctx context.Context, community string, now time.Time) (int, error) {
	resolved := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		open, err := s.readAttention(ctx, tx, "community = ? AND resolved_at IS NULL ORDER BY id", community)
		if err != nil {
			return err
		}
		for _, a := range open {
			resolution, err := s.resolutionOf(ctx, tx, a)
			if err != nil {
				return err
			}
			if resolution == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE attention_items SET resolved_at = ?, resolution = ?
				WHERE community = ? AND id = ? AND resolved_at IS NULL`), now.UTC(), resolution, community, a.ID); err != nil {
				return fmt.Errorf("resolve attention item %s: %w", a.ID, err)
			}
			if err := s.record(ctx, tx, community, domain.ActionAttentionResolved, domain.TargetAttention, a.ID); err != nil {
				return err
			}
			resolved++
		}
		return nil
	})
	return resolved, err
}

// resolutionOf says why a is no longer needed, or "" while it is.
func (s *Store) resolutionOf(ctx context.Context, q querier, a domain.AttentionItem) (string, error) {
	if a.Kind == domain.AttentionAgreementExpiring {
		var status string
		var end domain.Date
		err := q.QueryRowContext(ctx, s.db.Rebind("SELECT status, end_date FROM agreements WHERE community = ? AND id = ?"),
			a.Community, a.AgreementID).Scan(&status, dateCol{&end})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return domain.ResolutionEnded, nil
		case err != nil:
			return "", fmt.Errorf("read agreement %s: %w", a.AgreementID, err)
		case status != string(domain.AgreementSigned) && status != string(domain.AgreementActive):
			return domain.ResolutionEnded, nil
		case end.String() != a.DueDate.String():
			return domain.ResolutionRenewed, nil
		}
		return "", nil
	}
	var review domain.Date
	err := q.QueryRowContext(ctx, s.db.Rebind("SELECT next_review_date FROM partners WHERE community = ? AND id = ?"),
		a.Community, a.PartnerID).Scan(dateCol{&review})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return domain.ResolutionPartnerGone, nil
	case err != nil:
		return "", fmt.Errorf("read partner %s: %w", a.PartnerID, err)
	case review.IsZero():
		return domain.ResolutionNoReview, nil
	case review.String() != a.DueDate.String():
		return domain.ResolutionReviewed, nil
	}
	return "", nil
}

// OpenAttention returns the open items of community, oldest first.
func (s *Store) OpenAttention(ctx context.Context, community string) ([]domain.AttentionItem, error) {
	return s.readAttention(ctx, s.db, "community = ? AND resolved_at IS NULL ORDER BY id", community)
}

// MarkAttention records, audited, that an open item's owner was told
// (notified) or the organisers were (escalated); an item already marked
// so, or resolved meanwhile, is left as it is.
func (s *Store) MarkAttention(ctx context.Context, community, id string, notified, escalated bool, at time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, step := range []struct {
			do     bool
			column string
			action string
		}{{notified, "notified_at", domain.ActionAttentionNotified}, {escalated, "escalated_at", domain.ActionAttentionEscalated}} {
			if !step.do {
				continue
			}
			res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE attention_items SET "+step.column+" = ? WHERE community = ? AND id = ? AND "+
				step.column+" IS NULL AND resolved_at IS NULL"), at.UTC(), community, id)
			if err != nil {
				return fmt.Errorf("mark attention item %s: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			if err := s.record(ctx, tx, community, step.action, domain.TargetAttention, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// AcknowledgeAttention marks an item of community acknowledged by by,
// audited; acknowledging it again (or a resolved one) changes nothing.
// Another community's id is domain.ErrAttentionNotFound.
func (s *Store) AcknowledgeAttention(ctx context.Context, community, id, by string, at time.Time) (domain.AttentionItem, error) {
	var out domain.AttentionItem
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE attention_items SET acknowledged_at = ?, acknowledged_by = ?
			WHERE community = ? AND id = ? AND acknowledged_at IS NULL AND resolved_at IS NULL`), at.UTC().Truncate(time.Microsecond), by, community, id)
		if err != nil {
			return fmt.Errorf("acknowledge attention item %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := s.record(ctx, tx, community, domain.ActionAttentionAcknowledged, domain.TargetAttention, id); err != nil {
				return err
			}
		}
		items, err := s.readAttention(ctx, tx, "community = ? AND id = ?", community, id)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return domain.ErrAttentionNotFound
		}
		out = items[0]
		return nil
	})
	return out, err
}

// ListAttention pages through community's items after afterID, oldest
// first: the open ones, and the resolved too when asked; only ownerID's
// when set.
func (s *Store) ListAttention(ctx context.Context, community, ownerID string, includeResolved bool, afterID string, limit int) ([]domain.AttentionItem, error) {
	where, args := "community = ? AND id > ?", []any{community, afterID}
	if ownerID != "" {
		where, args = where+" AND owner_id = ?", append(args, ownerID)
	}
	if !includeResolved {
		where += " AND resolved_at IS NULL"
	}
	return s.readAttention(ctx, s.db, where+" ORDER BY id LIMIT ?", append(args, limit)...)
}

// attentionOf lists the items addressed to memberID (the owner), for a
// subject-access export.
func (s *Store) attentionOf(ctx context.Context, q querier, community, memberID string) ([]domain.AttentionItem, error) {
	return s.readAttention(ctx, q, "community = ? AND owner_id = ? ORDER BY id", community, memberID)
}
