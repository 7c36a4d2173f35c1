package domain

import (
	"regexp"
	"slices"
	"strings"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Segment filters members by what the insights service knows of them:
// every set list must match, and within a list any value may.
type Segment struct {
	Levels       []string `json:"levels,omitempty"`
	CountryCodes []string `json:"country_codes,omitempty"`
	Interests    []string `json:"interests,omitempty"`
	Roles        []string `json:"roles,omitempty"`
}

// Empty reports a segment that filters nothing.
func (s Segment) Empty() bool {
	return len(s.Levels) == 0 && len(s.CountryCodes) == 0 && len(s.Interests) == 0 && len(s.Roles) == 0
}

var (
	tagPattern     = regexp.MustCompile(`^[a-z0-9]+([_-][a-z0-9]+)*$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	rolePattern    = regexp.MustCompile(`^(member|ambassador|organiser|staff)$`)
)

// MaxSegmentValues bounds each list of a segment.
const MaxSegmentValues = 50

// Normalise checks a segment given as field and returns it sorted,
// without repeats.
func (s Segment) Normalise(field string) (Segment, validate.Errors) {
	var errs validate.Errors
	check := func(name string, vals []string, norm func(string) string, ok func(string) bool, what string) []string {
		if len(vals) > MaxSegmentValues {
			errs = append(errs, validate.Field(field+"."+name, "may hold at most %d values", MaxSegmentValues))
			return nil
		}
		out := make([]string, 0, len(vals))
		for i, v := range vals {
			v = norm(strings.TrimSpace(v))
			if !ok(v) {
				errs = append(errs, validate.Field(field+"."+name, "value %d must be %s", i, what))
				continue
			}
			out = append(out, v)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	same := func(v string) string { return v }
	level := func(v string) bool {
		return v != "" && len(v) <= 40 && !strings.ContainsFunc(v, func(r rune) bool { return r < ' ' })
	}
	out := Segment{
		Levels:       check("levels", s.Levels, same, level, "a level name of at most 40 characters"),
		CountryCodes: check("country_codes", s.CountryCodes, strings.ToUpper, countryPattern.MatchString, "an ISO 3166-1 alpha-2 code"),
		Interests:    check("interests", s.Interests, strings.ToLower, func(v string) bool { return len(v) <= 40 && tagPattern.MatchString(v) }, "an interest tag"),
		Roles:        check("roles", s.Roles, strings.ToLower, rolePattern.MatchString, "member, ambassador, organiser or staff"),
	}
	return out, errs
}

// Matches reports whether a member holding roles is in the segment.
func (s Segment) Matches(m Member, roles []string) bool {
	anyOf := func(want, have []string) bool {
		if len(want) == 0 {
			return true
		}
		for _, h := range have {
			if slices.Contains(want, h) {
				return true
			}
		}
		return false
	}
	return anyOf(s.Levels, []string{m.Level}) && anyOf(s.CountryCodes, []string{m.CountryCode}) &&
		anyOf(s.Interests, m.Interests) && anyOf(s.Roles, roles)
}
