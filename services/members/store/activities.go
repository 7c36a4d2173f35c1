package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// LevelEvents builds the events of recording an activity and of a level
// change; the store calls it inside the transaction.
type LevelEvents interface {
	ActivityRecorded(a domain.Activity) (kafka.Event, error)
	MemberOnboarded(a domain.Activity) (kafka.Event, error)
	LevelChanged(community string, c domain.LevelChange) (kafka.Event, error)
}

// RecordActivity adds a to the ledger unless its source event was recorded
// before, then rescores the member and applies an upgrade at once — all in
// one transaction with the events. An onboarded activity also publishes
// MemberOnboarded. It returns whether a was new and the
// member's engagement after.
func (s *Store) RecordActivity(ctx context.Context, a domain.Activity, settings domain.Settings, ev LevelEvents) (bool, domain.Engagement, error) {
	var recorded bool
	var eng domain.Engagement
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.getMember(ctx, tx, a.Community, a.MemberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO activities (id, community, member_id, type, occurred_at, source_event_id)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (community, source_event_id) DO NOTHING`),
			a.ID, a.Community, a.MemberID, a.Type, a.OccurredAt, a.SourceEventID)
		if err != nil {
			return fmt.Errorf("record activity of %s: %w", a.MemberID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			eng = domain.Engagement{Level: m.Level, Score: m.Score, LastActiveAt: m.LastActiveAt}
			return nil // a redelivery
		}
		recorded = true
		if a.OccurredAt.After(m.LastActiveAt) {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET last_active_at = ? WHERE id = ?"), a.OccurredAt, m.ID); err != nil {
				return err
			}
			m.LastActiveAt = a.OccurredAt
		}
		e, err := ev.ActivityRecorded(a)
		if err != nil {
			return err
		}
		if err := s.outbox.Append(ctx, tx, e); err != nil {
			return err
		}
		if a.Type == domain.ActivityOnboarded {
			onboarded, err := ev.MemberOnboarded(a)
			if err != nil {
				return err
			}
			if err := s.outbox.Append(ctx, tx, onboarded); err != nil {
				return err
			}
		}
		score, change, err := s.rescore(ctx, tx, m, settings, false, time.Now())
		if err != nil {
			return err
		}
		eng = domain.Engagement{Level: m.Level, Score: score, LastActiveAt: m.LastActiveAt}
		if change == nil {
			return nil
		}
		eng.Level = change.To
		levelEvent, err := ev.LevelChanged(a.Community, *change)
		if err != nil {
			return err
		}
		return s.outbox.Append(ctx, tx, levelEvent)
	})
	if err != nil {
		return false, domain.Engagement{}, err
	}
	if recorded {
		s.outbox.Notify()
	}
	return recorded, eng, nil
}

// rescore recomputes m's score over the window and stores it with the
// level NextLevel decides; it returns the score and the level change, if
// any.
func (s *Store) rescore(ctx context.Context, tx *sql.Tx, m domain.Member, settings domain.Settings, review bool, at time.Time) (int, *domain.LevelChange, error) {
	counts, err := s.activityCounts(ctx, tx, m.ID, at.AddDate(0, 0, -settings.WindowDays))
	if err != nil {
		return 0, nil, err
	}
	score := settings.Score(counts)
	level := settings.NextLevel(m.Level, score, domain.IsStaff(m.Roles), review)
	if score == m.Score && level == m.Level {
		return score, nil, nil
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET score = ?, level = ? WHERE id = ?"), score, level, m.ID); err != nil {
		return 0, nil, fmt.Errorf("store level of %s: %w", m.ID, err)
	}
	if level == m.Level {
		return score, nil, nil
	}
	return score, &domain.LevelChange{MemberID: m.ID, From: m.Level, To: level, Score: score}, nil
}

func (s *Store) activityCounts(ctx context.Context, q querier, memberID string, since time.Time) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT type, count(*) FROM activities WHERE member_id = ? AND occurred_at >= ? GROUP BY type"),
		memberID, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("count activities of %s: %w", memberID, err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		counts[t] = n
	}
	return counts, rows.Err()
}

// Engagement returns a member's standing and recent activities.
func (s *Store) Engagement(ctx context.Context, community, memberID string, settings domain.Settings) (domain.Engagement, error) {
	m, err := s.GetMember(ctx, community, memberID)
	if err != nil {
		return domain.Engagement{}, err
	}
	eng := domain.Engagement{Level: m.Level, Score: m.Score, LastActiveAt: m.LastActiveAt}
	counts, err := s.activityCounts(ctx, s.db, memberID, time.Now().AddDate(0, 0, -settings.WindowDays))
	if err != nil {
		return eng, err
	}
	eng.Score = settings.Score(counts)
	eng.LevelByScore = settings.LevelFor(eng.Score)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, community, member_id, type, occurred_at, source_event_id
		FROM activities WHERE member_id = ? ORDER BY occurred_at DESC LIMIT 20`), memberID)
	if err != nil {
		return eng, err
	}
	defer rows.Close()
	for rows.Next() {
		var a domain.Activity
		if err := rows.Scan(&a.ID, &a.Community, &a.MemberID, &a.Type, &a.OccurredAt, &a.SourceEventID); err != nil {
			return eng, err
		}
		a.OccurredAt = a.OccurredAt.UTC()
		eng.Recent = append(eng.Recent, a)
	}
	return eng, rows.Err()
}

// Relevel rescores every member of community over the window with the
// current weights and gives each the level its score earns, in both
// directions — the periodic review (where downgrades apply) and the
// rebuild after a settings change. Members are done in batches of 200,
// each batch one transaction with its LevelChanged events.
func (s *Store) Relevel(ctx context.Context, community string, settings domain.Settings, ev LevelEvents) (members, up, down int64, err error) {
	after := ""
	at := time.Now()
	for {
		batch, err := s.ListMembers(ctx, community, after, 200)
		if err != nil || len(batch) == 0 {
			return members, up, down, err
		}
		after = batch[len(batch)-1].ID
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			for _, m := range batch {
				if m.Status == domain.StatusErased || m.Status == domain.StatusLeft {
					continue
				}
				members++
				_, change, err := s.rescore(ctx, tx, m, settings, true, at)
				if err != nil {
					return err
				}
				if change == nil {
					continue
				}
				if settings.Rank(change.To) > settings.Rank(change.From) {
					up++
				} else {
					down++
				}
				e, err := ev.LevelChanged(community, *change)
				if err != nil {
					return err
				}
				if err := s.outbox.Append(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return members, up, down, err
		}
		s.outbox.Notify()
	}
}
