package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// MemberData is everything the members service holds about one member.
type MemberData struct {
	Member     domain.Member
	Consents   []domain.ConsentRecord
	Activities []domain.Activity
	// Handles are their names elsewhere; ReferralCode their referral code
	// ("" until issued).
	Handles      []domain.Handle
	ReferralCode string
}

// ExportData gathers a member's data.
func (s *Store) ExportData(ctx context.Context, community, memberID string) (MemberData, error) {
	m, err := s.GetMember(ctx, community, memberID)
	if err != nil {
		return MemberData{}, err
	}
	data := MemberData{Member: m}
	if data.Consents, err = s.ConsentLedger(ctx, community, memberID); err != nil {
		return MemberData{}, err
	}
	if data.Activities, err = s.activitiesOf(ctx, s.db, community, memberID, 0); err != nil {
		return MemberData{}, fmt.Errorf("export activities of %s: %w", memberID, err)
	}
	slices.Reverse(data.Activities) // oldest first
	if data.Handles, err = s.handles(ctx, s.db, community, memberID); err != nil {
		return MemberData{}, err
	}
	var code sql.NullString
	if err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT referral_code FROM members WHERE community = ? AND id = ?"), community, memberID).Scan(&code); err != nil {
		return MemberData{}, fmt.Errorf("export referral code of %s: %w", memberID, err)
	}
	data.ReferralCode = code.String
	return data, nil
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
			referrer_id = '', email_consent = ?, pending_email = '', consent_asked = ?, status = ? WHERE community = ? AND id = ?`),
			"erased:"+memberID, false, false, domain.StatusErased.String(), community, memberID)
		if err != nil {
			return fmt.Errorf("erase %s: %w", memberID, err)
		}
		if err := s.writeTags(ctx, tx, community, memberID, domain.Profile{}); err != nil {
			return err
		}
		for _, stmt := range []struct {
			query string
			args  []any
		}{
			{"UPDATE consent_ledger SET source = 'erased' WHERE community = ? AND member_id = ?", []any{community, memberID}},
			{"UPDATE consent_current SET granted = ? WHERE community = ? AND member_id = ?", []any{false, community, memberID}},
			{"UPDATE members SET referrer_id = '' WHERE community = ? AND referrer_id = ? AND referrer_id <> ''", []any{community, memberID}},
			// Their handles elsewhere and their referral code are theirs too.
			{"DELETE FROM member_handles WHERE community = ? AND member_id = ?", []any{community, memberID}},
			{"UPDATE members SET referral_code = NULL WHERE community = ? AND id = ?", []any{community, memberID}},
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
		// Handles move to the primary where it has none at that provider.
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE member_handles SET member_id = ? WHERE community = ? AND member_id = ?
			AND provider NOT IN (SELECT provider FROM member_handles WHERE community = ? AND member_id = ?)`),
			primaryID, community, duplicateID, community, primaryID); err != nil {
			return fmt.Errorf("merge handles: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_handles WHERE community = ? AND member_id = ?"), community, duplicateID); err != nil {
			return fmt.Errorf("merge handles: %w", err)
		}
		moves := []string{
			"UPDATE activities SET member_id = ? WHERE community = ? AND member_id = ?",
			"UPDATE consent_ledger SET member_id = ? WHERE community = ? AND member_id = ?",
			"UPDATE members SET referrer_id = ? WHERE community = ? AND referrer_id = ? AND referrer_id <> ''",
		}
		for _, q := range moves {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), primaryID, community, duplicateID); err != nil {
				return fmt.Errorf("merge %s into %s: %w", duplicateID, primaryID, err)
			}
		}
		// The newer current consent per purpose wins.
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE consent_current SET granted = (SELECT d.granted FROM consent_current d
			WHERE d.community = ? AND d.member_id = ? AND d.purpose = consent_current.purpose), changed_at = (SELECT d.changed_at FROM consent_current d
			WHERE d.community = ? AND d.member_id = ? AND d.purpose = consent_current.purpose)
			WHERE community = ? AND member_id = ? AND EXISTS (SELECT 1 FROM consent_current d WHERE d.community = ? AND d.member_id = ?
			AND d.purpose = consent_current.purpose AND d.changed_at > consent_current.changed_at)`),
			community, duplicateID, community, duplicateID, community, primaryID, community, duplicateID); err != nil {
			return fmt.Errorf("merge consents: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO consent_current (community, member_id, purpose, granted, changed_at)
			SELECT community, ?, purpose, granted, changed_at FROM consent_current WHERE community = ? AND member_id = ? AND purpose NOT IN
			(SELECT purpose FROM consent_current WHERE community = ? AND member_id = ?)`), primaryID, community, duplicateID, community, primaryID); err != nil {
			return fmt.Errorf("merge consents: %w", err)
		}
		for _, t := range append(tagTables(), tagTable{table: "member_roles", column: "role"}) {
			cols := "member_id, " + t.column
			if t.table == "member_roles" {
				cols = "member_id, role, tier, assigned_at, assigned_by"
			}
			rest := cols[len("member_id, "):]
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO "+t.table+" (community, "+cols+") SELECT community, ?, "+rest+" FROM "+t.table+
				" WHERE community = ? AND member_id = ? ON CONFLICT DO NOTHING"), primaryID, community, duplicateID); err != nil {
				return fmt.Errorf("merge %s: %w", t.table, err)
			}
		}
		for _, q := range []string{"DELETE FROM consent_current WHERE community = ? AND member_id = ?", "DELETE FROM members WHERE community = ? AND id = ?"} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), community, duplicateID); err != nil {
				return fmt.Errorf("merge %s into %s: %w", duplicateID, primaryID, err)
			}
		}
		var consent bool
		err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT granted FROM consent_current WHERE community = ? AND member_id = ? AND purpose = ?"),
			community, primaryID, domain.PurposeAnnouncements).Scan(&consent)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET email_consent = ? WHERE community = ? AND id = ?"), consent, community, primaryID); err != nil {
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
