package domain

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Filter selects members: every set field must match, and within a list
// any value may.
type Filter struct {
	Interests, Skills, Goals          []string
	CountryCodes, Regions, Cities     []string
	Levels, Roles, Consents           []string
	Statuses                          []Status
	JoinedAfter, JoinedBefore         time.Time
	LastActiveAfter, LastActiveBefore time.Time
	// Search keeps only the members a member search finds (as ListMembers'
	// query). It narrows one listing or count and is never saved with a
	// segment.
	Search SearchQuery
}

// MaxFilterValues bounds each list of a filter.
const MaxFilterValues = 100

// FilterInput is a filter as submitted, statuses still names.
type FilterInput struct {
	Filter
	StatusNames []string
}

// Validate normalises a submitted filter.
func (in FilterInput) Validate() (Filter, error) {
	f := in.Filter
	var errs validate.Errors
	lists := []struct {
		field string
		vals  *[]string
		check func(string) bool
	}{
		{"filter.interests", &f.Interests, isTag},
		{"filter.skills", &f.Skills, isTag},
		{"filter.goals", &f.Goals, isTag},
		{"filter.country_codes", &f.CountryCodes, func(v string) bool { return IsCountryCode(strings.ToUpper(v)) }},
		{"filter.regions", &f.Regions, func(v string) bool { return v != "" && len(v) <= MaxPlaceLength }},
		{"filter.cities", &f.Cities, func(v string) bool { return v != "" && len(v) <= MaxPlaceLength }},
		{"filter.levels", &f.Levels, func(v string) bool { return v != "" && len(v) <= 50 }},
		{"filter.roles", &f.Roles, func(v string) bool { return slices.Contains(Roles(), v) }},
		{"filter.consents", &f.Consents, func(v string) bool { return slices.Contains(Purposes(), v) }},
	}
	for _, l := range lists {
		if len(*l.vals) > MaxFilterValues {
			errs = append(errs, validate.Field(l.field, "must hold at most %d values", MaxFilterValues))
			continue
		}
		for _, v := range *l.vals {
			if !l.check(v) {
				errs = append(errs, validate.Field(l.field, "holds an invalid value"))
				break
			}
		}
	}
	for i, c := range f.CountryCodes {
		f.CountryCodes[i] = strings.ToUpper(c)
	}
	for _, name := range in.StatusNames {
		st, err := ParseStatus(name)
		if err != nil || st == StatusErased {
			errs = append(errs, validate.Field("filter.statuses", "must each be invited, active, inactive or left"))
			break
		}
		f.Statuses = append(f.Statuses, st)
	}
	if !f.JoinedAfter.IsZero() && !f.JoinedBefore.IsZero() && !f.JoinedAfter.Before(f.JoinedBefore) {
		errs = append(errs, validate.Field("filter.joined_after", "must be before joined_before"))
	}
	if !f.LastActiveAfter.IsZero() && !f.LastActiveBefore.IsZero() && !f.LastActiveAfter.Before(f.LastActiveBefore) {
		errs = append(errs, validate.Field("filter.last_active_after", "must be before last_active_before"))
	}
	return f, errs.Err()
}

func isTag(v string) bool {
	_, ferr := validate.Slug("tag", v, MaxTagLength)
	return ferr == nil
}

// Segment is a saved filter.
type Segment struct {
	ID        string
	Community string
	Name      string
	Filter    Filter
	CreatedAt time.Time
	CreatedBy string
}

// Segment errors.
var (
	ErrSegmentNotFound  = errors.New("segment not found")
	ErrSegmentNameTaken = errors.New("a segment with this name exists in the community")
)

// Report describes a group of members.
type Report struct {
	Members                  int64
	Interests, Skills, Goals []Bucket
	Countries, Regions       []Bucket
	Levels, Recency          []Bucket
	WithMotivation           int64
	MeanAvailability         float64
}

// Bucket is one value and how many members have it.
type Bucket struct {
	Value string
	Count int64
}
