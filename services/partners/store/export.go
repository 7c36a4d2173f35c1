package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/partners/domain"
)

// MemberData is what the partners service holds about one member: the
// relationships they own, the interactions they took part in, the
// contributions they made and the attention items addressed to them.
type MemberData struct {
	OwnedPartners []OwnedPartner
	Interactions  []MemberInteraction
	Contributions []domain.Contribution
	Attention     []domain.AttentionItem
}

// OwnedPartner is a partner whose relationship a member owns.
type OwnedPartner struct {
	ID, Name, Status, NextReviewDate string
}

// MemberInteraction is an interaction a member took part in; its notes
// stay out (they are the team's, about the partner and its contacts).
type MemberInteraction struct {
	ID, PartnerID, Kind string
	OccurredAt          time.Time
}

// ExportMember reads what is held about memberID of community and records
// the reading in the audit log, in one transaction.
func (s *Store) ExportMember(ctx context.Context, community, memberID string) (MemberData, error) {
	var out MemberData
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out.OwnedPartners, err = s.ownedPartners(ctx, tx, community, memberID); err != nil {
			return err
		}
		if out.Interactions, err = s.memberInteractions(ctx, tx, community, memberID); err != nil {
			return err
		}
		if out.Contributions, err = s.memberContributions(ctx, tx, community, memberID); err != nil {
			return err
		}
		if out.Attention, err = s.attentionOf(ctx, tx, community, memberID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, community, domain.ActionMemberExported, domain.TargetMember, memberID)
	})
	return out, err
}

func (s *Store) ownedPartners(ctx context.Context, q querier, community, memberID string) ([]OwnedPartner, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT id, name, status, next_review_date FROM partners
		WHERE community = ? AND owner_id = ? ORDER BY id`), community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read partners owned by %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []OwnedPartner
	for rows.Next() {
		var p OwnedPartner
		var review domain.Date
		if err := rows.Scan(&p.ID, &p.Name, &p.Status, dateCol{&review}); err != nil {
			return nil, err
		}
		p.NextReviewDate = review.String()
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Store) memberInteractions(ctx context.Context, q querier, community, memberID string) ([]MemberInteraction, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT i.id, i.partner_id, i.kind, i.occurred_at FROM interactions i
		JOIN interaction_participants p ON p.interaction_id = i.id
		WHERE i.community = ? AND p.kind = 'organiser' AND p.participant_id = ? ORDER BY i.occurred_at, i.id`), community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read interactions of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []MemberInteraction
	for rows.Next() {
		var i MemberInteraction
		if err := rows.Scan(&i.ID, &i.PartnerID, &i.Kind, &i.OccurredAt); err != nil {
			return nil, err
		}
		i.OccurredAt = i.OccurredAt.UTC()
		out = append(out, i)
	}
	return out, rows.Err()
}

func (s *Store) memberContributions(ctx context.Context, q querier, community, memberID string) ([]domain.Contribution, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT "+contributionColumns+" FROM contributions WHERE community = ? AND member_id = ? ORDER BY id"),
		community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read contributions of %s: %w", memberID, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Contribution, error) { return scanContribution(r) })
}
