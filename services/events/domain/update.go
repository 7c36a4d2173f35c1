package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Paths of EventSpec an update may name.
var (
	eventPaths = []string{"title", "description", "kind", "venue", "online_url", "start_time", "end_time", "time_zone",
		"capacity", "organiser_ids", "host_ids", "tags", "partner_id", "visibility", "recurrence"}
	// OccurrencePaths may change for one occurrence on its own.
	OccurrencePaths = []string{"title", "description", "venue", "online_url", "start_time", "end_time", "capacity"}
	timingPaths     = []string{"start_time", "end_time", "time_zone", "recurrence"}
)

// CheckMask validates update mask paths against allowed.
func CheckMask(paths []string, allowed []string, what string) error {
	if len(paths) == 0 {
		return validate.Field("update_mask", "is required: name the fields to change")
	}
	for _, p := range paths {
		if !slices.Contains(eventPaths, p) {
			return validate.Field("update_mask", "names unknown field %q", p)
		}
		if !slices.Contains(allowed, p) {
			return validate.Field("update_mask", "field %q cannot change for %s", p, what)
		}
	}
	return nil
}

// EventPaths returns every path an update of a whole event may name.
func EventPaths() []string { return slices.Clone(eventPaths) }

// ApplyMask copies the fields named by paths from update onto base.
func ApplyMask(base, update Spec, paths []string) Spec {
	for _, p := range paths {
		switch p {
		case "title":
			base.Title = update.Title
		case "description":
			base.Description = update.Description
		case "kind":
			base.Kind = update.Kind
		case "venue":
			base.Venue = update.Venue
		case "online_url":
			base.OnlineURL = update.OnlineURL
		case "start_time":
			base.Start = update.Start
		case "end_time":
			base.End = update.End
		case "time_zone":
			base.TimeZone = update.TimeZone
		case "capacity":
			base.Capacity = update.Capacity
		case "organiser_ids":
			base.OrganiserIDs = update.OrganiserIDs
		case "host_ids":
			base.HostIDs = update.HostIDs
		case "tags":
			base.Tags = update.Tags
		case "partner_id":
			base.PartnerID = update.PartnerID
		case "visibility":
			base.Visibility = update.Visibility
		case "recurrence":
			base.RRule, base.ExDates = update.RRule, update.ExDates
		}
	}
	return base
}

// ChangedPaths lists the paths whose values differ between a and b.
func ChangedPaths(a, b Spec) []string {
	var out []string
	add := func(path string, differ bool) {
		if differ {
			out = append(out, path)
		}
	}
	add("title", a.Title != b.Title)
	add("description", a.Description != b.Description)
	add("kind", a.Kind != b.Kind)
	add("venue", a.Venue != b.Venue)
	add("online_url", a.OnlineURL != b.OnlineURL)
	add("start_time", !a.Start.Equal(b.Start))
	add("end_time", !a.End.Equal(b.End))
	add("time_zone", a.TimeZone != b.TimeZone)
	add("capacity", a.Capacity != b.Capacity)
	add("organiser_ids", !slices.Equal(a.OrganiserIDs, b.OrganiserIDs))
	add("host_ids", !slices.Equal(a.HostIDs, b.HostIDs))
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("partner_id", a.PartnerID != b.PartnerID)
	add("visibility", a.Visibility != b.Visibility)
	add("recurrence", a.RRule != b.RRule || !slices.EqualFunc(a.ExDates, b.ExDates, time.Time.Equal))
	return out
}

// TimingChanged reports whether any of changed moves occurrences.
func TimingChanged(changed []string) bool {
	return slices.ContainsFunc(changed, func(p string) bool { return slices.Contains(timingPaths, p) })
}

// NewOccurrences returns e's occurrences at starts.
func NewOccurrences(e Event, starts []time.Time, newID func() string, now time.Time) []Occurrence {
	out := make([]Occurrence, 0, len(starts))
	for _, s := range starts {
		out = append(out, NewOccurrence(e, s, newID(), now))
	}
	return out
}

// NewOccurrence returns e's occurrence starting at start.
func NewOccurrence(e Event, start time.Time, id string, now time.Time) Occurrence {
	return Occurrence{ID: id, EventID: e.ID, Community: e.Community, RecurrenceID: start, Start: start, End: start.Add(e.Duration()),
		Status: OccurrenceScheduled, Capacity: e.Capacity, UpdatedAt: now.UTC()}
}

// Reschedule moves o to the rule start start of e, dropping its own times.
func Reschedule(o Occurrence, e Event, start time.Time, now time.Time) Occurrence {
	if !o.RecurrenceID.Equal(start) || !o.Start.Equal(start) || !o.End.Equal(start.Add(e.Duration())) || o.EventID != e.ID {
		o.Sequence++
	}
	o.EventID, o.RecurrenceID, o.Start, o.End, o.TimesOverridden, o.UpdatedAt = e.ID, start, start, start.Add(e.Duration()), false, now
	if !o.CapacityOverridden {
		o.Capacity = e.Capacity
	}
	return o
}

// OverrideOccurrence applies the fields named by paths from update to o
// alone ("this occurrence"), validated against e; it returns the changed
// occurrence and the paths that changed.
func OverrideOccurrence(e Event, o Occurrence, update Spec, paths []string, now time.Time) (Occurrence, []string, error) {
	if err := CheckMask(paths, OccurrencePaths, "one occurrence"); err != nil {
		return o, nil, err
	}
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	before := o
	var ferr *validate.FieldError
	start, end := o.Start, o.End
	for _, p := range paths {
		switch p {
		case "title":
			o.Title, ferr = validate.Text("title", update.Title, 1, MaxTitleLength)
			add(ferr)
		case "description":
			o.Description, ferr = FreeText("description", update.Description, MaxDescriptionLength)
			add(ferr)
		case "venue":
			if !e.Kind.HasVenue() {
				add(validate.Field("venue", "must be empty for an online event"))
				continue
			}
			o.Venue, ferr = normaliseVenue(update.Venue, e.Kind)
			add(ferr)
		case "online_url":
			if !e.Kind.IsOnline() {
				add(validate.Field("online_url", "must be empty for an offline event"))
				continue
			}
			o.OnlineURL, ferr = normaliseOnlineURL(update.OnlineURL, e.Kind)
			add(ferr)
		case "start_time":
			start = update.Start.UTC().Truncate(time.Second)
		case "end_time":
			end = update.End.UTC().Truncate(time.Second)
		case "capacity":
			switch {
			case update.Capacity < 0:
				add(validate.Field("capacity", "must not be negative (0 means unlimited)"))
			case update.Capacity > MaxCapacity:
				add(validate.Field("capacity", "must be at most %d", MaxCapacity))
			default:
				o.Capacity, o.CapacityOverridden = update.Capacity, true
			}
		}
	}
	if !start.Equal(o.Start) || !end.Equal(o.End) {
		switch {
		case start.IsZero() || update.Start.IsZero() && slices.Contains(paths, "start_time"):
			add(validate.Field("start_time", "is required"))
		case !end.After(start):
			add(validate.Field("end_time", "must be after start_time"))
		case end.Sub(start) > MaxDuration:
			add(validate.Field("end_time", "must be at most 7 days after start_time"))
		case !start.After(now):
			add(validate.Field("start_time", "must be in the future"))
		default:
			o.Start, o.End, o.TimesOverridden = start, end, true
		}
	}
	if err := errs.Err(); err != nil {
		return before, nil, err
	}
	var changed []string
	add2 := func(p string, differ bool) {
		if differ {
			changed = append(changed, p)
		}
	}
	add2("title", o.Title != before.Title)
	add2("description", o.Description != before.Description)
	add2("venue", o.Venue != before.Venue)
	add2("online_url", o.OnlineURL != before.OnlineURL)
	add2("start_time", !o.Start.Equal(before.Start))
	add2("end_time", !o.End.Equal(before.End))
	add2("capacity", o.Capacity != before.Capacity)
	if len(changed) > 0 {
		o.Sequence++
		o.UpdatedAt = now
	}
	return o, changed, nil
}

// ExDatesBefore returns the exdates before pivot, and from pivot on.
func ExDatesBefore(ds []time.Time, pivot time.Time) (before, after []time.Time) {
	for _, d := range ds {
		if d.Before(pivot) {
			before = append(before, d)
		} else {
			after = append(after, d)
		}
	}
	return before, after
}

// CheckReason validates a cancellation reason.
func CheckReason(raw string) (string, error) {
	r, ferr := FreeText("reason", raw, MaxReasonLength)
	if ferr != nil {
		return "", ferr
	}
	return strings.TrimSpace(r), nil
}
