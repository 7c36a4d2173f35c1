// Package domain holds the members service's entities and rules. It does
// no I/O.
package domain

import (
	"errors"
	"fmt"
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

// CanMove reports whether a member may go from one status to another.
// Erased is reached only by erasure, and is final.
func CanMove(from, to Status) bool {
	switch to {
	case StatusActive:
		return from == StatusInvited || from == StatusInactive || from == StatusLeft
	case StatusInactive:
		return from == StatusActive
	case StatusLeft:
		return from == StatusInvited || from == StatusActive || from == StatusInactive
	}
	return false
}

// Member is one person in one community.
type Member struct {
	ID        string
	Community string
	Profile
	// EmailConsent is the current consent to announcement e-mails.
	EmailConsent bool
	// EmailVerified says the member proved they hold Email (they followed
	// a confirmation link) or the community's team vouched for it (an
	// organiser's join, an import). Only confirmation mail goes to an
	// unverified address.
	EmailVerified bool
	// PendingEmail is an address the member asked to change to, waiting
	// for its confirmation; empty when none.
	PendingEmail string
	// ConsentAsked keeps a public join's request for announcement e-mail
	// until the address is confirmed, when it takes effect.
	ConsentAsked bool
	Status       Status
	JoinedAt     time.Time
	Source       Source
	// Level is the engagement level's name; empty for staff.
	Level        string
	Score        int
	LastActiveAt time.Time
	Roles        []RoleAssignment
}

// Errors the members service reports.
var (
	ErrNotFound         = errors.New("member not found")
	ErrEmailTaken       = errors.New("a member with this e-mail address already belongs to the community")
	ErrUnknownCommunity = errors.New("unknown community")
	ErrUnknownReferrer  = errors.New("the referring member is not in the community")
	ErrBadTransition    = errors.New("the member's status cannot change that way")
	ErrErased           = errors.New("the member was erased")
	ErrSameMember       = errors.New("a member cannot be merged with itself")
)

// JoinRequest is what a person submits to join a community.
type JoinRequest struct {
	Community    string
	Profile      Profile
	EmailConsent bool
	Source       Source
	// Vouched is a join by the community's team (an organiser adding
	// someone, an import): the address counts as verified and the consent
	// takes effect at once. A public join's address must be confirmed
	// first, and its consent waits for that.
	Vouched bool
}

// NewMember validates req against the community's settings and returns the
// active member it describes. All invalid fields are reported together.
func NewMember(req JoinRequest, settings Settings, id string, now time.Time) (Member, error) {
	var errs validate.Errors
	community, ferr := validate.Community(req.Community)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	profile, err := req.Profile.Validate(settings)
	errs = append(errs, validate.FieldErrors(err)...)
	source, err := req.Source.Validate()
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return Member{}, err
	}
	return Member{
		ID:            id,
		Community:     community,
		Profile:       profile,
		EmailConsent:  req.Vouched && req.EmailConsent,
		EmailVerified: req.Vouched,
		ConsentAsked:  !req.Vouched && req.EmailConsent,
		Status:        StatusActive,
		JoinedAt:      now.UTC().Truncate(time.Microsecond), // what every engine stores
		Source:        source,
		Level:         settings.LevelFor(0),
	}, nil
}

// SourceKind is how a member found the community.
type SourceKind string

// Ways to find a community.
const (
	SourceOrganic  SourceKind = "organic"
	SourceCampaign SourceKind = "campaign"
	SourceEvent    SourceKind = "event"
	SourceReferral SourceKind = "referral"
	SourceImport   SourceKind = "import"
)

// Source says how a member found the community.
type Source struct {
	Kind       SourceKind
	Campaign   string
	EventID    string
	ReferrerID string
}

// Validate checks the source's fields fit its kind.
func (s Source) Validate() (Source, error) {
	var errs validate.Errors
	if s.Kind == "" {
		s.Kind = SourceOrganic
	}
	switch s.Kind {
	case SourceOrganic, SourceImport:
	case SourceCampaign:
		c, ferr := validate.Text("source.campaign", s.Campaign, 1, 100)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		s.Campaign = c
	case SourceEvent:
		if _, ferr := validate.Text("source.event_id", s.EventID, 1, 64); ferr != nil {
			errs = append(errs, ferr)
		}
	case SourceReferral:
		if _, ferr := validate.Text("source.referrer_id", s.ReferrerID, 1, 64); ferr != nil {
			errs = append(errs, ferr)
		}
	default:
		errs = append(errs, validate.Field("source.kind", "is not a known source"))
	}
	return s, errs.Err()
}
