package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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

// standing is what scoring needs of a member.
type standing struct {
	ID, Community string
	Status        domain.Status
	Level         string
	Score         int
	LastActiveAt  time.Time
	Staff         bool
}

// standing reads a member's standing in tx, scoped to community.
func (s *Store) standing(ctx context.Context, q querier, community, id string) (standing, error) {
	st := standing{ID: id, Community: community}
	var status string
	var lastActive sql.NullTime
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT status, level, score, last_active_at,
		EXISTS (SELECT 1 FROM member_roles r WHERE r.community = m.community AND r.member_id = m.id AND r.role = 'staff')
		FROM members m WHERE m.community = ? AND m.id = ?`), community, id).Scan(&status, &st.Level, &st.Score, &lastActive, &st.Staff)
	if errors.Is(err, sql.ErrNoRows) {
		return st, domain.ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("read standing of %s: %w", id, err)
	}
	if st.Status, err = domain.ParseStatus(status); err != nil {
		return st, err
	}
	if lastActive.Valid {
		st.LastActiveAt = lastActive.Time.UTC()
	}
	return st, nil
}

// RecordActivity adds a to the ledger unless its source event was recorded
// before, then rescores the member and applies an upgrade at once — all in
// one transaction with the events and, when audit is not nil (an API
// caller's activity, not one read from another service's events), the
// audit entry. An onboarded activity also publishes MemberOnboarded. It
// returns whether a was new and the member's engagement after.
func (s *Store) RecordActivity(ctx context.Context, a domain.Activity, settings domain.Settings, ev LevelEvents, audit Auditor) (bool, domain.Engagement, error) {
	var recorded bool
	var eng domain.Engagement
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.standing(ctx, tx, a.Community, a.MemberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		if recorded, err = s.recordTx(ctx, tx, &m, a, ev); err != nil || !recorded {
			eng = domain.Engagement{Level: m.Level, Score: m.Score, LastActiveAt: m.LastActiveAt}
			return err
		}
		if audit != nil {
			if err := audit.Record(ctx, tx, a.Community, "activity.recorded", "member", m.ID); err != nil {
				return err
			}
		}
		eng, err = s.rescoreAndPublish(ctx, tx, m, settings, ev, time.Now())
		return err
	})
	if err != nil {
		return false, domain.Engagement{}, err
	}
	if recorded {
		s.outbox.Notify()
	}
	return recorded, eng, nil
}

// recordTx adds a to m's ledger in tx unless its source event id was
// recorded before (then it reports false and changes nothing), moves m's
// last activity on and appends ActivityRecorded (and MemberOnboarded for
// an onboarded activity). It does not rescore.
func (s *Store) recordTx(ctx context.Context, tx *sql.Tx, m *standing, a domain.Activity, ev LevelEvents) (bool, error) {
	props, err := encodeProperties(a.Properties)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO activities (id, community, member_id, type, occurred_at, source_event_id, properties, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, source_event_id) DO NOTHING`),
		a.ID, a.Community, m.ID, a.Type, a.OccurredAt, a.SourceEventID, props, a.Source)
	if err != nil {
		return false, fmt.Errorf("record activity of %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // a redelivery
	}
	if a.OccurredAt.After(m.LastActiveAt) {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET last_active_at = ? WHERE community = ? AND id = ?"), a.OccurredAt, m.Community, m.ID); err != nil {
			return false, err
		}
		m.LastActiveAt = a.OccurredAt
	}
	e, err := ev.ActivityRecorded(a)
	if err != nil {
		return false, err
	}
	if err := s.outbox.Append(ctx, tx, e); err != nil {
		return false, err
	}
	if a.Type == domain.ActivityOnboarded {
		onboarded, err := ev.MemberOnboarded(a)
		if err != nil {
			return false, err
		}
		if err := s.outbox.Append(ctx, tx, onboarded); err != nil {
			return false, err
		}
	}
	return true, nil
}

// rescoreAndPublish rescores m in tx and publishes a level change.
func (s *Store) rescoreAndPublish(ctx context.Context, tx *sql.Tx, m standing, settings domain.Settings, ev LevelEvents, at time.Time) (domain.Engagement, error) {
	score, change, err := s.rescore(ctx, tx, m, settings, false, at)
	if err != nil {
		return domain.Engagement{}, err
	}
	eng := domain.Engagement{Level: m.Level, Score: score, LastActiveAt: m.LastActiveAt}
	if change == nil {
		return eng, nil
	}
	eng.Level = change.To
	levelEvent, err := ev.LevelChanged(m.Community, *change)
	if err != nil {
		return eng, err
	}
	return eng, s.outbox.Append(ctx, tx, levelEvent)
}

func encodeProperties(props map[string]string) (string, error) {
	if len(props) == 0 {
		return "", nil
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return "", fmt.Errorf("encode activity properties: %w", err)
	}
	return string(raw), nil
}

func decodeProperties(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	var props map[string]string
	if json.Unmarshal([]byte(raw), &props) != nil {
		return nil
	}
	return props
}

// rescore recomputes m's score over the window and stores it with the
// level NextLevel decides; it returns the score and the level change, if
// any.
func (s *Store) rescore(ctx context.Context, tx *sql.Tx, m standing, settings domain.Settings, review bool, at time.Time) (int, *domain.LevelChange, error) {
	counts, err := s.activityCounts(ctx, tx, m.Community, m.ID, at.AddDate(0, 0, -settings.WindowDays))
	if err != nil {
		return 0, nil, err
	}
	return s.storeScore(ctx, tx, m, settings, settings.Score(counts), review)
}

// storeScore stores m's score with the level NextLevel decides, and
// returns the level change, if any.
func (s *Store) storeScore(ctx context.Context, tx *sql.Tx, m standing, settings domain.Settings, score int, review bool) (int, *domain.LevelChange, error) {
	level := settings.NextLevel(m.Level, score, m.Staff, review)
	if score == m.Score && level == m.Level {
		return score, nil, nil
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET score = ?, level = ? WHERE community = ? AND id = ?"), score, level, m.Community, m.ID); err != nil {
		return 0, nil, fmt.Errorf("store level of %s: %w", m.ID, err)
	}
	if level == m.Level {
		return score, nil, nil
	}
	return score, &domain.LevelChange{MemberID: m.ID, From: m.Level, To: level, Score: score}, nil
}

func (s *Store) activityCounts(ctx context.Context, q querier, community, memberID string, since time.Time) (map[domain.ActivityKey]int, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT type, source, count(*) FROM activities WHERE community = ? AND member_id = ? AND occurred_at >= ? GROUP BY type, source"),
		community, memberID, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("count activities of %s: %w", memberID, err)
	}
	defer rows.Close()
	counts := map[domain.ActivityKey]int{}
	for rows.Next() {
		var k domain.ActivityKey
		var n int
		if err := rows.Scan(&k.Type, &k.Source, &n); err != nil {
			return nil, err
		}
		counts[k] = n
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
	// The recent activities are read before the counts: an activity
	// committed between the two reads then shows in the score too, never
	// in the list alone.
	if eng.Recent, err = s.activitiesOf(ctx, s.db, community, memberID, 20); err != nil {
		return eng, err
	}
	counts, err := s.activityCounts(ctx, s.db, community, memberID, time.Now().AddDate(0, 0, -settings.WindowDays))
	if err != nil {
		return eng, err
	}
	eng.Score = settings.Score(counts)
	eng.LevelByScore = settings.LevelFor(eng.Score)
	return eng, nil
}

// activitiesOf reads memberID's activities of community, newest first; at
// most limit when limit > 0.
func (s *Store) activitiesOf(ctx context.Context, q querier, community, memberID string, limit int) ([]domain.Activity, error) {
	query := `SELECT id, community, member_id, type, occurred_at, source_event_id, properties, source
		FROM activities WHERE community = ? AND member_id = ? ORDER BY occurred_at DESC, id DESC`
	args := []any{community, memberID}
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := q.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("read activities of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []domain.Activity
	for rows.Next() {
		var a domain.Activity
		var props string
		if err := rows.Scan(&a.ID, &a.Community, &a.MemberID, &a.Type, &a.OccurredAt, &a.SourceEventID, &props, &a.Source); err != nil {
			return nil, err
		}
		a.OccurredAt, a.Properties = a.OccurredAt.UTC(), decodeProperties(props)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Relevel rescores every member of community over the window with the
// current weights and gives each the level its score earns, in both
// directions — the periodic review (where downgrades apply) and the
// rebuild after a settings change. Members are done in batches of 500,
// each batch's activities counted in one query and the batch written in
// one transaction with its LevelChanged events. When audit is not nil (a
// caller asked for it), the first transaction also records action.
func (s *Store) Relevel(ctx context.Context, community string, settings domain.Settings, ev LevelEvents, audit Auditor, action string) (members, up, down int64, err error) {
	after := ""
	at := time.Now()
	since := at.AddDate(0, 0, -settings.WindowDays).UTC()
	for first := true; ; first = false {
		batch, err := s.standings(ctx, community, after, 500)
		if err != nil || (len(batch) == 0 && (!first || audit == nil)) {
			return members, up, down, err
		}
		if len(batch) > 0 {
			after = batch[len(batch)-1].ID
		}
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			if first && audit != nil {
				if err := audit.Record(ctx, tx, community, action, "community", community); err != nil {
					return err
				}
			}
			if len(batch) == 0 {
				return nil
			}
			counts, err := s.batchCounts(ctx, tx, community, batch[0].ID, batch[len(batch)-1].ID, since)
			if err != nil {
				return err
			}
			for _, m := range batch {
				if m.Status == domain.StatusErased || m.Status == domain.StatusLeft {
					continue
				}
				members++
				_, change, err := s.storeScore(ctx, tx, m, settings, settings.Score(counts[m.ID]), true)
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
		if len(batch) == 0 {
			return members, up, down, nil
		}
	}
}

// standings reads up to limit members' standings of community after
// afterID, in id order.
func (s *Store) standings(ctx context.Context, community, afterID string, limit int) ([]standing, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, status, level, score, last_active_at,
		EXISTS (SELECT 1 FROM member_roles r WHERE r.community = m.community AND r.member_id = m.id AND r.role = 'staff')
		FROM members m WHERE m.community = ? AND m.id > ? ORDER BY m.id LIMIT ?`), community, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("read standings of %s: %w", community, err)
	}
	defer rows.Close()
	var out []standing
	for rows.Next() {
		st := standing{Community: community}
		var status string
		var lastActive sql.NullTime
		if err := rows.Scan(&st.ID, &status, &st.Level, &st.Score, &lastActive, &st.Staff); err != nil {
			return nil, err
		}
		if st.Status, err = domain.ParseStatus(status); err != nil {
			return nil, err
		}
		if lastActive.Valid {
			st.LastActiveAt = lastActive.Time.UTC()
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// batchCounts counts the activities since a time of the members of
// community with ids from first to last, per member, type and source.
func (s *Store) batchCounts(ctx context.Context, q querier, community, first, last string, since time.Time) (map[string]map[domain.ActivityKey]int, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT member_id, type, source, count(*) FROM activities
		WHERE community = ? AND member_id >= ? AND member_id <= ? AND occurred_at >= ? GROUP BY member_id, type, source`),
		community, first, last, since)
	if err != nil {
		return nil, fmt.Errorf("count activities of %s: %w", community, err)
	}
	defer rows.Close()
	out := map[string]map[domain.ActivityKey]int{}
	for rows.Next() {
		var id string
		var k domain.ActivityKey
		var n int
		if err := rows.Scan(&id, &k.Type, &k.Source, &n); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[domain.ActivityKey]int{}
		}
		out[id][k] = n
	}
	return out, rows.Err()
}
