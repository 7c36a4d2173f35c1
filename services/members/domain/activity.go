package domain

import (
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Activity is one entry in a member's activity ledger.
type Activity struct {
	ID            string
	Community     string
	MemberID      string
	Type          string
	OccurredAt    time.Time
	SourceEventID string
}

// NewActivity validates an activity against the community's types. It may
// not lie more than a day in the future.
func NewActivity(a Activity, s Settings, now time.Time) (Activity, error) {
	var errs validate.Errors
	if a.MemberID == "" {
		errs = append(errs, validate.Field("member_id", "is required"))
	}
	if _, ok := s.Weights[a.Type]; !ok {
		errs = append(errs, validate.Field("type", "is not an activity type of the community"))
	}
	if a.OccurredAt.IsZero() {
		errs = append(errs, validate.Field("occurred_at", "is required"))
	} else if a.OccurredAt.After(now.Add(24 * time.Hour)) {
		errs = append(errs, validate.Field("occurred_at", "lies in the future"))
	}
	if _, ferr := validate.Text("source_event_id", a.SourceEventID, 1, 200); ferr != nil {
		errs = append(errs, ferr)
	}
	a.OccurredAt = a.OccurredAt.UTC().Truncate(time.Microsecond)
	return a, errs.Err()
}

// Engagement is a member's standing.
type Engagement struct {
	Level        string
	Score        int
	LevelByScore string
	LastActiveAt time.Time
	Recent       []Activity
}

// LevelChange is one member's level moving.
type LevelChange struct {
	MemberID string
	From, To string
	Score    int
}
