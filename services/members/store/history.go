package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// History streams, in batches of up to 1,000, the facts of community the
// insights service rebuilds from: its members (joining, status, level,
// country, interests, whether the profile is complete), the activity
// ledger and the roles — the roles held now and, from the audit log, the
// latest run of those taken back. No names, addresses or free text. The
// service keeps no time of leaving or erasure, nor of a profile's
// completion: those stay unset.
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
	interests := map[string][]string{}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT mi.member_id, mi.interest FROM member_interests mi JOIN members m ON m.id = mi.member_id
		WHERE m.community = ?`), community)
	if err != nil {
		return fmt.Errorf("read members history: %w", err)
	}
	for rows.Next() {
		var id, interest string
		if err := rows.Scan(&id, &interest); err != nil {
			rows.Close()
			return fmt.Errorf("read members history: %w", err)
		}
		interests[id] = append(interests[id], interest)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	statuses := map[string]insightsv1.MemberStatusFact{"left": insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_LEFT,
		"erased": insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_ERASED}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, joined_at, status, level, country_code, city, time_zone FROM members
		WHERE community = ? ORDER BY id`), community)
	if err != nil {
		return fmt.Errorf("read members history: %w", err)
	}
	for rows.Next() {
		f := &insightsv1.MemberFact{}
		var joined time.Time
		var status, city, zone string
		if err := rows.Scan(&f.MemberId, &joined, &status, &f.Level, &f.CountryCode, &city, &zone); err != nil {
			rows.Close()
			return fmt.Errorf("read members history: %w", err)
		}
		f.JoinedAt, f.Interests = timestamppb.New(joined), interests[f.MemberId]
		if f.Status = statuses[status]; f.Status == insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_UNSPECIFIED {
			f.Status = insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_MEMBER
		}
		f.ProfileComplete = zone != "" && (city != "" || f.CountryCode != "") && len(f.Interests) > 0
		if err := add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Member{Member: f}}); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind("SELECT id, member_id, type, occurred_at FROM activities WHERE community = ? ORDER BY id"), community)
	if err != nil {
		return fmt.Errorf("read members history: %w", err)
	}
	for rows.Next() {
		f := &insightsv1.ActivityFact{}
		var at time.Time
		if err := rows.Scan(&f.ActivityId, &f.MemberId, &f.Type, &at); err != nil {
			rows.Close()
			return fmt.Errorf("read members history: %w", err)
		}
		f.OccurredAt = timestamppb.New(at)
		if err := add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Activity{Activity: f}}); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	roles, err := s.roleRuns(ctx, community)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if err := add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Role{Role: r}}); err != nil {
			return err
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return send(batch)
}

// roleRuns are the latest run of every role of the register: those held
// now (from when the audit log says the run began, else their assignment)
// and, from the audit log, those taken back.
func (s *Store) roleRuns(ctx context.Context, community string) ([]*insightsv1.RoleFact, error) {
	type run struct {
		fact    *insightsv1.RoleFact
		holding bool
	}
	runs := map[string]*run{}
	var keys []string
	get := func(member, role string) *run {
		k := member + "\x00" + role
		r, ok := runs[k]
		if !ok {
			r = &run{fact: &insightsv1.RoleFact{MemberId: member, Role: role}}
			runs[k] = r
			keys = append(keys, k)
		}
		return r
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT action, target_id, occurred_at FROM audit_log WHERE community = ?
		AND (action LIKE 'role.assigned:%' OR action LIKE 'role.revoked:%') AND target_type = 'member' ORDER BY id`), community)
	if err != nil {
		return nil, fmt.Errorf("read roles history: %w", err)
	}
	for rows.Next() {
		var action, member string
		var at time.Time
		if err := rows.Scan(&action, &member, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read roles history: %w", err)
		}
		kind, role, _ := strings.Cut(action, ":")
		r := get(member, role)
		switch {
		case kind == "role.assigned" && !r.holding:
			r.holding, r.fact.AssignedAt, r.fact.RevokedAt = true, timestamppb.New(at), nil
		case kind == "role.revoked" && r.holding:
			r.holding, r.fact.RevokedAt = false, timestamppb.New(at)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind(`SELECT r.member_id, r.role, r.tier, r.assigned_at FROM member_roles r JOIN members m ON m.id = r.member_id
		WHERE m.community = ?`), community)
	if err != nil {
		return nil, fmt.Errorf("read roles history: %w", err)
	}
	defer rows.Close()
	held := map[string]bool{}
	for rows.Next() {
		var member, role, tier string
		var assigned time.Time
		if err := rows.Scan(&member, &role, &tier, &assigned); err != nil {
			return nil, fmt.Errorf("read roles history: %w", err)
		}
		r := get(member, role)
		r.fact.Tier, r.fact.RevokedAt = tier, nil
		if !r.holding || r.fact.AssignedAt == nil {
			r.fact.AssignedAt = timestamppb.New(assigned)
		}
		held[member+"\x00"+role] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(keys)
	var out []*insightsv1.RoleFact
	for _, k := range keys {
		r := runs[k]
		// A role the audit log says is held, gone from the register, was
		// taken back without an entry: leave it out.
		if r.fact.AssignedAt == nil || (r.fact.RevokedAt == nil && !held[k]) {
			continue
		}
		out = append(out, r.fact)
	}
	return out, nil
}
