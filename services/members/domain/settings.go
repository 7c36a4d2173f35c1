package domain

import (
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/kinshiphq/kinship/internal/validate"
)

// LevelThreshold names the level reached at MinScore.
type LevelThreshold struct {
	Name     string
	MinScore int
}

// Settings are a community's own rules: its vocabularies and goals, how
// much each activity weighs, and its engagement levels.
type Settings struct {
	Community string
	// Interests and Skills are the tags members may pick; empty allows any.
	Interests []string
	Skills    []string
	// Goals are the community goals members may care about; empty allows any.
	Goals []string
	// Weights says how much each activity type counts; types missing here
	// cannot be recorded.
	Weights map[string]int
	// Levels ascend by MinScore; the first starts at 0.
	Levels     []LevelThreshold
	WindowDays int
	// SourceWeights says how much each activity an activity source (an
	// integration) brings in counts, whatever its type.
	SourceWeights map[string]int
}

// Activity types every community starts with.
const (
	ActivityAttendedEvent       = "attended_event"
	ActivityRSVP                = "rsvp"
	ActivityHostedEvent         = "hosted_event"
	ActivityReferredMember      = "referred_member"
	ActivityCompletedTask       = "completed_task"
	ActivityPartnerContribution = "partner_contribution"
	ActivityPosted              = "posted"
	ActivityOnboarded           = "onboarded"
	ActivityGaveFeedback        = "gave_feedback"
)

// BuiltinActivityTypes are the activities Kinship records on its own (or
// its workflows do): they are recorded even where the community gives
// them no weight, so that a programme counting them (an ambassador's
// quotas) sees them; they then count 0 towards the level.
var BuiltinActivityTypes = []string{ActivityAttendedEvent, ActivityRSVP, ActivityHostedEvent, ActivityReferredMember,
	ActivityCompletedTask, ActivityPartnerContribution, ActivityOnboarded, ActivityGaveFeedback}

// DefaultSettings are a new community's settings.
func DefaultSettings(community string) Settings {
	return Settings{
		Community: community,
		Weights: map[string]int{
			ActivityAttendedEvent: 5, ActivityRSVP: 1, ActivityHostedEvent: 10, ActivityReferredMember: 5,
			ActivityCompletedTask: 3, ActivityPartnerContribution: 5, ActivityPosted: 1, ActivityOnboarded: 2,
			ActivityGaveFeedback: 1,
		},
		Levels:     []LevelThreshold{{"Observer", 0}, {"Participant", 5}, {"Contributor", 20}, {"Core", 50}},
		WindowDays: 90,
	}
}

// Validate normalises s and checks it is usable.
func (s Settings) Validate() (Settings, error) {
	var errs validate.Errors
	for _, list := range []struct {
		field string
		tags  *[]string
	}{{"interest_vocabulary", &s.Interests}, {"skill_vocabulary", &s.Skills}, {"goals", &s.Goals}} {
		tags, ferr := normaliseVocabulary(list.field, *list.tags)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		*list.tags = tags
	}
	if len(s.Weights) == 0 {
		errs = append(errs, validate.Field("activity_weights", "must name at least one activity type"))
	}
	for typ, w := range s.Weights {
		if !activityType.MatchString(typ) || len(typ) > 40 {
			errs = append(errs, validate.Field("activity_weights", "type %q must be lower-case letters, digits and dashes or underscores", typ))
		}
		if w < 0 || w > 1000 {
			errs = append(errs, validate.Field("activity_weights", "weight of %q must be between 0 and 1000", typ))
		}
	}
	if len(s.Levels) == 0 || s.Levels[0].MinScore != 0 {
		errs = append(errs, validate.Field("levels", "must start with a level at score 0"))
	}
	seen := map[string]bool{}
	for i, l := range s.Levels {
		if _, ferr := validate.Text("levels", l.Name, 1, 50); ferr != nil {
			errs = append(errs, validate.Field("levels", "names must be 1 to 50 characters"))
		}
		if seen[l.Name] {
			errs = append(errs, validate.Field("levels", "name %q appears twice", l.Name))
		}
		seen[l.Name] = true
		if i > 0 && l.MinScore <= s.Levels[i-1].MinScore {
			errs = append(errs, validate.Field("levels", "scores must ascend"))
		}
	}
	if s.WindowDays < 1 || s.WindowDays > 3650 {
		errs = append(errs, validate.Field("window_days", "must be between 1 and 3650"))
	}
	if len(s.SourceWeights) > MaxSources {
		errs = append(errs, validate.Field("source_weights", "must name at most %d sources", MaxSources))
	}
	for source, w := range s.SourceWeights {
		if _, ferr := ValidateSourceName("source_weights", source); ferr != nil {
			errs = append(errs, ferr)
		}
		if w < 0 || w > 1000 {
			errs = append(errs, validate.Field("source_weights", "weight of %q must be between 0 and 1000", source))
		}
	}
	return s, errs.Err()
}

// MaxVocabulary bounds a community's vocabularies and goals.
const MaxVocabulary = 500

func normaliseVocabulary(field string, raw []string) ([]string, *validate.FieldError) {
	if len(raw) > MaxVocabulary {
		return nil, validate.Field(field, "must hold at most %d tags", MaxVocabulary)
	}
	out := make([]string, 0, len(raw))
	for _, tag := range raw {
		t, ferr := validate.Slug(field, tag, MaxTagLength)
		if ferr != nil {
			return nil, ferr
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// activityType is the form of activity type names, such as attended_event.
var activityType = regexp.MustCompile(`^[a-z0-9]+([_-][a-z0-9]+)*$`)

// ActivityTypes lists the community's activity types, sorted.
func (s Settings) ActivityTypes() []string {
	types := make([]string, 0, len(s.Weights))
	for t := range s.Weights {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// WeightOf is what one activity of typ brought in by source counts: the
// source's weight when the community gives it one, else the type's (0
// for a type it does not weigh).
func (s Settings) WeightOf(typ, source string) int {
	if source != "" {
		if w, ok := s.SourceWeights[source]; ok {
			return w
		}
	}
	return s.Weights[typ]
}

// Counts reports whether activities of typ from source may be recorded:
// a type the community weighs, one Kinship records itself, or anything
// from a source the community weighs.
func (s Settings) Counts(typ, source string) bool {
	if _, ok := s.Weights[typ]; ok {
		return true
	}
	if _, ok := s.SourceWeights[source]; ok && source != "" {
		return activityType.MatchString(typ) && len(typ) <= 40
	}
	return slices.Contains(BuiltinActivityTypes, typ)
}

// Score weighs activity counts by type and source.
func (s Settings) Score(counts map[ActivityKey]int) int {
	total := 0
	for k, n := range counts {
		total += s.WeightOf(k.Type, k.Source) * n
	}
	return total
}

// LevelFor is the highest level whose threshold score reaches.
func (s Settings) LevelFor(score int) string {
	level := ""
	for _, l := range s.Levels {
		if score >= l.MinScore {
			level = l.Name
		}
	}
	return level
}

// Rank orders levels; an unknown level (one removed from the settings)
// ranks below every known one.
func (s Settings) Rank(level string) int {
	for i, l := range s.Levels {
		if l.Name == level {
			return i
		}
	}
	return -1
}

// NextLevel decides a member's level from their score: a higher level
// applies at once, a lower one only at a review. Staff have no level.
func (s Settings) NextLevel(current string, score int, staff, review bool) string {
	if staff {
		return ""
	}
	byScore := s.LevelFor(score)
	switch {
	case current == "" || s.Rank(current) < 0:
		return byScore
	case s.Rank(byScore) > s.Rank(current):
		return byScore
	case s.Rank(byScore) < s.Rank(current) && review:
		return byScore
	}
	return current
}

// ErrUnknownActivity means an activity type the community does not weigh.
var ErrUnknownActivity = fmt.Errorf("unknown activity type")
