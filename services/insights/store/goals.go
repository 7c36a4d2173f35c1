package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

const goalColumns = "name, metric, segment, breakdown_value, target, deadline, baseline, description, source, created_at, updated_at, archived_at"

func scanGoal(community string, r rowScanner) (domain.Goal, error) {
	g := domain.Goal{Community: community}
	var seg string
	var deadline, archived sql.NullInt64
	var baseline int
	var created, updated int64
	err := r.Scan(&g.Name, &g.Metric, &seg, &g.BreakdownValue, &g.Target, &deadline, &baseline, &g.Description, &g.Source, &created, &updated, &archived)
	if err != nil {
		return g, err
	}
	if err := json.Unmarshal([]byte(seg), &g.Segment); err != nil {
		return g, fmt.Errorf("read segment of goal %s: %w", g.Name, err)
	}
	g.Deadline, g.HasDeadline, g.Baseline = domain.Day(deadline.Int64), deadline.Valid, domain.Day(baseline)
	g.CreatedAt, g.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	g.ArchivedAt, g.Archived = fromMS(archived), archived.Valid
	return g, nil
}

func goalValues(g domain.Goal) ([]any, error) {
	seg, err := json.Marshal(g.Segment)
	if err != nil {
		return nil, err
	}
	return []any{g.Community, g.Name, g.Metric, string(seg), g.BreakdownValue, g.Target, nullDay(g.Deadline, g.HasDeadline), int(g.Baseline),
		g.Description, g.Source, g.CreatedAt.UnixMilli(), g.UpdatedAt.UnixMilli(), ms(g.ArchivedAt)}, nil
}

func (s *Store) goal(ctx context.Context, q querier, community, name string) (domain.Goal, error) {
	g, err := scanGoal(community, q.QueryRowContext(ctx, s.db.Rebind("SELECT "+goalColumns+" FROM insights_goals WHERE community = ? AND name = ?"), community, name))
	if errors.Is(err, sql.ErrNoRows) {
		return g, domain.ErrGoalNotFound
	}
	if err != nil {
		return g, fmt.Errorf("load goal %s: %w", name, err)
	}
	return g, nil
}

// Goal is one goal of community.
func (s *Store) Goal(ctx context.Context, community, name string) (domain.Goal, error) {
	return s.goal(ctx, s.db, community, name)
}

// Goals are community's goals by name, archived ones when asked.
func (s *Store) Goals(ctx context.Context, community string, archived bool) ([]domain.Goal, error) {
	q := "SELECT " + goalColumns + " FROM insights_goals WHERE community = ?"
	if !archived {
		q += " AND archived_at IS NULL"
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" ORDER BY name"), community)
	if err != nil {
		return nil, fmt.Errorf("list goals: %w", err)
	}
	defer rows.Close()
	var out []domain.Goal
	for rows.Next() {
		g, err := scanGoal(community, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func (s *Store) saveGoal(ctx context.Context, tx *sql.Tx, g domain.Goal) error {
	vals, err := goalValues(g)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_goals (community, `+goalColumns+`) VALUES `+placeholders(1, 13)+`
		ON CONFLICT (community, name) DO UPDATE SET metric = excluded.metric, segment = excluded.segment, breakdown_value = excluded.breakdown_value,
		target = excluded.target, deadline = excluded.deadline, baseline = excluded.baseline, description = excluded.description,
		source = excluded.source, created_at = excluded.created_at, updated_at = excluded.updated_at, archived_at = excluded.archived_at`), vals...)
	if err != nil {
		return fmt.Errorf("save goal %s: %w", g.Name, err)
	}
	return nil
}

// Audit records a change in the change's transaction.
type Audit func(tx *sql.Tx) error

// CreateGoal stores a new goal; a live goal of that name is
// domain.ErrGoalExists (an archived API goal of that name is replaced).
func (s *Store) CreateGoal(ctx context.Context, g domain.Goal, audit Audit) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		old, err := s.goal(ctx, tx, g.Community, g.Name)
		switch {
		case err == nil && (!old.Archived || old.Source == domain.SourceResource):
			return domain.ErrGoalExists
		case err != nil && !errors.Is(err, domain.ErrGoalNotFound):
			return err
		}
		if err := s.saveGoal(ctx, tx, g); err != nil {
			return err
		}
		return audit(tx)
	})
}

// UpdateGoal changes a live API goal with change.
func (s *Store) UpdateGoal(ctx context.Context, community, name string, change func(*domain.Goal) error, audit Audit) (domain.Goal, error) {
	var g domain.Goal
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if g, err = s.goal(ctx, tx, community, name); err != nil {
			return err
		}
		switch {
		case g.Source == domain.SourceResource:
			return domain.ErrManaged
		case g.Archived:
			return domain.ErrGoalNotFound
		}
		if err := change(&g); err != nil {
			return err
		}
		if err := s.saveGoal(ctx, tx, g); err != nil {
			return err
		}
		return audit(tx)
	})
	return g, err
}

// ArchiveGoal archives an API goal at now; archiving again changes
// nothing and records nothing.
func (s *Store) ArchiveGoal(ctx context.Context, community, name string, now time.Time, audit Audit) (domain.Goal, error) {
	var g domain.Goal
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if g, err = s.goal(ctx, tx, community, name); err != nil {
			return err
		}
		switch {
		case g.Source == domain.SourceResource && !g.Archived:
			return domain.ErrManaged
		case g.Archived:
			return nil
		}
		g.Archived, g.ArchivedAt, g.UpdatedAt = true, now, now
		if err := s.saveGoal(ctx, tx, g); err != nil {
			return err
		}
		return audit(tx)
	})
	return g, err
}

// SyncGoals makes goals the resource's (created or replaced, revived when
// archived) and archives the resource's goals not among them; it returns
// the names archived. An API goal of a name the resource takes becomes
// the resource's.
func (s *Store) SyncGoals(ctx context.Context, community string, goals []domain.Goal, now time.Time, audit Audit) ([]string, error) {
	var archived []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		archived = nil
		named := map[string]bool{}
		for _, g := range goals {
			named[g.Name] = true
			old, err := s.goal(ctx, tx, community, g.Name)
			switch {
			case err == nil:
				g.CreatedAt = old.CreatedAt
				if old.Source == domain.SourceResource && !old.Archived && sameSpec(old.GoalSpec, g.GoalSpec) {
					continue
				}
			case !errors.Is(err, domain.ErrGoalNotFound):
				return err
			}
			g.Source, g.Archived, g.ArchivedAt, g.UpdatedAt = domain.SourceResource, false, time.Time{}, now
			if g.CreatedAt.IsZero() {
				g.CreatedAt = now
			}
			if err := s.saveGoal(ctx, tx, g); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT name FROM insights_goals WHERE community = ? AND source = ? AND archived_at IS NULL"),
			community, domain.SourceResource)
		if err != nil {
			return fmt.Errorf("list the resource's goals: %w", err)
		}
		var stale []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			if !named[name] {
				stale = append(stale, name)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, name := range stale {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE insights_goals SET archived_at = ?, updated_at = ? WHERE community = ? AND name = ?"),
				now.UnixMilli(), now.UnixMilli(), community, name); err != nil {
				return fmt.Errorf("archive goal %s: %w", name, err)
			}
			archived = append(archived, name)
		}
		return audit(tx)
	})
	return archived, err
}

func sameSpec(a, b domain.GoalSpec) bool {
	sa, _ := json.Marshal(a.Segment)
	sb, _ := json.Marshal(b.Segment)
	return a.Metric == b.Metric && string(sa) == string(sb) && a.BreakdownValue == b.BreakdownValue && a.Target == b.Target &&
		a.HasDeadline == b.HasDeadline && (!a.HasDeadline || a.Deadline == b.Deadline) && a.Baseline == b.Baseline && a.Description == b.Description
}

// ReportSent says how many organisers community's report for the week
// starting week went to, if it went.
func (s *Store) ReportSent(ctx context.Context, community string, week domain.Day) (int, bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT recipients FROM insights_reports WHERE community = ? AND week_start = ?"), community, int(week)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read report of %s: %w", week, err)
	}
	return n, true, nil
}

// RecordReport notes the week's report as sent to recipients organisers.
func (s *Store) RecordReport(ctx context.Context, community string, week domain.Day, recipients int, at time.Time, audit Audit) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_reports (community, week_start, sent_at, recipients) VALUES (?, ?, ?, ?)
			ON CONFLICT (community, week_start) DO UPDATE SET sent_at = excluded.sent_at, recipients = excluded.recipients`),
			community, int(week), at.UnixMilli(), recipients); err != nil {
			return fmt.Errorf("record report of %s: %w", week, err)
		}
		return audit(tx)
	})
}
