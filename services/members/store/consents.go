package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// RecordConsent appends rec to the ledger, audits it and, when the current
// consent for its purpose changes, appends the events changed(rec) returns
// — all in one transaction. It reports whether the current consent
// changed.
func (s *Store) RecordConsent(ctx context.Context, community string, rec domain.ConsentRecord, audit Auditor, changed func(domain.ConsentRecord) ([]kafka.Event, error)) (bool, error) {
	var moved bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.getMember(ctx, tx, community, rec.MemberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		if err := audit.Record(ctx, tx, community, "consent.recorded", "member", rec.MemberID); err != nil {
			return err
		}
		if moved, err = s.appendConsent(ctx, tx, community, rec); err != nil || !moved {
			return err
		}
		events, err := changed(rec)
		if err != nil {
			return err
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return false, err
	}
	if moved {
		s.outbox.Notify()
	}
	return moved, nil
}

// ApplyUnsubscribe records a withdrawal made elsewhere (an unsubscribe
// link) at rec.OccurredAt, unless the member changed that consent since
// or has not granted it; so a redelivered or late unsubscribe never
// overrides a newer grant. It reports whether the consent changed.
func (s *Store) ApplyUnsubscribe(ctx context.Context, community string, rec domain.ConsentRecord, changed func(domain.ConsentRecord) ([]kafka.Event, error)) (bool, error) {
	var moved bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.getMember(ctx, tx, community, rec.MemberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		var granted bool
		var at time.Time
		err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT granted, changed_at FROM consent_current WHERE community = ? AND member_id = ? AND purpose = ?"),
			community, rec.MemberID, rec.Purpose).Scan(&granted, &at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("read consent of %s: %w", rec.MemberID, err)
		case !granted || at.After(rec.OccurredAt):
			return nil
		}
		if moved, err = s.appendConsent(ctx, tx, community, rec); err != nil || !moved {
			return err
		}
		events, err := changed(rec)
		if err != nil {
			return err
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return false, err
	}
	if moved {
		s.outbox.Notify()
	}
	return moved, nil
}

// appendConsent writes rec to the ledger and updates the current consent;
// it reports whether the current consent changed.
func (s *Store) appendConsent(ctx context.Context, tx *sql.Tx, community string, rec domain.ConsentRecord) (bool, error) {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO consent_ledger (id, community, member_id, purpose, granted, occurred_at, source, policy_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), uuid.Must(uuid.NewV7()).String(), community, rec.MemberID, rec.Purpose, rec.Granted, rec.OccurredAt, rec.Source, rec.PolicyVersion)
	if err != nil {
		return false, fmt.Errorf("append consent of %s: %w", rec.MemberID, err)
	}
	var was sql.NullBool
	err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT granted FROM consent_current WHERE community = ? AND member_id = ? AND purpose = ?"),
		community, rec.MemberID, rec.Purpose).Scan(&was)
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("read consent of %s: %w", rec.MemberID, err)
	}
	if was.Valid && was.Bool == rec.Granted {
		return false, nil
	}
	if !was.Valid && !rec.Granted {
		return false, nil // not granted before either
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO consent_current (community, member_id, purpose, granted, changed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (member_id, purpose) DO UPDATE SET granted = excluded.granted, changed_at = excluded.changed_at`),
		community, rec.MemberID, rec.Purpose, rec.Granted, rec.OccurredAt)
	if err != nil {
		return false, fmt.Errorf("update consent of %s: %w", rec.MemberID, err)
	}
	if rec.Purpose == domain.PurposeAnnouncements {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET email_consent = ? WHERE community = ? AND id = ?"), rec.Granted, community, rec.MemberID); err != nil {
			return false, fmt.Errorf("update consent of %s: %w", rec.MemberID, err)
		}
	}
	return true, nil
}

// ConsentLedger returns a member's consent records, oldest first.
func (s *Store) ConsentLedger(ctx context.Context, community, memberID string) ([]domain.ConsentRecord, error) {
	if _, err := s.GetMember(ctx, community, memberID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT member_id, purpose, granted, occurred_at, source, policy_version
		FROM consent_ledger WHERE community = ? AND member_id = ? ORDER BY id`), community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read consent ledger of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []domain.ConsentRecord
	for rows.Next() {
		var r domain.ConsentRecord
		if err := rows.Scan(&r.MemberID, &r.Purpose, &r.Granted, &r.OccurredAt, &r.Source, &r.PolicyVersion); err != nil {
			return nil, err
		}
		r.OccurredAt = r.OccurredAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
