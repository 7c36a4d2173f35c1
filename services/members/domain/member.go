// Package domain holds the members service's entities and rules. It does
// no I/O.
package domain

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Status is where a member is in the membership lifecycle.
type Status int

// Membership lifecycle: invited → active → inactive → left, and erased.
const (
	StatusInvited Status = iota + 1
	StatusActive
	StatusInactive
	StatusLeft
	StatusErased
)

// Member is one person in one community.
type Member struct {
	ID           string
	Community    string
	Email        string
	DisplayName  string
	Interests    []string
	EmailConsent bool
	Status       Status
	JoinedAt     time.Time
}

// Limits on what a member may submit.
const (
	MaxCommunityLength   = 63
	MaxDisplayNameLength = 100
	MaxInterests         = 20
	MaxInterestLength    = 40
)

// Errors the members service reports.
var (
	ErrNotFound         = errors.New("member not found")
	ErrEmailTaken       = errors.New("a member with this e-mail address already belongs to the community")
	ErrUnknownCommunity = errors.New("unknown community")
)

// JoinRequest is what a person submits to join a community.
type JoinRequest struct {
	Community    string
	Email        string
	DisplayName  string
	Interests    []string
	EmailConsent bool
}

// NewMember validates req and returns the active member it describes, with
// the e-mail address normalised and the interests sorted and deduplicated.
// All invalid fields are reported together as validate.Errors.
func NewMember(req JoinRequest, id string, now time.Time) (Member, error) {
	var errs validate.Errors
	community, ferr := ValidateCommunity(req.Community)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	email, ferr := validate.Email("email", req.Email)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	name, ferr := validate.Text("display_name", req.DisplayName, 1, MaxDisplayNameLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	interests, ferr := normaliseInterests(req.Interests)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return Member{}, err
	}
	return Member{
		ID:           id,
		Community:    community,
		Email:        email,
		DisplayName:  name,
		Interests:    interests,
		EmailConsent: req.EmailConsent,
		Status:       StatusActive,
		JoinedAt:     now.UTC().Truncate(time.Microsecond), // what every engine stores
	}, nil
}

// ValidateCommunity checks a community slug.
func ValidateCommunity(community string) (string, *validate.FieldError) {
	return validate.Slug("community", community, MaxCommunityLength)
}

func normaliseInterests(raw []string) ([]string, *validate.FieldError) {
	if len(raw) > MaxInterests {
		return nil, validate.Field("interests", "must be at most %d tags", MaxInterests)
	}
	out := make([]string, 0, len(raw))
	for _, tag := range raw {
		t, ferr := validate.Slug("interests", tag, MaxInterestLength)
		if ferr != nil {
			return nil, ferr
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

var statusNames = map[Status]string{
	StatusInvited:  "invited",
	StatusActive:   "active",
	StatusInactive: "inactive",
	StatusLeft:     "left",
	StatusErased:   "erased",
}

// String is the status's stored name.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "unknown"
}

// ParseStatus reads a stored status name.
func ParseStatus(name string) (Status, error) {
	for s, n := range statusNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown member status %q", name)
}
