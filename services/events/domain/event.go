// Package domain holds the events service's entities and rules: events and
// their occurrences, recurrence, seats and the waitlist, check-in and
// feedback. It does no I/O.
package domain

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Kind says where an event happens.
type Kind string

// Kinds of event.
const (
	KindOnline  Kind = "online"
	KindOffline Kind = "offline"
	KindHybrid  Kind = "hybrid"
)

// HasVenue reports whether events of kind k take place somewhere.
func (k Kind) HasVenue() bool { return k == KindOffline || k == KindHybrid }

// IsOnline reports whether events of kind k have an online meeting.
func (k Kind) IsOnline() bool { return k == KindOnline || k == KindHybrid }

// Visibility says who sees an event.
type Visibility string

// Visibilities.
const (
	VisibilityPublic  Visibility = "public"
	VisibilityMembers Visibility = "members"
)

// Status is an event's place in its lifecycle.
type Status string

// Lifecycle: draft → published → completed | cancelled.
const (
	StatusDraft     Status = "draft"
	StatusPublished Status = "published"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
)

// Limits on what an organiser may submit.
const (
	MaxTitleLength       = 200
	MaxDescriptionLength = 10_000
	MaxPlaceLength       = 200
	MaxURLLength         = 2000
	MaxCapacity          = 100_000
	MaxPeople            = 20
	MaxTags              = 20
	MaxTagLength         = 40
	MaxIDLength          = 64
	MaxReasonLength      = 500
	MaxDuration          = 7 * 24 * time.Hour
)

// Errors the events service reports.
var (
	ErrUnknownCommunity   = errors.New("unknown community")
	ErrEventNotFound      = errors.New("event not found")
	ErrOccurrenceNotFound = errors.New("occurrence not found")
	ErrRSVPNotFound       = errors.New("no RSVP of this member for this occurrence")
	ErrCodeNotFound       = errors.New("no seat has this check-in code")
	ErrBadTransition      = errors.New("the event's status cannot change that way")
	ErrNotPublished       = errors.New("the event is not published")
	ErrEventCancelled     = errors.New("the event is cancelled")
	ErrOccurrenceEnded    = errors.New("the occurrence has already started or ended")
	ErrOccurrenceNotEnded = errors.New("the occurrence has not ended yet")
	ErrNoOffer            = errors.New("the member holds no seat offer for this occurrence")
	ErrOfferExpired       = errors.New("the seat offer expired")
	ErrNoSeat             = errors.New("the member holds no seat for this occurrence")
	ErrCheckInClosed      = errors.New("check-in is open from 2 hours before the start until the end")
	ErrNotAttended        = errors.New("only members who checked in may give feedback")
	ErrNotRecurring       = errors.New("the event is not recurring")
	ErrStillRunning       = errors.New("the event has occurrences that have not ended")
	ErrErasedMember       = errors.New("the member was erased")
	ErrFeedTokenNotFound  = errors.New("no calendar feed has this address")
	ErrCapacityBelowSeats = errors.New("capacity cannot go below the seats members already hold")
	ErrSeriesStarted      = errors.New("the series has begun: change this and following occurrences instead")
	ErrNotHost            = errors.New("only the organising team and the event's hosts may do this")
)

// Venue is where an offline or hybrid event takes place.
type Venue struct {
	Name, Street, City, Region, PostalCode, CountryCode string
}

// IsZero reports whether v says nothing.
func (v Venue) IsZero() bool { return v == Venue{} }

// Spec is what an organiser says about an event. Start and End are the
// first occurrence's, in UTC.
type Spec struct {
	Title        string
	Description  string
	Kind         Kind
	Venue        Venue
	OnlineURL    string
	Start, End   time.Time
	TimeZone     string
	Capacity     int
	OrganiserIDs []string
	HostIDs      []string
	Tags         []string
	PartnerID    string
	Visibility   Visibility
	// RRule is empty for a single event.
	RRule   string
	ExDates []time.Time
}

// Duration is how long each occurrence lasts.
func (s Spec) Duration() time.Duration { return s.End.Sub(s.Start) }

// Recurring reports whether s repeats.
func (s Spec) Recurring() bool { return s.RRule != "" }

// Location returns the event's time zone (UTC when it cannot be loaded,
// which validation prevents).
func (s Spec) Location() *time.Location {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Event is one gathering, single or recurring.
type Event struct {
	ID        string
	Community string
	Spec
	Status       Status
	Sequence     int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	PublishedAt  time.Time
	CancelledAt  time.Time
	CancelReason string
	// SplitFromID is the series this one was split from.
	SplitFromID string
}

// Editable reports whether e may still change.
func (e Event) Editable() error {
	switch e.Status {
	case StatusCancelled:
		return ErrEventCancelled
	case StatusCompleted:
		return ErrBadTransition
	}
	return nil
}

// NewEvent validates spec and returns the draft event it describes. Every
// invalid field is reported at once.
func NewEvent(community string, spec Spec, id string, now time.Time) (Event, []time.Time, error) {
	var errs validate.Errors
	c, ferr := validate.Community(community)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	spec, starts, err := spec.Validate()
	errs = append(errs, validate.FieldErrors(err)...)
	if len(errs) == 0 && !spec.Start.After(now) {
		errs = append(errs, validate.Field("start_time", "must be in the future"))
	}
	if err := errs.Err(); err != nil {
		return Event{}, nil, err
	}
	now = now.UTC()
	return Event{ID: id, Community: c, Spec: spec, Status: StatusDraft, CreatedAt: now, UpdatedAt: now}, starts, nil
}

// Validate normalises s and checks every field; it returns the start of
// every occurrence (the first being s.Start). All invalid fields are
// reported together, named as in EventSpec.
func (s Spec) Validate() (Spec, []time.Time, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	var ferr *validate.FieldError
	s.Title, ferr = validate.Text("title", s.Title, 1, MaxTitleLength)
	add(ferr)
	s.Description, ferr = FreeText("description", s.Description, MaxDescriptionLength)
	add(ferr)
	switch s.Kind {
	case KindOnline, KindOffline, KindHybrid:
	default:
		add(validate.Field("kind", "must be online, offline or hybrid"))
	}
	s.Venue, ferr = normaliseVenue(s.Venue, s.Kind)
	add(ferr)
	s.OnlineURL, ferr = normaliseOnlineURL(s.OnlineURL, s.Kind)
	add(ferr)
	s.TimeZone, ferr = NormaliseTimeZone("time_zone", s.TimeZone)
	add(ferr)
	timesOK := true
	switch {
	case s.Start.IsZero():
		add(validate.Field("start_time", "is required"))
		timesOK = false
	case s.End.IsZero():
		add(validate.Field("end_time", "is required"))
		timesOK = false
	case !s.End.After(s.Start):
		add(validate.Field("end_time", "must be after start_time"))
		timesOK = false
	case s.End.Sub(s.Start) > MaxDuration:
		add(validate.Field("end_time", "must be at most 7 days after start_time"))
		timesOK = false
	}
	s.Start, s.End = s.Start.UTC().Truncate(time.Second), s.End.UTC().Truncate(time.Second)
	switch {
	case s.Capacity < 0:
		add(validate.Field("capacity", "must not be negative (0 means unlimited)"))
	case s.Capacity > MaxCapacity:
		add(validate.Field("capacity", "must be at most %d", MaxCapacity))
	}
	s.OrganiserIDs, ferr = normaliseIDs("organiser_ids", s.OrganiserIDs)
	add(ferr)
	s.HostIDs, ferr = normaliseIDs("host_ids", s.HostIDs)
	add(ferr)
	s.Tags, ferr = NormaliseTags("tags", s.Tags)
	add(ferr)
	if s.PartnerID != "" {
		s.PartnerID, ferr = ValidateID("partner_id", s.PartnerID)
		add(ferr)
	}
	switch s.Visibility {
	case "":
		s.Visibility = VisibilityMembers
	case VisibilityPublic, VisibilityMembers:
	default:
		add(validate.Field("visibility", "must be public or members"))
	}
	starts := []time.Time{s.Start}
	if s.RRule != "" || len(s.ExDates) > 0 {
		if s.RRule == "" {
			add(validate.Field("recurrence.rrule", "is required with exdates"))
		} else if timesOK && !hasField(errs, "time_zone") {
			rule, expanded, rerr := Expand(s.RRule, s.ExDates, s.Start, s.Location())
			errs = append(errs, validate.FieldErrors(rerr)...)
			if rerr == nil {
				s.RRule, starts = rule, expanded
				s.ExDates = normaliseExDates(s.ExDates)
			}
		}
	}
	return s, starts, errs.Err()
}

func hasField(errs validate.Errors, field string) bool {
	return slices.ContainsFunc(errs, func(e *validate.FieldError) bool { return e.Field == field })
}

func normaliseExDates(ds []time.Time) []time.Time {
	out := make([]time.Time, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.UTC().Truncate(time.Second))
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

func normaliseVenue(v Venue, kind Kind) (Venue, *validate.FieldError) {
	if !kind.HasVenue() {
		if !v.IsZero() && kind == KindOnline {
			return v, validate.Field("venue", "must be empty for an online event")
		}
		return Venue{}, nil
	}
	var ferr *validate.FieldError
	if v.Street, ferr = validate.Text("venue.street", v.Street, 1, MaxPlaceLength); ferr != nil {
		return v, ferr
	}
	if v.City, ferr = validate.Text("venue.city", v.City, 1, MaxPlaceLength); ferr != nil {
		return v, ferr
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"venue.name", &v.Name}, {"venue.region", &v.Region}, {"venue.postal_code", &v.PostalCode}} {
		if strings.TrimSpace(*f.v) == "" {
			*f.v = ""
			continue
		}
		if *f.v, ferr = validate.Text(f.name, *f.v, 1, MaxPlaceLength); ferr != nil {
			return v, ferr
		}
	}
	if v.CountryCode, ferr = NormaliseCountry("venue.country_code", v.CountryCode); ferr != nil {
		return v, ferr
	}
	return v, nil
}

// NormaliseCountry upper-cases an ISO 3166-1 alpha-2 code; empty is fine.
func NormaliseCountry(field, raw string) (string, *validate.FieldError) {
	c := strings.ToUpper(strings.TrimSpace(raw))
	if c == "" {
		return "", nil
	}
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return c, validate.Field(field, "must be an ISO 3166-1 alpha-2 code such as DE")
	}
	return c, nil
}

func normaliseOnlineURL(raw string, kind Kind) (string, *validate.FieldError) {
	s := strings.TrimSpace(raw)
	if !kind.IsOnline() {
		if s != "" && kind == KindOffline {
			return s, validate.Field("online_url", "must be empty for an offline event")
		}
		return "", nil
	}
	if s == "" {
		return "", validate.Field("online_url", "is required for an online or hybrid event")
	}
	return ValidateURL("online_url", s)
}

// ValidateURL checks raw is an absolute https (or http) URL.
func ValidateURL(field, raw string) (string, *validate.FieldError) {
	if len(raw) > MaxURLLength {
		return raw, validate.Field(field, "must be at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(raw, " \t\r\n") {
		return raw, validate.Field(field, "must be an absolute https URL")
	}
	return raw, nil
}

// NormaliseTimeZone checks raw names an IANA time zone.
func NormaliseTimeZone(field, raw string) (string, *validate.FieldError) {
	tz := strings.TrimSpace(raw)
	if tz == "" {
		return "", validate.Field(field, "is required")
	}
	if tz == "Local" {
		return tz, validate.Field(field, "is not an IANA time zone")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return tz, validate.Field(field, "is not an IANA time zone")
	}
	return tz, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// ValidateID checks an id of another service (member, partner).
func ValidateID(field, raw string) (string, *validate.FieldError) {
	switch {
	case raw == "":
		return "", validate.Field(field, "is required")
	case len(raw) > MaxIDLength:
		return raw, validate.Field(field, "must be at most %d characters", MaxIDLength)
	case !idPattern.MatchString(raw):
		return raw, validate.Field(field, "must be letters, digits, dashes and underscores")
	}
	return raw, nil
}

func normaliseIDs(field string, ids []string) ([]string, *validate.FieldError) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ferr := ValidateID(field, strings.TrimSpace(id)); ferr != nil {
			return nil, ferr
		}
		out = append(out, strings.TrimSpace(id))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxPeople {
		return nil, validate.Field(field, "must name at most %d members", MaxPeople)
	}
	return out, nil
}

var tagPattern = regexp.MustCompile(`^[a-z0-9]+([-_][a-z0-9]+)*$`)

// NormaliseTags lower-cases, sorts and dedupes tags.
func NormaliseTags(field string, tags []string) ([]string, *validate.FieldError) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if len(t) > MaxTagLength || !tagPattern.MatchString(t) {
			return nil, validate.Field(field, "must be lower-case words of letters and digits joined by - or _, at most %d characters", MaxTagLength)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, validate.Field(field, "must be at most %d tags", MaxTags)
	}
	return out, nil
}

// FreeText trims multi-line text and checks its length; tabs and line
// breaks are fine, other control characters are not.
func FreeText(field, raw string, max int) (string, *validate.FieldError) {
	if !utf8.ValidString(raw) {
		return "", validate.Field(field, "must be valid UTF-8")
	}
	s := strings.TrimSpace(strings.ReplaceAll(raw, "\r\n", "\n"))
	if utf8.RuneCountInString(s) > max {
		return "", validate.Field(field, "must be at most %d characters", max)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return "", validate.Field(field, "must not contain control characters")
	}
	return s, nil
}

// CanMove reports whether an event may go from one status to another.
func CanMove(from, to Status) bool {
	switch to {
	case StatusPublished:
		return from == StatusDraft
	case StatusCompleted:
		return from == StatusPublished
	case StatusCancelled:
		return from == StatusDraft || from == StatusPublished
	}
	return false
}
