package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// storedSettings is the JSON form of domain.Settings.
type storedSettings struct {
	Interests  []string                `json:"interests"`
	Skills     []string                `json:"skills"`
	Goals      []string                `json:"goals"`
	Weights    map[string]int          `json:"weights"`
	Levels     []domain.LevelThreshold `json:"levels"`
	WindowDays int                     `json:"window_days"`
	// SourceWeights weigh what activity sources bring in.
	SourceWeights map[string]int `json:"source_weights,omitempty"`
}

// Settings returns a community's settings, or the defaults when it has
// none of its own.
func (s *Store) Settings(ctx context.Context, community string) (domain.Settings, error) {
	return s.settings(ctx, s.db, community)
}

func (s *Store) settings(ctx context.Context, q querier, community string) (domain.Settings, error) {
	// One read answers both: whether the community exists, and its own
	// settings if it has any.
	var raw sql.NullString
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT s.settings FROM communities c
		LEFT JOIN community_settings s ON s.community = c.slug WHERE c.slug = ?`), community).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Settings{}, domain.ErrUnknownCommunity
	}
	if err != nil {
		return domain.Settings{}, fmt.Errorf("read settings of %s: %w", community, err)
	}
	if !raw.Valid {
		return domain.DefaultSettings(community), nil
	}
	var st storedSettings
	if err := json.Unmarshal([]byte(raw.String), &st); err != nil {
		return domain.Settings{}, fmt.Errorf("decode settings of %s: %w", community, err)
	}
	return domain.Settings{Community: community, Interests: st.Interests, Skills: st.Skills, Goals: st.Goals,
		Weights: st.Weights, Levels: st.Levels, WindowDays: st.WindowDays, SourceWeights: st.SourceWeights}, nil
}

// SaveSettings stores a community's validated settings and audits it.
func (s *Store) SaveSettings(ctx context.Context, st domain.Settings, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, st.Community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		if err := s.saveSettingsTx(ctx, tx, st); err != nil {
			return err
		}
		return audit.Record(ctx, tx, st.Community, "settings.updated", "community", st.Community)
	})
}

// saveSettingsTx writes a community's settings in tx.
func (s *Store) saveSettingsTx(ctx context.Context, tx *sql.Tx, st domain.Settings) error {
	raw, err := json.Marshal(storedSettings{Interests: st.Interests, Skills: st.Skills, Goals: st.Goals,
		Weights: st.Weights, Levels: st.Levels, WindowDays: st.WindowDays, SourceWeights: st.SourceWeights})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO community_settings (community, settings, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (community) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`), st.Community, string(raw), now())
	if err != nil {
		return fmt.Errorf("save settings of %s: %w", st.Community, err)
	}
	return nil
}
