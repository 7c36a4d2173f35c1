package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Bounds on a series: every occurrence is stored, so a rule must end.
const (
	MaxOccurrences = 500
	HorizonYears   = 2
)

// Expand reads rawRule (an RFC 5545 RRULE value) for a series whose first
// occurrence starts at start, held in loc, and returns the rule in normal
// form and the start of every occurrence less exdates, in UTC. Wall-clock
// times hold across daylight saving changes in loc.
func Expand(rawRule string, exdates []time.Time, start time.Time, loc *time.Location) (string, []time.Time, error) {
	opt, ferr := parseRule(rawRule, loc)
	if ferr != nil {
		return "", nil, ferr
	}
	all, ferr := instances(opt, start, loc)
	if ferr != nil {
		return "", nil, ferr
	}
	excluded := map[int64]bool{}
	for _, d := range exdates {
		d = d.UTC().Truncate(time.Second)
		if !slices.ContainsFunc(all, d.Equal) {
			return "", nil, validate.Field("recurrence.exdates", "must be start times of occurrences of the rule")
		}
		excluded[d.Unix()] = true
	}
	starts := make([]time.Time, 0, len(all))
	for _, t := range all {
		if !excluded[t.Unix()] {
			starts = append(starts, t)
		}
	}
	if len(starts) == 0 {
		return "", nil, validate.Field("recurrence.exdates", "must leave at least one occurrence")
	}
	return opt.RRuleString(), starts, nil
}

func parseRule(rawRule string, loc *time.Location) (opt *rrule.ROption, ferr *validate.FieldError) {
	const field = "recurrence.rrule"
	defer func() {
		if recover() != nil {
			opt, ferr = nil, validate.Field(field, "is not a valid RRULE")
		}
	}()
	raw := strings.TrimSpace(rawRule)
	raw = strings.TrimPrefix(strings.TrimPrefix(raw, "RRULE:"), "rrule:")
	if strings.ContainsAny(raw, "\r\n:") || strings.Contains(strings.ToUpper(raw), "DTSTART") {
		return nil, validate.Field(field, "must be one RRULE value without DTSTART, such as FREQ=WEEKLY;COUNT=10")
	}
	opt, err := rrule.StrToROptionInLocation(raw, loc)
	if err != nil {
		return nil, validate.Field(field, "is not a valid RRULE (%s)", err.Error())
	}
	switch {
	case opt.Freq > rrule.DAILY:
		return nil, validate.Field(field, "must repeat at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)")
	case len(opt.Byeaster) > 0:
		return nil, validate.Field(field, "BYEASTER is not part of RFC 5545")
	case opt.Count == 0 && opt.Until.IsZero():
		return nil, validate.Field(field, "must end: give COUNT or UNTIL (at most %d occurrences within %d years)", MaxOccurrences, HorizonYears)
	case opt.Count > MaxOccurrences:
		return nil, validate.Field(field, "COUNT must be at most %d", MaxOccurrences)
	}
	// RFC 5545: an ordinal BYDAY (such as 2MO) only within a month (-5 to 5)
	// or a year (-53 to 53).
	for _, d := range opt.Byweekday {
		n := d.N()
		switch {
		case n == 0:
		case opt.Freq == rrule.MONTHLY && (n < -5 || n > 5), opt.Freq == rrule.YEARLY && (n < -53 || n > 53):
			return nil, validate.Field(field, "BYDAY %s is not a week of the period", d.String())
		case opt.Freq != rrule.MONTHLY && opt.Freq != rrule.YEARLY:
			return nil, validate.Field(field, "BYDAY takes a number (such as 2MO) only with FREQ=MONTHLY or YEARLY")
		}
	}
	return opt, nil
}

// instances returns every start the rule gives from start, before EXDATE.
// The expansion is a third party's: a rule that makes it panic is refused
// like any other it cannot expand, never taken down with it.
func instances(opt *rrule.ROption, start time.Time, loc *time.Location) (all []time.Time, ferr *validate.FieldError) {
	const field = "recurrence.rrule"
	defer func() {
		if recover() != nil {
			all, ferr = nil, validate.Field(field, "is not a rule that can be expanded")
		}
	}()
	o := *opt
	o.Dtstart = start.In(loc)
	r, err := rrule.NewRRule(o)
	if err != nil {
		return nil, validate.Field(field, "is not a valid RRULE (%s)", err.Error())
	}
	horizon := start.AddDate(HorizonYears, 0, 0)
	next := r.Iterator()
	for {
		t, ok := next()
		if !ok {
			break
		}
		if t.After(horizon) {
			return nil, validate.Field(field, "must end within %d years of start_time", HorizonYears)
		}
		if len(all) == MaxOccurrences {
			return nil, validate.Field(field, "must yield at most %d occurrences", MaxOccurrences)
		}
		all = append(all, t.UTC())
	}
	if len(all) == 0 || !all[0].Equal(start) {
		return nil, validate.Field(field, "must give start_time as its first occurrence")
	}
	return all, nil
}

// SplitRule cuts a series at pivot, the rule start of one of its later
// occurrences: before is the rule of the occurrences until pivot, after
// the rule of pivot and the following ones when the series starts again
// at newStart.
func SplitRule(rule string, start time.Time, loc *time.Location, pivot time.Time) (before, after string, err error) {
	opt, ferr := parseRule(rule, loc)
	if ferr != nil {
		return "", "", ferr
	}
	all, ferr := instances(opt, start, loc)
	if ferr != nil {
		return "", "", ferr
	}
	n := slices.IndexFunc(all, func(t time.Time) bool { return !t.Before(pivot) })
	if n <= 0 {
		return "", "", ErrNotRecurring
	}
	b := *opt
	b.Count, b.Until = 0, pivot.Add(-time.Second).UTC()
	a := *opt
	if a.Count > 0 {
		a.Count -= n
	}
	return b.RRuleString(), a.RRuleString(), nil
}

// OccurrenceStatus says whether an occurrence takes place.
type OccurrenceStatus string

// Occurrence statuses.
const (
	OccurrenceScheduled OccurrenceStatus = "scheduled"
	OccurrenceCancelled OccurrenceStatus = "cancelled"
)

// Occurrence is one sitting of an event.
type Occurrence struct {
	ID        string
	EventID   string
	Community string
	// RecurrenceID is the start the rule gives it (RECURRENCE-ID).
	RecurrenceID time.Time
	Start, End   time.Time
	Status       OccurrenceStatus
	// Capacity is 0 for unlimited; CapacityOverridden says this occurrence
	// keeps its own when the event's changes.
	Capacity           int
	CapacityOverridden bool
	// TimesOverridden says Start and End were moved on their own.
	TimesOverridden bool
	// This occurrence's own values; empty means the event's.
	Title, Description string
	Venue              Venue
	OnlineURL          string
	Sequence           int
	SeatsTaken         int
	Waitlisted         int
	// AttendanceClosed says no-shows were marked.
	AttendanceClosed bool
	UpdatedAt        time.Time
}

// Overridden reports whether o differs from the event's other occurrences
// in more than its times.
func (o Occurrence) Overridden() bool {
	return o.TimesOverridden || o.CapacityOverridden || o.Title != "" || o.Description != "" || !o.Venue.IsZero() ||
		o.OnlineURL != "" || o.Status == OccurrenceCancelled
}

// Started reports whether o has started at now.
func (o Occurrence) Started(now time.Time) bool { return !now.Before(o.Start) }

// Ended reports whether o has ended at now.
func (o Occurrence) Ended(now time.Time) bool { return !now.Before(o.End) }

// Effective returns what o shows: its own values where it has them.
func (o Occurrence) Effective(e Event) (title, description string, venue Venue, onlineURL string) {
	title, description, venue, onlineURL = e.Title, e.Description, e.Venue, e.OnlineURL
	if o.Title != "" {
		title = o.Title
	}
	if o.Description != "" {
		description = o.Description
	}
	if !o.Venue.IsZero() {
		venue = o.Venue
	}
	if o.OnlineURL != "" {
		onlineURL = o.OnlineURL
	}
	return title, description, venue, onlineURL
}

// Plan is how stored occurrences follow a changed schedule.
type Plan struct {
	// Keep maps an existing occurrence id to its new rule start.
	Keep map[string]time.Time
	// Cancel lists existing occurrences the new schedule has no day for.
	Cancel []string
	// Create lists new rule starts no existing occurrence takes.
	Create []time.Time
}

// nearby is how far a new start may be from an occurrence's rule start on
// another day and still be that occurrence moved: a sitting at 23:00
// moved an hour later is the same sitting, on the next day.
const nearby = 6 * time.Hour

// PlanOccurrences pairs existing occurrences with a new schedule's starts:
// first those with the same rule start, then those on the same day in
// loc, then those less than six hours away (a time moved across
// midnight), so moving a series to another time keeps its RSVPs, while
// moving it to other days cancels the old days.
func PlanOccurrences(existing []Occurrence, starts []time.Time, loc *time.Location) Plan {
	p := Plan{Keep: map[string]time.Time{}}
	taken := make([]bool, len(starts))
	matched := map[string]bool{}
	for _, o := range existing {
		if i := slices.IndexFunc(starts, o.RecurrenceID.Equal); i >= 0 && !taken[i] {
			taken[i], matched[o.ID] = true, true
			p.Keep[o.ID] = starts[i]
		}
	}
	day := func(t time.Time) string { return t.In(loc).Format(time.DateOnly) }
	for _, o := range existing {
		if matched[o.ID] {
			continue
		}
		i := slices.IndexFunc(starts, func(t time.Time) bool { return day(t) == day(o.RecurrenceID) })
		if i >= 0 && !taken[i] {
			taken[i], matched[o.ID] = true, true
			p.Keep[o.ID] = starts[i]
		}
	}
	for _, o := range existing {
		if matched[o.ID] {
			continue
		}
		i := -1
		for j, t := range starts {
			if d := t.Sub(o.RecurrenceID).Abs(); !taken[j] && d < nearby && (i < 0 || d < starts[i].Sub(o.RecurrenceID).Abs()) {
				i = j
			}
		}
		if i >= 0 {
			taken[i], matched[o.ID] = true, true
			p.Keep[o.ID] = starts[i]
			continue
		}
		p.Cancel = append(p.Cancel, o.ID)
	}
	for i, t := range starts {
		if !taken[i] {
			p.Create = append(p.Create, t)
		}
	}
	return p
}
