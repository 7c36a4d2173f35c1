package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// AssignRole gives member memberID role r (replacing its tier), audits it
// and appends the events; staff lose their engagement level.
func (s *Store) AssignRole(ctx context.Context, community, memberID string, r domain.RoleAssignment, audit Auditor, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.getMember(ctx, tx, community, memberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO member_roles (community, member_id, role, tier, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (member_id, role) DO UPDATE SET tier = excluded.tier, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by`),
			community, memberID, r.Role, r.Tier, r.AssignedAt, r.AssignedBy)
		if err != nil {
			return fmt.Errorf("assign %s to %s: %w", r.Role, memberID, err)
		}
		if r.Role == domain.RoleStaff {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET level = '' WHERE community = ? AND id = ?"), community, memberID); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, tx, community, "role.assigned", "member", memberID); err != nil {
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

// RevokeRole takes role away from member memberID, audits it and appends
// the events; domain.ErrRoleNotHeld when they did not hold it.
func (s *Store) RevokeRole(ctx context.Context, community, memberID, role string, audit Auditor, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.getMember(ctx, tx, community, memberID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_roles WHERE community = ? AND member_id = ? AND role = ?"), community, memberID, role)
		if err != nil {
			return fmt.Errorf("revoke %s from %s: %w", role, memberID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrRoleNotHeld
		}
		if err := audit.Record(ctx, tx, community, "role.revoked", "member", memberID); err != nil {
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

// loadRoles fills the roles of members, all of community.
func (s *Store) loadRoles(ctx context.Context, q querier, community string, members []domain.Member) error {
	index := map[string]int{}
	args := []any{community}
	for i, m := range members {
		index[m.ID] = i
		args = append(args, m.ID)
	}
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT member_id, role, tier, assigned_at, assigned_by FROM member_roles WHERE community = ? AND member_id IN ("+
		placeholders(len(members))+") ORDER BY member_id, role"), args...)
	if err != nil {
		return fmt.Errorf("load roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var r domain.RoleAssignment
		if err := rows.Scan(&id, &r.Role, &r.Tier, &r.AssignedAt, &r.AssignedBy); err != nil {
			return err
		}
		r.AssignedAt = r.AssignedAt.UTC()
		members[index[id]].Roles = append(members[index[id]].Roles, r)
	}
	return rows.Err()
}
