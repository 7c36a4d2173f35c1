package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

const agreementColumns = `id, community, partner_id, kind, title, start_date, end_date, value_currency, value_minor, status, document_url,
	signed_on, ended_on, termination_reason, created_at, updated_at`

func scanAgreement(row interface{ Scan(...any) error }) (domain.Agreement, error) {
	var a domain.Agreement
	var kind, status string
	err := row.Scan(&a.ID, &a.Community, &a.PartnerID, &kind, &a.Title, dateCol{&a.Start}, dateCol{&a.End}, &a.Value.Currency, &a.Value.Minor,
		&status, &a.DocumentURL, dateCol{&a.SignedOn}, dateCol{&a.EndedOn}, &a.TerminationReason, &a.CreatedAt, &a.UpdatedAt)
	a.Kind, a.Status = domain.AgreementKind(kind), domain.AgreementStatus(status)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// CreateAgreement stores a draft with an audit entry;
// domain.ErrUnknownPartner when its partner is not in the community.
func (s *Store) CreateAgreement(ctx context.Context, a domain.Agreement) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.partnerInCommunity(ctx, tx, a.Community, a.PartnerID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO agreements (id, community, partner_id, kind, title, start_date, end_date,
			value_currency, value_minor, status, document_url, signed_on, ended_on, termination_reason, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.Community, a.PartnerID, string(a.Kind), a.Title, dateArg(a.Start), dateArg(a.End), a.Value.Currency, a.Value.Minor,
			string(a.Status), a.DocumentURL, dateArg(a.SignedOn), dateArg(a.EndedOn), a.TerminationReason, a.CreatedAt, a.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert agreement %s: %w", a.ID, err)
		}
		return s.record(ctx, tx, a.Community, domain.ActionAgreementCreated, domain.TargetAgreement, a.ID)
	})
}

// GetAgreement returns one agreement of community, or
// domain.ErrAgreementNotFound.
func (s *Store) GetAgreement(ctx context.Context, community, id string) (domain.Agreement, error) {
	return s.getAgreement(ctx, s.db, community, id, false)
}

func (s *Store) getAgreement(ctx context.Context, q querier, community, id string, lock bool) (domain.Agreement, error) {
	query := "SELECT " + agreementColumns + " FROM agreements WHERE community = ? AND id = ?"
	if lock {
		query += s.forUpdate()
	}
	a, err := scanAgreement(q.QueryRowContext(ctx, s.db.Rebind(query), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, domain.ErrAgreementNotFound
	}
	if err != nil {
		return a, fmt.Errorf("get agreement %s: %w", id, err)
	}
	return a, nil
}

// AgreementFilter narrows a list of agreements; empty fields match all.
type AgreementFilter struct {
	PartnerID string
	Statuses  []domain.AgreementStatus
}

// ListAgreements returns up to limit agreements of community matching f
// with ids after afterID, in id order; domain.ErrPartnerNotFound when f
// names a partner that is not the community's.
func (s *Store) ListAgreements(ctx context.Context, community string, f AgreementFilter, afterID string, limit int) ([]domain.Agreement, error) {
	if err := s.filteredPartner(ctx, community, f.PartnerID); err != nil {
		return nil, err
	}
	where, args := "WHERE community = ? AND id > ?", []any{community, afterID}
	if f.PartnerID != "" {
		where += " AND partner_id = ?"
		args = append(args, f.PartnerID)
	}
	if len(f.Statuses) > 0 {
		where += " AND status IN (" + placeholders(len(f.Statuses)) + ")"
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+agreementColumns+" FROM agreements "+where+" ORDER BY id LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list agreements of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Agreement, error) { return scanAgreement(r) })
}

// AgreementChange is what a change to an agreement produces: its new
// state, a renewal to record, the events to publish, and the audit action
// that names it.
type AgreementChange struct {
	Agreement domain.Agreement
	Renewal   *domain.Renewal
	Events    []kafka.Event
	// Action is recorded in the audit log, such as domain.ActionAgreementSigned.
	Action string
}

// ChangeAgreement reads agreement id of community, lets change compute the
// change, and stores it — only if the agreement's status is still the one
// read — with its renewal, events and audit entry, in one transaction.
func (s *Store) ChangeAgreement(ctx context.Context, community, id string, change func(domain.Agreement) (AgreementChange, error)) (domain.Agreement, error) {
	var out domain.Agreement
	err := s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		current, err := s.getAgreement(ctx, tx, community, id, true)
		if err != nil {
			return nil, err
		}
		c, err := change(current)
		if err != nil {
			return nil, err
		}
		if c.Action == "" {
			return nil, fmt.Errorf("change of agreement %s names no audit action", id)
		}
		if err := s.updateAgreement(ctx, tx, current.Status, c.Agreement); err != nil {
			return nil, err
		}
		if r := c.Renewal; r != nil {
			_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO agreement_renewals (id, agreement_id, previous_end_date, new_end_date,
				previous_currency, previous_minor, renewed_at, renewed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
				newID(), id, dateArg(r.PreviousEnd), dateArg(r.NewEnd), r.PreviousValue.Currency, r.PreviousValue.Minor, r.RenewedAt, r.RenewedBy)
			if err != nil {
				return nil, fmt.Errorf("record renewal of agreement %s: %w", id, err)
			}
		}
		out = c.Agreement
		return c.Events, s.record(ctx, tx, community, c.Action, domain.TargetAgreement, id)
	})
	return out, err
}

// updateAgreement writes a's state when its status is still from.
func (s *Store) updateAgreement(ctx context.Context, tx *sql.Tx, from domain.AgreementStatus, a domain.Agreement) error {
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE agreements SET kind = ?, title = ?, start_date = ?, end_date = ?, value_currency = ?,
		value_minor = ?, status = ?, document_url = ?, signed_on = ?, ended_on = ?, termination_reason = ?, updated_at = ?
		WHERE community = ? AND id = ? AND status = ?`),
		string(a.Kind), a.Title, dateArg(a.Start), dateArg(a.End), a.Value.Currency, a.Value.Minor, string(a.Status), a.DocumentURL,
		dateArg(a.SignedOn), dateArg(a.EndedOn), a.TerminationReason, a.UpdatedAt, a.Community, a.ID, string(from))
	if err != nil {
		return fmt.Errorf("update agreement %s: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return domain.ErrConflict
	}
	return nil
}

// Renewals returns an agreement's renewals, oldest first.
func (s *Store) Renewals(ctx context.Context, community, id string) ([]domain.Renewal, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT r.agreement_id, r.previous_end_date, r.new_end_date, r.previous_currency,
		r.previous_minor, r.renewed_at, r.renewed_by FROM agreement_renewals r JOIN agreements a ON a.id = r.agreement_id
		WHERE a.community = ? AND r.agreement_id = ? ORDER BY r.id`), community, id)
	if err != nil {
		return nil, fmt.Errorf("read renewals of agreement %s: %w", id, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Renewal, error) {
		var rn domain.Renewal
		err := r.Scan(&rn.AgreementID, dateCol{&rn.PreviousEnd}, dateCol{&rn.NewEnd}, &rn.PreviousValue.Currency, &rn.PreviousValue.Minor,
			&rn.RenewedAt, &rn.RenewedBy)
		rn.RenewedAt = rn.RenewedAt.UTC()
		return rn, err
	})
}

// ExpiringAgreement is an agreement in force ending soon, with its
// partner's name.
type ExpiringAgreement struct {
	Agreement   domain.Agreement
	PartnerName string
}

// Expiring returns community's agreements in force whose end date lies
// from from to until, soonest first.
func (s *Store) Expiring(ctx context.Context, community string, from, until domain.Date) ([]ExpiringAgreement, error) {
	cols := prefixed("a.", agreementColumns)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+cols+`, p.name FROM agreements a JOIN partners p ON p.community = a.community AND p.id = a.partner_id
		WHERE a.community = ? AND a.status IN (?, ?) AND a.end_date IS NOT NULL AND a.end_date >= ? AND a.end_date <= ?
		ORDER BY a.end_date, a.id`), community, string(domain.AgreementSigned), string(domain.AgreementActive), from.String(), until.String())
	if err != nil {
		return nil, fmt.Errorf("list expiring agreements of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (ExpiringAgreement, error) {
		var e ExpiringAgreement
		var name string
		a, err := scanAgreement(scanWith{r, []any{&name}})
		e.Agreement, e.PartnerName = a, name
		return e, err
	})
}

// scanWith scans the columns its receiver expects, then extra ones.
type scanWith struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s scanWith) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

// SweepEvents builds the events the expiry sweep publishes.
type SweepEvents interface {
	AgreementExpiring(a domain.Agreement, thresholdDays, daysLeft int, at time.Time) (kafka.Event, error)
	AgreementEnded(a domain.Agreement, at time.Time) (kafka.Event, error)
}

// SweepResult is what the sweep did to one agreement.
type SweepResult struct {
	Activated bool
	Expired   bool
	Announced int
}

// SweepCandidates returns the ids of community's agreements in force that
// the sweep of today may act on: signed ones whose term began, and those
// ending within horizonDays (or ended already).
func (s *Store) SweepCandidates(ctx context.Context, community string, today domain.Date, horizonDays int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id FROM agreements WHERE community = ? AND status IN (?, ?)
		AND ((status = ? AND start_date <= ?) OR (end_date IS NOT NULL AND end_date <= ?)) ORDER BY id`),
		community, string(domain.AgreementSigned), string(domain.AgreementActive), string(domain.AgreementSigned), today.String(),
		today.AddDays(horizonDays).String())
	if err != nil {
		return nil, fmt.Errorf("find agreements to sweep in %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

// SweepAgreement applies the sweep of day today to one agreement in one
// transaction: it re-reads the agreement, plans with domain.PlanSweep,
// activates or expires it, and announces each threshold the end date lies
// within unless that (agreement, end date, threshold) was announced
// before — so however often the sweep runs, on however many replicas,
// each is announced exactly once.
func (s *Store) SweepAgreement(ctx context.Context, community, id string, today domain.Date, thresholds []int, now time.Time, ev SweepEvents) (SweepResult, error) {
	var res SweepResult
	err := s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		res = SweepResult{}
		a, err := s.getAgreement(ctx, tx, community, id, true)
		if err != nil {
			return nil, err
		}
		plan := domain.PlanSweep(a, today, thresholds)
		if plan.Empty() {
			return nil, nil
		}
		from := a.Status
		if plan.Expire {
			a = a.Expire(now)
			e, err := ev.AgreementEnded(a, now)
			if err != nil {
				return nil, err
			}
			res.Expired = true
			if err := s.updateAgreement(ctx, tx, from, a); err != nil {
				return nil, err
			}
			return []kafka.Event{e}, s.record(ctx, tx, community, domain.ActionAgreementExpired, domain.TargetAgreement, a.ID)
		}
		if plan.Activate {
			if a, err = a.Activate(now); err != nil {
				return nil, err
			}
			if err := s.updateAgreement(ctx, tx, from, a); err != nil {
				return nil, err
			}
			if err := s.record(ctx, tx, community, domain.ActionAgreementActivated, domain.TargetAgreement, a.ID); err != nil {
				return nil, err
			}
			res.Activated = true
		}
		var events []kafka.Event
		for _, t := range plan.Announce {
			e, err := ev.AgreementExpiring(a, t, plan.DaysLeft, now)
			if err != nil {
				return nil, err
			}
			inserted, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO agreement_expiry_notices (agreement_id, end_date, threshold_days,
				announced_at, event_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (agreement_id, end_date, threshold_days) DO NOTHING`),
				a.ID, dateArg(a.End), t, now.UTC(), e.ID)
			if err != nil {
				return nil, fmt.Errorf("record expiry notice of agreement %s: %w", a.ID, err)
			}
			if n, _ := inserted.RowsAffected(); n == 1 {
				events = append(events, e)
			}
		}
		res.Announced = len(events)
		if res.Announced > 0 {
			if err := s.record(ctx, tx, community, domain.ActionAgreementExpiryAnnounced, domain.TargetAgreement, a.ID); err != nil {
				return nil, err
			}
		}
		return events, nil
	})
	return res, err
}
