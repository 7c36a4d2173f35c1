package domain

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// SuggestQuery is what a member's suggestions are ranked by.
type SuggestQuery struct {
	Community   string
	Interests   []string
	City        string
	Region      string
	CountryCode string
	// Zone is the member's time zone; nil when unknown.
	Zone  *time.Location
	Limit int
}

// Suggestion limits.
const (
	DefaultSuggestions = 5
	MaxSuggestions     = 50
)

// NewSuggestQuery validates what a caller asks suggestions for.
func NewSuggestQuery(community string, interests []string, city, region, country, timeZone string, limit int) (SuggestQuery, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	q := SuggestQuery{Limit: limit}
	var ferr *validate.FieldError
	q.Community, ferr = validate.Community(community)
	add(ferr)
	q.Interests, ferr = NormaliseTags("interests", interests)
	add(ferr)
	for _, f := range []struct {
		name string
		raw  string
		into *string
	}{{"location.city", city, &q.City}, {"location.region", region, &q.Region}} {
		if strings.TrimSpace(f.raw) == "" {
			continue
		}
		*f.into, ferr = validateShortText(f.name, f.raw)
		add(ferr)
	}
	q.CountryCode, ferr = NormaliseCountry("location.country_code", country)
	add(ferr)
	if strings.TrimSpace(timeZone) != "" {
		var tz string
		tz, ferr = NormaliseTimeZone("time_zone", timeZone)
		add(ferr)
		if ferr == nil {
			q.Zone, _ = time.LoadLocation(tz)
		}
	}
	switch {
	case limit == 0:
		q.Limit = DefaultSuggestions
	case limit < 0 || limit > MaxSuggestions:
		add(validate.Field("limit", "must be between 1 and %d", MaxSuggestions))
	}
	return q, errs.Err()
}

func validateShortText(field, raw string) (string, *validate.FieldError) {
	return validate.Text(field, raw, 1, MaxPlaceLength)
}

// Candidate is an upcoming occurrence that may be suggested.
type Candidate struct {
	Event      Event
	Occurrence Occurrence
}

// Suggestion is a ranked candidate with the reasons for its rank.
type Suggestion struct {
	Candidate
	Score   float64
	Reasons []string
}

// Rank scores each candidate for q and returns the best q.Limit, one per
// event: shared interests weigh most, then being nearby (or online at a
// waking hour in the member's zone), then having a free seat and being
// soon.
func Rank(q SuggestQuery, cands []Candidate, now time.Time) []Suggestion {
	best := map[string]Suggestion{}
	for _, c := range cands {
		s := score(q, c, now)
		if prev, ok := best[c.Event.ID]; !ok || c.Occurrence.Start.Before(prev.Occurrence.Start) {
			best[c.Event.ID] = s
		}
	}
	out := make([]Suggestion, 0, len(best))
	for _, s := range best {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Suggestion) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := a.Occurrence.Start.Compare(b.Occurrence.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Event.ID, b.Event.ID)
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func score(q SuggestQuery, c Candidate, now time.Time) Suggestion {
	s := Suggestion{Candidate: c}
	add := func(points float64, reason string) {
		s.Score += points
		if reason != "" {
			s.Reasons = append(s.Reasons, reason)
		}
	}
	for _, tag := range c.Event.Tags {
		if slices.Contains(q.Interests, tag) {
			add(3, "interest:"+tag)
		}
	}
	_, _, venue, _ := c.Occurrence.Effective(c.Event)
	if c.Event.Kind.HasVenue() {
		switch {
		case q.City != "" && strings.EqualFold(venue.City, q.City):
			add(2, "city")
		case q.Region != "" && strings.EqualFold(venue.Region, q.Region):
			add(1, "region")
		case q.CountryCode != "" && venue.CountryCode == q.CountryCode:
			add(0.5, "country")
		case c.Event.Kind == KindOffline && q.CountryCode != "" && venue.CountryCode != "" && venue.CountryCode != q.CountryCode:
			add(-2, "")
		}
	}
	if c.Event.Kind.IsOnline() {
		add(1, "online")
		if q.Zone != nil {
			if h := c.Occurrence.Start.In(q.Zone).Hour(); h >= 8 && h < 22 {
				add(0.5, "convenient_time")
			} else {
				add(-1, "")
			}
		}
	}
	if !SeatFree(c.Occurrence) {
		add(-1, "waitlist")
	}
	if days := c.Occurrence.Start.Sub(now).Hours() / 24; days < 90 {
		s.Score += (90 - days) / 90
	}
	return s
}
