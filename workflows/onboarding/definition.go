package onboarding

import (
	"fmt"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// Step types a journey definition may use.
const (
	StepWelcome         = "welcome"
	StepCompleteProfile = "complete-profile"
	StepSuggestEvent    = "suggest-event"
	StepAssignBuddy     = "assign-buddy"
	StepFirstAttendance = "first-attendance"
)

// StepTypes lists every step type, in the default order.
func StepTypes() []string {
	return []string{StepWelcome, StepCompleteProfile, StepSuggestEvent, StepAssignBuddy, StepFirstAttendance}
}

// Defaults of the steps' settings.
const (
	DefaultProfileWait    = 7 * 24 * time.Hour
	DefaultAttendanceWait = 90 * 24 * time.Hour
	DefaultSuggestions    = 3
)

// Limits on a definition.
const (
	MaxSteps     = 10
	MaxReminders = 5
	MaxWait      = 365 * 24 * time.Hour
)

// Definition is a community's onboarding journey: the steps every new
// member goes through, in order. It is data — organisers change it in the
// worker's journeys file — and a journey keeps the definition it started
// with.
type Definition struct {
	Steps []Step `json:"steps"`
}

// Step is one step of a journey. Settings that do not apply to a step's
// type must be left out.
type Step struct {
	Type string `json:"type"`
	// Reminders are sent this long after the step began while it waits
	// (complete-profile: profile reminders; first-attendance: nudges).
	Reminders []Duration `json:"reminders,omitempty"`
	// Wait is how long the step waits before the journey moves on
	// (complete-profile) or lapses (first-attendance).
	Wait Duration `json:"wait,omitempty"`
	// Limit is how many events suggest-event proposes.
	Limit int `json:"limit,omitempty"`
}

// Duration is a time.Duration written as "48h" in JSON.
type Duration = flow.Duration

// DefaultDefinition is the journey of a community that defines none:
// welcome, profile with reminders on day 2 and 5, an event suggestion, a
// buddy, and the first attendance with a nudge after 30 days.
func DefaultDefinition() Definition {
	day := 24 * time.Hour
	return Definition{Steps: []Step{
		{Type: StepWelcome},
		{Type: StepCompleteProfile, Reminders: []Duration{Duration(2 * day), Duration(5 * day)}, Wait: Duration(DefaultProfileWait)},
		{Type: StepSuggestEvent, Limit: DefaultSuggestions},
		{Type: StepAssignBuddy},
		{Type: StepFirstAttendance, Reminders: []Duration{Duration(30 * day)}, Wait: Duration(DefaultAttendanceWait)},
	}}
}

// Validate reports every problem of d, naming the field (such as
// "steps[2].type"). Unknown step types are refused.
func (d Definition) Validate() error {
	var errs validate.Errors
	switch {
	case len(d.Steps) == 0:
		errs = append(errs, validate.Field("steps", "must hold at least one step"))
	case len(d.Steps) > MaxSteps:
		errs = append(errs, validate.Field("steps", "must hold at most %d steps", MaxSteps))
	}
	seen := map[string]bool{}
	for i, s := range d.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if !slices.Contains(StepTypes(), s.Type) {
			errs = append(errs, validate.Field(field+".type", "%q is not a step type; use one of %v", s.Type, StepTypes()))
			continue
		}
		if seen[s.Type] {
			errs = append(errs, validate.Field(field+".type", "%s appears twice", s.Type))
		}
		seen[s.Type] = true
		errs = append(errs, s.validate(field)...)
	}
	return errs.Err()
}

func (s Step) validate(field string) validate.Errors {
	var errs validate.Errors
	waits := s.Type == StepCompleteProfile || s.Type == StepFirstAttendance
	if !waits && len(s.Reminders) > 0 {
		errs = append(errs, validate.Field(field+".reminders", "applies only to %s and %s", StepCompleteProfile, StepFirstAttendance))
	}
	if !waits && s.Wait != 0 {
		errs = append(errs, validate.Field(field+".wait", "applies only to %s and %s", StepCompleteProfile, StepFirstAttendance))
	}
	if s.Type != StepSuggestEvent && s.Limit != 0 {
		errs = append(errs, validate.Field(field+".limit", "applies only to %s", StepSuggestEvent))
	}
	if s.Type == StepSuggestEvent && (s.Limit < 0 || s.Limit > 10) {
		errs = append(errs, validate.Field(field+".limit", "must be between 1 and 10 (0 means %d)", DefaultSuggestions))
	}
	if !waits {
		return errs
	}
	if s.Wait < 0 || s.Wait.Std() > MaxWait {
		errs = append(errs, validate.Field(field+".wait", "must be between 0 (the default) and %v", MaxWait))
	}
	if len(s.Reminders) > MaxReminders {
		errs = append(errs, validate.Field(field+".reminders", "must hold at most %d reminders", MaxReminders))
	}
	wait := s.waitOrDefault()
	for j, r := range s.Reminders {
		switch {
		case r <= 0:
			errs = append(errs, validate.Field(fmt.Sprintf("%s.reminders[%d]", field, j), "must be positive"))
		case j > 0 && r <= s.Reminders[j-1]:
			errs = append(errs, validate.Field(fmt.Sprintf("%s.reminders[%d]", field, j), "must come after the reminder before it"))
		case r.Std() >= wait:
			errs = append(errs, validate.Field(fmt.Sprintf("%s.reminders[%d]", field, j), "must come before the step's wait of %v ends", wait))
		}
	}
	return errs
}

// waitOrDefault is how long a waiting step waits.
func (s Step) waitOrDefault() time.Duration {
	if s.Wait > 0 {
		return s.Wait.Std()
	}
	if s.Type == StepFirstAttendance {
		return DefaultAttendanceWait
	}
	return DefaultProfileWait
}

func (s Step) limitOrDefault() int {
	if s.Limit > 0 {
		return s.Limit
	}
	return DefaultSuggestions
}

// Has reports whether d has a step of type typ.
func (d Definition) Has(typ string) bool {
	return slices.ContainsFunc(d.Steps, func(s Step) bool { return s.Type == typ })
}

// WithProfileTiming returns d with its complete-profile step's first
// reminder at first (the second, if any, at 2.5 × first, as day 2 and day
// 5) and its wait at wait; zero values keep what d says. It is how the
// worker's reminder flags tune the default journey.
func (d Definition) WithProfileTiming(first, wait time.Duration) Definition {
	out := Definition{Steps: slices.Clone(d.Steps)}
	for i, s := range out.Steps {
		if s.Type != StepCompleteProfile {
			continue
		}
		if first > 0 {
			reminders := []Duration{Duration(first)}
			if len(s.Reminders) > 1 {
				reminders = append(reminders, Duration(first*5/2))
			}
			s.Reminders = reminders
		}
		if wait > 0 {
			s.Wait = Duration(wait)
		}
		for len(s.Reminders) > 0 && s.Reminders[len(s.Reminders)-1].Std() >= s.waitOrDefault() {
			s.Reminders = s.Reminders[:len(s.Reminders)-1]
		}
		out.Steps[i] = s
	}
	return out
}
