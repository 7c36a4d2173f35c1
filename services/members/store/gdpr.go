package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// MemberData is everything the members service holds about one member.
type MemberData struct {
	Member     domain.Member
	Consents   []domain.ConsentRecord
	Activities []domain.Activity
}

// ExportData gathers a member's data.
func (s *Store) ExportData(ctx context.Context, community, memberID string) (MemberData, error) {
	m, err := s.GetMember(ctx, community, memberID)
	if err != nil {
		return MemberData{}, err
	}
	consents, err := s.ConsentLedger(ctx, community, memberID)
	if err != nil {
		return MemberData{}, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, community, member_id, type, occurred_at, source_event_id
		FROM activities WHERE member_id = ? ORDER BY occurred_at`), memberID)
	if err != nil {
		return MemberData{}, fmt.Errorf("export activities of %s: %w", memberID, err)
	}
	defer rows.Close()
	data := MemberData{Member: m, Consents: consents}
	for rows.Next() {
		var a domain.Activity
		if err := rows.Scan(&a.ID, &a.Community, &a.MemberID, &a.Type, &a.OccurredAt, &a.SourceEventID); err != nil {
			return MemberData{}, err
		}
		a.OccurredAt = a.OccurredAt.UTC()
		data.Activities = append(data.Activities, a)
	}
	return data, rows.Err()
}

// Erase removes a member's personal data: profile fields, tags, the
// address (replaced by a pseudonymous placeholder) and consent sources.
// The id, status, level, score, activity ledger and consent decisions stay,
// pseudonymous. The audit record and the event go in the same transaction.
func (s *Store) Erase(ctx context.Context, community, memberID string, audit Auditor, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.getMember(ctx, tx, community, memberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE members SET email = ?, display_name = '', locale = '', time_zone = '', city = '',
			region = '', country_code = '', motivation = '', availability_hours = 0, source_campaign = '', source_event_id = '',
			referrer_id = '', email_consent = ?, status = ? WHERE id = ?`),
			"erased:"+memberID, false, domain.StatusErased.String(), memberID)
		if err != nil {
			return fmt.Errorf("erase %s: %w", memberID, err)
		}
		if err := s.writeTags(ctx, tx, memberID, domain.Profile{}); err != nil {
			return err
		}
		for _, stmt := range []struct {
			query string
			args  []any
		}{
			{"UPDATE consent_ledger SET source = 'erased' WHERE member_id = ?", []any{memberID}},
			{"UPDATE consent_current SET granted = ? WHERE member_id = ?", []any{false, memberID}},
			{"UPDATE members SET referrer_id = '' WHERE referrer_id = ?", []any{memberID}},
		} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(stmt.query), stmt.args...); err != nil {
				return fmt.Errorf("erase %s: %w", memberID, err)
			}
		}
		if err := audit.Record(ctx, tx, community, "member.erased", "member", memberID); err != nil {
			return err
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

// Merge folds duplicate into primary: activities, consent records (the
// newer decision per purpose wins), roles and tags move over; the
// duplicate row goes. Audited, with the events, in one transaction.
func (s *Store) Merge(ctx context.Context, community, primaryID, duplicateID string, audit Auditor, events ...kafka.Event) (domain.Member, error) {
	var merged domain.Member
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		primary, err := s.getMember(ctx, tx, community, primaryID)
		if err != nil {
			return err
		}
		dup, err := s.getMember(ctx, tx, community, duplicateID)
		if err != nil {
			return err
		}
		if primary.Status == domain.StatusErased || dup.Status == domain.StatusErased {
			return domain.ErrErased
		}
		moves := []string{
			"UPDATE activities SET member_id = ? WHERE member_id = ?",
			"UPDATE consent_ledger SET member_id = ? WHERE member_id = ?",
			"UPDATE members SET referrer_id = ? WHERE referrer_id = ?",
		}
		for _, q := range moves {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), primaryID, duplicateID); err != nil {
				return fmt.Errorf("merge %s into %s: %w", duplicateID, primaryID, err)
			}
		}
		// The newer current consent per purpose wins.
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE consent_current SET granted = (SELECT d.granted FROM consent_current d
			WHERE d.member_id = ? AND d.purpose = consent_current.purpose), changed_at = (SELECT d.changed_at FROM consent_current d
			WHERE d.member_id = ? AND d.purpose = consent_current.purpose)
			WHERE member_id = ? AND EXISTS (SELECT 1 FROM consent_current d WHERE d.member_id = ? AND d.purpose = consent_current.purpose
			AND d.changed_at > consent_current.changed_at)`), duplicateID, duplicateID, primaryID, duplicateID); err != nil {
			return fmt.Errorf("merge consents: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO consent_current (member_id, purpose, granted, changed_at)
			SELECT ?, purpose, granted, changed_at FROM consent_current WHERE member_id = ? AND purpose NOT IN
			(SELECT purpose FROM consent_current WHERE member_id = ?)`), primaryID, duplicateID, primaryID); err != nil {
			return fmt.Errorf("merge consents: %w", err)
		}
		for _, t := range append(tagTables(), tagTable{table: "member_roles", column: "role"}) {
			cols := "member_id, " + t.column
			if t.table == "member_roles" {
				cols = "member_id, role, tier, assigned_at, assigned_by"
			}
			rest := cols[len("member_id, "):]
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO "+t.table+" ("+cols+") SELECT ?, "+rest+" FROM "+t.table+
				" WHERE member_id = ? ON CONFLICT DO NOTHING"), primaryID, duplicateID); err != nil {
				return fmt.Errorf("merge %s: %w", t.table, err)
			}
		}
		for _, q := range []string{"DELETE FROM consent_current WHERE member_id = ?", "DELETE FROM members WHERE id = ?"} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), duplicateID); err != nil {
				return fmt.Errorf("merge %s into %s: %w", duplicateID, primaryID, err)
			}
		}
		var consent bool
		err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT granted FROM consent_current WHERE member_id = ? AND purpose = ?"), primaryID, domain.PurposeAnnouncements).Scan(&consent)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET email_consent = ? WHERE id = ?"), consent, primaryID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, community, "member.merged", "member", primaryID); err != nil {
			return err
		}
		if err := s.appendAll(ctx, tx, events); err != nil {
			return err
		}
		merged, err = s.getMember(ctx, tx, community, primaryID)
		return err
	})
	if err != nil {
		return domain.Member{}, err
	}
	s.outbox.Notify()
	return merged, nil
}
