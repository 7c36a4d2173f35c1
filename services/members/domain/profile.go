package domain

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Location is where a member is, as precisely as they chose to say.
type Location struct {
	City        string
	Region      string
	CountryCode string
}

// Profile is what a member tells about themselves.
type Profile struct {
	DisplayName       string
	Email             string
	Locale            string
	TimeZone          string
	Location          Location
	Interests         []string
	Skills            []string
	Motivation        string
	Goals             []string
	AvailabilityHours int
}

// Limits on a profile.
const (
	MaxDisplayNameLength = 100
	MaxTags              = 20
	MaxTagLength         = 40
	MaxMotivationLength  = 1000
	MaxPlaceLength       = 100
	MaxAvailabilityHours = 744 // a 31-day month
)

// Validate normalises p and checks every field against the community's
// settings; all invalid fields are reported together.
func (p Profile) Validate(s Settings) (Profile, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	var ferr *validate.FieldError
	p.Email, ferr = validate.Email("email", p.Email)
	add(ferr)
	p.DisplayName, ferr = validate.Text("display_name", p.DisplayName, 1, MaxDisplayNameLength)
	add(ferr)
	p.Locale, ferr = normaliseLocale(p.Locale)
	add(ferr)
	p.TimeZone, ferr = normaliseTimeZone(p.TimeZone)
	add(ferr)
	p.Location, ferr = normaliseLocation(p.Location)
	add(ferr)
	p.Interests, ferr = normaliseTags("interests", p.Interests, s.Interests)
	add(ferr)
	p.Skills, ferr = normaliseTags("skills", p.Skills, s.Skills)
	add(ferr)
	p.Goals, ferr = normaliseTags("goals", p.Goals, s.Goals)
	add(ferr)
	p.Motivation, ferr = normaliseFreeText("motivation", p.Motivation, MaxMotivationLength)
	add(ferr)
	if p.AvailabilityHours < 0 || p.AvailabilityHours > MaxAvailabilityHours {
		add(validate.Field("availability_hours_per_month", "must be between 0 and %d", MaxAvailabilityHours))
	}
	return p, errs.Err()
}

func normaliseLocale(raw string) (string, *validate.FieldError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if len(raw) > 35 {
		return "", validate.Field("locale", "must be at most 35 characters")
	}
	tag, err := language.Parse(raw)
	if err != nil {
		return "", validate.Field("locale", "is not a BCP 47 language tag such as de-DE")
	}
	return tag.String(), nil
}

func normaliseTimeZone(raw string) (string, *validate.FieldError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if raw == "Local" || len(raw) > 64 {
		return "", validate.Field("time_zone", "is not an IANA time zone such as Europe/Berlin")
	}
	if _, err := time.LoadLocation(raw); err != nil {
		return "", validate.Field("time_zone", "is not an IANA time zone such as Europe/Berlin")
	}
	return raw, nil
}

func normaliseLocation(l Location) (Location, *validate.FieldError) {
	var ferr *validate.FieldError
	if l.City = strings.TrimSpace(l.City); l.City != "" {
		if l.City, ferr = validate.Text("location.city", l.City, 1, MaxPlaceLength); ferr != nil {
			return l, ferr
		}
	}
	if l.Region = strings.TrimSpace(l.Region); l.Region != "" {
		if l.Region, ferr = validate.Text("location.region", l.Region, 1, MaxPlaceLength); ferr != nil {
			return l, ferr
		}
	}
	l.CountryCode = strings.ToUpper(strings.TrimSpace(l.CountryCode))
	if l.CountryCode != "" && !IsCountryCode(l.CountryCode) {
		return l, validate.Field("location.country_code", "is not an ISO 3166-1 alpha-2 country code such as DE")
	}
	return l, nil
}

// IsCountryCode reports whether code is an assigned ISO 3166-1 alpha-2 code.
func IsCountryCode(code string) bool {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}

// normaliseTags lower-cases, sorts and deduplicates tags, each a slug, and,
// when the community has a vocabulary, one of its words.
func normaliseTags(field string, raw, vocabulary []string) ([]string, *validate.FieldError) {
	if len(raw) > MaxTags {
		return nil, validate.Field(field, "must be at most %d tags", MaxTags)
	}
	out := make([]string, 0, len(raw))
	for _, tag := range raw {
		t, ferr := validate.Slug(field, strings.ToLower(strings.TrimSpace(tag)), MaxTagLength)
		if ferr != nil {
			return nil, ferr
		}
		if len(vocabulary) > 0 && !slices.Contains(vocabulary, t) {
			return nil, validate.Field(field, "%q is not in the community's vocabulary", t)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// normaliseFreeText trims text that may span lines but holds no other
// control characters.
func normaliseFreeText(field, raw string, max int) (string, *validate.FieldError) {
	if !utf8.ValidString(raw) {
		return "", validate.Field(field, "must be valid UTF-8")
	}
	s := strings.TrimSpace(raw)
	if utf8.RuneCountInString(s) > max {
		return "", validate.Field(field, "must be at most %d characters", max)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return "", validate.Field(field, "must not contain control characters")
	}
	return s, nil
}

// ProfilePaths are the field-mask paths UpdateProfile understands.
func ProfilePaths() []string {
	return []string{"display_name", "email", "locale", "time_zone", "location", "location.city", "location.region",
		"location.country_code", "interests", "skills", "motivation", "goals", "availability_hours_per_month"}
}

// ApplyMask copies the fields named by paths from update onto p. An empty
// mask is an error: an update must say what it changes.
func (p Profile) ApplyMask(update Profile, paths []string) (Profile, error) {
	if len(paths) == 0 {
		return p, validate.Field("update_mask", "must name the fields to change")
	}
	next := p
	next.Interests = slices.Clone(p.Interests)
	for _, path := range paths {
		switch path {
		case "display_name":
			next.DisplayName = update.DisplayName
		case "email":
			next.Email = update.Email
		case "locale":
			next.Locale = update.Locale
		case "time_zone":
			next.TimeZone = update.TimeZone
		case "location":
			next.Location = update.Location
		case "location.city":
			next.Location.City = update.Location.City
		case "location.region":
			next.Location.Region = update.Location.Region
		case "location.country_code":
			next.Location.CountryCode = update.Location.CountryCode
		case "interests":
			next.Interests = update.Interests
		case "skills":
			next.Skills = update.Skills
		case "motivation":
			next.Motivation = update.Motivation
		case "goals":
			next.Goals = update.Goals
		case "availability_hours_per_month":
			next.AvailabilityHours = update.AvailabilityHours
		default:
			return p, validate.Field("update_mask", "%q is not a profile field", path)
		}
	}
	return next, nil
}

// Changed lists the profile paths whose values differ between p and q.
func (p Profile) Changed(q Profile) []string {
	var out []string
	check := func(path string, same bool) {
		if !same {
			out = append(out, path)
		}
	}
	check("display_name", p.DisplayName == q.DisplayName)
	check("email", p.Email == q.Email)
	check("locale", p.Locale == q.Locale)
	check("time_zone", p.TimeZone == q.TimeZone)
	check("location", p.Location == q.Location)
	check("interests", slices.Equal(p.Interests, q.Interests))
	check("skills", slices.Equal(p.Skills, q.Skills))
	check("motivation", p.Motivation == q.Motivation)
	check("goals", slices.Equal(p.Goals, q.Goals))
	check("availability_hours_per_month", p.AvailabilityHours == q.AvailabilityHours)
	return out
}
