package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode"

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
	// Properties are ids, counts and public links that say more about it,
	// such as "attended" of a hosted_event; never names or free text.
	Properties map[string]string
	// Source is the activity source (an integration) that brought it in;
	// empty for what Kinship recorded itself or an organiser entered.
	Source string
}

// Limits of an activity's properties.
const (
	MaxProperties     = 20
	MaxPropertyLength = 500
)

// propertyKey is the form of property keys, such as "attended" or "url".
var propertyKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// NewActivity validates an activity against the community's types — the
// ones it weighs, and the ones Kinship records itself — and its
// properties. It may not lie more than a day in the future.
func NewActivity(a Activity, s Settings, now time.Time) (Activity, error) {
	var errs validate.Errors
	if a.MemberID == "" {
		errs = append(errs, validate.Field("member_id", "is required"))
	}
	if !s.Counts(a.Type, a.Source) {
		errs = append(errs, validate.Field("type", "is not an activity type of the community"))
	}
	props, ferr := ValidateProperties("properties", a.Properties)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	a.Properties = props
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

// ValidateProperties checks an activity's properties: at most
// MaxProperties, keys lower-case words, values one line of at most
// MaxPropertyLength characters. An empty map is nil.
func ValidateProperties(field string, props map[string]string) (map[string]string, *validate.FieldError) {
	if len(props) == 0 {
		return nil, nil
	}
	if len(props) > MaxProperties {
		return nil, validate.Field(field, "must hold at most %d properties", MaxProperties)
	}
	out := make(map[string]string, len(props))
	for k, v := range props {
		if !propertyKey.MatchString(k) {
			return nil, validate.Field(field, "key %q must be lower-case letters, digits and underscores, starting with a letter, at most 40", k)
		}
		if len([]rune(v)) > MaxPropertyLength || strings.ContainsFunc(v, unicode.IsControl) {
			return nil, validate.Field(field, "value of %q must be one line of at most %d characters", k, MaxPropertyLength)
		}
		out[k] = v
	}
	return out, nil
}

// ActivityKey groups a member's activities for scoring: by type and by the
// source that brought them in.
type ActivityKey struct {
	Type, Source string
}
