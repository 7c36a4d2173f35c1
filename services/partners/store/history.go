package store

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// History streams, in batches of up to 1,000, the facts of community the
// insights service rebuilds from: partners, their moves along the
// pipeline, signed agreements and contributions. No names, notes or
// descriptions.
func (s *Store) History(ctx context.Context, community string, send func([]*insightsv1.HistoryRecord) error) error {
	var batch []*insightsv1.HistoryRecord
	add := func(r *insightsv1.HistoryRecord) error {
		if batch = append(batch, r); len(batch) == 1000 {
			err := send(batch)
			batch = nil
			return err
		}
		return nil
	}
	each := func(query string, scan func(*sql.Rows) (*insightsv1.HistoryRecord, error)) error {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), community)
		if err != nil {
			return fmt.Errorf("read partners history: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scan(rows)
			if err != nil {
				return fmt.Errorf("read partners history: %w", err)
			}
			if err := add(r); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err := each("SELECT id, added_at FROM partners WHERE community = ? ORDER BY id", func(r *sql.Rows) (*insightsv1.HistoryRecord, error) {
		f := &insightsv1.PartnerFact{}
		var added sql.NullTime
		err := r.Scan(&f.PartnerId, &added)
		if added.Valid {
			f.AddedAt = timestamppb.New(added.Time)
		}
		return &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Partner{Partner: f}}, err
	})
	if err == nil {
		// The first entry of a partner's history is its addition (from no
		// status): the partner fact's added_at says it.
		err = each(`SELECT h.partner_id, h.to_status, h.changed_at FROM partner_status_history h JOIN partners p ON p.id = h.partner_id
			WHERE p.community = ? AND h.from_status <> '' ORDER BY h.partner_id, h.id`, func(r *sql.Rows) (*insightsv1.HistoryRecord, error) {
			f := &insightsv1.PartnerMoveFact{}
			var at sql.NullTime
			err := r.Scan(&f.PartnerId, &f.ToStage, &at)
			f.ChangedAt = timestamppb.New(at.Time)
			return &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_PartnerMove{PartnerMove: f}}, err
		})
	}
	if err == nil {
		err = each(`SELECT id, partner_id, start_date, end_date, signed_on, ended_on FROM agreements
			WHERE community = ? AND signed_on IS NOT NULL ORDER BY id`, func(r *sql.Rows) (*insightsv1.HistoryRecord, error) {
			f := &insightsv1.AgreementFact{}
			var end, signed, ended sql.NullString
			err := r.Scan(&f.AgreementId, &f.PartnerId, &f.StartDate, &end, &signed, &ended)
			f.EndDate, f.SignedOn, f.EndedOn = end.String, signed.String, ended.String
			return &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Agreement{Agreement: f}}, err
		})
	}
	if err == nil {
		err = each(`SELECT id, partner_id, kind, contributed_on, value_currency, value_minor, volunteer_minutes FROM contributions
			WHERE community = ? ORDER BY id`, func(r *sql.Rows) (*insightsv1.HistoryRecord, error) {
			f := &insightsv1.ContributionFact{}
			err := r.Scan(&f.ContributionId, &f.PartnerId, &f.Kind, &f.Date, &f.CurrencyCode, &f.AmountMinor, &f.VolunteerMinutes)
			return &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Contribution{Contribution: f}}, err
		})
	}
	if err != nil || len(batch) == 0 {
		return err
	}
	return send(batch)
}
