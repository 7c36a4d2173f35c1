package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

const contributionColumns = `id, community, partner_id, kind, contributed_on, description, value_currency, value_minor, volunteer_minutes,
	event_id, goal, member_id, recorded_at, recorded_by`

func scanContribution(row interface{ Scan(...any) error }) (domain.Contribution, error) {
	var c domain.Contribution
	var kind string
	err := row.Scan(&c.ID, &c.Community, &c.PartnerID, &kind, dateCol{&c.Date}, &c.Description, &c.Value.Currency, &c.Value.Minor,
		&c.VolunteerMinutes, &c.EventID, &c.Goal, &c.MemberID, &c.RecordedAt, &c.RecordedBy)
	c.Kind, c.RecordedAt = domain.ContributionKind(kind), c.RecordedAt.UTC()
	return c, err
}

// CreateContribution stores c, its events and an audit entry in one
// transaction;
// domain.ErrUnknownPartner when its partner is not in the community.
func (s *Store) CreateContribution(ctx context.Context, c domain.Contribution, events ...kafka.Event) error {
	return s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		if err := s.partnerInCommunity(ctx, tx, c.Community, c.PartnerID); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO contributions (id, community, partner_id, kind, contributed_on, description,
			value_currency, value_minor, volunteer_minutes, event_id, goal, member_id, recorded_at, recorded_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Community, c.PartnerID, string(c.Kind), dateArg(c.Date), c.Description, c.Value.Currency, c.Value.Minor,
			c.VolunteerMinutes, c.EventID, c.Goal, c.MemberID, c.RecordedAt, c.RecordedBy)
		if err != nil {
			return nil, fmt.Errorf("insert contribution %s: %w", c.ID, err)
		}
		return events, s.record(ctx, tx, c.Community, domain.ActionContributionRecorded, domain.TargetContribution, c.ID)
	})
}

// ContributionFilter narrows contributions; empty fields match all.
type ContributionFilter struct {
	PartnerID string
	From, To  domain.Date
	Goal      string
}

func (f ContributionFilter) where(community string) (string, []any) {
	where, args := "WHERE community = ?", []any{community}
	if f.PartnerID != "" {
		where += " AND partner_id = ?"
		args = append(args, f.PartnerID)
	}
	if !f.From.IsZero() {
		where += " AND contributed_on >= ?"
		args = append(args, f.From.String())
	}
	if !f.To.IsZero() {
		where += " AND contributed_on <= ?"
		args = append(args, f.To.String())
	}
	if f.Goal != "" {
		where += " AND goal = ?"
		args = append(args, f.Goal)
	}
	return where, args
}

// ListContributions returns up to limit contributions of community
// matching f with ids after afterID, in the order they were recorded;
// domain.ErrPartnerNotFound when f names a partner that is not the
// community's.
func (s *Store) ListContributions(ctx context.Context, community string, f ContributionFilter, afterID string, limit int) ([]domain.Contribution, error) {
	if err := s.filteredPartner(ctx, community, f.PartnerID); err != nil {
		return nil, err
	}
	where, args := f.where(community)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+contributionColumns+" FROM contributions "+where+" AND id > ? ORDER BY id LIMIT ?"),
		append(args, afterID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list contributions of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Contribution, error) { return scanContribution(r) })
}

// ContributionSums sums community's contributions matching f per partner,
// goal, day, kind and currency, in integer minor units. A sum beyond int64
// fails (SQLite reports an overflow, PostgreSQL refuses the cast) rather
// than coming back wrong. domain.ErrPartnerNotFound when f names a
// partner that is not the community's.
func (s *Store) ContributionSums(ctx context.Context, community string, f ContributionFilter) ([]domain.ContributionSum, error) {
	if err := s.filteredPartner(ctx, community, f.PartnerID); err != nil {
		return nil, err
	}
	where, args := f.where(community)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT partner_id, goal, contributed_on, kind, value_currency,
		CAST(SUM(value_minor) AS BIGINT), count(*), CAST(SUM(volunteer_minutes) AS BIGINT) FROM contributions `+where+`
		GROUP BY partner_id, goal, contributed_on, kind, value_currency ORDER BY contributed_on, partner_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("sum contributions of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.ContributionSum, error) {
		var sum domain.ContributionSum
		var kind string
		err := r.Scan(&sum.PartnerID, &sum.Goal, dateCol{&sum.Date}, &kind, &sum.Currency, &sum.AmountMinor, &sum.Count, &sum.VolunteerMinutes)
		sum.Kind = domain.ContributionKind(kind)
		return sum, err
	})
}
